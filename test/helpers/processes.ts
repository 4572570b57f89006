import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach } from 'vitest';

export const REPO = resolve(import.meta.dirname, '../..');
export const CLI = join(REPO, 'bin/vigil.js');

/** A process started by a test; every one is ended by PID in `stopAll`. */
export interface Proc {
  child: ChildProcess;
  stdout: string;
  stderr: string;
  exited: Promise<number | null>;
  waitFor(pattern: RegExp, timeoutMs?: number, stream?: 'stdout' | 'stderr'): Promise<RegExpMatchArray>;
}

const started = new Set<ChildProcess>();

export function startProcess(args: string[], env: NodeJS.ProcessEnv = {}, cwd = REPO): Proc {
  const child = spawn(process.execPath, args, {
    cwd,
    env: { ...process.env, VIGIL_LOG_LEVEL: 'debug', VIGIL_LOG_FORMAT: 'pretty', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.add(child);
  const proc: Proc = {
    child,
    stdout: '',
    stderr: '',
    exited: new Promise((resolve) => child.once('exit', (code) => (started.delete(child), resolve(code)))),
    waitFor(pattern, timeoutMs = 20_000, stream = 'stdout') {
      return waitUntil(
        () => pattern.exec(stream === 'stdout' ? proc.stdout : proc.stderr),
        timeoutMs,
        () => `waiting for ${pattern} on ${stream}\n--- stdout\n${proc.stdout.slice(-3000)}\n--- stderr\n${proc.stderr.slice(-3000)}`,
      );
    },
  };
  child.stdout!.on('data', (d: Buffer) => (proc.stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (proc.stderr += d.toString()));
  return proc;
}

export function runCli(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 30_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const proc = startProcess([CLI, ...args], env);
  const timer = setTimeout(() => proc.child.kill('SIGKILL'), timeoutMs);
  return proc.exited.then((code) => (clearTimeout(timer), { code, stdout: proc.stdout, stderr: proc.stderr }));
}

export async function kill(proc: Proc, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (proc.child.exitCode !== null || proc.child.signalCode !== null) return;
  proc.child.kill(signal);
  await proc.exited;
}

export async function stopAll(): Promise<void> {
  await Promise.all(
    [...started].map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGKILL');
        }),
    ),
  );
}

export async function waitUntil<T>(
  check: () => T | null | undefined | false | Promise<T | null | undefined | false>,
  timeoutMs = 20_000,
  describe: () => string = () => 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out: ${describe()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function tempDir(prefix = 'vigil-test-'): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export { freePort } from '../../bench/free-port.js';

/** Temporary directories for one test file, removed after each test. */
export function tempDirsPerTest(): (name?: string) => string {
  const dirs: { remove(): void }[] = [];
  afterEach(() => dirs.splice(0).forEach((d) => d.remove()));
  return (name?: string) => {
    const dir = tempDir();
    dirs.push(dir);
    return name ? join(dir.path, name) : dir.path;
  };
}
