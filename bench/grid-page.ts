import type { Page } from 'playwright-core';

/**
 * The dashboard's device grid as a browser sees it, for the screen-to-grid benchmark and the
 * end-to-end tests: signing in, finding a device's cell, and a log of every text a cell took
 * with the moment it took it (the page's clock, which is this machine's).
 */

/** Signs in to the console's dashboard and opens the live device grid. */
export async function openDeviceGrid(page: Page, consoleUrl: string, username: string, password: string): Promise<void> {
  await page.goto(`${consoleUrl}/`);
  await page.fill('#username', username);
  await page.fill('#password', password);
  await page.press('#password', 'Enter');
  await page.waitForSelector('#nav:not([hidden])');
  // In-page code is passed as text: this file is compiled without the DOM's types.
  await page.waitForFunction(`document.getElementById('feed-state')?.textContent === 'Live'`);
  await page.evaluate(`location.hash = '#/devices'`);
  await page.waitForSelector('#devices:not([hidden])');
}

/** The grid cell of one device (`cls`: the cell's class, e.g. `user`, `activity-app`). */
export const gridCell = (deviceId: string, cls: string) => `tr[data-device-id="${deviceId}"] .${cls}`;

export interface CellChange {
  text: string;
  at: number;
}

/** Starts logging every text the cells matching `selector` take (one log per selector). */
export async function recordCell(page: Page, selector: string): Promise<void> {
  await page.evaluate(`(() => {
    const sel = ${JSON.stringify(selector)};
    const logs = (window.__cellLogs ??= {});
    const log = (logs[sel] = []);
    let last = null;
    const check = () => {
      const text = document.querySelector(sel)?.textContent ?? '';
      if (text !== last) log.push({ text: (last = text), at: Date.now() });
    };
    new MutationObserver(check).observe(document.body, { subtree: true, childList: true, characterData: true });
    check();
  })()`);
}

export function cellLog(page: Page, selector: string): Promise<CellChange[]> {
  return page.evaluate(`window.__cellLogs?.[${JSON.stringify(selector)}] ?? []`);
}

/** When the cell first showed `text` at or after `since` (page clock), waiting up to `timeoutMs`. */
export async function shownAt(page: Page, selector: string, text: string, since: number, timeoutMs = 15_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const hit = (await cellLog(page, selector)).find((c) => c.text === text && c.at >= since);
    if (hit) return hit.at;
    if (Date.now() > deadline) throw new Error(`the grid never showed "${text}" in ${selector}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
