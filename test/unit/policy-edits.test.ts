import { describe, expect, it } from 'vitest';
import { SerialQueue } from '../../src/shared/serial-queue.js';

describe('policy edits', () => {
  it('run one at a time, in order, and a failed edit does not stop the next', async () => {
    // The queue the policy plane, the station registry and app-request decisions each run their edits in.
    const queue = new SerialQueue();
    const log: string[] = [];
    const edit = (name: string, ms: number, fail = false) =>
      queue.run(async () => {
        log.push(`${name} reads latest`);
        await new Promise((r) => setTimeout(r, ms));
        log.push(`${name} publishes`);
        if (fail) throw new Error(`${name} failed`);
        return name;
      });
    const results = await Promise.allSettled([edit('approve', 30), edit('revoke-station', 1, true), edit('push', 5)]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(log).toEqual([
      'approve reads latest',
      'approve publishes',
      'revoke-station reads latest',
      'revoke-station publishes',
      'push reads latest',
      'push publishes',
    ]);
  });
});
