import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startHaproxy, type RunningHaproxy } from '../../bench/haproxy.js';
import { consoleKeyPath } from '../../src/console/identity.js';
import { startConsoleProcess, type ConsoleHandle } from './fleet.js';

/**
 * Several `vigil console` processes on one PostgreSQL database, with HAProxy in front
 * (bench/haproxy.ts, the documented configuration): the first creates the fleet's signing key,
 * the others get a copy in their data directories, as docs/scaling.md tells an IT team to do; all
 * share one NATS bus.
 */
export interface ConsoleCluster {
  consoles: ConsoleHandle[];
  proxy: RunningHaproxy;
  /** Agents connected to each process (its own /healthz; null for a process that is not running). */
  onlineCounts(): Promise<(number | null)[]>;
}

export async function startConsoleCluster(dir: string, count: number, database: string, bus: string): Promise<ConsoleCluster> {
  const args = ['--database', database, '--bus', bus, '--trust-proxy', '127.0.0.1'];
  const first = await startConsoleProcess(join(dir, 'console0'), { args });
  const consoles = [first];
  for (let i = 1; i < count; i++) {
    const dataDir = join(dir, `console${i}`);
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    copyFileSync(consoleKeyPath(first.dataDir), consoleKeyPath(dataDir));
    consoles.push(await startConsoleProcess(dataDir, { args }));
  }
  const proxy = await startHaproxy({ servers: consoles.map((c, i) => ({ name: `console${i}`, address: `127.0.0.1:${c.port}` })) });
  return {
    consoles,
    proxy,
    onlineCounts: () =>
      Promise.all(
        consoles.map(async (c) =>
          c.proc.child.exitCode !== null || c.proc.child.signalCode !== null ? null : ((await c.api('/healthz', { token: null })).body.devicesOnline as number),
        ),
      ),
  };
}
