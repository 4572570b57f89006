import AxeBuilder from '@axe-core/playwright';
import type { Page } from 'playwright-core';
import { expect } from 'vitest';
import { screenshot } from './browser.js';

/**
 * The quality bar every page is held to (issue 13): axe-core finds no serious or critical
 * violation, in light and in dark (prefers-color-scheme emulated), and at 390 px wide no page
 * scrolls sideways and no control is cut off (tables may scroll inside their own scroller).
 * Screenshots of all four views are saved for a person to look at.
 */
export async function seriousAxeViolations(page: Page): Promise<string[]> {
  const result = await new AxeBuilder({ page }).analyze();
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

/** Controls outside the screen at the current width, and whether the page itself scrolls sideways. */
export async function clippedControls(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const problems: string[] = [];
    const width = document.documentElement.clientWidth;
    const scrollsSideways = (el: Element | null): boolean => {
      for (let node = el?.parentElement ?? null; node && node !== document.body; node = node.parentElement) {
        const overflow = getComputedStyle(node).overflowX;
        if ((overflow === 'auto' || overflow === 'scroll') && node.scrollWidth > node.clientWidth) return true;
      }
      return false;
    };
    for (const el of document.querySelectorAll('button, a[href], input, select, textarea, summary')) {
      const rect = el.getBoundingClientRect();
      if (rect.width === 0 || rect.height === 0 || el.closest('[hidden], dialog:not([open])') || scrollsSideways(el)) continue;
      if (rect.left < -1 || rect.right > width + 1)
        problems.push(
          `${el.tagName.toLowerCase()}#${el.id || '?'} "${(el.textContent ?? '').trim().slice(0, 30)}" spans ${Math.round(rect.left)}..${Math.round(rect.right)}`,
        );
    }
    if (document.documentElement.scrollWidth > width + 1) {
      // Name the widest elements that stick out and are not inside a sideways scroller.
      const wide = [...document.body.querySelectorAll('*')]
        .filter((el) => el.getBoundingClientRect().right > width + 1 && !scrollsSideways(el) && !el.closest('[hidden]'))
        .filter((el) => ![...el.children].some((c) => c.getBoundingClientRect().right >= el.getBoundingClientRect().right))
        .slice(0, 5)
        .map((el) => `${el.tagName.toLowerCase()}#${el.id}.${el.className}`);
      problems.push(`page is ${document.documentElement.scrollWidth}px wide in a ${width}px window: ${wide.join(', ')}`);
    }
    return problems;
  });
}

/** Light and dark at 1280 px (axe) and at 390 px (clipping); four screenshots named after the page. */
export async function checkEveryView(page: Page, name: string): Promise<void> {
  const original = page.viewportSize() ?? { width: 1280, height: 900 };
  for (const colorScheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme });
    await page.setViewportSize({ width: 1280, height: 900 });
    expect(await page.evaluate(() => matchMedia('(prefers-color-scheme: dark)').matches)).toBe(colorScheme === 'dark');
    expect(await seriousAxeViolations(page), `${name} (${colorScheme})`).toEqual([]);
    await screenshot(page, `admin-${name}-${colorScheme}-1280`);
    await page.setViewportSize({ width: 390, height: 844 });
    expect(await clippedControls(page), `${name} at 390 px (${colorScheme})`).toEqual([]);
    await screenshot(page, `admin-${name}-${colorScheme}-390`);
  }
  await page.emulateMedia({ colorScheme: 'light' });
  await page.setViewportSize(original);
}

/** Moves the focus with Tab (Shift+Tab with `back`) until it is on `selector`: the keyboard is the only way in. */
export async function tabTo(page: Page, selector: string, opts: { back?: boolean; max?: number } = {}): Promise<void> {
  for (let i = 0; i < (opts.max ?? 120); i++) {
    if (await page.evaluate((sel) => document.activeElement?.matches(sel) ?? false, selector)) return;
    await page.keyboard.press(opts.back ? 'Shift+Tab' : 'Tab');
  }
  throw new Error(`Tab never reached ${selector}`);
}

/** Opens `url` and signs in on the staff sign-in form with the keyboard alone. */
export async function signInWithKeyboard(page: Page, url: string, username: string, password: string): Promise<void> {
  await page.goto(url);
  await page.locator('#username').focus();
  await page.keyboard.type(username);
  await page.keyboard.press('Tab');
  await page.keyboard.type(password);
  await page.keyboard.press('Enter');
  await page.waitForSelector('#whoami:not([hidden])');
}
