import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MESSAGE_TITLE } from '../../src/agent/platform/linux/session/index.js';
import type { AgentEvent } from '../../src/shared/events.js';
import { startAgentProcess, startConsoleProcess, type ConsoleHandle } from '../helpers/fleet.js';
import { cleanupDrives, isRoot, leftoverLoopDevices, makeExt4Drive, moveDrive } from '../helpers/loop-fs.js';
import { stopAll, tempDir, waitUntil, type Proc } from '../helpers/processes.js';
import { skipReason } from '../helpers/requirements.js';
import { killOnDisplay, missingXTools, startXvfb, type XServer } from '../helpers/x11.js';

/**
 * The pupil's side of a blocked drive: the agent controls a real X session (Xvfb + openbox)
 * and shows the USB notice through the session's message window (xmessage), with the wording
 * from verdict-text.ts. The screenshot is kept under test-results/screenshots/.
 */
const missingX = missingXTools();
const missingTools = ['mkfs.ext4', 'losetup'].filter((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0);
const skip = skipReason(
  'usb notice x11 e2e',
  !isRoot() ? 'not root (loop mounts need root)' : missingX.length || missingTools.length ? `missing ${[...missingX, ...missingTools].join(', ')}` : null,
);

describe.skipIf(skip !== null)('USB notice in the pupil session', () => {
  const work = tempDir('vigil-usbnotice-');
  const media = join(work.path, 'media');
  let x: XServer;
  let consoleProc: ConsoleHandle;
  let agent: Proc;

  beforeAll(async () => {
    mkdirSync(media);
    x = await startXvfb();
    x.client('openbox');
    consoleProc = await startConsoleProcess(join(work.path, 'console'));
    const usb = { treatAsRemovable: [{ mountPoint: `${media}/*`, source: '/dev/loop*' }] };
    const policy = { format: 'vigil-policy/1', name: 'usb notice', session: { lockAfterIdleSeconds: 0, logoffAfterLockedSeconds: 0 }, usb };
    expect((await consoleProc.api('/api/v1/policies', { method: 'POST', body: JSON.stringify({ policy, expiresInDays: 1 }) })).status).toBe(201);
    agent = startAgentProcess(join(work.path, 'agent'), consoleProc.url, { VIGIL_LOG_LEVEL: 'info' }, [
      '--session-display',
      x.display,
      '--session-uid',
      String(process.getuid!()),
    ]);
    await agent.waitFor(/usb gate started/, 20_000, 'stderr');
  }, 60_000);

  afterAll(async () => {
    if (x) killOnDisplay(x.display, ['xmessage']);
    await new Promise((r) => setTimeout(r, 300));
    await stopAll();
    await x?.stop();
    cleanupDrives();
    work.remove();
    expect(leftoverLoopDevices()).toBe('');
  });

  it('an unscanned drive is unmounted and the pupil sees which drive, why and what to do', async () => {
    const drive = makeExt4Drive(32, 'MATHS');
    writeFileSync(join(drive.mount, 'homework.txt'), 'sums');
    moveDrive(drive, join(media, 'MATHS'));
    await waitUntil(
      () => x.windowExists(MESSAGE_TITLE),
      15_000,
      () => `message window never appeared\n${agent.stderr.slice(-2000)}`,
    );
    const screenshot = x.screenshot('usb-notice-blocked');
    expect(screenshot).toMatch(/usb-notice-blocked\.png$/);
    const events = await waitUntil(async () => {
      const all = ((await consoleProc.api('/api/v1/events?limit=200')).body.events as { event: AgentEvent }[]).map((e) => e.event);
      const blocked = all.find((e) => e.type === 'usb.blocked');
      const shown = all.find((e) => e.type === 'session.action' && e.data.action === 'message');
      return blocked && shown ? { blocked, shown } : null;
    }, 15_000);
    expect(events.blocked.data).toMatchObject({ reason: 'not-scanned', label: 'MATHS', action: 'unmounted', actionOk: true });
    expect(events.shown.data).toMatchObject({ ok: true, backend: 'xmessage' });
    const [, fields] = await agent.waitFor(/usb notice for the pupil (\{.*\})$/m, 5000, 'stderr');
    expect(JSON.parse(fields!)).toEqual({
      title: '"MATHS" was not opened',
      why: 'The drive "MATHS" was not opened because it has not been checked for viruses at the school scan station.',
      whatToDo: 'Take the drive to the school scan station (ask IT staff where it is) and scan it again.',
    });
  });
});
