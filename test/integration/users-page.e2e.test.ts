import AxeBuilder from '@axe-core/playwright';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, screenshot } from '../helpers/browser.js';
import { ADMIN_PASSWORD, startConsoleProcess, type ConsoleHandle } from '../helpers/fleet.js';
import { stopAll, tempDir } from '../helpers/processes.js';

/** The admin's Users page in Chromium against a real console process. */
let dir: ReturnType<typeof tempDir>;
let consoleProc: ConsoleHandle;
let browser: Browser;
let page: Page;
const PASSWORD = 'a-long-teacher-password';

beforeAll(async () => {
  dir = tempDir();
  consoleProc = await startConsoleProcess(join(dir.path, 'console'));
  browser = await launchChromium();
  page = await (await browser.newContext({ viewport: { width: 1280, height: 720 } })).newPage();
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await stopAll();
  dir?.remove();
});

describe('Users page', () => {
  it("lists accounts and disables one, ending that person's session at once", async () => {
    await consoleProc.api('/api/v1/users', { method: 'POST', body: JSON.stringify({ username: 'tom', password: PASSWORD, role: 'technician' }) });
    const tom = await consoleProc.api('/api/v1/login', { method: 'POST', body: JSON.stringify({ username: 'tom', password: PASSWORD }), token: null });
    expect((await consoleProc.api('/api/v1/me', { token: tom.body.token })).status).toBe(200);

    await page.goto(`${consoleProc.url}/users/`);
    await page.fill('#username', 'admin');
    await page.fill('#password', ADMIN_PASSWORD);
    await page.keyboard.press('Enter');
    const row = page.locator('tr[data-username="tom"]');
    await row.waitFor();
    expect(await row.locator('td').nth(1).textContent()).toBe('technician');
    expect(await row.locator('td').nth(6).textContent()).toBe('Enabled');
    await screenshot(page, 'users-page');
    const violations = (await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze()).violations.map(
      (v) => `${v.id}: ${v.help}`,
    );
    expect(violations).toEqual([]);

    await row.getByRole('button', { name: 'Disable: tom' }).click();
    await page.locator('#confirm[open]').waitFor();
    await screenshot(page, 'users-page-confirm-disable');
    await page.click('#confirm-ok');
    await page.waitForFunction(() => document.querySelector('tr[data-username="tom"] td:nth-child(7)')?.textContent === 'Disabled');
    expect((await consoleProc.api('/api/v1/me', { token: tom.body.token })).status).toBe(401);
    const audit = (await consoleProc.api('/api/v1/audit')).body.audit as { action: string; target: string; actor: string }[];
    expect(audit.some((a) => a.action === 'user.disabled' && a.target === 'tom' && a.actor === 'admin')).toBe(true);
  });
});
