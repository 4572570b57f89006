import { createPrivateKey, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { receiptForAcceptance } from '../../src/agent/aup/receipts.js';
import type { AupPageData } from '../../src/shared/aup-bridge.js';
import type { AupDocument, AupReceipt } from '../../src/shared/aup.js';
import { aupHash, checkReceipt } from '../../src/shared/node/aup-verify.js';
import { generateEd25519KeyPair } from '../../src/shared/node/crypto.js';
import { screenshot } from '../helpers/browser.js';
import { builtPagesInChromium } from '../helpers/page-server.js';
import { REPO } from '../helpers/processes.js';

/**
 * The AUP page in Debian's Chromium, with a stub bridge standing in for the tray's preload.
 * The stub turns an acceptance into a receipt with the agent's real receipt code and device key.
 */
const devicePair = generateEd25519KeyPair();
const deviceKey = { privateKey: createPrivateKey(devicePair.privateKeyPem), publicKey: devicePair.publicKey };
const deviceId = randomUUID();

function aupFor(variant: 'primary' | 'secondary'): AupDocument {
  return {
    kind: 'vigil.aup',
    variant,
    version: 3,
    title: variant === 'primary' ? 'Our computer rules' : 'Acceptable use of school ICT',
    markdown: readFileSync(join(REPO, 'policies/aup', `${variant}.md`), 'utf8').replace(/^# .*\n/, ''),
    publishedAt: '2026-11-20T09:00:00.000Z',
  };
}

interface Harness {
  page: Page;
  receipts: AupReceipt[];
  calls: string[];
}

const pages = builtPagesInChromium();

async function open(aup: AupDocument, opts: { offline?: boolean; failAccept?: string; viewport?: { width: number; height: number } } = {}): Promise<Harness> {
  const page = await pages.browser.newPage({ viewport: opts.viewport ?? { width: 1024, height: 700 } });
  const receipts: AupReceipt[] = [];
  const calls: string[] = [];
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const data: AupPageData = {
    variant: aup.variant,
    version: aup.version,
    aupHash: aupHash(aup),
    title: aup.title,
    markdown: aup.markdown,
    school: 'Hillside Academy',
    user: 'jsmith',
    offline: !!opts.offline,
  };
  await page.exposeFunction('__vigilBridge', async (op: string, arg: unknown) => {
    calls.push(op);
    if (op === 'load') return data;
    if (op === 'decline') return { ok: true };
    if (opts.failAccept) return { ok: false, message: opts.failAccept };
    // What the tray's bridge does: a refusal becomes a message the page shows.
    try {
      receipts.push(receiptForAcceptance({ request: arg, aup, deviceId, user: 'jsmith', key: deviceKey }));
      return { ok: true };
    } catch (error) {
      return { ok: false, message: (error as Error).message };
    }
  });
  await page.addInitScript(() => {
    // Looked up at call time: Playwright installs the exposed binding alongside init scripts.
    const call = (op: string, arg?: unknown) => (window as any).__vigilBridge(op, arg);
    (window as any).vigilAup = {
      load: () => call('load'),
      accept: (request: unknown) => call('accept', request),
      decline: () => call('decline'),
    };
  });
  await page.goto(`${pages.url}/aup/index.html`);
  await page.waitForSelector('#aup[aria-busy="false"]');
  expect(errors).toEqual([]);
  return { page, receipts, calls };
}

const acceptDisabled = (page: Page) => page.locator('#accept').isDisabled();

describe('AUP page', () => {
  it('cannot be accepted before reading to the end and typing a name; accepting produces a receipt that verifies', async () => {
    const aup = aupFor('secondary');
    const { page, receipts } = await open(aup);
    expect(await page.textContent('h1')).toBe('Acceptable use of school ICT');
    await page.fill('#typed-name', 'Jamie Smith');
    await page.check('#agree-tick');
    expect(await acceptDisabled(page)).toBe(true);
    expect(await page.textContent('#still-needed')).toMatch(/read to the end/);
    await screenshot(page, 'aup-secondary-top');

    await page.locator('#document').evaluate((el) => el.scrollTo(0, el.scrollHeight));
    await page.waitForFunction(() => !(document.getElementById('accept') as HTMLButtonElement).disabled);
    await page.fill('#typed-name', ' ');
    expect(await acceptDisabled(page)).toBe(true);
    await page.fill('#typed-name', 'Jamie Smith');
    await page.uncheck('#agree-tick');
    expect(await acceptDisabled(page)).toBe(true);
    await page.check('#agree-tick');
    await screenshot(page, 'aup-secondary-ready');
    await page.click('#accept');
    await page.waitForFunction(() => document.getElementById('still-needed')?.textContent?.includes('You can now use this computer'));

    expect(receipts).toHaveLength(1);
    const check = checkReceipt(receipts[0], deviceKey.publicKey, aup);
    expect(check.ok).toBe(true);
    expect(receipts[0]!.payload).toMatchObject({ deviceId, user: 'jsmith', typedName: 'Jamie Smith', variant: 'secondary', version: 3 });
    // A receipt does not verify against another text or another key.
    expect(checkReceipt(receipts[0], deviceKey.publicKey, { ...aup, markdown: `${aup.markdown}\nextra` }).ok).toBe(false);
    expect(checkReceipt(receipts[0], generateEd25519KeyPair().publicKey, aup).ok).toBe(false);
    await page.close();
  });

  it('asks for confirmation, then requests sign-out when the pupil declines', async () => {
    const { page, calls } = await open(aupFor('secondary'));
    await page.click('#decline');
    await page.waitForSelector('#confirm-decline[open]');
    await screenshot(page, 'aup-decline-confirm');
    await page.click('#decline-cancel');
    expect(calls).not.toContain('decline');
    await page.click('#decline');
    await page.click('#decline-confirm');
    await page.waitForFunction(() => document.getElementById('still-needed')?.textContent?.includes('Signing you out'));
    expect(calls.filter((c) => c === 'decline')).toHaveLength(1);
    await page.close();
  });

  it('works with the keyboard alone', async () => {
    const { page, receipts } = await open(aupFor('secondary'));
    // The text has focus on load; End scrolls it to the bottom.
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('document');
    await page.keyboard.press('End');
    await page.waitForFunction(() => document.getElementById('document')?.getAttribute('aria-label')?.includes('reached the end'));
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('typed-name');
    await page.keyboard.type('Jamie Smith');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Space');
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('accept');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.getElementById('still-needed')?.textContent?.includes('You can now use this computer'));
    expect(receipts).toHaveLength(1);
    await page.close();
  });

  it('labels its controls for screen readers and offers larger text', async () => {
    const { page } = await open(aupFor('secondary'));
    expect(await page.getAttribute('#document', 'aria-label')).toMatch(/Scroll to the end/);
    expect(await page.getByLabel('Type your name').count()).toBe(1);
    expect(await page.getByRole('checkbox', { name: /I have read the rules/ }).count()).toBe(1);
    expect(await page.getByRole('button', { name: 'I agree' }).count()).toBe(1);
    const before = await page.evaluate(() => getComputedStyle(document.documentElement).fontSize);
    await page.click('#bigger-text');
    const after = await page.evaluate(() => getComputedStyle(document.documentElement).fontSize);
    expect(parseFloat(after)).toBeGreaterThan(parseFloat(before));
    expect(await page.getAttribute('#bigger-text', 'aria-pressed')).toBe('true');
    await page.close();
  });

  it('shows the primary variant in large, simple type, and says when it is offline', async () => {
    const { page } = await open(aupFor('primary'), { offline: true });
    expect(await page.evaluate(() => document.documentElement.dataset.variant)).toBe('primary');
    expect(parseFloat(await page.evaluate(() => getComputedStyle(document.documentElement).fontSize))).toBeGreaterThanOrEqual(22);
    expect(await page.isVisible('#offline')).toBe(true);
    expect(await page.textContent('#intro')).toMatch(/Please read these rules/);
    await screenshot(page, 'aup-primary');
    await page.close();
  });

  it('shows a bridge error and lets the pupil try again', async () => {
    const { page } = await open(aupFor('secondary'), { failAccept: 'The computer could not save your agreement.' });
    await page.locator('#document').evaluate((el) => el.scrollTo(0, el.scrollHeight));
    await page.fill('#typed-name', 'Jamie Smith');
    await page.check('#agree-tick');
    await page.click('#accept');
    await page.waitForFunction(() => document.getElementById('error')?.textContent?.includes('could not save'));
    expect(await acceptDisabled(page)).toBe(false);
    await page.close();
  });

  it('explains when a typed name cannot be used, and accepts a corrected one', async () => {
    const { page, receipts } = await open(aupFor('secondary'));
    await page.locator('#document').evaluate((el) => el.scrollTo(0, el.scrollHeight));
    await page.fill('#typed-name', 'Jamie\u2028Smith');
    await page.check('#agree-tick');
    await page.click('#accept');
    await page.waitForFunction(() => document.getElementById('error')?.textContent?.includes('letters, spaces and punctuation'));
    expect(receipts).toHaveLength(0);
    await page.fill('#typed-name', 'Jamie Smith');
    await page.click('#accept');
    await page.waitForFunction(() => document.getElementById('still-needed')?.textContent?.includes('You can now use this computer'));
    expect(receipts).toHaveLength(1);
    await page.close();
  });

  it('refuses to show data that does not match the bridge schema', async () => {
    const page = await pages.browser.newPage();
    await page.addInitScript(() => {
      (window as any).vigilAup = {
        load: async () => ({ title: '<img src=x onerror=alert(1)>' }),
        accept: async () => ({ ok: true }),
        decline: async () => ({ ok: true }),
      };
    });
    await page.goto(`${pages.url}/aup/index.html`);
    await page.waitForFunction(() => document.getElementById('error')?.textContent?.includes('not valid'));
    expect(await page.textContent('h1')).toBe('The rules could not be loaded');
    expect(await page.locator('img').count()).toBe(0);
    await page.close();
  });
});
