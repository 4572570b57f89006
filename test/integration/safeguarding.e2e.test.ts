import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page, Response } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, screenshot } from '../helpers/browser.js';
import { startConsoleProcess, type ConsoleHandle } from '../helpers/fleet.js';
import { runCli, stopAll, tempDir, waitUntil } from '../helpers/processes.js';
import { connectAs, enrollRawDevice, eventFrame, type RawSocket } from '../helpers/raw-device.js';

/**
 * The safeguarding lead's page in Debian's Chromium against a real console. Concerns arrive the
 * way a pupil's do: a device sends `concern.reported` over its authenticated WebSocket.
 */
const QUIET_TEXT = 'An older pupil keeps messaging me on the school chat after lessons and it is scaring me.';
const HOSTILE_TEXT = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script> please help';
const HOSTILE_HOST = '<b onmouseover="window.__pwned=3">lab-99</b>';
const NOTE = 'Spoke to the form tutor on Tuesday; meeting with parents booked.';
const password = (username: string) => `a-long-password-for-${username}`;

let dir: ReturnType<typeof tempDir>;
let consoleProc: ConsoleHandle;
let browser: Browser;
const sockets: RawSocket[] = [];
const pages: Page[] = [];
const pageErrors: string[] = [];
let quietId: string;
let hostileId: string;

async function sendConcern(hostname: string, data: Record<string, unknown>, minutesAgo: number): Promise<void> {
  const device = await enrollRawDevice(consoleProc.url, hostname);
  const socket = await connectAs(consoleProc.url, device);
  sockets.push(socket);
  const frame = eventFrame(1, 'concern.reported', data);
  frame.events[0]!.at = new Date(Date.now() - minutesAgo * 60_000).toISOString();
  socket.send(frame);
  await socket.next('events.ack');
}

async function newPage(): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
  pages.push(page);
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('dialog', (d) => (pageErrors.push(`dialog: ${d.message()}`), void d.dismiss()));
  return page;
}

async function signInWithKeyboard(page: Page, username: string): Promise<void> {
  await page.goto(`${consoleProc.url}/safeguarding/`);
  await page.locator('#sign-in').waitFor({ state: 'visible' });
  await page.waitForFunction(() => document.activeElement?.id === 'username');
  await page.keyboard.type(username);
  await page.keyboard.press('Tab');
  await page.keyboard.type(password(username));
  await page.keyboard.press('Enter');
  await page.locator('#whoami').waitFor({ state: 'visible' });
}

/** The lead, signed in, with both concerns listed. */
async function leadPage(): Promise<Page> {
  const page = await newPage();
  await signInWithKeyboard(page, 'dsl');
  await page.waitForFunction(() => document.querySelectorAll('#concern-rows tr').length === 2);
  return page;
}

const focusedId = (page: Page) => page.evaluate(() => document.activeElement?.id ?? '');

beforeAll(async () => {
  dir = tempDir();
  consoleProc = await startConsoleProcess(join(dir.path, 'console'));
  for (const [username, role] of [
    ['dsl', 'safeguarding_lead'],
    ['tech', 'technician'],
  ]) {
    const created = await consoleProc.api('/api/v1/users', { method: 'POST', body: JSON.stringify({ username, password: password(username!), role }) });
    expect(created.status).toBe(201);
  }
  await sendConcern('year9-laptop-07', { category: 'about-me', text: QUIET_TEXT, wantsContact: true, user: 'pupil.jones' }, 30);
  await sendConcern(HOSTILE_HOST, { category: 'something-online', text: HOSTILE_TEXT, wantsContact: false, user: '"><svg onload=window.__pwned=4>' }, 5);
  const dslToken = (
    await consoleProc.api('/api/v1/login', { method: 'POST', body: JSON.stringify({ username: 'dsl', password: password('dsl') }), token: null })
  ).body.token;
  const stored = await waitUntil(async () => {
    const r = await consoleProc.api('/api/v1/concerns', { token: dslToken });
    return r.status === 200 && r.body.concerns.length === 2 ? (r.body.concerns as { id: string; text: string }[]) : null;
  });
  quietId = stored.find((c) => c.text === QUIET_TEXT)!.id;
  hostileId = stored.find((c) => c.text === HOSTILE_TEXT)!.id;
  browser = await launchChromium();
});

afterEach(async () => {
  for (const page of pages.splice(0)) await page.close();
  // No script error, no alert() from injected markup, in any page of any test.
  expect(pageErrors.splice(0)).toEqual([]);
});

afterAll(async () => {
  for (const s of sockets) s.ws.close();
  await browser?.close();
  await stopAll();
  dir?.remove();
});

describe('safeguarding page', () => {
  it('is served by the console at /safeguarding/ with the strict CSP, and /safeguarding leads there', async () => {
    const page = await fetch(`${consoleProc.url}/safeguarding/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toMatch(/script-src 'self';/);
    expect(await page.text()).toContain('Vigil · Safeguarding');
    const bare = await fetch(`${consoleProc.url}/safeguarding`, { redirect: 'manual' });
    expect([bare.status, bare.headers.get('location')]).toEqual([308, '/safeguarding/']);
    expect((await fetch(`${consoleProc.url}/no-such-page`, { redirect: 'manual' })).status).toBe(404);
  });

  it('refuses a retention setting out of range with a clear error, before starting', async () => {
    const r = await runCli(['console', '--data-dir', join(dir.path, 'never'), '--concern-retention-days', '0']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('--concern-retention-days must be between 1 and 3650');
    expect(existsSync(join(dir.path, 'never'))).toBe(false);
  });

  it('shows the lead the queue newest first, filters it by status, and opens a concern from the keyboard', async () => {
    const page = await newPage();
    await page.goto(`${consoleProc.url}/safeguarding/`);
    await page.locator('#sign-in').waitFor({ state: 'visible' });
    await screenshot(page, 'safeguarding-sign-in');
    await signInWithKeyboard(page, 'dsl');
    await page.locator('#queue').waitFor({ state: 'visible' });
    await page.waitForFunction(() => document.querySelectorAll('#concern-rows tr').length === 2);
    expect(await page.locator('#concern-rows tr').evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.concernId))).toEqual([hostileId, quietId]);
    const quietRow = page.locator(`tr[data-concern-id="${quietId}"]`);
    expect(await quietRow.locator('td').allTextContents()).toEqual([
      expect.stringMatching(/\d{4}/),
      'year9-laptop-07',
      'pupil.jones',
      'Something happening to the pupil',
      'Yes',
      'New',
      'Open',
    ]);
    // The list never carries the pupil's words.
    expect(await page.locator('#queue').textContent()).not.toContain('scaring me');
    expect(await page.textContent('#queue-summary')).toBe('2 in all · 2 new');
    await screenshot(page, 'safeguarding-queue');

    // Filter: a labelled select.
    const filter = page.getByRole('combobox', { name: 'Status' });
    await filter.selectOption('closed');
    await page.waitForFunction(() => document.querySelectorAll('#concern-rows tr').length === 0);
    expect(await page.textContent('#queue-empty')).toBe('No closed concerns.');
    await filter.selectOption('new');
    await page.waitForFunction(() => document.querySelectorAll('#concern-rows tr').length === 2);
    await filter.selectOption('');

    // Keyboard: from the heading, Tab reaches the filter, Reload, then the newest concern's link.
    await page.waitForFunction(() => document.querySelectorAll('#concern-rows tr').length === 2);
    await page.focus('#queue-title');
    await page.keyboard.press('Tab');
    expect(await focusedId(page)).toBe('filter-status');
    await page.keyboard.press('Tab');
    expect(await focusedId(page)).toBe('queue-reload');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.getAttribute('href'))).toBe(`#/concern/${quietId}`);
    await page.keyboard.press('Enter');
    await page.locator('#concern-page').waitFor({ state: 'visible' });
    await page.waitForFunction(() => document.activeElement?.id === 'concern-title');
    const facts = await page
      .locator('#concern-facts')
      .evaluate((dl) => Object.fromEntries([...dl.querySelectorAll('dt')].map((dt) => [dt.textContent, dt.nextElementSibling?.textContent])));
    expect(facts).toMatchObject({
      Device: 'year9-laptop-07',
      User: 'pupil.jones',
      About: 'Something happening to the pupil',
      'Wants contact': 'Yes: the pupil asked to talk to someone',
      Status: 'New',
      'Last updated': 'Not yet',
      Note: 'None',
    });
    expect(facts.Reported).toMatch(/\d{4}/);
    expect(await page.textContent('#concern-text')).toBe(QUIET_TEXT);
    await screenshot(page, 'safeguarding-concern');
  });

  it('lets the lead set the status and a note with the keyboard, after a confirmation; the audit has the status, not the note', async () => {
    const page = await newPage();
    await signInWithKeyboard(page, 'dsl');
    await page.goto(`${consoleProc.url}/safeguarding/#/concern/${quietId}`);
    await page.waitForFunction(() => document.activeElement?.id === 'concern-title');
    await page.keyboard.press('Tab');
    expect(await focusedId(page)).toBe('update-status');
    await page.keyboard.press('ArrowDown');
    expect(await page.inputValue('#update-status')).toBe('in-progress');
    await page.keyboard.press('Tab');
    expect(await focusedId(page)).toBe('update-note');
    await page.keyboard.type(NOTE);
    await page.keyboard.press('Tab');
    expect(await focusedId(page)).toBe('update-save');
    await page.keyboard.press('Enter');
    await page.locator('#confirm').waitFor({ state: 'visible' });
    expect(await page.textContent('#confirm-title')).toBe('Mark this concern as in progress?');
    expect(await focusedId(page)).toBe('confirm-ok');
    await screenshot(page, 'safeguarding-confirm');

    // Cancel changes nothing.
    await page.keyboard.press('Escape');
    await page.locator('#confirm').waitFor({ state: 'hidden' });
    expect(await focusedId(page)).toBe('update-save');
    const unchanged = (await consoleProc.api('/api/v1/audit')).body.audit.filter((a: any) => a.action === 'concern.updated');
    expect(unchanged).toEqual([]);

    await page.keyboard.press('Enter');
    await page.locator('#confirm').waitFor({ state: 'visible' });
    await page.waitForFunction(() => document.activeElement?.id === 'confirm-ok');
    await page.keyboard.press('Enter');
    await page.locator('#confirm').waitFor({ state: 'hidden' });
    // Whatever the page says, say it in the failure: a refusal is shown there too.
    await page.waitForFunction(() => !!document.getElementById('update-result')?.textContent);
    expect(await page.textContent('#update-result')).toBe('Saved. The concern is in progress.');
    const facts = await page.locator('#concern-facts').textContent();
    expect(facts).toContain('In progress');
    expect(facts).toContain(NOTE);
    expect(facts).toMatch(/by dsl/);
    await screenshot(page, 'safeguarding-updated');

    const audit = (await consoleProc.api('/api/v1/audit')).body.audit;
    expect(audit.filter((a: any) => a.action === 'concern.updated')).toEqual([
      expect.objectContaining({ actor: 'dsl', target: `concern:${quietId}`, detail: { from: 'new', to: 'in-progress', noteChanged: true } }),
    ]);
    expect(JSON.stringify(audit)).not.toContain('form tutor');
    expect(JSON.stringify(audit)).not.toContain('scaring me');

    // Back to the queue: the filter finds it under "In progress".
    await page.goto(`${consoleProc.url}/safeguarding/#/`);
    await page.getByRole('combobox', { name: 'Status' }).selectOption('in-progress');
    await page.waitForFunction((id) => {
      const rows = document.querySelectorAll('#concern-rows tr');
      return rows.length === 1 && (rows[0] as HTMLElement).dataset.concernId === id;
    }, quietId);
  });

  it("renders a pupil's hostile text, user and hostname as text, never as markup", async () => {
    const page = await leadPage();
    expect(await page.locator(`tr[data-concern-id="${hostileId}"] td`).nth(1).textContent()).toBe(HOSTILE_HOST);
    await page.goto(`${consoleProc.url}/safeguarding/#/concern/${hostileId}`);
    await page.waitForFunction(() => document.activeElement?.id === 'concern-title');
    expect(await page.textContent('#concern-text')).toBe(HOSTILE_TEXT);
    expect(await page.textContent('#concern-title')).toContain(HOSTILE_HOST);
    const hovered = page.locator('#concern-facts dd').nth(1);
    await hovered.hover();
    expect(await page.locator('main img, main script, main svg, main b').count()).toBe(0);
    expect(await page.evaluate(() => (window as any).__pwned)).toBeUndefined();
    await screenshot(page, 'safeguarding-hostile');
  });

  it('tells a technician that only the safeguarding lead can see concerns, and never shows one', async () => {
    const page = await newPage();
    const concernAnswers: Response[] = [];
    page.on('response', (r) => void (r.url().includes('/api/v1/concerns') && concernAnswers.push(r)));
    await signInWithKeyboard(page, 'tech');
    await page.locator('#not-allowed').waitFor({ state: 'visible' });
    expect(await page.textContent('#not-allowed-title')).toBe('Only the safeguarding lead can see concerns');
    expect(await page.textContent('#not-allowed-text')).toBe('You are signed in as tech (IT technician).');
    await screenshot(page, 'safeguarding-refused');
    // A direct link to a concern shows the same refusal.
    await page.goto(`${consoleProc.url}/safeguarding/#/concern/${quietId}`);
    await page.locator('#not-allowed').waitFor({ state: 'visible' });
    expect(await page.locator('#queue').isVisible()).toBe(false);
    expect(await page.locator('#concern-page').isVisible()).toBe(false);
    // The page does not even ask for concerns for this role; the console refuses them anyway.
    expect(concernAnswers).toEqual([]);
    const direct = await page.evaluate(async (id) => [(await fetch('/api/v1/concerns')).status, (await fetch(`/api/v1/concerns/${id}`)).status], quietId);
    expect(direct).toEqual([403, 403]);
    const html = await page.content();
    for (const words of ['scaring me', 'please help', 'year9-laptop-07', 'pupil.jones']) expect(html).not.toContain(words);
    expect(concernAnswers.map((r) => r.status())).toEqual([403, 403]);
  });

  it('signs the lead out and forgets what was on screen', async () => {
    const page = await leadPage();
    await page.click('#sign-out');
    await page.locator('#sign-in').waitFor({ state: 'visible' });
    expect(await page.locator('#concern-rows tr').count()).toBe(0);
    expect(await page.evaluate(async () => (await fetch('/api/v1/concerns')).status)).toBe(401);
  });
});
