import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROTOCOL_VERSION } from '../../src/shared/protocol.js';
import { launchChromium, screenshot } from '../helpers/browser.js';
import { ADMIN_PASSWORD, startAgentProcess, startConsoleProcess, type ConsoleHandle } from '../helpers/fleet.js';
import { kill, stopAll, tempDir, type Proc } from '../helpers/processes.js';
import { connectAs, enrollRawDevice } from '../helpers/raw-device.js';

/** The dashboard in Debian's Chromium against a real console and a real agent process. */
let dir: ReturnType<typeof tempDir>;
let consoleProc: ConsoleHandle;
let browser: Browser;
let page: Page;
let agent: Proc;
const pageErrors: string[] = [];

beforeAll(async () => {
  dir = tempDir();
  consoleProc = await startConsoleProcess(join(dir.path, 'console'), { pingSeconds: 1 });
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('dialog', (d) => (pageErrors.push(`dialog: ${d.message()}`), void d.dismiss()));
});
afterAll(async () => {
  await browser?.close();
  await stopAll();
  dir.remove();
});

describe('dashboard', () => {
  it('signs in with the keyboard alone, after showing a clear error for a wrong password', async () => {
    await page.goto(`${consoleProc.url}/`);
    await page.locator('#sign-in').waitFor({ state: 'visible' });
    expect(await page.locator('#sign-out').isVisible()).toBe(false);
    await screenshot(page, 'dashboard-sign-in');
    await page.keyboard.type('admin');
    await page.keyboard.press('Tab');
    await page.keyboard.type('not-the-password');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.getElementById('sign-in-error')?.textContent?.includes('wrong username or password'));
    await page.fill('#password', ADMIN_PASSWORD);
    await page.keyboard.press('Enter');
    await page.waitForSelector('#devices:not([hidden])');
    await page.waitForFunction(() => document.getElementById('feed-state')?.textContent === 'Live');
    expect(await page.textContent('#empty')).toMatch(/No devices/);
  });

  it('shows a device the moment its agent connects, and offline when it dies, without reloading', async () => {
    await page.evaluate(() => ((window as any).__noReload = true));
    agent = startAgentProcess(join(dir.path, 'agent'), consoleProc.url);
    const [, deviceId] = (await agent.waitFor(/running as device ([0-9a-f-]{36})/)) as unknown as [string, string];
    const row = page.locator(`tr[data-device-id="${deviceId}"]`);
    await row.waitFor({ timeout: 10_000 });
    await page.waitForFunction((id) => document.querySelector(`tr[data-device-id="${id}"]`)?.getAttribute('data-state') === 'online', deviceId);
    await page.waitForFunction((id) => document.querySelector(`tr[data-device-id="${id}"] .agent`)?.textContent !== '—', deviceId);
    expect(await row.locator('.state').textContent()).toBe('Online');
    await screenshot(page, 'dashboard-device-online');

    await kill(agent, 'SIGKILL');
    await page.waitForFunction((id) => document.querySelector(`tr[data-device-id="${id}"]`)?.getAttribute('data-state') === 'offline', deviceId, {
      timeout: 10_000,
    });
    expect(await row.locator('.state').textContent()).toBe('Offline');
    expect(await page.evaluate(() => (window as any).__noReload)).toBe(true);
    await screenshot(page, 'dashboard-device-offline');
  });

  it('renders hostile device text as text, never as markup', async () => {
    const hostile = '<img src=x onerror="alert(1)"><script>alert(2)</script>';
    const device = await enrollRawDevice(consoleProc.url, hostile);
    const socket = await connectAs(consoleProc.url, device);
    socket.send({
      v: PROTOCOL_VERSION,
      type: 'status',
      status: {
        hostname: hostile,
        os: { platform: 'linux', release: '<b>6.1</b>', distro: null, arch: 'x64' },
        user: '"><svg onload=alert(3)>',
        users: [],
        uptimeSeconds: 1,
        agentVersion: '0.1.0',
        policyVersion: null,
        collectedAt: new Date().toISOString(),
      },
    });
    const row = page.locator(`tr[data-device-id="${device.deviceId}"]`);
    await row.waitFor({ timeout: 10_000 });
    await page.waitForFunction((id) => document.querySelector(`tr[data-device-id="${id}"] .user`)?.textContent?.includes('svg'), device.deviceId);
    expect(await row.locator('.host').textContent()).toBe(hostile);
    expect(await page.locator('#device-rows img, #device-rows script, #device-rows svg, #device-rows b').count()).toBe(0);
    await screenshot(page, 'dashboard-hostile-text');
    socket.ws.close();
    expect(pageErrors).toEqual([]);
  });

  it('signs out and ends the session', async () => {
    await page.click('#sign-out');
    await page.waitForSelector('#sign-in:not([hidden])');
    const me = await page.evaluate(async () => (await fetch('/api/v1/me')).status);
    expect(me).toBe(401);
  });
});
