import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { ConcernService, DEFAULT_CONCERN_RETENTION_DAYS } from '../../src/console/concerns.js';
import { FeedHub } from '../../src/console/feed.js';
import { Maintenance } from '../../src/console/maintenance.js';
import { SOLE_PROCESS } from '../../src/console/store/periodic-lock.js';
import type { ConcernStatus } from '../../src/shared/concern.js';
import { createLogger } from '../../src/shared/node/log.js';
import { storeWithDevice } from '../helpers/console-store.js';
import { tempDirsPerTest } from '../helpers/processes.js';

/** Closed concerns are deleted by the console's maintenance job after their retention period (real SQLite). */
const tempPath = tempDirsPerTest();
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

const DAY = 86400_000;
const daysAgo = (days: number) => new Date(Date.now() - days * DAY).toISOString();

async function setUp(closedConcernRetentionDays: number) {
  const dir = tempPath();
  const { store, device } = await storeWithDevice(`${dir}/console.db`);
  const log = createLogger('test', 'error');
  const feed = new FeedHub();
  const nothingToRenew = { needsRenewal: () => false, renewAll: async () => ({ version: null, notified: 0 }) };
  const maintenance = new Maintenance(store, nothingToRenew, log, {
    retentionDays: 180,
    closedConcernRetentionDays,
    intervalMs: 3600_000,
    lock: SOLE_PROCESS,
  });
  cleanups.push(async () => {
    feed.close();
    await store.close();
  });
  /** A concern reported `reportedDaysAgo` and last set to `status` `updatedDaysAgo` (null: never touched). */
  const concern = async (text: string, reportedDaysAgo: number, status: ConcernStatus | null, updatedDaysAgo = 0) => {
    const id = randomUUID();
    await store.insertConcern(
      { id, deviceId: device.id, user: 'pupil1', reportedAt: daysAgo(reportedDaysAgo), category: 'about-me', text, wantsContact: false },
      daysAgo(reportedDaysAgo),
    );
    if (status) await store.updateConcern(id, { status, note: `note about ${text}`, updatedBy: 'dsl', updatedAt: daysAgo(updatedDaysAgo) });
    return id;
  };
  return { store, maintenance, concern };
}

describe('concern retention (maintenance job, real SQLite)', () => {
  it('deletes closed concerns once closed longer than the retention period, and keeps every open one however old', async () => {
    const { store, maintenance, concern } = await setUp(30);
    const expired = await concern('closed long ago', 400, 'closed', 31);
    const recentlyClosed = await concern('closed last week', 400, 'closed', 7);
    const oldNew = await concern('never looked at', 900, null);
    const oldInProgress = await concern('still being handled', 900, 'in-progress', 300);

    await maintenance.runOnce();

    const left = (await store.listConcerns({ limit: 100 })).map((c) => c.id).sort();
    expect(left).toEqual([recentlyClosed, oldNew, oldInProgress].sort());
    expect(await store.getConcern(expired)).toBeNull();
    // The audit says how many went and why, never what the pupil or the lead wrote.
    const audit = (await store.listAudit(10)).filter((a) => a.action === 'concerns.expired');
    expect(audit).toEqual([expect.objectContaining({ actor: 'console', target: null, detail: { removed: 1, retentionDays: 30 } })]);
    expect(JSON.stringify(await store.listAudit(100))).not.toMatch(/closed long ago|note about/);

    // Nothing more to remove: a second run deletes nothing and adds no audit entry.
    await maintenance.runOnce();
    expect((await store.listAudit(10)).filter((a) => a.action === 'concerns.expired')).toHaveLength(1);
  });

  it('counts from the last change while closed: reopening keeps a concern, closing again restarts the clock', async () => {
    const { store, maintenance, concern } = await setUp(30);
    const id = await concern('reopened', 400, 'closed', 100);
    const service = new ConcernService(store);
    await service.update(id, { status: 'in-progress' }, 'dsl');
    await maintenance.runOnce();
    expect((await store.getConcern(id))?.status).toBe('in-progress');
    await service.update(id, { status: 'closed' }, 'dsl');
    await maintenance.runOnce();
    expect((await store.getConcern(id))?.status).toBe('closed');
  });

  it('keeps closed concerns for a year by default', async () => {
    expect(DEFAULT_CONCERN_RETENTION_DAYS).toBe(365);
    const { store, maintenance, concern } = await setUp(DEFAULT_CONCERN_RETENTION_DAYS);
    const kept = await concern('closed 364 days ago', 500, 'closed', 364);
    const gone = await concern('closed 366 days ago', 500, 'closed', 366);
    await maintenance.runOnce();
    expect(await store.getConcern(kept)).not.toBeNull();
    expect(await store.getConcern(gone)).toBeNull();
  });
});
