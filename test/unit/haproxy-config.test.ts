import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXAMPLE_HAPROXY, haproxyConfig, haproxyUnavailable } from '../../bench/haproxy.js';
import { REPO } from '../helpers/processes.js';
import { skipReason } from '../helpers/requirements.js';

const unavailable = skipReason('haproxy config', haproxyUnavailable());

describe('the HAProxy configuration', () => {
  it('documented in docs/haproxy.cfg is the one the tests and bench:cluster run (with their own addresses)', () => {
    expect(readFileSync(join(REPO, 'docs/haproxy.cfg'), 'utf8')).toBe(haproxyConfig(EXAMPLE_HAPROXY));
  });

  it('checks /healthz, balances by fewest connections, and keeps WebSockets open between pings', () => {
    const text = haproxyConfig(EXAMPLE_HAPROXY);
    expect(text).toMatch(/http-check send meth GET uri \/healthz/);
    expect(text).toMatch(/http-check expect status 200/);
    expect(text).toMatch(/balance leastconn/);
    expect(text).toMatch(/option redispatch/);
    expect(text).not.toMatch(/shutdown-sessions/);
    // Longer than the console's agent ping (15 s) and the feed's keep-alive (25 s).
    expect(text).toMatch(/timeout tunnel 5m/);
    expect(text).toMatch(/timeout client 60s/);
    // Two files per connection stay under the per-process limit of 20,000.
    expect(text).toMatch(/maxconn 9900\n\s+ulimit-n 19900/);
    for (const s of EXAMPLE_HAPROXY.servers) expect(text).toContain(`server ${s.name} ${s.address}`);
  });

  it.skipIf(unavailable !== null)('is accepted by haproxy -c', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-haproxy-check-'));
    try {
      const file = join(dir, 'haproxy.cfg');
      writeFileSync(file, haproxyConfig({ ...EXAMPLE_HAPROXY, bind: '127.0.0.1:8443', log: 'stderr', statsSocket: join(dir, 'stats.sock') }));
      const run = spawnSync('haproxy', ['-c', '-f', file], { encoding: 'utf8' });
      expect(run.stdout + run.stderr).toMatch(/Configuration file is valid/);
      expect(run.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
