import type { ChildProcess } from 'node:child_process';
import { skipReason } from '../helpers/requirements.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { linuxSessionPlatform, WARNING_TITLE } from '../../src/agent/platform/linux/session/index.js';
import { systemClock } from '../../src/agent/session/clock.js';
import { nodeCommandRunner } from '../../src/agent/session/node-runner.js';
import { SessionRunner } from '../../src/agent/session/runner.js';
import type { NewAgentEvent } from '../../src/shared/events.js';
import { createLogger } from '../../src/shared/node/log.js';
import { waitUntil } from '../helpers/processes.js';
import { isRunning, killOnDisplay, missingXTools, pidsOnDisplay, startXvfb, type XServer } from '../helpers/x11.js';

/**
 * Session control against a real X server: Xvfb + openbox + xterm as the pupil's session,
 * xprintidle for idle time, i3lock as the locker, xmessage for the countdown. The runner is the
 * agent's own, in this process; the session processes are found and ended the way the agent
 * ends them (uid + DISPLAY), which is safe here because this test process has no DISPLAY.
 */
const missing = missingXTools();
const unavailable = skipReason(
  'X11 session e2e',
  missing.length ? `missing ${missing.join(', ')} (apt-get install xvfb openbox xdotool x11-utils x11-apps xprintidle i3lock imagemagick xterm)` : null,
);

describe.skipIf(unavailable !== null)('session control under a real X server', () => {
  let x: XServer;
  let wm: ChildProcess;
  let app: ChildProcess;
  let runner: SessionRunner;
  const events: NewAgentEvent[] = [];
  const actions = (action: string) => events.filter((e) => e.type === 'session.action' && e.data.action === action);

  beforeAll(async () => {
    x = await startXvfb();
    wm = x.client('openbox');
    app = x.client('xterm', ['-geometry', '80x24+100+100', '-title', 'pupil-session']);
    await waitUntil(
      () => x.windowExists('pupil-session'),
      15_000,
      () => 'xterm window never appeared',
    );
    const platform = linuxSessionPlatform(nodeCommandRunner({ DISPLAY: x.display }), { display: x.display, uid: process.getuid!() });
    runner = new SessionRunner({ platform, ownership: 'school', emit: (e) => events.push(e), log: createLogger('session-test') });
    runner.applyPolicy({ lockAfterIdleSeconds: 5, logoffAfterLockedSeconds: 14, warningSeconds: 6 });
    x.run('xdotool', ['mousemove', '500', '400']);
    runner.start();
  });

  afterAll(async () => {
    runner?.stop();
    if (x) killOnDisplay(x.display, ['i3lock', 'xmessage']);
    await x?.stop();
  });

  it('reports its backends', () => {
    const backends = events.find((e) => e.type === 'session.backends')!.data as { lockers: string[] };
    expect(backends).toMatchObject({ platform: 'linux', ownership: 'school', idle: 'xprintidle', logoff: ['kill-session-processes'], warning: 'xmessage' });
    // No logind here (PID 1 is not systemd), so loginctl is never offered.
    expect(backends.lockers).not.toContain('loginctl');
    expect(backends.lockers).toContain('i3lock');
  });

  it('input resets the idle timer: no lock while someone is using the session', async () => {
    for (let i = 0; i < 8; i++) {
      x.run('xdotool', ['mousemove', String(300 + i * 10), '300']);
      await new Promise((r) => setTimeout(r, 1000));
    }
    expect(actions('lock')).toEqual([]);
    expect(pidsOnDisplay('i3lock', x.display)).toEqual([]);
    x.screenshot('session-in-use');
  });

  it('locks with a real locker after the idle time (falling back past lockers that fail)', async () => {
    await waitUntil(
      () => actions('lock').length > 0,
      15_000,
      () => `no lock; events ${JSON.stringify(events)}`,
    );
    expect(actions('lock')[0]!.data).toMatchObject({ reason: 'idle', ok: true, backend: 'i3lock' });
    expect(pidsOnDisplay('i3lock', x.display).length).toBeGreaterThan(0); // i3lock forks a helper
    expect(x.pixel(5, 5)).toBe('srgb(29,53,87)'); // i3lock's colour covers the screen
    x.screenshot('session-locked');
  });

  it('shows the countdown before logging off a session locked too long', async () => {
    await waitUntil(
      () => x.windowExists(WARNING_TITLE),
      20_000,
      () => `no warning window; events ${JSON.stringify(events)}`,
    );
    expect(actions('warn')[0]!.data).toMatchObject({ reason: 'locked-too-long', ok: true, backend: 'xmessage' });
    expect(isRunning(app)).toBe(true); // warned, not yet logged off
    x.screenshot('session-warning-under-lock');
  });

  it('ends the session processes when the countdown runs out', async () => {
    await waitUntil(
      () => actions('logoff').length > 0,
      20_000,
      () => `no logoff; events ${JSON.stringify(events)}`,
    );
    expect(actions('logoff')[0]!.data).toMatchObject({ reason: 'locked-too-long', ok: true, backend: 'kill-session-processes' });
    await waitUntil(
      () => !isRunning(app) && !isRunning(wm),
      10_000,
      () => 'xterm or openbox still running',
    );
    expect(pidsOnDisplay('i3lock', x.display)).toEqual([]);
    expect(x.windowExists(WARNING_TITLE)).toBe(false);
    x.screenshot('session-after-logoff');
  });
});

describe.skipIf(unavailable !== null)('postponing a timetabled logoff from the countdown window', () => {
  let x: XServer;
  let app: ChildProcess;
  let runner: SessionRunner;
  const events: NewAgentEvent[] = [];

  /** Clicks the xmessage button at `index` (0 = first), found in the window's own widget tree. */
  function clickButton(index: number): void {
    const id = x.run('xdotool', ['search', '--name', WARNING_TITLE]).stdout.trim().split('\n')[0]!;
    const tree = x.run('xwininfo', ['-tree', '-id', id]).stdout;
    const buttons = [...tree.matchAll(/\(\)\s+\d+x25\+\d+\+\d+\s+\+(\d+)\+(\d+)/g)];
    const [, bx, by] = buttons[index]!;
    x.run('xdotool', ['mousemove', String(Number(bx) + 10), String(Number(by) + 10), 'click', '1']);
  }
  const buttonCount = () => {
    const id = x.run('xdotool', ['search', '--name', WARNING_TITLE]).stdout.trim().split('\n')[0];
    return id ? [...x.run('xwininfo', ['-tree', '-id', id]).stdout.matchAll(/\(\)\s+\d+x25\+\d+\+\d+/g)].length : 0;
  };

  beforeAll(async () => {
    x = await startXvfb();
    app = x.client('xterm', ['-title', 'pupil-session']);
    await waitUntil(
      () => x.windowExists('pupil-session'),
      15_000,
      () => `xterm window never appeared (xterm exit ${app.exitCode})`,
    );
    // The device's local clock is shifted so that the timetabled time is 10 s away.
    const realLocal = () => systemClock.localMs(Date.now());
    const at = Math.ceil(realLocal() / 60_000) * 60_000 + 60_000;
    const shift = at - 10_000 - realLocal();
    const clock = { ...systemClock, localMs: (wall: number) => systemClock.localMs(wall) + shift };
    const hhmm = new Date(at).toISOString().slice(11, 16);
    const platform = linuxSessionPlatform(nodeCommandRunner({ DISPLAY: x.display }), { display: x.display, uid: process.getuid!() });
    runner = new SessionRunner({ platform, ownership: 'school', emit: (e) => events.push(e), log: createLogger('session-test'), clock });
    runner.applyPolicy({
      lockAfterIdleSeconds: 0,
      logoffAfterLockedSeconds: 0,
      warningSeconds: 8,
      scheduledLogoff: { school: [{ time: hhmm, days: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] }] },
      postpone: { allowed: true, maxTimes: 1, seconds: 60 },
    });
    runner.start();
  });

  afterAll(async () => {
    runner?.stop();
    if (x) killOnDisplay(x.display, ['xmessage']);
    await x?.stop();
  });

  it('the pupil postpones once; the countdown goes on without the button, and nobody is logged off at the original time', async () => {
    await waitUntil(
      () => x.windowExists(WARNING_TITLE),
      15_000,
      () => `no countdown; events ${JSON.stringify(events)}`,
    );
    expect(buttonCount()).toBe(2); // Postpone, OK
    x.screenshot('session-postpone-offered');
    clickButton(0);
    await waitUntil(
      () => events.some((e) => e.type === 'session.action' && e.data.action === 'postpone'),
      5_000,
      () => 'postpone never recorded',
    );
    await waitUntil(
      () => buttonCount() === 1,
      10_000,
      () => 'the refreshed countdown still offers Postpone',
    );
    await new Promise((r) => setTimeout(r, 9_000)); // past the original deadline
    expect(isRunning(app)).toBe(true);
    expect(events.some((e) => e.type === 'session.action' && e.data.action === 'logoff')).toBe(false);
  });
});
