import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { screenshot } from '../helpers/browser.js';
import { chromiumWithBundle } from '../helpers/page-bundle.js';
import { REPO } from '../helpers/processes.js';
import { seriousAxeViolations } from '../helpers/page-checks.js';
import type * as Entry from '../helpers/virtual-rows-entry.js';

/**
 * The shared virtual rows (renderer/shared/virtual-rows.ts) that the device grid, the rule table
 * and a group's member list draw with, and the grid's one-tab-stop keyboard (row-focus.ts), run
 * in Chromium on a bare page: which rows exist for a scroll position, that they sit at the pixel
 * the whole list would put them, that kept rows are reused, and that the keyboard carries the
 * focus past the edge of the drawn window. Then the Groups page's member list with 5,000 devices
 * in the dashboard's own CSS: only a window is drawn and every row is the height the code assumes.
 */
declare global {
  interface Window {
    VR: typeof Entry;
  }
}

const chromium = chromiumWithBundle('test/helpers/virtual-rows-entry.ts', 'VR');
const pageErrors: string[] = [];

/** A page with a 200 px scroller over a table (sticky 30 px header) whose body rows are exactly 20 px, and the bundle loaded. */
async function barePage(): Promise<Page> {
  const page = await (await chromium.browser.newContext({ viewport: { width: 800, height: 600 } })).newPage();
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.setContent(`<!doctype html><html lang="en"><head><title>rows</title><style>
    body { margin: 0; font: 12px sans-serif; }
    #scroll { height: 200px; overflow: auto; }
    table { border-collapse: collapse; width: 100%; }
    /* As on the console's pages: a caption for screen readers only and a header that stays put. */
    caption { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
    th { height: 30px; padding: 0; position: sticky; top: 0; background: #fff; }
    tbody td { padding: 0; height: 20px; line-height: 20px; }
    tr.row:focus { outline: 2px solid #b45309; }
  </style></head><body><main>
    <div id="scroll" tabindex="-1"><table id="t"><caption>Rows</caption><thead><tr><th>Name</th><th>Index</th></tr></thead><tbody id="rows"></tbody></table></div>
  </main></body></html>`);
  await page.addScriptTag({ content: chromium.script });
  return page;
}

/** In the page: `n` keyed rows (k0…) in a VirtualRows of 20 px rows, overscan 5; counts rows created. */
async function listOf(page: Page, n: number, focus: boolean): Promise<void> {
  await page.evaluate(
    ([n, focus]) => {
      const { VirtualRows, RowFocus } = window.VR;
      const keys = Array.from({ length: n }, (_, i) => `k${i}`);
      const created = { count: 0 };
      const entered: string[] = [];
      const scroller = document.getElementById('scroll')!;
      const body = document.getElementById('rows') as HTMLTableSectionElement;
      const list = { count: () => keys.length, key: (i: number) => keys[i]!, indexOf: (k: string) => keys.indexOf(k) };
      const rows = new VirtualRows(
        { scroller, body, rowHeight: 20, overscan: 5, columns: 2, headerRows: 1 },
        {
          ...list,
          create: (_: number, key: string) => {
            created.count++;
            const tr = document.createElement('tr');
            tr.className = 'row';
            tr.dataset.key = key;
            tr.insertCell().textContent = key;
            tr.insertCell();
            return { tr };
          },
          update: (row: { tr: HTMLTableRowElement }, i: number) => (row.tr.cells[1]!.textContent = String(i)),
        },
      );
      const rowFocus = focus ? new RowFocus(rows, list, body, (e, key) => e.key === 'Enter' && (entered.push(key ?? ''), true)) : null;
      Object.assign(window, { t: { keys, created, entered, rows, rowFocus } });
    },
    [n, focus] as const,
  );
}

/** A bare page with a list of `n` rows, drawn once. */
async function pageWithList(n: number, focus: boolean): Promise<Page> {
  const page = await barePage();
  await listOf(page, n, focus);
  await page.evaluate(() => (window as any).t.rows.flush());
  return page;
}

interface Drawn {
  keys: string[];
  indexes: string[];
  /** Each drawn row's top within the table, less where the whole list would put it (all 0 when right). */
  offsets: number[];
  top: number | null;
  bottom: number | null;
  children: number;
  rowcount: string | null;
  scrollHeight: number;
}
const drawn = (page: Page): Promise<Drawn> =>
  page.evaluate(() => {
    const body = document.getElementById('rows')!;
    const rows = [...body.querySelectorAll<HTMLTableRowElement>('tr.row')];
    const head = document.querySelector('thead')!.offsetHeight;
    const tableTop = document.getElementById('t')!.getBoundingClientRect().top;
    const spacer = (tr: Element | null) => (tr?.classList.contains('spacer') ? (tr as HTMLElement).getBoundingClientRect().height : null);
    return {
      keys: rows.map((r) => r.dataset.key!),
      indexes: rows.map((r) => r.getAttribute('aria-rowindex')!),
      offsets: rows.map((r) => Math.round(r.getBoundingClientRect().top - tableTop - head - Number(r.cells[1]!.textContent) * 20)),
      top: spacer(body.firstElementChild),
      bottom: spacer(body.lastElementChild),
      children: body.children.length,
      rowcount: document.getElementById('t')!.getAttribute('aria-rowcount'),
      scrollHeight: document.getElementById('scroll')!.scrollHeight,
    };
  });
const range = (from: number, to: number, f: (i: number) => string) => Array.from({ length: to - from }, (_, i) => f(from + i));

describe('virtual rows, in Chromium', { timeout: 120_000 }, () => {
  it('rowWindow: the rows in view plus the overscan, clamped to the list', async () => {
    const page = await barePage();
    const windows = await page.evaluate(() => {
      const { rowWindow } = window.VR;
      return [
        rowWindow(0, 200, 10_000, 20, 5),
        rowWindow(100_000, 200, 10_000, 20, 5),
        rowWindow(199_800, 200, 10_000, 20, 5),
        rowWindow(0, 200, 3, 20, 5),
        rowWindow(5_000, 200, 0, 20, 5),
      ];
    });
    expect(windows).toEqual([
      { first: 0, last: 15 },
      { first: 4995, last: 5015 },
      { first: 9985, last: 10_000 },
      { first: 0, last: 3 },
      { first: 0, last: 0 },
    ]);
    await page.close();
  });

  it('draws only the rows for the scroll position, each where the whole list would put it, and reuses kept rows', async () => {
    const page = await pageWithList(10_000, false);
    let d = await drawn(page);
    expect(d.keys).toEqual(range(0, 15, (i) => `k${i}`));
    expect(d.indexes).toEqual(range(0, 15, (i) => String(i + 2)));
    expect(d.top).toBeNull(); // no spacer stands for nothing
    expect(d.bottom).toBe((10_000 - 15) * 20);
    expect(d.rowcount).toBe('10001');
    expect(d.offsets.every((o) => o === 0)).toBe(true);

    // Scrolled to the middle: the rows in view and five either side, the spacers make up the rest.
    await page.evaluate(() => ((document.getElementById('scroll')!.scrollTop = 100_000), (window as any).t.rows.flush()));
    d = await drawn(page);
    expect(d.keys).toEqual(range(4995, 5015, (i) => `k${i}`));
    expect(d.indexes).toEqual(range(4995, 5015, (i) => String(i + 2)));
    expect(d.top).toBe(4995 * 20);
    expect(d.bottom).toBe((10_000 - 5015) * 20);
    expect(d.offsets.every((o) => o === 0)).toBe(true);
    const scrollHeight = d.scrollHeight;

    // Three rows further: seventeen rows are kept (the same elements), three are new.
    const before = await page.evaluate(() => {
      document.querySelector<HTMLElement>('tr[data-key="k5000"]')!.dataset.mark = 'kept';
      return (window as any).t.created.count as number;
    });
    await page.evaluate(() => ((document.getElementById('scroll')!.scrollTop = 100_060), (window as any).t.rows.flush()));
    d = await drawn(page);
    expect(d.keys).toEqual(range(4998, 5018, (i) => `k${i}`));
    expect(await page.evaluate(() => document.querySelector<HTMLElement>('tr[data-key="k5000"]')!.dataset.mark)).toBe('kept');
    expect(await page.evaluate(() => (window as any).t.created.count)).toBe(before + 3);
    expect(d.scrollHeight).toBe(scrollHeight);

    // At the end: no bottom spacer, the last row is row 10,001 of the table.
    await page.evaluate(() => ((document.getElementById('scroll')!.scrollTop = 1e9), (window as any).t.rows.flush()));
    d = await drawn(page);
    expect(d.keys.at(-1)).toBe('k9999');
    expect(d.indexes.at(-1)).toBe('10001');
    expect(d.bottom).toBeNull();
    expect(d.offsets.every((o) => o === 0)).toBe(true);
    expect(pageErrors).toEqual([]);
    await page.close();
  });

  it('a short list is just its rows; a list that empties leaves an empty body', async () => {
    const page = await pageWithList(3, false);
    const d = await drawn(page);
    expect(d.keys).toEqual(['k0', 'k1', 'k2']);
    expect(d.children).toBe(3);
    await page.evaluate(() => (((window as any).t.keys.length = 0), (window as any).t.rows.flush()));
    expect((await drawn(page)).children).toBe(0);
    expect(await page.getAttribute('#t', 'aria-rowcount')).toBe('1');
    await page.close();
  });

  it('the keyboard moves the focus by row past the edge of the drawn window, and it stays on its row through a re-sort', async () => {
    const page = await pageWithList(1000, true);
    const focusedRow = () =>
      page.evaluate(() => {
        const row = document.activeElement as HTMLElement;
        const scroller = document.getElementById('scroll')!.getBoundingClientRect();
        // Under the sticky header is out of view too.
        const head = document.querySelector('th')!.getBoundingClientRect().bottom;
        const r = row.getBoundingClientRect();
        return {
          key: row.dataset.key,
          index: row.getAttribute('aria-rowindex'),
          inView: r.top >= Math.max(scroller.top, head) - 0.5 && r.bottom <= scroller.bottom + 0.5,
          tabStops: [...document.querySelectorAll('#rows tr')].filter((tr) => (tr as HTMLElement).tabIndex === 0).length,
        };
      });
    // One tab stop: only the first row is reachable with Tab.
    await page.focus('#scroll');
    await page.keyboard.press('Tab');
    expect(await focusedRow()).toMatchObject({ key: 'k0', index: '2', tabStops: 1 });

    // Row 25 was not drawn when the moves began (the window ended at row 15).
    for (let i = 0; i < 25; i++) await page.keyboard.press('ArrowDown');
    expect(await focusedRow()).toEqual({ key: 'k25', index: '27', inView: true, tabStops: 1 });
    await page.keyboard.press('PageDown'); // a view (ten rows) less one
    expect(await focusedRow()).toEqual({ key: 'k34', index: '36', inView: true, tabStops: 1 });
    await page.keyboard.press('End');
    expect(await focusedRow()).toEqual({ key: 'k999', index: '1001', inView: true, tabStops: 1 });
    await page.keyboard.press('PageUp');
    expect(await focusedRow()).toMatchObject({ key: 'k990', inView: true });
    await page.keyboard.press('Home');
    expect(await focusedRow()).toEqual({ key: 'k0', index: '2', inView: true, tabStops: 1 });
    expect(await page.evaluate(() => document.getElementById('scroll')!.scrollTop)).toBe(0);
    await page.keyboard.press('ArrowUp'); // already first: stays
    expect((await focusedRow()).key).toBe('k0');

    // The page's own keys get the focused row's key.
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Enter');
    expect(await page.evaluate(() => (window as any).t.entered)).toEqual(['k3']);

    // A re-sort moves k3 two places down (the DOM moves rows about): the focus stays on k3, and the
    // next ArrowDown goes to the row below it in the new order.
    await page.evaluate(() => {
      const { keys, rowFocus, rows } = (window as any).t;
      keys.splice(3, 1);
      keys.splice(5, 0, 'k3');
      rowFocus.relocate();
      rows.flush();
    });
    expect(await focusedRow()).toEqual({ key: 'k3', index: '7', inView: true, tabStops: 1 });
    await page.keyboard.press('ArrowDown');
    expect((await focusedRow()).key).toBe('k6');
    await screenshot(page, 'virtual-rows-focus');
    expect(pageErrors).toEqual([]);
    await page.close();
  });

  it("a group's member list of 5,000 devices draws only a window, at the row height its CSS gives", async () => {
    const page = await (await chromium.browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    // The Groups page's members section as index.html has it, in the dashboard's own style sheets.
    const html = readFileSync(join(REPO, 'renderer/dashboard/index.html'), 'utf8');
    const section = html.slice(html.indexOf('<h4>Members</h4>'), html.indexOf('</section>', html.indexOf('<h4>Members</h4>')));
    await page.setContent(
      `<!doctype html><html lang="en"><head><title>Members</title></head><body><main><section class="card">${section}</section></main></body></html>`,
    );
    for (const sheet of ['renderer/shared/base.css', 'renderer/dashboard/style.css'])
      await page.addStyleTag({ content: readFileSync(join(REPO, sheet), 'utf8') });
    await page.addScriptTag({ content: chromium.script });
    const removed = await page.evaluate(() => {
      const { GroupMembers } = window.VR;
      const removed: string[] = [];
      const list = new GroupMembers(
        document.getElementById('group-members-scroll')!,
        document.getElementById('group-member-rows') as HTMLTableSectionElement,
        (id) => removed.push(id),
      );
      // Listed in reverse so the list's own sort shows: lab-0000 first. Every third is on the hand-made list.
      const members = Array.from({ length: 5000 }, (_, i) => {
        const n = 4999 - i;
        const hostname = `lab-${String(n).padStart(4, '0')}`;
        return { id: `id-${n}`, device: { hostname, presence: n % 2 ? 'online' : 'offline', revoked: false } as never, byHand: n % 3 === 0 };
      });
      list.show(members, true);
      list.flush();
      Object.assign(window, { members: list, removedIds: removed });
      return [...removed];
    });
    expect(removed).toEqual([]);
    const look = () =>
      page.evaluate(() => {
        const rows = [...document.querySelectorAll<HTMLTableRowElement>('#group-member-rows tr.row')];
        return {
          rows: rows.length,
          heights: [...new Set(rows.map((r) => r.getBoundingClientRect().height))],
          first: rows[0]?.cells[0]?.textContent,
          last: rows.at(-1)?.cells[0]?.textContent,
          lastIndex: rows.at(-1)?.getAttribute('aria-rowindex'),
          buttons: rows.filter((r) => r.querySelector('button')).map((r) => r.dataset.deviceId),
          rowcount: document.querySelector('table.members')!.getAttribute('aria-rowcount'),
        };
      });
    let seen = await look();
    const { MEMBER_ROW_HEIGHT } = await page.evaluate(() => ({ MEMBER_ROW_HEIGHT: window.VR.MEMBER_ROW_HEIGHT }));
    expect(seen.rows).toBeGreaterThan(5);
    expect(seen.rows).toBeLessThan(40);
    expect(seen.heights).toEqual([MEMBER_ROW_HEIGHT]);
    expect(seen.first).toBe('lab-0000');
    expect(seen.rowcount).toBe('5001');
    expect(seen.buttons.every((id) => Number(id!.slice(3)) % 3 === 0)).toBe(true);
    expect(seen.buttons.length).toBeGreaterThan(0);
    expect(await seriousAxeViolations(page)).toEqual([]);
    await screenshot(page, 'group-members-5000-top');

    // Links and buttons stay ordinary tab stops: tabbing down the list goes on past the rows that
    // were drawn at first, each focused control scrolled into view and the rows below drawn.
    const lastDrawn = Number(seen.lastIndex);
    await page.focus('#group-member-rows tr.row a');
    for (let i = 0; i < 60; i++) await page.keyboard.press('Tab');
    const tabbed = await page.evaluate(() => {
      const focused = document.activeElement as HTMLElement;
      const box = document.getElementById('group-members-scroll')!.getBoundingClientRect();
      const r = focused.getBoundingClientRect();
      return { index: Number(focused.closest('tr')?.getAttribute('aria-rowindex')), inView: r.top >= box.top && r.bottom <= box.bottom };
    });
    expect(tabbed.index).toBeGreaterThan(lastDrawn + 10);
    expect(tabbed.inView).toBe(true);

    await page.evaluate(() => ((document.getElementById('group-members-scroll')!.scrollTop = 1e9), (window as any).members.flush()));
    seen = await look();
    expect(seen.rows).toBeLessThan(40);
    expect(seen.heights).toEqual([MEMBER_ROW_HEIGHT]);
    expect(seen.last).toBe('lab-4999');
    expect(seen.lastIndex).toBe('5001');
    await screenshot(page, 'group-members-5000-end');

    // "Remove" on a drawn row hands its device to the page.
    await page.click('#group-member-rows tr[data-device-id="id-4998"] button');
    expect(await page.evaluate(() => (window as any).removedIds)).toEqual(['id-4998']);
    expect(pageErrors).toEqual([]);
    await page.close();
  });
});
