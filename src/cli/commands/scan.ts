import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { ClamavError, selectEngine } from '../../station/clamav.js';
import { buildStationReport, sendStationReport, StationReportError } from '../../station/report.js';
import { scanDrive, type ScanOutcome, type ScanProgress } from '../../station/scan.js';
import { defaultStationId, defaultStationKeyPath, loadOrCreateStationKey, StationKeyError } from '../../station/station-key.js';
import { VolumeError, volumeAt } from '../../station/volume.js';
import { intOption, parse } from '../args.js';
import { CliError, usageError } from '../errors.js';

export const SCAN_HELP = `vigil scan <mount point> [options]
  Scan station: scans every file on the drive mounted at <mount point> with ClamAV (clamdscan when
  a clamd daemon answers, else clamscan) and, if all are clean, writes a signed clean-scan flag
  (.vigil-clean-scan.json) at the drive's root. Infected or unreadable files: no flag, exit 1.
  After every scan, clean or not, a report signed with the station key goes to the console
  (the station must be registered there with \`vigil station register\`); if it cannot be
  delivered the scan result still stands and the exit code does not change.
  --console URL         console to report to (default: VIGIL_CONSOLE_URL; none: no report)
  --station-key FILE    Ed25519 signing key (created 0600 if missing; default
                        /var/lib/vigil-station/station-key.pem as root, or VIGIL_STATION_DIR)
  --station-id NAME     name recorded in flags (default: host name)
  --expires-days N      days a flag stays valid (1-365, default 7)
  --database DIR        ClamAV database directory (uses clamscan; default: the system's)
  --clamd-config FILE   clamd.conf to find the daemon by (default: ClamAV's own)`;

export async function runScan(argv: string[]): Promise<void> {
  const { values, positionals } = parse(
    argv,
    {
      'station-key': { type: 'string' },
      'station-id': { type: 'string' },
      'expires-days': { type: 'string' },
      database: { type: 'string' },
      'clamd-config': { type: 'string' },
      console: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    1,
  );
  if (values.help) return void console.log(SCAN_HELP);
  const mount = positionals[0];
  if (!mount) throw usageError('give the mount point of the drive to scan (vigil scan /media/usb)');
  if (!existsSync(mount) || !statSync(mount).isDirectory()) throw usageError(`${mount} is not a directory`);
  const expiresDays = intOption(values['expires-days'], 'expires-days', 1, 365, 7);
  const stationId = values['station-id'] ?? defaultStationId();
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(stationId)) throw usageError('--station-id may use letters, digits, ".", "_" and "-" (at most 64)');
  if (values.database !== undefined && !(existsSync(values.database) && statSync(values.database).isDirectory())) {
    throw usageError(`--database ${values.database} is not a directory`);
  }

  const consoleUrl = values.console ?? process.env.VIGIL_CONSOLE_URL;
  if (consoleUrl !== undefined && !/^https?:\/\/[^/]/.test(consoleUrl)) throw usageError(`--console must be an http(s) URL, not "${consoleUrl}"`);

  try {
    const key = loadOrCreateStationKey(resolve(values['station-key'] ?? defaultStationKeyPath()));
    if (key.created) console.log(`Created a new station key at ${key.path}`);
    console.log(`Station ${stationId}, key id ${key.keyId}, public key ${key.publicKey}`);
    const { source, ...volume } = await volumeAt(mount);
    // Found now rather than after a long scan: the flag is written to the drive.
    if (!isWritable(mount)) throw new CliError(`${mount} is mounted read-only; remount it read-write so the flag can be written`);
    const engine = await selectEngine({ database: values.database, clamdConfig: values['clamd-config'] });
    console.log(`Scanning ${mount} (${source}, ${volume.fsType ?? 'unknown type'}, id ${volume.fsUuid ?? 'none'}) with ${engine.kind} ${engine.version}`);
    const progress = progressPrinter();
    const outcome = await scanDrive({ root: mount, volume, engine, key, stationId, expiresDays, onProgress: progress.update });
    progress.done();
    const failure = report(outcome);
    await tellConsole(consoleUrl, () => buildStationReport(outcome, { stationId, key, volume, engine }));
    if (failure) throw failure;
  } catch (error) {
    if (error instanceof CliError) throw error;
    if (error instanceof ClamavError || error instanceof VolumeError || error instanceof StationKeyError) throw new CliError(error.message);
    throw error;
  }
}

/** The console hears about every scan; failing to tell it never changes the scan's own result. */
async function tellConsole(consoleUrl: string | undefined, build: () => ReturnType<typeof buildStationReport>): Promise<void> {
  if (!consoleUrl) return void console.log('Console not told: no --console URL or VIGIL_CONSOLE_URL given');
  const signed = build();
  try {
    const { stored } = await sendStationReport(consoleUrl, signed);
    console.log(`Console told: report ${signed.payload.reportId} (${signed.payload.outcome}) ${stored ? 'stored' : 'was already stored'} at ${consoleUrl}`);
  } catch (error) {
    if (!(error instanceof StationReportError)) throw error;
    console.log(`CONSOLE NOT TOLD: ${error.message}. The scan result above still stands; tell IT about this drive yourself.`);
  }
}

/** Prints what the scan found; the error to exit with when the drive was not flagged. */
function report(outcome: ScanOutcome): CliError | null {
  const size = formatBytes(outcome.bytes);
  const secs = (outcome.ms / 1000).toFixed(1);
  if (outcome.ok) {
    console.log(
      `CLEAN: ${outcome.files} files (${size}) scanned in ${secs} s; flag written to ${outcome.flagPath}, valid until ${outcome.flag.payload.expiresAt}`,
    );
    return null;
  }
  for (const f of outcome.infected) console.log(`INFECTED ${f.path}: ${f.problem}`);
  for (const f of outcome.problems.slice(0, 100)) console.log(`PROBLEM  ${f.path}: ${f.problem}`);
  if (outcome.problems.length > 100) console.log(`PROBLEM  (+${outcome.problems.length - 100} more)`);
  console.log(`NO FLAG: ${outcome.detail} (${outcome.files} files, ${size}, ${secs} s)`);
  return new CliError(`drive not flagged: ${outcome.detail}`);
}

/** One status line on stderr at most once a second: files and bytes done, rate, ETA. */
function progressPrinter() {
  const started = Date.now();
  let last = 0;
  let latest: ScanProgress | null = null;
  const print = (p: ScanProgress) => {
    const secs = (Date.now() - started) / 1000;
    const rate = secs > 0 ? p.bytesDone / secs : 0;
    const eta = rate > 0 ? Math.ceil((p.bytesTotal - p.bytesDone) / rate) : null;
    process.stderr.write(
      `scanned ${p.filesDone}/${p.filesTotal} files, ${formatBytes(p.bytesDone)}/${formatBytes(p.bytesTotal)}, ${formatBytes(rate)}/s, ETA ${eta === null ? '?' : `${eta} s`}\n`,
    );
  };
  return {
    update(p: ScanProgress) {
      latest = p;
      if (Date.now() - last >= 1000) {
        last = Date.now();
        print(p);
      }
    },
    done() {
      if (latest) print(latest);
    },
  };
}

function isWritable(dir: string): boolean {
  try {
    accessSync(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

function formatBytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}
