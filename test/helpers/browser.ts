import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { REPO } from './processes.js';

/** Debian's Chromium, driven by Playwright; screenshots go to test-results/screenshots. */
export const SCREENSHOT_DIR = join(REPO, 'test-results', 'screenshots');

export async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.VIGIL_CHROMIUM ?? '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const path = join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** Signs in to the console's dashboard and opens the live device grid. */
export async function openDeviceGrid(page: Page, consoleUrl: string, username: string, password: string): Promise<void> {
  await page.goto(`${consoleUrl}/`);
  await page.fill('#username', username);
  await page.fill('#password', password);
  await page.press('#password', 'Enter');
  await page.waitForSelector('#nav:not([hidden])');
  await page.waitForFunction(() => document.getElementById('feed-state')?.textContent === 'Live');
  await page.evaluate(() => (location.hash = '#/devices'));
  await page.waitForSelector('#devices:not([hidden])');
}

/** The grid cell of one device (`cls`: the cell's class, e.g. `user`, `activity-app`). */
export const gridCell = (deviceId: string, cls: string) => `tr[data-device-id="${deviceId}"] .${cls}`;
