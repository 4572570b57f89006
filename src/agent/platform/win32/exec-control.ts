import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AppRule, Applications, SignerInfo } from '../../../shared/app-rules.js';
import { exportAppLocker, type AppLockerExport } from '../../../shared/node/appcontrol/applocker.js';
import type { ObservedProcess, TerminateOutcome } from '../../exec/fallback.js';
import type { fileIdentity } from '../../exec/hash-file.js';
import { PollingProcessBackend, type ListedProcess, type PollingOptions } from '../../exec/polling-backend.js';
import type { CommandRunner } from '../../session/platform.js';

/**
 * Application control on Windows, written against documented commands and tested on recorded
 * outputs (test/unit/exec-platforms.test.ts); not yet run on a real Windows machine.
 *
 * - Before launch: the device's rules translated into an AppLocker policy (exportAppLocker) and
 *   applied with `Set-AppLockerPolicy -XmlPolicy`; Windows then blocks before the program runs.
 * - After launch (fallback, and for rules AppLocker cannot express, e.g. plain SHA-256): the
 *   process list polled with `Get-CimInstance Win32_Process` (WMI) and unapproved programs ended
 *   with `Stop-Process -Force` once their creation date and path are checked again.
 * - Signers: `Get-AuthenticodeSignature` (+ the file's version resource) as JSON.
 */

const POWERSHELL = 'powershell.exe';
const PS_ARGS = ['-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass', '-Command'];

/**
 * A PowerShell single-quoted string literal. PowerShell also ends such a string at the typographic
 * single quotes (U+2018, U+2019, U+201A, U+201B), so each of those is doubled too; nothing else is
 * special inside '...'.
 */
export function psQuote(text: string): string {
  return `'${text.replace(/['\u2018\u2019\u201A\u201B]/g, '$&$&')}'`;
}

/** Every process with its program, creation time (UTC, ISO 8601) and session, as one JSON array. */
export const WIN32_PROCESS_QUERY =
  "Get-CimInstance -ClassName Win32_Process | ForEach-Object { [pscustomobject]@{ ProcessId = $_.ProcessId; ExecutablePath = $_.ExecutablePath; CreationDate = if ($_.CreationDate) { $_.CreationDate.ToUniversalTime().ToString('o') } else { $null }; SessionId = $_.SessionId } } | ConvertTo-Json -Compress";

export interface Win32ProcessRow {
  pid: number;
  path: string | null;
  created: string | null;
  sessionId: number | null;
}

/** Parses WIN32_PROCESS_QUERY's output (ConvertTo-Json writes one object, not an array, for a single process). */
export function parseWin32Processes(json: string): Win32ProcessRow[] {
  const text = json.replace(/^\uFEFF/, '').trim();
  if (!text) return [];
  const parsed: unknown = JSON.parse(text);
  const rows = Array.isArray(parsed) ? parsed : [parsed];
  const out: Win32ProcessRow[] = [];
  for (const row of rows) {
    if (typeof row !== 'object' || row === null) continue;
    const r = row as Record<string, unknown>;
    if (typeof r.ProcessId !== 'number' || !Number.isInteger(r.ProcessId)) continue;
    out.push({
      pid: r.ProcessId,
      path: typeof r.ExecutablePath === 'string' && r.ExecutablePath ? r.ExecutablePath : null,
      created: typeof r.CreationDate === 'string' && !Number.isNaN(Date.parse(r.CreationDate)) ? r.CreationDate : null,
      sessionId: typeof r.SessionId === 'number' ? r.SessionId : null,
    });
  }
  return out;
}

/**
 * Ends `pid` only if it is still the process judged (same creation date and program); prints
 * killed, gone or changed. Values are checked before they are put in the script.
 */
export function win32KillScript(pid: number, created: string, path: string): string {
  if (!Number.isInteger(pid) || pid <= 4) throw new Error(`refusing to end pid ${pid}`);
  if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/.test(created)) throw new Error(`not a creation date: ${created}`);
  return [
    `$p = Get-CimInstance -ClassName Win32_Process -Filter ${psQuote(`ProcessId=${pid}`)}`,
    "if (-not $p) { 'gone' }",
    `elseif ($p.CreationDate.ToUniversalTime().ToString('o') -ne ${psQuote(created)} -or $p.ExecutablePath -ne ${psQuote(path)}) { 'changed' }`,
    `else { Stop-Process -Id ${pid} -Force -ErrorAction Stop; 'killed' }`,
  ].join('; ');
}

export interface Win32Process extends ObservedProcess {
  created: string;
  sessionId: number | null;
}

/**
 * Polls the process list. Session 0 (services) is never reported: services are the OS's, not a
 * pupil's. Each poll starts PowerShell (hundreds of ms), so the default interval is a second.
 */
/** A listed process the watcher judges: it has a program and a creation date. */
type ListedWin32 = Win32ProcessRow & ListedProcess & { created: string };

export class WmiPollBackend extends PollingProcessBackend<Win32Process, ListedWin32> {
  readonly kind = 'wmi' as const;

  constructor(
    private readonly runner: CommandRunner,
    private readonly options: PollingOptions<Win32Process> & { now?: () => number } = {},
  ) {
    super(1000, options);
  }

  protected async list(): Promise<ListedWin32[] | null> {
    const out = await this.runner.run(POWERSHELL, [...PS_ARGS, WIN32_PROCESS_QUERY], 30_000);
    if (out.code !== 0) return null;
    return parseWin32Processes(out.stdout).flatMap((row) =>
      row.path && row.created && row.sessionId !== 0 ? [{ ...row, path: row.path, created: row.created, key: `${row.pid}|${row.created}|${row.path}` }] : [],
    );
  }

  protected observe(row: ListedWin32, id: NonNullable<ReturnType<typeof fileIdentity>>): Win32Process {
    return { pid: row.pid, uid: null, user: null, start: row.created, created: row.created, sessionId: row.sessionId, path: row.path, ...id };
  }

  signer(p: Win32Process): Promise<SignerInfo | null> {
    return readAuthenticodeSigner(this.runner, p.path);
  }

  async terminate(p: Win32Process): Promise<{ outcome: TerminateOutcome; livedMs: number | null }> {
    const out = await this.runner.run(POWERSHELL, [...PS_ARGS, win32KillScript(p.pid, p.created, p.path)], 30_000);
    const said = out.stdout.trim().split(/\r?\n/).pop();
    const outcome: TerminateOutcome = out.code !== 0 ? 'denied' : said === 'killed' || said === 'gone' || said === 'changed' ? said : 'denied';
    return { outcome, livedMs: outcome === 'killed' ? Math.max(0, (this.options.now ?? Date.now)() - Date.parse(p.created)) : null };
  }
}

/** The signature and the version resource's names, as JSON (fields as Get-AuthenticodeSignature and VersionInfo name them). */
export function authenticodeScript(path: string): string {
  const q = psQuote(path);
  return `$s = Get-AuthenticodeSignature -LiteralPath ${q}; $v = (Get-Item -LiteralPath ${q}).VersionInfo; [pscustomobject]@{ Status = [string]$s.Status; StatusMessage = $s.StatusMessage; SignerCertificate = [pscustomobject]@{ Subject = $s.SignerCertificate.Subject; Thumbprint = $s.SignerCertificate.Thumbprint }; ProductName = $v.ProductName; OriginalFilename = $v.OriginalFilename } | ConvertTo-Json -Compress`;
}

/**
 * AppLocker's publisher name from a certificate subject: its O, L, S and C parts, upper-cased
 * ("CN=Mozilla Corporation, O=Mozilla Corporation, L=San Francisco, S=California, C=US" ->
 * "O=MOZILLA CORPORATION, L=SAN FRANCISCO, S=CALIFORNIA, C=US"). Quoted values may hold commas.
 */
export function appLockerPublisher(subject: string): string | null {
  const parts: [string, string][] = [];
  for (const m of subject.matchAll(/\s*([A-Za-z.0-9]+)=("(?:[^"]|"")*"|[^,]*)\s*(?:,|$)/g)) {
    const key = m[1]!.toUpperCase();
    const value = m[2]!.startsWith('"') ? m[2]!.slice(1, -1).replaceAll('""', '"') : m[2]!.trim();
    if (['O', 'L', 'S', 'C'].includes(key) && value) parts.push([key, value]);
  }
  if (!parts.some(([k]) => k === 'O')) return null;
  return parts.map(([k, v]) => `${k}=${/[,"]/.test(v) ? `"${v.toUpperCase().replaceAll('"', '""')}"` : v.toUpperCase()}`).join(', ');
}

/**
 * Parses the JSON of authenticodeScript (or of a plain `Get-AuthenticodeSignature | ConvertTo-Json`,
 * where Status is a number: 0 = Valid). Only a Valid signature names a signer; anything else
 * (NotSigned, HashMismatch, NotTrusted...) is null = unknown. Never guessed.
 */
export function parseAuthenticode(json: string): SignerInfo | null {
  let r: Record<string, unknown>;
  try {
    r = JSON.parse(json.replace(/^\uFEFF/, '').trim()) as Record<string, unknown>;
  } catch {
    return null;
  }
  if (typeof r !== 'object' || r === null) return null;
  const valid = r.Status === 'Valid' || r.Status === 0;
  const cert = r.SignerCertificate as Record<string, unknown> | null | undefined;
  const subject = typeof cert?.Subject === 'string' ? cert.Subject : null;
  if (!valid || !subject) return null;
  const publisher = appLockerPublisher(subject);
  if (!publisher) return null;
  const upper = (v: unknown) => (typeof v === 'string' && v.trim() ? v.trim().toUpperCase() : null);
  return { publisher, product: upper(r.ProductName), binaryName: upper(r.OriginalFilename), teamId: null, signingId: null };
}

export async function readAuthenticodeSigner(runner: CommandRunner, path: string): Promise<SignerInfo | null> {
  const out = await runner.run(POWERSHELL, [...PS_ARGS, authenticodeScript(path)], 30_000);
  return out.code === 0 ? parseAuthenticode(out.stdout) : null;
}

/**
 * AppLocker's default rules, kept whatever the policy says (Vigil's built-in tier on Windows):
 * Windows and Program Files run, and administrators run anything, so a policy mistake cannot
 * stop the OS or the agent (which lives under Program Files).
 */
export const APPLOCKER_BUILTINS: AppRule[] = [
  {
    kind: 'path',
    platform: 'windows',
    pattern: '%WINDIR%\\*',
    action: 'allow',
    id: 'a61c8b2c-a319-4cd0-9690-d2177cad7b51',
    description: 'Vigil built-in: Windows',
  },
  {
    kind: 'path',
    platform: 'windows',
    pattern: '%PROGRAMFILES%\\*',
    action: 'allow',
    id: '921cc481-6e17-4653-8f75-050b80acca20',
    description: 'Vigil built-in: Program Files',
  },
];

/**
 * The AppLocker policy for this device: its rules (group scope and live exceptions already
 * resolved by the caller: `rules`), plus the built-in allows. What AppLocker cannot express is
 * in `notes`; the fallback watcher enforces plain SHA-256 rules after launch.
 */
export function appLockerPolicyFor(apps: Pick<Applications, 'mode' | 'defaultAction'>, rules: readonly AppRule[]): AppLockerExport {
  return exportAppLocker({ ...apps, rules: [...APPLOCKER_BUILTINS, ...rules] });
}

/**
 * Writes the policy (UTF-16 LE with a BOM, as AppLocker's own exports) and applies it: the
 * Application Identity service must run for AppLocker to enforce, then Set-AppLockerPolicy
 * replaces the local policy (domain GPOs still merge on top). Returns the command lines run.
 */
export async function applyAppLockerPolicy(runner: CommandRunner, xml: string, dir: string): Promise<{ ok: boolean; detail: string; file: string }> {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'vigil-applocker.xml');
  writeFileSync(file, Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(xml, 'utf16le')]));
  const steps: [string, string[]][] = [
    ['sc.exe', ['config', 'AppIDSvc', 'start=', 'auto']],
    ['sc.exe', ['start', 'AppIDSvc']],
    [POWERSHELL, [...PS_ARGS, `Set-AppLockerPolicy -XmlPolicy ${psQuote(file)} -ErrorAction Stop`]],
  ];
  for (const [command, args] of steps) {
    const out = await runner.run(command, args, 60_000);
    // sc.exe start says 1056 when the service already runs: that is fine.
    if (out.code !== 0 && !(command === 'sc.exe' && args[0] === 'start' && out.code === 1056)) {
      return {
        ok: false,
        detail: `${command} ${args.slice(0, 2).join(' ')} failed (exit ${out.code}): ${(out.stderr || out.stdout).trim().slice(0, 200)}`,
        file,
      };
    }
  }
  return { ok: true, detail: 'AppLocker policy applied (Set-AppLockerPolicy)', file };
}

/**
 * The agent's Windows pre-launch step (AppControl's preLaunch): on each policy, the device's rules
 * as an AppLocker policy, applied when it differs from the last one applied. One at a time; what
 * AppLocker cannot express and every failure are logged (the fallback watcher still runs).
 */
export function appLockerApplier(runner: CommandRunner, dir: string, log: { info(m: string, d?: object): void; warn(m: string, d?: object): void }) {
  let last = '';
  let queue = Promise.resolve();
  return (apps: Pick<Applications, 'mode' | 'defaultAction'>, rules: AppRule[]): void => {
    const { xml, notes } = appLockerPolicyFor(apps, rules);
    if (xml === last) return;
    last = xml;
    if (notes.length) log.info('rules AppLocker cannot express (enforced by the fallback watcher where it can)', { notes: notes.slice(0, 10) });
    queue = queue.then(async () => {
      const result = await applyAppLockerPolicy(runner, xml, dir).catch((error: Error) => ({ ok: false, detail: error.message }));
      if (result.ok) log.info(result.detail);
      else {
        last = ''; // try again with the next policy
        log.warn('AppLocker policy not applied', { detail: result.detail });
      }
    });
  };
}
