import type { ChildProcess } from 'node:child_process';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ENROLL_TOKEN, startConsoleProcess, type ConsoleHandle } from './fleet.js';
import { CLI, kill, startProcess, stopAll, tempDir, waitUntil, type Proc } from './processes.js';
import { killOnDisplay, startXvfb, type XServer } from './x11.js';

/**
 * One pupil's screen and the Vigil processes watching it, for the X11 end-to-end tests: a
 * private Xvfb with openbox and the apps asked for, a real console process, and a real agent
 * process controlling that display (a fixed session, or following sign-ins from a utmp file).
 */
export interface XSessionRig {
  dir: ReturnType<typeof tempDir>;
  x: XServer;
  /** The apps, in the order asked for. */
  apps: ChildProcess[];
  console: ConsoleHandle;
  agent: Proc;
  deviceId: string;
  /** The agent's data directory and command line, to restart it as it was. */
  agentDir: string;
  agentArgs: string[];
  agentEnv: NodeJS.ProcessEnv;
}

export interface XApp {
  command: string;
  args?: string[];
  /** `xdotool search` arguments that find its window once it is mapped. */
  search: string[];
}

export const xterm = (title: string, geometry = '60x10+0+0'): XApp => ({
  command: 'xterm',
  args: ['-geometry', geometry, '-title', title],
  search: ['--name', title],
});
export const xcalc: XApp = { command: 'xcalc', args: ['-geometry', '+500+100'], search: ['--class', 'xcalc'] };

export async function startXSessionRig(options: {
  apps: XApp[];
  /** How the agent finds the session: the fixed display (default), or sign-ins in this utmp file. */
  follow?: { utmp: string };
  agentArgs?: string[];
  agentEnv?: NodeJS.ProcessEnv;
}): Promise<XSessionRig> {
  const dir = tempDir();
  const x = await startXvfb();
  x.client('openbox');
  const apps = options.apps.map((app) => x.client(app.command, app.args ?? []));
  await waitUntil(
    () => options.apps.every((app) => x.run('xdotool', ['search', ...app.search]).status === 0),
    15_000,
    () => `never appeared: ${options.apps.filter((a) => x.run('xdotool', ['search', ...a.search]).status !== 0).map((a) => a.command)}`,
  );
  const consoleProc = await startConsoleProcess(join(dir.path, 'console'));
  const agentDir = join(dir.path, 'agent');
  const session = options.follow
    ? ['--follow-sessions', '--utmp', options.follow.utmp]
    : ['--session-display', x.display, '--session-uid', String(process.getuid!())];
  // The agent gets no DISPLAY of its own: it talks to the session's display explicitly.
  const agentArgs = [
    CLI,
    'agent',
    '--data-dir',
    agentDir,
    '--console',
    consoleProc.url,
    '--enroll-token',
    ENROLL_TOKEN,
    ...session,
    ...(options.agentArgs ?? []),
  ];
  const agentEnv = { VIGIL_BACKOFF_MAX_MS: '1000', ...options.agentEnv };
  const agent = startProcess(agentArgs, agentEnv);
  const [, deviceId] = (await agent.waitFor(/running as device ([0-9a-f-]{36})/)) as unknown as [string, string];
  return { dir, x, apps, console: consoleProc, agent, deviceId: deviceId!, agentDir, agentArgs, agentEnv };
}

/** Stops the agent (SIGTERM: it ends its own helpers), then anything it left on the display, then the rest. */
export async function stopXSessionRig(rig: XSessionRig | undefined, leftOnDisplay: string[] = ['xprop']): Promise<void> {
  if (!rig) return;
  await kill(rig.agent, 'SIGTERM');
  killOnDisplay(rig.x.display, leftOnDisplay); // and if it did not, the test does, by PID
  await stopAll();
  await rig.x.stop();
  rig.dir.remove();
}

/** Starts the agent again with the same data and arguments (after `kill`). */
export function restartAgent(rig: XSessionRig): Proc {
  rig.agent = startProcess(rig.agentArgs, rig.agentEnv);
  return rig.agent;
}

/** Publishes a policy and waits until the device has applied it; returns its version. */
export async function publishPolicy(rig: XSessionRig, policy: Record<string, unknown>): Promise<number> {
  const res = await rig.console.api('/api/v1/policies', {
    method: 'POST',
    body: JSON.stringify({ policy: { format: 'vigil-policy/1', ...policy }, expiresInDays: 1 }),
  });
  if (res.status !== 201) throw new Error(`policy refused: ${JSON.stringify(res.body)}`);
  const version = res.body.version as number;
  await waitUntil(
    async () => (await rig.console.api(`/api/v1/devices/${rig.deviceId}`)).body.device?.policyVersion === version,
    20_000,
    () => `policy ${version} never applied`,
  );
  return version;
}

/** The X window id of one app's window. */
export function windowId(x: XServer, app: XApp): string {
  return x
    .run('xdotool', ['search', ...app.search])
    .stdout.trim()
    .split('\n')[0]!;
}

/** Gives a window the focus and waits until X says it has it. */
export function activate(x: XServer, id: string): void {
  if (x.run('xdotool', ['windowactivate', '--sync', id]).status !== 0) throw new Error(`could not focus window ${id}`);
}

/** Gives one app's window the focus and waits until X says it has it. */
export const focus = (x: XServer, app: XApp) => activate(x, windowId(x, app));

/**
 * Writes a utmp file (with utmpdump, read back by the real `who`) holding one X sign-in of
 * `user` on `display`, or nobody. `n` makes each sign-in distinct (its login time and pid).
 */
export function writeUtmp(file: string, display: string, user: string | null, n: number): void {
  const at = `2026-11-22T08:${String(n % 60).padStart(2, '0')}:00,000000+00:00`;
  const line = display.padEnd(12);
  const text = user
    ? `[7] [${String(10000 + n).padStart(5, '0')}] [${display.slice(0, 4).padEnd(4)}] [${user.padEnd(8)}] [${line}] [${line.padEnd(20)}] [0.0.0.0        ] [${at}]\n`
    : '';
  const out = spawnSync('utmpdump', ['-r'], { input: text });
  if (out.status !== 0) throw new Error(`utmpdump failed: ${out.stderr}`);
  writeFileSync(file, out.stdout);
}
