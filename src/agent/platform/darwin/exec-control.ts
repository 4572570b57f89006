import type { SignerInfo } from '../../../shared/app-rules.js';
import type { ObservedProcess, TerminateOutcome } from '../../exec/fallback.js';
import type { fileIdentity } from '../../exec/hash-file.js';
import { PollingProcessBackend, type ListedProcess, type PollingOptions } from '../../exec/polling-backend.js';
import type { CommandRunner } from '../../session/platform.js';

/**
 * Application control on macOS without Endpoint Security (which needs an Apple-granted
 * entitlement): `ps` polled for new processes, unapproved ones ended with `kill -KILL` after their
 * start time and program are checked again; signers read with `codesign`. Written against the
 * documented tools and tested on recorded outputs (test/unit/exec-platforms.test.ts); not yet
 * run on a real Mac.
 */

/** pid, uid, start time ("Sun Nov 22 17:53:33 2026", local time, to the second) and program path. */
export const PS_ARGS = ['-axo', 'pid=,uid=,lstart=,comm='];

export interface PsRow {
  pid: number;
  uid: number;
  lstart: string;
  path: string;
}

const LSTART = /^\s*(\d+)\s+(\d+)\s+([A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4})\s+(.+)$/;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** Parses `ps -axo pid=,uid=,lstart=,comm=`; rows whose program is not an absolute path are skipped. */
export function parsePs(text: string): PsRow[] {
  const rows: PsRow[] = [];
  for (const line of text.split('\n')) {
    const m = LSTART.exec(line.trimEnd());
    if (!m || !m[4]!.startsWith('/')) continue;
    rows.push({ pid: Number(m[1]), uid: Number(m[2]), lstart: m[3]!.replace(/\s+/g, ' '), path: m[4]! });
  }
  return rows;
}

/** ms since the epoch of an lstart value (local time, whole seconds); NaN if malformed. */
export function lstartMs(lstart: string): number {
  const m = /^[A-Z][a-z]{2} ([A-Z][a-z]{2}) +(\d+) (\d\d):(\d\d):(\d\d) (\d{4})$/.exec(lstart.trim());
  if (!m || !MONTHS.includes(m[1]!)) return Number.NaN;
  return new Date(Number(m[6]), MONTHS.indexOf(m[1]!), Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5])).getTime();
}

export interface DarwinProcess extends ObservedProcess {
  lstart: string;
}

/** Polls ps (a few ms per run) every `intervalMs` (default 250). */
export class PsPollBackend extends PollingProcessBackend<DarwinProcess, PsRow & ListedProcess> {
  readonly kind = 'ps-poll' as const;

  constructor(
    private readonly runner: CommandRunner,
    private readonly options: PollingOptions<DarwinProcess> & { now?: () => number; userOf?: (uid: number) => string | null | Promise<string | null> } = {},
  ) {
    super(250, options);
  }

  protected async list(): Promise<(PsRow & ListedProcess)[] | null> {
    const out = await this.runner.run('ps', PS_ARGS, 10_000);
    if (out.code !== 0) return null;
    return parsePs(out.stdout).map((row) => ({ ...row, key: `${row.pid}|${row.lstart}|${row.path}` }));
  }

  protected async observe(row: PsRow & ListedProcess, id: NonNullable<ReturnType<typeof fileIdentity>>): Promise<DarwinProcess> {
    const user = (await this.options.userOf?.(row.uid)) ?? String(row.uid);
    return { pid: row.pid, uid: row.uid, user, start: row.lstart, lstart: row.lstart, path: row.path, ...id };
  }

  signer(p: DarwinProcess): Promise<SignerInfo | null> {
    return readCodesignSigner(this.runner, p.path);
  }

  async terminate(p: DarwinProcess): Promise<{ outcome: TerminateOutcome; livedMs: number | null }> {
    if (!Number.isInteger(p.pid) || p.pid <= 1) return { outcome: 'denied', livedMs: null };
    const now = await this.runner.run('ps', ['-o', 'lstart=,comm=', '-p', String(p.pid)], 10_000);
    if (now.code !== 0 || !now.stdout.trim()) return { outcome: 'gone', livedMs: null };
    const [row] = parsePs(`${p.pid} ${p.uid ?? 0} ${now.stdout.trim()}`);
    if (!row || row.lstart !== p.lstart || row.path !== p.path) return { outcome: 'changed', livedMs: null };
    // A tiny window remains between this check and the signal (no pidfd on macOS).
    const killed = await this.runner.run('kill', ['-KILL', String(p.pid)], 10_000);
    if (killed.code !== 0) return { outcome: /No such process/i.test(killed.stderr) ? 'gone' : 'denied', livedMs: null };
    return { outcome: 'killed', livedMs: Math.max(0, (this.options.now ?? Date.now)() - lstartMs(p.lstart)) };
  }
}

/**
 * Parses `codesign -dv --verbose=4` (it writes to stderr): TeamIdentifier, Identifier and the
 * leaf Authority. Only for a signature `codesign --verify --strict` accepted; an ad-hoc signature
 * (anyone can make one) or "TeamIdentifier=not set" gives no team, and no Authority at all means
 * unsigned: null = unknown, never guessed.
 */
export function parseCodesign(text: string): SignerInfo | null {
  const fields = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    const key = line.slice(0, eq).trim();
    fields.set(key, [...(fields.get(key) ?? []), line.slice(eq + 1).trim()]);
  }
  if (fields.get('Signature')?.[0] === 'adhoc') return null;
  const authority = fields.get('Authority')?.[0] ?? null;
  if (!authority) return null;
  const team = fields.get('TeamIdentifier')?.[0];
  const teamId = team && team !== 'not set' && /^[A-Z0-9]{10}$/.test(team) ? team : null;
  return { publisher: authority, product: null, binaryName: null, teamId, signingId: fields.get('Identifier')?.[0] ?? null };
}

export async function readCodesignSigner(runner: CommandRunner, path: string): Promise<SignerInfo | null> {
  const verified = await runner.run('codesign', ['--verify', '--strict', path], 30_000);
  if (verified.code !== 0) return null;
  const out = await runner.run('codesign', ['-dv', '--verbose=4', path], 30_000);
  return out.code === 0 ? parseCodesign(out.stderr) : null;
}
