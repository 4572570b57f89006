import { describe, expect, it } from 'vitest';
import type { DeviceSummary } from '../../src/shared/api.js';
import { eventSentence } from '../../renderer/dashboard/event-words.js';
import { countFleet } from '../../renderer/dashboard/fleet-summary.js';
import { blockedSteam } from '../helpers/app-event.js';

/** The words and counts the console pages show, from the shared schemas (pure functions, no DOM). */
describe('device events as sentences', () => {
  const at = '2026-12-04T09:00:00.000Z';

  it('says what happened for the common types', () => {
    expect(eventSentence({ type: 'app.blocked', at, data: blockedSteam() })).toBe('Blocked Steam for pupil1');
    expect(eventSentence({ type: 'app.blocked', at, data: blockedSteam({ repeats: 2 }) })).toBe('Blocked Steam for pupil1 (and 2 more times)');
    expect(eventSentence({ type: 'policy.applied', at, data: { version: 7 } })).toBe('Applied policy v7');
    expect(eventSentence({ type: 'command.received', at, data: { id: null, action: 'lock', outcome: 'done', detail: '' } })).toBe('Command lock: done');
    const lost = { dropped: 3, byReason: { full: 2, unreadable: 1 }, firstAt: at, lastAt: at, total: 5 };
    expect(eventSentence({ type: 'outbox.dropped', at, data: lost })).toBe(
      "Lost 3 events before they could be sent (2 over the queue's limit, 1 unreadable); 5 in all",
    );
  });

  it('does not describe what the schema refuses, and says so', () => {
    expect(eventSentence({ type: 'app.blocked', at, data: { name: 'Steam' } })).toMatch(/^Event "app.blocked" \(this console version does not describe it/);
    expect(eventSentence({ type: 'from.the-future', at, data: {} })).toMatch(/^Event "from.the-future"/);
  });
});

describe('fleet summary counts', () => {
  const device = (over: Partial<DeviceSummary>): DeviceSummary => ({
    id: crypto.randomUUID(),
    hostname: 'lab',
    platform: 'linux',
    online: true,
    lastSeenAt: null,
    enrolledAt: '2026-12-01T00:00:00.000Z',
    revoked: false,
    cloneSuspect: false,
    agentVersion: '1',
    policyVersion: 3,
    status: null,
    presence: 'online',
    activity: null,
    ...over,
  });

  it('counts presence, policy behind, AUP and blocks; revoked devices count only as revoked', () => {
    const counts = countFleet(
      [
        device({ aup: 'accepted', blocks: { count24h: 2, lastName: 'x', lastAt: null } }),
        device({ presence: 'asleep', policyVersion: 2, aup: 'not-accepted' }),
        device({ presence: 'offline', online: false, policyVersion: null }),
        device({ revoked: true, presence: 'offline', policyVersion: 1, aup: 'not-accepted', blocks: { count24h: 5, lastName: 'y', lastAt: null } }),
      ],
      3,
    );
    expect(counts).toEqual({ online: 1, asleep: 1, offline: 1, revoked: 1, policyBehind: 2, aupAccepted: 1, aupNotAccepted: 1, blocks24h: 2 });
    expect(countFleet([device({ policyVersion: null })], null).policyBehind).toBe(0);
  });
});
