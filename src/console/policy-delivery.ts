import type { AgentHub } from './agent-hub.js';
import type { PolicyDistribution } from './policies/distribution.js';
import type { FeedHub } from './feed.js';
import type { ConsoleStore, PolicyRecord } from './store/store.js';

/**
 * Gets a just-published policy to every connected device (PolicyDistribution: a notice to fetch
 * it, or a frame where one fits) and tells the dashboards. A policy
 * may switch devices to another AUP variant, so that variant's text goes out too. Returns how
 * many devices it was sent to live.
 */
export async function deliverPolicy(
  store: ConsoleStore,
  hub: AgentHub,
  distribution: Pick<PolicyDistribution, 'broadcastPolicy'>,
  feed: FeedHub,
  record: PolicyRecord,
): Promise<number> {
  const deliveredTo = await distribution.broadcastPolicy(record.bundle);
  feed.publish({ kind: 'policy', version: record.version });
  const variant = record.document.aup?.variant;
  const aup = variant ? await store.latestAup(variant) : null;
  if (aup) await hub.broadcastAup(aup.signed);
  return deliveredTo;
}
