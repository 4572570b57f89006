import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { z } from 'zod';
import { ExecGateRecordSchema, ExecWatchRecordSchema, type ExecGateRecord, type ExecWatchRecord } from '../src/shared/exec.js';

/**
 * What the exec-gate tests and benchmark share: a private tmpfs to mark (never a real system
 * mount: other people's work runs on this machine) and a gate in its own process, so a hang or
 * a crash cannot freeze the runner. Everything started here is ended by `cleanup()`.
 */

/** The repository root, from bench/ (source, under vitest) or dist/bench/ (built). */
export const REPO_ROOT = resolve(import.meta.dirname, import.meta.dirname.includes('/dist/') ? '../..' : '..');
const CLI = join(REPO_ROOT, 'bin/vigil.js');

export function sha256File(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** Why the real-fanotify tests cannot run here, or null if they can. */
export function execGateUnavailable(): string | null {
  if (process.platform !== 'linux') return 'the exec gate is Linux-only';
  if (process.getuid?.() !== 0) return 'the exec gate tests need root (fanotify permission events and mount)';
  const probe = spawnSync(
    process.execPath,
    [
      '-e',
      `const a=require(${JSON.stringify(join(REPO_ROOT, 'native/fanotify/build/Release/vigil_fanotify.node'))});a.close(a.open({deadlineMs:50,defaultAllow:true,allowPrefixes:[]},()=>{}))`,
    ],
    { encoding: 'utf8', timeout: 10_000 },
  );
  if (probe.status !== 0)
    return `fanotify is unavailable: ${
      probe.stderr
        .trim()
        .split('\n')
        .find((l) => /Error|error/.test(l)) ?? probe.stderr.trim()
    }`;
  return null;
}

export interface PrivateMount {
  path: string;
  unmount(): void;
}

/** A tmpfs of our own, mounted exec, at a fresh directory under the system temp dir. */
export function mountPrivateTmpfs(sizeMb = 64): PrivateMount {
  const path = mkdtempSync(join(tmpdir(), 'vigil-exec-test-'));
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', `exec,size=${sizeMb}m,mode=0755`, 'vigil-exec-test', path], { encoding: 'utf8' });
  if (mounted.status !== 0) {
    rmdirSync(path);
    throw new Error(`mount tmpfs failed: ${mounted.stderr}`);
  }
  let done = false;
  return {
    path,
    unmount() {
      if (done) return;
      done = true;
      // Lazy unmount if something still holds it, so the mount never outlives the test.
      if (spawnSync('umount', [path]).status !== 0) spawnSync('umount', ['-l', path]);
      rmdirSync(path);
    },
  };
}

/** A `vigil` command printing one JSON record per line (exec-gate, exec-watch), run as a child. */
export interface RecordProcess<R extends { type: string }> {
  child: ChildProcess;
  records: R[];
  stderr: string;
  /** The first matching record at or after `fromIndex` (records printed earlier can be stale); rejects after timeoutMs. */
  waitFor<T extends R['type']>(
    type: T,
    match?: (r: Extract<R, { type: T }>) => boolean,
    timeoutMs?: number,
    fromIndex?: number,
  ): Promise<Extract<R, { type: T }>>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}
export type GateProcess = RecordProcess<ExecGateRecord>;
export type WatchProcess = RecordProcess<ExecWatchRecord>;

const gates = new Set<ChildProcess>();

/** Starts `vigil exec-gate` with the given arguments and waits for its ready line. */
export function startGate(args: string[], env: NodeJS.ProcessEnv = {}): Promise<GateProcess> {
  return startRecords('exec-gate', args, ExecGateRecordSchema, env);
}

/** Starts `vigil exec-watch` (the fallback watcher) and waits for its ready line. */
export function startWatcher(args: string[], env: NodeJS.ProcessEnv = {}, as: { uid?: number; gid?: number } = {}): Promise<WatchProcess> {
  return startRecords('exec-watch', args, ExecWatchRecordSchema, env, as);
}

async function startRecords<R extends { type: string }>(
  command: string,
  args: string[],
  schema: z.ZodType<R>,
  env: NodeJS.ProcessEnv,
  as: { uid?: number; gid?: number } = {},
): Promise<RecordProcess<R>> {
  const child = spawn(process.execPath, [CLI, command, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], ...as });
  gates.add(child);
  const exited = new Promise<void>((r) => child.once('exit', () => (gates.delete(child), r())));
  const gate: RecordProcess<R> = {
    child,
    records: [],
    stderr: '',
    waitFor(type, match = () => true, timeoutMs = 10_000, fromIndex = 0) {
      const deadline = Date.now() + timeoutMs;
      return new Promise((resolveRecord, reject) => {
        const check = () => {
          const found = gate.records.find((r, i) => i >= fromIndex && r.type === type && match(r as never));
          if (found) return resolveRecord(found as never);
          if (Date.now() > deadline || child.exitCode !== null || child.signalCode !== null) {
            return reject(
              new Error(`no ${type} record from ${command}; stderr: ${gate.stderr.slice(-2000)}; records: ${JSON.stringify(gate.records.slice(-5))}`),
            );
          }
          setTimeout(check, 10);
        };
        check();
      });
    },
    async kill(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const parsed = schema.safeParse(JSON.parse(line));
    if (parsed.success) gate.records.push(parsed.data);
    else gate.stderr += `unparseable record: ${line}\n`;
  });
  child.stderr!.on('data', (d: Buffer) => (gate.stderr += d.toString()));
  await gate.waitFor('ready' as R['type']);
  return gate;
}

/** SIGKILLs every gate and watcher still running. */
export async function killAllGates(): Promise<void> {
  await Promise.all(
    [...gates].map(
      (child) =>
        new Promise<void>((r) => {
          if (child.exitCode !== null || child.signalCode !== null) return r();
          child.once('exit', () => r());
          child.kill('SIGKILL');
        }),
    ),
  );
}

/** Runs a program and reports how it went: exit code, or the errno of a refused exec. */
export function execProgram(path: string, timeoutMs = 10_000): { code: number | null; error: string | null; ms: number } {
  const started = performance.now();
  const result = spawnSync(path, [], { timeout: timeoutMs, stdio: 'ignore' });
  const error = (result.error as NodeJS.ErrnoException | undefined)?.code ?? null;
  return { code: result.status, error, ms: performance.now() - started };
}

/**
 * Path rules that confine a watcher's default deny to `dir`: the fallback watcher sees every
 * process on the machine, and other people's programs on this shared machine must not be killed.
 * (Path tier: a block beats an allow; hash rules still win over both.)
 */
export function onlyBelow(dir: string): { kind: 'path'; pattern: string; action: 'allow' | 'block' }[] {
  return [
    { kind: 'path', pattern: '/**', action: 'allow' },
    { kind: 'path', pattern: `${dir}/**`, action: 'block' },
  ];
}
