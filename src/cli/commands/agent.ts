import { existsSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { EnrollFileSchema } from '../../shared/api.js';
import { ExecActionSchema } from '../../shared/exec.js';
import { createLogger, type Logger } from '../../shared/node/log.js';
import { isLoopback } from '../../shared/net.js';
import { Base64PublicKey } from '../../shared/signed.js';
import { OwnershipSchema } from '../../shared/session.js';
import { TRAY_SOCKET_PATH } from '../../shared/local-ipc.js';
import { startAgent, type AgentConfig, type AgentService } from '../../agent/service.js';
import { Outbox } from '../../agent/outbox.js';
import { paths } from '../../agent/identity.js';
import { intOption, isRoot, parse, readJsonFileArg } from '../args.js';
import { CliError, usageError } from '../errors.js';
import { AGENT_AUP_HELP, runAgentAup } from './agent-aup.js';
import { runAgentEnroll, runAgentUninstallNotice } from './install.js';
import { defaultEnrollFilePath } from '../../agent/install-config.js';

export const AGENT_HELP = `vigil agent [options]
  Runs the agent service: enrolls on first start, then keeps an authenticated link to the console,
  enforces the last good signed policy and delivers events from its durable outbox.
  --data-dir DIR        device key, policy and outbox (default: /var/lib/vigil as root,
                        else ~/.local/share/vigil-agent)
  --console URL         console to enroll with (first start only)
  --enroll-token-file FILE  read the enrollment token from FILE (first start only; refused if other
                        users can read it). Or VIGIL_ENROLL_TOKEN, or --enroll-token - for standard input
  --enroll-token TOKEN  the token on the command line, for scripts: every local user can read a
                        command line (ps) while it is there, so the agent overwrites it at once and
                        warns; prefer the file, standard input or --enroll-file
  --console-key KEY     the console's public key (base64) to pin at enrollment
  --enroll-file FILE    read the three values above from JSON (default /etc/vigil/enroll.json, on Windows
                        %ProgramData%\\Vigil\\enroll.json, if present)
  --user-mode           run without admin rights (BYOD): only the controls the OS allows a user
  --exec-mark PATH      application control (Linux, root): mark the file system holding PATH, and
                        those mounted below it later, when the policy names none (repeatable;
                        default none; the packaged service passes --exec-mark /home --exec-mark /tmp).
                        Without root (or --user-mode) the fallback watcher kills unapproved
                        programs just after they start instead
  --exec-on-timeout A   allow (fail-open, default) or deny (fail-closed) when the gate cannot
                        decide within its deadline
  --session             control the signed-in desktop session (idle lock, logoff, console commands)
  --session-display D   X display of that session (Linux; default: DISPLAY; implies --session)
  --session-uid UID     the session user's uid: logoff without logind ends only that user's
                        processes on that display (default: this process's uid in --user-mode)
  --session-id ID       logind (Linux) or Windows session id, when known
  --follow-sessions     follow whoever signs in at the seat (logind, else X sessions in utmp with a
                        live display; Windows: query user; macOS: the console owner): session
                        control and the AUP gate move to each new sign-in (instead of --session-*)
  --utmp FILE           with --follow-sessions on Linux: read sign-ins from this utmp file
                        (default: logind where it runs, else /var/run/utmp)
  --ownership school|byod  who owns this device: picks the policy's logoff timetable
                        (default: school, or byod with --user-mode)
  --udev-data DIR       udev's device database for the USB gate (default /run/udev/data)
  --tray-socket PATH    serve the tray app's local socket at PATH (the tray looks for
                        /run/vigil/tray.sock; "" means that path). Linux, as root: each peer is
                        identified by SO_PEERCRED (docs/tray.md)
  --tray-command PATH   the tray program the service starts again for a user whose tray stopped
  --tray-executable PATH  the installed tray executable (repeatable; Linux): only a peer whose
                        process runs it (the kernel's /proc/PID/exe) counts as the tray for the
                        tray watch, idle and power; other processes of the user are still answered
                        for that user. The packages pass it; without it every peer is taken as the tray
  --allow-plain-http    enroll with a console on another machine over plain HTTP (test labs only:
                        without TLS, anyone on the network path can read and relay the traffic)

vigil agent emit [--data-dir DIR] [--count N] [--note TEXT]
  Queues N diagnostic events in the outbox of this device, to check the delivery pipeline end to end.

${AGENT_AUP_HELP}`;

export function defaultAgentDataDir(): string {
  return process.env.VIGIL_AGENT_DATA_DIR ?? (isRoot() ? '/var/lib/vigil' : join(homedir(), '.local/share/vigil-agent'));
}

export async function runAgent(argv: string[]): Promise<void> {
  if (argv[0] === 'emit') return runEmit(argv.slice(1));
  if (argv[0] === 'aup') return runAgentAup(argv.slice(1), defaultAgentDataDir());
  if (argv[0] === 'enroll') return runAgentEnroll(argv.slice(1), defaultAgentDataDir());
  if (argv[0] === 'uninstall-notice') return runAgentUninstallNotice(argv.slice(1), defaultAgentDataDir());
  const { values } = parse(argv, {
    'data-dir': { type: 'string' },
    console: { type: 'string' },
    'enroll-token': { type: 'string' },
    'enroll-token-file': { type: 'string' },
    'console-key': { type: 'string' },
    'enroll-file': { type: 'string' },
    'user-mode': { type: 'boolean' },
    'allow-plain-http': { type: 'boolean' },
    'exec-mark': { type: 'string', multiple: true },
    'exec-on-timeout': { type: 'string' },
    session: { type: 'boolean' },
    'session-display': { type: 'string' },
    'session-uid': { type: 'string' },
    'session-id': { type: 'string' },
    ownership: { type: 'string' },
    'udev-data': { type: 'string' },
    'follow-sessions': { type: 'boolean' },
    utmp: { type: 'string' },
    'tray-socket': { type: 'string' },
    'tray-command': { type: 'string' },
    'tray-executable': { type: 'string', multiple: true },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) return void console.log(AGENT_HELP);
  const trayIpc = trayIpcOptions(values['tray-socket'], values['tray-command'], values['tray-executable']);
  const onTimeout = ExecActionSchema.safeParse(values['exec-on-timeout'] ?? 'allow');
  if (!onTimeout.success) throw usageError('--exec-on-timeout must be allow or deny');
  const badMark = values['exec-mark']?.find((path) => !path.startsWith('/') || !existsSync(path));
  if (badMark) throw usageError(`--exec-mark ${badMark}: not an existing absolute path`);
  const fromFile = readEnrollFile(values['enroll-file']);
  const consoleUrl = values.console ?? fromFile?.consoleUrl;
  if (consoleUrl !== undefined && !/^https?:\/\/[^\s]+$/.test(consoleUrl)) throw usageError(`--console must be an http(s) URL, not "${consoleUrl}"`);
  if (consoleUrl?.startsWith('http:') && !isLoopback(new URL(consoleUrl).hostname) && !values['allow-plain-http']) {
    throw usageError('refusing to enroll over plain HTTP with a console on another machine: use https (or --allow-plain-http on an isolated test network)');
  }
  const consoleKey = values['console-key'] ?? fromFile?.consolePublicKey;
  if (consoleKey !== undefined && !Base64PublicKey.safeParse(consoleKey).success) throw usageError('--console-key is not a base64 Ed25519 public key');
  const log = createLogger('agent');
  const enrollToken = await enrollTokenFrom(values['enroll-token'], values['enroll-token-file'], log);
  const config: AgentConfig = {
    dataDir: values['data-dir'] ?? defaultAgentDataDir(),
    consoleUrl,
    enrollToken: enrollToken ?? process.env.VIGIL_ENROLL_TOKEN ?? fromFile?.enrollToken,
    pinnedConsoleKey: consoleKey,
    mode: values['user-mode'] ? 'user' : 'service',
    log,
    backoffMaxMs: backoffFromEnv(),
    outboxMaxEvents: outboxCapFromEnv(),
    execMarks: values['exec-mark'] ?? [],
    execOnTimeout: onTimeout.data,
    session: sessionOptions(values),
    udevDataDir: values['udev-data'],
    ...(trayIpc ? { trayIpc } : {}),
  };
  let service: AgentService;
  try {
    service = await startAgent(config);
  } catch (error) {
    throw new CliError((error as Error).message);
  }
  console.log(`Vigil agent running as device ${service.deviceId}`);
  const stop = async (signal: string) => {
    log.info(`stopping (${signal})`);
    await service.stop();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
}

/**
 * The enrollment token from a file, standard input (`-`) or the command line. A token on the
 * command line is readable by every local user (ps, /proc/PID/cmdline) while it is there, and
 * with it a pupil once enrolled a fake device: the process's command line is overwritten at
 * once (Linux and macOS keep the title in the argv memory) and a warning says why.
 */
async function enrollTokenFrom(arg: string | undefined, file: string | undefined, log: Logger): Promise<string | undefined> {
  if (arg !== undefined && file !== undefined) throw usageError('give --enroll-token or --enroll-token-file, not both');
  if (file !== undefined) {
    let stat;
    try {
      stat = statSync(file);
    } catch {
      throw usageError(`--enroll-token-file ${file}: cannot be read`);
    }
    if (process.platform !== 'win32' && stat.mode & 0o004) throw usageError(`--enroll-token-file ${file}: other users can read it (chmod 600)`);
    return nonEmptyToken(readFileSync(file, 'utf8'), `--enroll-token-file ${file}`);
  }
  if (arg === '-') return nonEmptyToken(await readStdin(), 'standard input');
  if (arg === undefined) return undefined;
  hideFromCommandLine(arg);
  log.warn(
    'the enrollment token was given on the command line, where local users can read it while the process starts; use --enroll-token-file or standard input',
  );
  return arg;
}

function nonEmptyToken(text: string, from: string): string {
  const token = text.trim();
  if (!token || /\s/.test(token) || token.length > 512) throw usageError(`${from}: not an enrollment token (one line, no spaces, at most 512 characters)`);
  return token;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > 4096) throw usageError('standard input: more than an enrollment token');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Overwrites the process's command line (the title lives in the argv memory) without the token. */
function hideFromCommandLine(token: string): void {
  try {
    process.title = process.argv.map((a) => (a === token ? '***' : a)).join(' ');
  } catch {
    // Not every platform lets a process rename itself; the warning still says what to do.
  }
}

/** Session control settings from the command line; undefined when it is not asked for. */
function sessionOptions(values: {
  session?: boolean;
  'session-display'?: string;
  'session-uid'?: string;
  'session-id'?: string;
  ownership?: string;
  'user-mode'?: boolean;
  'follow-sessions'?: boolean;
  utmp?: string;
}) {
  if (values.utmp !== undefined && !values['follow-sessions']) throw usageError('--utmp needs --follow-sessions');
  const ownership = OwnershipSchema.safeParse(values.ownership ?? (values['user-mode'] ? 'byod' : 'school'));
  if (!ownership.success) throw usageError('--ownership must be school or byod');
  if (values['follow-sessions']) {
    if (values.session || values['session-display'] !== undefined || values['session-uid'] !== undefined || values['session-id'] !== undefined) {
      throw usageError('--follow-sessions finds the session itself: leave out --session, --session-display, --session-uid and --session-id');
    }
    if (values.utmp !== undefined && !(values.utmp.startsWith('/') && existsSync(values.utmp)))
      throw usageError(`--utmp ${values.utmp}: not an existing absolute path`);
    return { ownership: ownership.data, follow: { utmpFile: values.utmp, intervalMs: followIntervalFromEnv() } };
  }
  if (!values.session && values['session-display'] === undefined) return undefined;
  const display = values['session-display'] ?? process.env.DISPLAY;
  if (display !== undefined && !/^[A-Za-z0-9.-]*:\d{1,4}(\.\d{1,2})?$/.test(display))
    throw usageError(`--session-display must look like ":0", not "${display}"`);
  const uid =
    values['session-uid'] !== undefined
      ? intOption(values['session-uid'], 'session-uid', 0, 2 ** 31 - 1, 0)
      : values['user-mode']
        ? process.getuid?.()
        : undefined;
  const sessionId = values['session-id'];
  if (sessionId !== undefined && !/^[A-Za-z0-9_-]{1,32}$/.test(sessionId)) throw usageError('--session-id must be a short id (letters, digits, - and _)');
  return { ownership: ownership.data, target: { display, uid, sessionId, xauthority: process.env.XAUTHORITY } };
}

/** VIGIL_SEAT_POLL_MS: how often sign-ins are looked for (default 3000; tests shorten it). */
const followIntervalFromEnv = () => wholeNumberFromEnv('VIGIL_SEAT_POLL_MS', 200, 600_000, 'milliseconds');

/** The tray socket settings; undefined when --tray-socket is not given. */
function trayIpcOptions(socket: string | undefined, command: string | undefined, executables: string[] = []) {
  if (socket === undefined) {
    if (command !== undefined) throw usageError('--tray-command needs --tray-socket');
    if (executables.length) throw usageError('--tray-executable needs --tray-socket');
    return undefined;
  }
  const path = socket || TRAY_SOCKET_PATH;
  if (!path.startsWith('/') || path.length > 100) throw usageError('--tray-socket must be an absolute path of at most 100 characters');
  if (command !== undefined && !command.startsWith('/')) throw usageError('--tray-command must be an absolute path');
  const badExe = executables.find((exe) => !exe.startsWith('/') || !existsSync(exe));
  if (badExe !== undefined) throw usageError(`--tray-executable ${badExe}: not an existing absolute path`);
  return { path, ...(command ? { trayCommand: [command] } : {}), ...(executables.length ? { trayExecutables: executables } : {}) };
}

/** VIGIL_BACKOFF_MAX_MS: the longest wait between reconnects (tests shorten it). */
const backoffFromEnv = () => wholeNumberFromEnv('VIGIL_BACKOFF_MAX_MS', 100, 3600_000, 'milliseconds');

/** VIGIL_OUTBOX_MAX_EVENTS: the outbox's cap (tests lower it to reach it quickly). */
const outboxCapFromEnv = () => wholeNumberFromEnv('VIGIL_OUTBOX_MAX_EVENTS', 10, 10_000_000, 'events');

/** A whole number from the environment within [min, max], or undefined when the variable is not set. */
function wholeNumberFromEnv(name: string, min: number, max: number, unit: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) throw usageError(`${name} must be a whole number of ${unit} from ${min} to ${max}`);
  return Number(raw);
}

function readEnrollFile(flag: string | undefined) {
  const file = flag ?? (existsSync(defaultEnrollFilePath()) ? defaultEnrollFilePath() : undefined);
  if (!file) return undefined;
  return readJsonFileArg(file, EnrollFileSchema, 'enrollment file');
}

function runEmit(argv: string[]): void {
  const { values } = parse(argv, {
    'data-dir': { type: 'string' },
    count: { type: 'string' },
    note: { type: 'string' },
  });
  const dataDir = values['data-dir'] ?? defaultAgentDataDir();
  const file = paths(dataDir).outbox;
  if (!existsSync(file)) throw new CliError(`no agent outbox at ${file}: start the agent once first`);
  const count = intOption(values.count, 'count', 1, 100_000, 1);
  const note = values.note ?? 'pipeline check';
  const outbox = new Outbox(file, outboxCapFromEnv());
  try {
    const events = outbox.append(Array.from({ length: count }, (_, n) => ({ type: 'diagnostic.test' as const, data: { note, n } })));
    console.log(`queued ${events.length} diagnostic events (seq ${events[0]!.seq}..${events.at(-1)!.seq})`);
  } finally {
    outbox.close();
  }
}
