import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Outbox } from '../../src/agent/outbox.js';
import { gridCell, launchChromium, openDeviceGrid, screenshot } from '../helpers/browser.js';
import { ADMIN_PASSWORD, startAgentProcess, startConsoleProcess, type ConsoleHandle } from '../helpers/fleet.js';
import { runCli, stopAll, tempDir, waitUntil, type Proc } from '../helpers/processes.js';

/**
 * Issue 11 point 4, end to end: a real console and a real agent whose outbox cap is lowered to
 * 300 events. The console goes away, 500 events are queued, and the oldest are dropped. When the
 * console is back, the drop count must reach it as an event stored before the backlog, the agent
 * must have logged it, the device status must carry it and the dashboard must show it.
 */
const CAP = 300;
const QUEUED = 500;

describe('events the outbox drops while the console is away are counted end to end', () => {
  let dir: ReturnType<typeof tempDir>;
  let consoleProc: ConsoleHandle;
  let agent: Proc;
  let deviceId: string;
  let browser: Browser | undefined;
  const env = { VIGIL_OUTBOX_MAX_EVENTS: String(CAP) };

  beforeAll(async () => {
    dir = tempDir();
    consoleProc = await startConsoleProcess(join(dir.path, 'console'));
    agent = startAgentProcess(join(dir.path, 'agent'), consoleProc.url, env);
    [, deviceId] = (await agent.waitFor(/running as device ([0-9a-f-]{36})/)) as unknown as [string, string];
    await waitUntil(async () => (await consoleProc.api(`/api/v1/devices/${deviceId}`)).body?.device?.online, 20_000);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await stopAll();
    dir?.remove();
  });

  it('drops at the cap, logs it, and tells the console first when it is back (event, status, grid, device page)', async () => {
    const agentDir = join(dir.path, 'agent');
    const { port, dataDir } = consoleProc;
    await consoleProc.stop();
    const emitted = await runCli(['agent', 'emit', '--data-dir', agentDir, '--count', String(QUEUED), '--note', 'while away'], env);
    expect(emitted.code, emitted.stderr).toBe(0);
    // What the outbox holds and has dropped, read from the file itself (shared safely with the agent).
    const outbox = new Outbox(join(agentDir, 'outbox.db'), CAP);
    const health = outbox.health();
    outbox.close();
    expect(health.pending).toBe(CAP);
    expect(health.dropped).toBeGreaterThanOrEqual(QUEUED - CAP);

    // The agent's log says so while the console is still away.
    const [line] = await agent.waitFor(/outbox dropped events that were never delivered[^\n]*/, 20_000, 'stderr');
    expect(line).toContain(`"droppedTotal":${health.dropped}`);

    consoleProc = await startConsoleProcess(dataDir, { port });
    const events = await waitUntil(
      async () => {
        const res = await consoleProc.api(`/api/v1/events?device=${deviceId}&limit=1000`);
        const list = res.body.events as { event: { type: string; data: Record<string, unknown> } }[];
        return list.filter((e) => e.event.type === 'diagnostic.test').length >= CAP - 5 ? list : null;
      },
      60_000,
      () => `the backlog never arrived; agent stderr:\n${agent.stderr.slice(-2000)}`,
    );
    const reports = events.filter((e) => e.event.type === 'outbox.dropped');
    expect(reports).toHaveLength(1);
    expect(reports[0]!.event.data).toMatchObject({ dropped: health.dropped, byReason: { full: health.dropped, unreadable: 0 }, total: health.dropped });
    // Newest first: every event of the backlog was stored after the report.
    const reportIndex = events.indexOf(reports[0]!);
    const backlog = events.map((e, i) => [e, i] as const).filter(([e]) => e.event.type === 'diagnostic.test');
    expect(backlog.every(([, i]) => i < reportIndex)).toBe(true);

    const device = await waitUntil(async () => {
      const d = (await consoleProc.api(`/api/v1/devices/${deviceId}`)).body.device;
      return d?.status?.outbox?.dropped === health.dropped ? d : null;
    }, 20_000);
    expect(device.status.outbox.lastDroppedAt).toBe(health.lastDroppedAt);

    browser = await launchChromium();
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    await openDeviceGrid(page, consoleProc.url, 'admin', ADMIN_PASSWORD);
    const lost = `${health.dropped.toLocaleString('en-GB')} events lost`;
    await page.waitForFunction(
      ([sel, want]) => document.querySelector(sel!)?.parentElement?.textContent?.includes(want!),
      [gridCell(deviceId, 'agent'), `${health.dropped} lost`] as const,
      { timeout: 15_000 },
    );
    expect(await page.locator(`${gridCell(deviceId, 'sub.lost')}`).textContent()).toBe(`${health.dropped} lost`);
    await screenshot(page, 'outbox-drops-grid');
    await page.locator(`tr[data-device-id="${deviceId}"]`).click();
    await page.waitForSelector('.fact-dropped');
    expect(await page.locator('.fact-dropped').textContent()).toMatch(new RegExp(`^${lost} \\(last .+ ago\\)$`));
    await screenshot(page, 'outbox-drops-device-page');
  }, 180_000);
});
