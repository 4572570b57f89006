import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { chromiumWithBundle } from '../helpers/page-bundle.js';
import type * as Entry from '../helpers/confirm-entry.js';

/**
 * The confirmation every console page asks before a change (renderer/shared/confirm.ts), in
 * Chromium with the pages' own dialog markup. A dialog's `close` event comes a task after it
 * closes: a second confirmation opened before the first one's `close` arrived used to be answered
 * by that stale event (the safeguarding e2e test saw "cancelled" on a busy CI machine), and a
 * cancelled first one could read as confirmed.
 */
declare global {
  interface Window {
    CD: typeof Entry;
    /** The confirmation last asked from the keyboard test. */
    asked: Promise<boolean>;
  }
}

const chromium = chromiumWithBundle('test/helpers/confirm-entry.ts', 'CD');

async function dialogPage(): Promise<Page> {
  const page = await (await chromium.browser.newContext()).newPage();
  await page.setContent(`<!doctype html><html lang="en"><head><title>confirm</title></head><body><main>
    <button id="opener">Save</button>
    <dialog id="confirm" aria-labelledby="confirm-title">
      <form method="dialog" id="confirm-form">
        <h2 id="confirm-title"></h2><p id="confirm-text"></p><div id="confirm-fields"></div>
        <button type="submit" value="cancel" id="confirm-cancel" formnovalidate>Cancel</button>
        <button type="submit" value="ok" id="confirm-ok">Confirm</button>
      </form>
    </dialog></main></body></html>`);
  await page.addScriptTag({ content: chromium.script });
  return page;
}

describe('confirmation dialog', () => {
  it('answers each confirmation by how it was closed, even when the next opens before the last close event', async () => {
    const page = await dialogPage();
    const answers = await page.evaluate(async () => {
      const ask = () => window.CD.confirmAction({ title: 'Sure?', text: 'It changes things.', ok: 'Save' });
      const click = (id: string) => (document.getElementById(id) as HTMLButtonElement).click();
      const tick = () => new Promise((resolve) => setTimeout(resolve, 0));
      // Cancelled, then at once another confirmed: both close events come later.
      const first = ask();
      click('confirm-cancel');
      const second = ask();
      click('confirm-ok');
      // Cancelled, and the next opened before the first close event; that event arrives while it is open.
      const third = ask();
      click('confirm-cancel');
      const fourth = ask();
      await tick();
      const stillOpen = (document.getElementById('confirm') as HTMLDialogElement).open;
      click('confirm-ok');
      return { answers: await Promise.all([first, second, third, fourth]), stillOpen };
    });
    expect(answers).toEqual({ answers: [false, true, false, true], stillOpen: true });
  });

  it('Escape cancels and focus returns to the opener; Enter on the focused confirm button confirms', async () => {
    const page = await dialogPage();
    await page.focus('#opener');
    await page.evaluate(() => {
      window.asked = window.CD.confirmAction({ title: 'Sure?', text: 'x', ok: 'Save' });
    });
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('confirm-ok');
    await page.keyboard.press('Escape');
    expect(await page.evaluate(() => window.asked)).toBe(false);
    await page.waitForFunction(() => document.activeElement?.id === 'opener');
    await page.evaluate(() => {
      window.asked = window.CD.confirmAction({ title: 'Sure?', text: 'x', ok: 'Save' });
    });
    await page.keyboard.press('Enter');
    expect(await page.evaluate(() => window.asked)).toBe(true);
    await page.waitForFunction(() => document.activeElement?.id === 'opener');
  });
});
