import type { ConsoleIdentity } from '../../src/console/identity.js';
import { composePolicy, type PolicyPartsDeps } from '../../src/console/policies/compose.js';
import type { ConsoleStore } from '../../src/console/store/store.js';
import { createLogger } from '../../src/shared/node/log.js';

/** No device connected: nothing is sent; everything is signed, stored and published to the feed. */
const idleHub = { sendTo: () => false, sendText: () => false, broadcastAup: async () => 0 };

/**
 * The console's policy side exactly as composition.ts builds it, over a real store, with no agent
 * hub unless one is given (and, given, the announcement to other processes and whether any listen).
 */
export async function policySide(
  store: ConsoleStore,
  identity: ConsoleIdentity,
  more: Partial<Pick<PolicyPartsDeps, 'hub' | 'announce' | 'othersListening'>> = {},
) {
  const published: number[] = [];
  const parts = await composePolicy({
    store,
    identity,
    hub: idleHub,
    feed: { publish: ({ version }) => void published.push(version) },
    log: createLogger('test', 'error'),
    ...more,
  });
  return { ...parts, published };
}
