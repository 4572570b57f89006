import { describe, expect, it } from 'vitest';
import { PolicyService } from '../../src/console/policies.js';

describe('policy edits', () => {
  it('run one at a time, in order, and a failed edit does not stop the next', async () => {
    const service = new PolicyService(null as never, null as never);
    const log: string[] = [];
    const edit = (name: string, ms: number, fail = false) =>
      service.serially(async () => {
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
