import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { waitUntil } from './processes.js';

/** A local account the tests run processes as (setpriv). */
export interface Account {
  uid: number;
  gid: number;
}

export const account = (name: string): Account => ({
  uid: Number(execFileSync('id', ['-u', name]).toString().trim()),
  gid: Number(execFileSync('id', ['-g', name]).toString().trim()),
});

/** The argv that runs `exe args…` as `who` (setpriv execs it, so the PID is the program's own). */
export const asUser = (who: Account, exe: string, args: string[]): string[] => [
  '--reuid',
  String(who.uid),
  '--regid',
  String(who.gid),
  '--clear-groups',
  '--',
  exe,
  ...args,
];

/** Long-running processes as other users, each ended by its PID. */
const probes = new Set<ChildProcess>();

export interface Probe {
  child: ChildProcess;
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<unknown>;
}

/** Starts `exe args…` (node by default) as `who`, collecting its output. */
export function startProcessAs(who: Account, args: string[], exe = process.execPath): Probe {
  const child = spawn('setpriv', asUser(who, exe, args), { cwd: '/', stdio: ['ignore', 'pipe', 'pipe'] });
  probes.add(child);
  child.once('exit', () => probes.delete(child));
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  return {
    child,
    waitFor: (pattern, timeoutMs = 20_000) =>
      waitUntil(
        () => pattern.exec(out),
        timeoutMs,
        () => `waiting for ${pattern}: ${out}`,
      ),
  };
}

export async function killProbe(probe: Probe, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (probe.child.exitCode !== null || probe.child.signalCode !== null) return;
  const exited = new Promise((resolve) => probe.child.once('exit', resolve));
  probe.child.kill(signal);
  await exited;
}

export async function stopProbes(): Promise<void> {
  await Promise.all([...probes].map((child) => killProbe({ child, waitFor: async () => undefined }, 'SIGKILL')));
}
