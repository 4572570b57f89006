import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { cellLog, gridCell, openDeviceGrid, recordCell, shownAt } from './grid-page.js';

/**
 * Screen to grid (issue 20): how long after focus moves on the pupil's screen the dashboard's
 * grid, in Chromium, names the new app. A real console process, a real agent process sampling
 * the given X display (as `--session-display`), Debian's Chromium signed in to the grid. The
 * clock starts just before `xdotool windowactivate --sync` and stops when the page's
 * MutationObserver saw the cell change (the page's clock is this machine's).
 */
export interface ScreenToGrid {
  latenciesMs: number[];
  /** Times the cell showed "No window in front" while focus only moved between two windows. */
  noWindowShown: number;
}

const PASSWORD = 'bench-admin-password-0001';
const TOKEN = 'bench-enroll-token-0123456789';
const cli = join(fileURLToPath(new URL('..', import.meta.url)), 'src/cli/main.js');

export async function screenToGrid(options: {
  display: string;
  env: NodeJS.ProcessEnv;
  /** Two windows focus moves between, and the app names the grid shows for them. */
  windows: [{ id: string; app: string }, { id: string; app: string }];
  switches: number;
  log: (m: string) => void;
}): Promise<ScreenToGrid> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-grid-'));
  const children: ChildProcess[] = [];
  const browser = await chromium.launch({ executablePath: process.env.VIGIL_CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });
  try {
    const port = await freePort();
    const [consoleProc, url] = await startUntil(
      [cli, 'console', '--data-dir', join(dir, 'console'), '--port', String(port)],
      { VIGIL_ADMIN_PASSWORD: PASSWORD, VIGIL_ENROLL_TOKEN: TOKEN },
      /listening on (\S+)/,
    );
    children.push(consoleProc);
    const session = (await api(url, '', '/api/v1/login', { username: 'admin', password: PASSWORD })).token as string;
    const uid = String(process.getuid?.() ?? 0);
    const [agent, deviceId] = await startUntil(
      [cli, 'agent', '--data-dir', join(dir, 'agent'), '--console', url, '--enroll-token', TOKEN, '--session-display', options.display, '--session-uid', uid],
      { VIGIL_BACKOFF_MAX_MS: '1000' },
      /running as device ([0-9a-f-]{36})/,
    );
    children.push(agent);
    const policy = {
      format: 'vigil-policy/1',
      name: 'screen to grid',
      session: { lockAfterIdleSeconds: 0, logoffAfterLockedSeconds: 0 },
      activity: { mode: 'full', idleAfterSeconds: 3600 },
    };
    await api(url, session, '/api/v1/policies', { policy, expiresInDays: 1 });
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    await openDeviceGrid(page, url, 'admin', PASSWORD);
    const cell = gridCell(deviceId, 'activity-app');
    await page.waitForSelector(cell, { timeout: 30_000 });
    await recordCell(page, cell);
    const activate = (id: string) => spawnSync('xdotool', ['windowactivate', '--sync', id], { env: options.env, timeout: 10_000 });
    activate(options.windows[1].id);
    const from = await shownAt(page, cell, options.windows[1].app, 0, 30_000);
    const latenciesMs: number[] = [];
    for (let i = 0; i < options.switches; i++) {
      // Focus moves at varied moments relative to the agent's once-a-second sample.
      await new Promise((r) => setTimeout(r, 700 + Math.floor(Math.random() * 1300)));
      const target = options.windows[i % 2]!;
      const before = Date.now();
      activate(target.id);
      latenciesMs.push((await shownAt(page, cell, target.app, before)) - before);
    }
    const noWindowShown = (await cellLog(page, cell)).filter((c) => c.at >= from && c.text === 'No window in front').length;
    options.log(`screen to grid: ${latenciesMs.join(', ')} ms`);
    return { latenciesMs, noWindowShown };
  } finally {
    await browser.close();
    for (const child of children.reverse()) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 500));
    rmSync(dir, { recursive: true, force: true });
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

/** Starts a Vigil process and resolves with it and the first group of `pattern` on its stdout. */
function startUntil(args: string[], env: NodeJS.ProcessEnv, pattern: RegExp): Promise<[ChildProcess, string]> {
  const child = spawn(process.execPath, args, { env: { ...process.env, VIGIL_LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'pipe', 'ignore'] });
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const m = pattern.exec(line);
      if (m) resolve([child, m[1]!]);
    });
    child.once('exit', (code) => reject(new Error(`${args[1]} exited (${code}) before printing ${pattern}`)));
  });
}

async function api(url: string, session: string, path: string, body: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(session ? { authorization: `Bearer ${session}` } : {}) },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as Record<string, unknown>;
}
