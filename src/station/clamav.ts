import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

/**
 * ClamAV as the scan station uses it: clamdscan when a clamd daemon answers (its database is
 * already loaded), clamscan otherwise or when a database directory is given (clamd always uses
 * its own). Files are passed as an explicit list so ClamAV scans exactly the manifest.
 */
export interface ClamavEngine {
  kind: 'clamscan' | 'clamdscan';
  command: string;
  args: string[];
  version: string;
  databaseVersion: string | null;
  databaseDigest: string | null;
}

export interface EngineOptions {
  database?: string;
  clamdConfig?: string;
}

export type FileScanResult = { status: 'clean' } | { status: 'infected'; signature: string } | { status: 'error'; message: string };

export class ClamavError extends Error {}

/**
 * Limits for clamscan. ClamAV's defaults skip files over 100 MB silently; the station raises them
 * to the most ClamAV can scan (2 GiB - 1) and makes anything still over a limit count as a
 * finding, so nothing unscanned is called clean. clamd takes its limits from clamd.conf.
 */
const CLAMSCAN_LIMITS = ['--max-filesize=2047M', '--max-scansize=2047M', '--alert-exceeds-max=yes'];
/** Largest file ClamAV scans at all. */
export const CLAMAV_MAX_FILE_BYTES = 2 ** 31 - 1;

export async function selectEngine(opts: EngineOptions): Promise<ClamavEngine> {
  if (opts.database === undefined) {
    const config = opts.clamdConfig ? [`--config-file=${opts.clamdConfig}`] : [];
    const ping = await run('clamdscan', [...config, '--ping', '1']).catch(() => null);
    if (ping?.code === 0) {
      const version = await versionOf('clamdscan', config);
      // --fdpass: clamd runs as its own user and could not open root-only files by name.
      return { kind: 'clamdscan', command: 'clamdscan', args: [...config, '--fdpass'], ...version, databaseDigest: null };
    }
  }
  const dbArgs = opts.database === undefined ? [] : [`--database=${opts.database}`];
  const version = await versionOf('clamscan', dbArgs);
  return {
    kind: 'clamscan',
    command: 'clamscan',
    args: [...dbArgs, ...CLAMSCAN_LIMITS],
    ...version,
    databaseDigest: opts.database === undefined ? null : databaseDigest(opts.database),
  };
}

/** "ClamAV 1.4.6/27123/Sun Nov 22 ..." → engine 1.4.6, database 27123 (absent for custom databases). */
async function versionOf(command: string, args: string[]) {
  const result = await run(command, [...args, '--version']);
  const m = /ClamAV ([^/\s]+)(?:\/(\d+))?/.exec(result.stdout);
  if (result.code !== 0 || !m) throw new ClamavError(`${command} --version failed: ${(result.stderr || result.stdout).trim().split('\n')[0] ?? ''}`);
  return { version: m[1]!, databaseVersion: m[2] ?? null };
}

/** Identifies a database directory by content, for custom databases that carry no version. */
function databaseDigest(dir: string): string {
  const hash = createHash('sha256');
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch (error) {
    throw new ClamavError(`cannot read the database directory ${dir}: ${(error as Error).message}`);
  }
  for (const name of names) {
    const path = join(dir, name);
    if (!statSync(path).isFile()) continue;
    hash.update(`${name}\0${createHash('sha256').update(readFileSync(path)).digest('hex')}\n`);
  }
  return hash.digest('hex');
}

/**
 * Scans the given absolute paths. `onResult` is called once per file ClamAV reports on; the
 * caller treats a file with no report as unscanned.
 */
export async function scanFiles(
  engine: ClamavEngine,
  paths: readonly string[],
  listFile: string,
  onResult: (path: string, result: FileScanResult) => void,
): Promise<{ code: number | null; stderr: string }> {
  writeFileSync(listFile, paths.map((p) => `${p}\n`).join(''), { mode: 0o600 });
  const known = new Set(paths);
  const child = spawn(engine.command, [...engine.args, '--no-summary', `--file-list=${listFile}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  const onLine = (line: string) => {
    const parsed = parseResultLine(line.replace(/^WARNING: /, ''), known);
    if (parsed) onResult(parsed.path, parsed.result);
  };
  createInterface({ input: child.stdout! }).on('line', onLine);
  createInterface({ input: child.stderr! }).on('line', (line) => {
    if (stderr.length < 64 * 1024) stderr += `${line}\n`;
    onLine(line);
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', (error) => reject(new ClamavError(`cannot run ${engine.command}: ${(error as Error).message}`)));
    child.once('close', (c) => resolve(c));
  });
  return { code, stderr };
}

/**
 * "<path>: OK" / "<path>: Empty file" / "<path>: <signature> FOUND" / "<path>: <error>".
 * Paths may contain ": ", so the split point is the one whose left side is a path we asked for.
 */
export function parseResultLine(line: string, known: ReadonlySet<string>): { path: string; result: FileScanResult } | null {
  for (let idx = line.lastIndexOf(': '); idx > 0; idx = line.lastIndexOf(': ', idx - 1)) {
    const path = line.slice(0, idx);
    if (!known.has(path)) continue;
    const rest = line.slice(idx + 2).trim();
    if (rest === 'OK' || rest === 'Empty file') return { path, result: { status: 'clean' } };
    if (rest.endsWith(' FOUND')) return { path, result: { status: 'infected', signature: rest.slice(0, -' FOUND'.length) } };
    return { path, result: { status: 'error', message: rest } };
  }
  return null;
}

function run(command: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', (error) =>
      reject(
        new ClamavError(
          (error as NodeJS.ErrnoException).code === 'ENOENT' ? `${command} not found: install ClamAV (apt-get install clamav)` : (error as Error).message,
        ),
      ),
    );
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

export { run as runCommand };
