import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import type { BlockedProgram, TrayStatus } from '../../src/shared/local-ipc.js';
import type { StatusView } from '../../src/shared/tray-bridge.js';
import { screenshot } from '../helpers/browser.js';
import { builtPagesInChromium } from '../helpers/page-server.js';

/**
 * The tray's pages (status, report a concern, ask for an app, blocked-program notice) in
 * Debian's Chromium, served with the console's CSP, with a stub standing in for the preload's
 * `window.vigilTray`. Each test checks the bridge calls a page makes, that bridge errors are
 * shown, and that the page works from the keyboard.
 */
const SHA = '3f'.repeat(32);
const game: BlockedProgram = { name: 'minecraft-launcher', path: '/home/ann/Downloads/minecraft-launcher', sha256: SHA, signer: 'unknown', mode: 'enforce' };
const calc: BlockedProgram = { name: 'speedcrunch', path: '/home/ann/.local/bin/speedcrunch', sha256: 'ab'.repeat(32), signer: 'unknown', mode: 'enforce' };

const serviceStatus: TrayStatus = {
  user: 'ann',
  mode: 'service',
  consoleConnected: true,
  policyVersion: 12,
  aupNeeded: false,
  monitoring: {
    appControl: { enforcement: 'pre-exec', mode: 'enforce', detail: null, marks: ['/home'] },
    idleLockSeconds: 300,
    activity: null,
    usbControl: true,
  },
};
const statusView: StatusView = {
  service: serviceStatus,
  monitored: [
    'Programs: only programs the school allows can start.',
    'Screen lock: the screen locks after 5 minutes without use.',
    'USB drives: only drives checked by the school can be opened.',
    'Websites and windows: not recorded.',
  ],
  serviceProblem: null,
  trayVersion: '0.1.0',
  userMode: false,
};

type Answers = Record<string, (arg: unknown) => unknown>;

const pages = builtPagesInChromium();

/** Opens a page with a stub bridge answering from `answers` (a thrown answer rejects the call). */
async function open(
  page: string,
  answers: Answers,
  viewport = { width: 640, height: 760 },
): Promise<{ page: Page; calls: { method: string; arg: unknown }[] }> {
  const tab = await pages.browser.newPage({ viewport });
  const calls: { method: string; arg: unknown }[] = [];
  const errors: string[] = [];
  tab.on('pageerror', (e) => errors.push(e.message));
  await tab.exposeFunction('__vigilTray', async (method: string, arg: unknown) => {
    calls.push({ method, arg });
    const answer = answers[method];
    if (!answer) return { ok: false, message: `no stub for ${method}` };
    const value = answer(arg);
    // Playwright carries a thrown error back to the page as a rejected promise.
    if (value instanceof Error) throw value;
    return value;
  });
  await tab.addInitScript((methods: string[]) => {
    const bridge: Record<string, (arg?: unknown) => Promise<unknown>> = {};
    for (const m of methods) bridge[m] = (arg?: unknown) => (window as any).__vigilTray(m, arg);
    (window as any).vigilTray = bridge;
  }, Object.keys(answers).concat('close'));
  await tab.goto(`${pages.url}/${page}/index.html`);
  expect(errors).toEqual([]);
  return { page: tab, calls };
}

const text = (page: Page, selector: string) => page.locator(selector).innerText();
const focused = (page: Page) => page.evaluate(() => document.activeElement?.id || document.activeElement?.getAttribute('name'));

describe('status page', () => {
  it('shows the connection, what is monitored in plain words, the AUP state and diagnostics; locks on request', async () => {
    const { page, calls } = await open('status', {
      status: () => ({ ok: true, value: statusView }),
      lockNow: () => ({ ok: true, value: { locked: true, detail: 'i3lock' } }),
    });
    await page.waitForSelector('main[aria-busy="false"]');
    expect(await text(page, '#connection')).toBe('Connected to school.');
    expect(await page.locator('#monitored li').allInnerTexts()).toEqual(statusView.monitored);
    expect(await text(page, '#aup-state')).toMatch(/accepted/);
    expect(await text(page, '#user')).toBe('ann');
    expect(await text(page, '#policy')).toBe('12');
    expect(await text(page, '#mode')).toBe('School device');
    await screenshot(page, 'tray-status');
    // Keyboard: Tab reaches "Lock now" and Enter presses it.
    await page.keyboard.press('Tab');
    expect(await focused(page)).toBe('lock');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.getElementById('done')?.textContent?.includes('locking'));
    expect(calls.map((c) => c.method)).toEqual(['status', 'lockNow']);
    await page.close();
  });

  it('says when the service cannot be reached, and shows bridge errors', async () => {
    const offline: StatusView = { ...statusView, service: null, monitored: [], serviceProblem: 'connect ENOENT /run/vigil/tray.sock' };
    const { page } = await open('status', { status: () => ({ ok: true, value: offline }), lockNow: () => new Error('refused') });
    await page.waitForSelector('main[aria-busy="false"]');
    expect(await text(page, '#connection')).toMatch(/cannot be reached/);
    expect(await text(page, '#service')).toBe('connect ENOENT /run/vigil/tray.sock');
    expect(await page.locator('#lock').isDisabled()).toBe(true);
    await screenshot(page, 'tray-status-offline');
    await page.close();
    const failing = await open('status', { status: () => ({ ok: false, message: 'the Vigil service did not answer "status"' }) });
    await failing.page.waitForFunction(() => document.getElementById('error')?.textContent?.includes('did not answer'));
    await failing.page.close();
    const garbled = await open('status', { status: () => ({ ok: true, value: { service: 'x' } }) });
    await garbled.page.waitForFunction(() => document.getElementById('error')?.textContent?.includes('cannot read'));
    await garbled.page.close();
  });

  it('shows a failed lock visibly', async () => {
    const { page } = await open('status', {
      status: () => ({ ok: true, value: statusView }),
      lockNow: () => ({ ok: true, value: { locked: false, detail: 'no screen locker is installed' } }),
    });
    await page.waitForSelector('main[aria-busy="false"]');
    await page.click('#lock');
    await page.waitForFunction(() => document.getElementById('error')?.textContent?.includes('no screen locker'));
    await page.close();
  });
});

describe('report a concern page', () => {
  it('sends the category, the words and the contact wish, from the keyboard alone', async () => {
    const { page, calls } = await open('concern', { reportConcern: () => ({ ok: true, value: { queued: true } }) });
    // Tab into the category group, arrow to the third choice, then the text, the tick box and Send.
    await page.keyboard.press('Tab');
    expect(await focused(page)).toBe('category');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Tab');
    expect(await focused(page)).toBe('text');
    await page.keyboard.type('Someone posted a photo of me in the class chat.');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Space');
    await screenshot(page, 'tray-concern');
    await page.keyboard.press('Tab');
    expect(await focused(page)).toBe('send');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#done:not([hidden])');
    expect(await text(page, '#done')).toMatch(/sent to the safeguarding lead/);
    expect(calls).toEqual([
      { method: 'reportConcern', arg: { category: 'something-online', text: 'Someone posted a photo of me in the class chat.', wantsContact: true } },
    ]);
    await screenshot(page, 'tray-concern-sent');
    await page.close();
  });

  it('asks for words before sending, and shows a bridge error without losing them', async () => {
    const { page, calls } = await open('concern', { reportConcern: () => ({ ok: false, message: 'not connected to the Vigil service' }) });
    await page.click('#send');
    expect(await text(page, '#error')).toMatch(/say a little/);
    expect(calls).toEqual([]);
    await page.fill('#text', 'I am being bullied on the bus.');
    await page.click('#send');
    await page.waitForFunction(() => document.getElementById('error')?.textContent?.includes('not sent'));
    expect(await text(page, '#error')).toBe('Your report was not sent: not connected to the Vigil service');
    expect(await page.inputValue('#text')).toBe('I am being bullied on the bus.');
    expect(await page.isVisible('#concern')).toBe(true);
    await screenshot(page, 'tray-concern-error');
    await page.close();
    const throwing = await open('concern', { reportConcern: () => new Error('refused') });
    await throwing.page.fill('#text', 'x');
    await throwing.page.click('#send');
    await throwing.page.waitForFunction(() => document.getElementById('error')?.textContent?.includes('could not do that'));
    await throwing.page.close();
  });
});

describe('ask for an app page', () => {
  it('preselects the program the pupil came from, and sends its hash with the reason', async () => {
    const { page, calls } = await open('request-app', {
      requestContext: () => ({ ok: true, value: { programs: [calc, game], selected: SHA } }),
      requestApp: () => ({ ok: true, value: { queued: true } }),
    });
    await page.waitForSelector('#request:not([hidden])');
    expect(await text(page, '#name')).toBe('minecraft-launcher');
    expect(await text(page, '#sha256')).toBe(SHA);
    expect(await focused(page)).toBe('program');
    // Keyboard: arrow keys change the choice (and the details), Tab to the reason, Enter sends.
    await page.keyboard.press('ArrowUp');
    expect(await text(page, '#name')).toBe('speedcrunch');
    await page.keyboard.press('ArrowDown');
    expect(await text(page, '#name')).toBe('minecraft-launcher');
    await page.keyboard.press('Tab');
    expect(await focused(page)).toBe('reason');
    await page.keyboard.type('We use it in the computing club on Thursdays.');
    await screenshot(page, 'tray-request-app');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#done:not([hidden])');
    expect(calls).toEqual([
      { method: 'requestContext', arg: undefined },
      { method: 'requestApp', arg: { sha256: SHA, reason: 'We use it in the computing club on Thursdays.' } },
    ]);
    expect(await text(page, '#done')).toMatch(/minecraft-launcher has been sent/);
    await page.close();
  });

  it('explains when nothing has been blocked, and shows bridge errors', async () => {
    const empty = await open('request-app', { requestContext: () => ({ ok: true, value: { programs: [], selected: null } }) });
    await empty.page.waitForSelector('#none:not([hidden])');
    expect(await empty.page.isVisible('#request')).toBe(false);
    await screenshot(empty.page, 'tray-request-app-none');
    await empty.page.close();
    const failing = await open('request-app', {
      requestContext: () => ({ ok: true, value: { programs: [game], selected: null } }),
      requestApp: () => ({ ok: false, message: 'that program has not been blocked on this computer recently' }),
    });
    await failing.page.waitForSelector('#request:not([hidden])');
    await failing.page.click('#send');
    await failing.page.waitForFunction(() => document.getElementById('error')?.textContent?.includes('not sent'));
    expect(await text(failing.page, '#error')).toMatch(/not been blocked/);
    await failing.page.close();
  });
});

describe('blocked-program notice', () => {
  it("says what was blocked and that it is the school's rule; Ask for permission is one key press away", async () => {
    const { page, calls } = await open('blocked', { blocked: () => ({ ok: true, value: game }), askPermission: () => ({ ok: true, value: { done: true } }) });
    await page.waitForSelector('main[aria-busy="false"]');
    expect(await text(page, 'h1')).toBe('minecraft-launcher was blocked');
    expect(await text(page, '#why')).toMatch(/school's rules allow only programs that the Systems Manager has approved/);
    expect(await text(page, '#path')).toBe(game.path);
    expect(await text(page, '#signer')).toBe('Not known');
    expect(await page.isVisible('#monitor-note')).toBe(false);
    await screenshot(page, 'tray-blocked');
    expect(await focused(page)).toBe('ask');
    await page.keyboard.press('Enter');
    await expect.poll(() => calls.map((c) => c.method)).toEqual(['blocked', 'askPermission']);
    await page.close();
  });

  it('cannot ask without a fingerprint, says so, and shows bridge errors', async () => {
    const { page } = await open('blocked', { blocked: () => ({ ok: true, value: { ...game, sha256: null, mode: 'monitor' } }) });
    await page.waitForSelector('main[aria-busy="false"]');
    expect(await text(page, 'h1')).toBe('minecraft-launcher is not approved');
    expect(await page.isVisible('#monitor-note')).toBe(true);
    expect(await page.locator('#ask').isDisabled()).toBe(true);
    expect(await page.isVisible('#no-ask')).toBe(true);
    await page.close();
    const failing = await open('blocked', { blocked: () => ({ ok: true, value: game }), askPermission: () => ({ ok: false, message: 'refused' }) });
    await failing.page.waitForSelector('main[aria-busy="false"]');
    await failing.page.click('#ask');
    await failing.page.waitForFunction(() => document.getElementById('error')?.textContent?.includes('Could not open the request form'));
    await screenshot(failing.page, 'tray-blocked-error');
    await failing.page.close();
  });
});
