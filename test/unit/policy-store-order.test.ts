import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { EventRouter } from '../../src/console/agent-link/event-router.js';
import { newAgentLinkStats } from '../../src/console/agent-link/stats.js';
import { loadOrCreateConsoleIdentity } from '../../src/console/identity.js';
import { openSqliteStore } from '../../src/console/store/sqlite-store.js';
import { createLogger } from '../../src/shared/node/log.js';
import { POLICY_FETCH_CAPABILITY } from '../../src/shared/policies/delivery.js';
import { PROTOCOL_VERSION } from '../../src/shared/protocol.js';
import { enrollTestDevices } from '../helpers/console-store.js';
import { policySide } from '../helpers/policy-side.js';
import { tempDirsPerTest } from '../helpers/processes.js';

/**
 * When a console stores what it signed: a lone console tells its devices first (storing four
 * 100,000-rule sets would hold their notices for a while, and they need nothing stored), then
 * stores, then announces; a console in a cluster stores first, since the other processes' devices
 * wait for the store. Real SQLite, real keys, the policy side as composition.ts builds it.
 */
const tempPath = tempDirsPerTest();
const doc = { format: 'vigil-policy/1' as const, name: 'Lab', applications: { mode: 'enforce' as const, defaultAction: 'block' as const, rules: [] } };

async function publishWith(othersListening: boolean, dir = tempPath()): Promise<string[]> {
  const store = openSqliteStore(`${dir}/console.db`);
  const [device] = await enrollTestDevices(store, ['lab-1']);
  const order: string[] = [];
  const save = store.savePolicySets.bind(store);
  store.savePolicySets = async (sets, fleet) => {
    await save(sets, fleet);
    order.push(`stored ${sets.map((s) => s.bundle.payload.version).join(',')}`);
  };
  const hub = {
    sendTo: () => false,
    sendText: (_id: string, text: string) => (
      order.push(`sent ${(JSON.parse(text) as { type: string; version: number }).type} ${(JSON.parse(text) as { version: number }).version}`),
      true
    ),
    broadcastAup: async () => 0,
  };
  const { plane, distribution } = await policySide(store, loadOrCreateConsoleIdentity(dir), {
    hub,
    announce: () => void order.push('announced'),
    othersListening: () => othersListening,
  });
  const router = new EventRouter(newAgentLinkStats(), createLogger('test', 'error'));
  distribution.register(router);
  await router.dispatch(
    { deviceId: device!.id, receivedAt: new Date().toISOString(), reply: () => true },
    {
      v: PROTOCOL_VERSION,
      type: 'hello',
      agentVersion: 'test',
      policyVersion: null,
      policyDigest: null,
      mode: 'service',
      capabilities: [POLICY_FETCH_CAPABILITY],
    },
  );
  order.length = 0;
  const pushed = await plane.push(null, doc, 'refuse', { actor: 'admin' });
  expect(pushed.ok).toBe(true);
  const version = pushed.ok ? pushed.version : null;
  // Whichever came first, the fleet's record is there when the push answers.
  expect((await store.latestPolicy())?.version).toBe(version);
  distribution.stop();
  await store.close();
  return order.map((step) => step.replace(` ${version}`, ' V'));
}

describe('when signed policy sets are stored', () => {
  it('a lone console tells its devices, then stores, then announces', async () => {
    expect(await publishWith(false)).toEqual(['sent policy.available V', 'stored V', 'announced']);
  });

  it('a console in a cluster stores, announces, then tells its devices', async () => {
    expect(await publishWith(true)).toEqual(['stored V', 'announced', 'sent policy.available V']);
  });

  it('stores what it signed compressed, as devices fetch it: no JSON copy of the bundle or of the fleet record', async () => {
    const dir = tempPath();
    await publishWith(false, dir);
    const db = new Database(`${dir}/console.db`, { readonly: true });
    const rows = [
      ...(db.prepare('SELECT bundle, bundle_encoded, encoding FROM policy_sets').all() as {
        bundle: string;
        bundle_encoded: Buffer | null;
        encoding: string;
      }[]),
      ...(db.prepare("SELECT bundle || document AS bundle, bundle_encoded, encoding FROM policies WHERE published_by = 'console:policy-plane'").all() as {
        bundle: string;
        bundle_encoded: Buffer | null;
        encoding: string;
      }[]),
    ];
    db.close();
    expect(rows.length).toBeGreaterThanOrEqual(2);
    for (const row of rows) expect([row.bundle, row.encoding, row.bundle_encoded!.length > 0]).toEqual(['', 'br', true]);
  });
});
