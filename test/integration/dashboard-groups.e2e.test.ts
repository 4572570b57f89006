import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, screenshot } from '../helpers/browser.js';
import { ADMIN_PASSWORD, startConsoleProcess, type ConsoleHandle } from '../helpers/fleet.js';
import { stopAll, tempDir } from '../helpers/processes.js';
import { enrollRawDevice, type RawDevice } from '../helpers/raw-device.js';

/**
 * The dashboard's Group filter and device page read console groups (issue 16): a group by
 * hostname rule and a group listing a device by hand, in Debian's Chromium against a real console.
 */
describe('dashboard: console groups', () => {
  let dir: ReturnType<typeof tempDir>;
  let consoleProc: ConsoleHandle;
  let browser: Browser;
  let page: Page;
  let lab: RawDevice;
  let office: RawDevice;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    dir = tempDir();
    consoleProc = await startConsoleProcess(join(dir.path, 'console'));
    lab = await enrollRawDevice(consoleProc.url, 'lab-01');
    office = await enrollRawDevice(consoleProc.url, 'office-07');
    const post = (body: unknown) => consoleProc.api('/api/v1/groups', { method: 'POST', body: JSON.stringify(body) });
    expect((await post({ name: 'lab', displayName: 'Lab', rules: [{ kind: 'hostname', pattern: 'lab-*' }] })).status).toBe(201);
    expect((await post({ name: 'staff', displayName: 'Staff', devices: [office.deviceId] })).status).toBe(201);
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
    page.on('pageerror', (e) => pageErrors.push(e.message));
  });
  afterAll(async () => {
    await browser?.close();
    await stopAll();
    dir?.remove();
  });

  it('filters by a console group and shows a device its groups', async () => {
    await page.goto(`${consoleProc.url}/`);
    await page.locator('#sign-in').waitFor({ state: 'visible' });
    await page.fill('#username', 'admin');
    await page.fill('#password', ADMIN_PASSWORD);
    await page.keyboard.press('Enter');
    await page.waitForSelector('#devices:not([hidden])');
    await page.locator(`tr[data-device-id="${office.deviceId}"]`).waitFor();
    expect(await page.locator('#filter-group option').allTextContents()).toEqual(['Any', 'lab', 'staff']);

    await page.selectOption('#filter-group', 'lab');
    await page.locator(`tr[data-device-id="${office.deviceId}"]`).waitFor({ state: 'detached' });
    expect(await page.locator('tr[data-device-id]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-device-id')))).toEqual([lab.deviceId]);
    await screenshot(page, 'dashboard-group-filter-lab');

    await page.goto(`${consoleProc.url}/#/device/${office.deviceId}`);
    await page.waitForFunction(() => document.querySelector('.fact-groups')?.textContent === 'staff');
    await screenshot(page, 'dashboard-device-groups');
    expect(pageErrors).toEqual([]);
  });
});
