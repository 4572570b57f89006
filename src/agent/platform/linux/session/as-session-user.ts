import { existsSync } from 'node:fs';
import type { CommandOutput, CommandRunner, RunOptions, SessionTarget, StartedProcess } from '../../../session/platform.js';

/** The session user's account, as the system's user database (NSS: files, LDAP...) has it. */
export interface SessionAccount {
  uid: number;
  gid: number;
  name: string;
  home: string;
  shell: string;
}

/** One `getent passwd` line: name:password:uid:gid:gecos:home:shell. */
export function parsePasswdLine(line: string): SessionAccount | null {
  const fields = line.trim().split(':');
  if (fields.length < 7) return null;
  const [name, , uid, gid, , home, shell] = fields;
  const u = Number(uid);
  const g = Number(gid);
  if (!name || !Number.isInteger(u) || !Number.isInteger(g) || u < 0 || g < 0 || !home?.startsWith('/')) return null;
  return { uid: u, gid: g, name, home, shell: shell || '/bin/sh' };
}

/** A command line (and its environment) that runs a program as the session's user, or why it cannot. */
export type SessionCommand = { ok: true; command: string; args: string[]; options: RunOptions } | { ok: false; detail: string };

/**
 * Runs programs the way the session's own programs run: as its user (uid, primary group and
 * supplementary groups via setpriv --init-groups), with that user's HOME, USER, SHELL, the
 * session's DISPLAY and XAUTHORITY and the user's runtime directory and D-Bus session bus where
 * they exist, none of the agent's environment. A screen locker started
 * like this takes the pupil's own password (a locker run as root asks for root's). setpriv's
 * --pdeathsig ends the program if the agent dies without stopping it, so no locker outlives the
 * agent; the kernel applies it after the change of user, so it holds for the program itself.
 */
export class SessionUserRunner {
  private account: Promise<SessionAccount | null> | null = null;

  constructor(
    private readonly run: CommandRunner,
    private readonly target: SessionTarget,
    private readonly agentUid: number | undefined = process.getuid?.(),
  ) {}

  async command(program: string, args: readonly string[]): Promise<SessionCommand> {
    if (!this.run.has('setpriv')) return { ok: false, detail: 'setpriv (util-linux) is not installed, so it cannot run as the session user' };
    const uid = this.target.uid ?? this.agentUid;
    if (uid === undefined) return { ok: false, detail: "the session's user is not known" };
    if (this.target.uid === undefined && this.agentUid === 0) {
      return { ok: false, detail: "the session's user is not known (--session-uid); run as root it would ask for root's password, not the pupil's" };
    }
    if (uid !== this.agentUid && this.agentUid !== 0)
      return { ok: false, detail: `the agent runs as uid ${this.agentUid}, not root, so it cannot run as the session user (uid ${uid})` };
    const account = await this.lookup(uid);
    if (!account) return { ok: false, detail: `uid ${uid} has no entry in the user database` };
    const env: Record<string, string> = {
      PATH: '/usr/local/bin:/usr/bin:/bin',
      HOME: account.home,
      USER: account.name,
      LOGNAME: account.name,
      SHELL: account.shell,
      ...(process.env.LANG ? { LANG: process.env.LANG } : {}),
      ...(this.target.display ? { DISPLAY: this.target.display } : {}),
      ...(this.target.xauthority ? { XAUTHORITY: this.target.xauthority } : {}),
      ...sessionBus(account.uid),
    };
    const identity = uid === this.agentUid ? [] : [`--reuid=${account.uid}`, `--regid=${account.gid}`, '--init-groups'];
    return { ok: true, command: 'setpriv', args: [...identity, '--pdeathsig=TERM', '--', program, ...args], options: { env } };
  }

  async start(program: string, args: readonly string[]): Promise<StartedProcess | { ok: false; detail: string }> {
    const c = await this.command(program, args);
    return c.ok ? this.run.start(c.command, c.args, c.options) : c;
  }

  async runToEnd(program: string, args: readonly string[], timeoutMs?: number): Promise<CommandOutput> {
    const c = await this.command(program, args);
    return c.ok ? this.run.run(c.command, c.args, timeoutMs, c.options) : { code: null, stdout: '', stderr: c.detail };
  }

  /** Looked up once per session (its uid does not change). */
  private lookup(uid: number): Promise<SessionAccount | null> {
    this.account ??= this.run.run('getent', ['passwd', String(uid)]).then((out) => {
      const account = out.code === 0 ? parsePasswdLine(out.stdout.split('\n')[0] ?? '') : null;
      if (!account) this.account = null; // a directory that did not answer is asked again next time
      return account;
    });
    return this.account;
  }
}

/** The user's runtime directory and D-Bus session bus, where the system provides them (logind, or pam_systemd). */
function sessionBus(uid: number, runRoot = '/run/user'): Record<string, string> {
  const dir = `${runRoot}/${uid}`;
  if (!existsSync(dir)) return {};
  return { XDG_RUNTIME_DIR: dir, ...(existsSync(`${dir}/bus`) ? { DBUS_SESSION_BUS_ADDRESS: `unix:path=${dir}/bus` } : {}) };
}
