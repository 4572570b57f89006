import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { paths } from '../../src/agent/identity.js';
import type { RuleRecordInput } from '../../src/shared/policies/model.js';
import { launchChromium } from '../helpers/browser.js';
import { ADMIN_PASSWORD, startAgentProcess, startConsoleProcess, type ConsoleHandle } from '../helpers/fleet.js';
import { checkEveryView, signInWithKeyboard, tabTo } from '../helpers/page-checks.js';
import { stopAll, tempDir, waitUntil } from '../helpers/processes.js';

/**
 * Issue 13's Policies page through a real console process in Debian's Chromium: a Systems
 * Manager adds a rule with the keyboard alone (bad input refused next to the field by the shared
 * schema, the change shown as a diff before it is published) and a real agent process receives
 * the new policy version with the rule; edit, remove, history and roll back; explain for a
 * device; a 100,000-rule policy loads, is searched and sorted with only a few rows in the DOM;
 * a technician reads without controls. axe-core, dark mode and 390 px on every state.
 */
let dir: ReturnType<typeof tempDir>;
let consoleProc: ConsoleHandle;
let browser: Browser;
const pageErrors: string[] = [];
const PASSWORD = 'a-long-enough-password-13';
const HASH = (c: string) => c.repeat(64);
const MARKUP = '<img src=x onerror="document.title=1">';

async function newPage(): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('dialog', (d) => (pageErrors.push(`dialog: ${d.message()}`), void d.dismiss()));
  return { context, page };
}

const signIn = (page: Page, username: string, password = PASSWORD, path = '/policies/') =>
  signInWithKeyboard(page, `${consoleProc.url}${path}`, username, password);

const focused = (page: Page) => page.evaluate(() => document.activeElement?.id ?? '');
const agentPolicy = () => {
  const file = paths(join(dir.path, 'agent')).policy;
  return existsSync(file) ? readFileSync(file, 'utf8') : '';
};
const heldRules = (): { sha256?: string; action: string }[] => (agentPolicy() ? JSON.parse(agentPolicy()).payload.policy.applications.rules : []);
const deviceVersion = async () => (await consoleProc.api('/api/v1/devices')).body.devices[0]?.policyVersion as number | null;

beforeAll(async () => {
  dir = tempDir();
  consoleProc = await startConsoleProcess(join(dir.path, 'console'), { pingSeconds: 1 });
  for (const [username, role] of [
    ['sam', 'systems_manager'],
    ['tess', 'technician'],
  ]) {
    expect((await consoleProc.api('/api/v1/users', { method: 'POST', body: JSON.stringify({ username, password: PASSWORD, role }) })).status).toBe(201);
  }
  const base = {
    format: 'vigil-policy/1',
    name: 'Hillside base',
    aup: { variant: 'pupil' },
    applications: {
      mode: 'monitor',
      defaultAction: 'allow',
      rules: [{ kind: 'sha256', sha256: HASH('1'), action: 'block', description: MARKUP }],
      exceptions: [],
    },
  };
  expect((await consoleProc.api('/api/v1/named-policies/baseline/push', { method: 'POST', body: JSON.stringify({ document: base }) })).status).toBe(201);
  browser = await launchChromium();
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await stopAll();
  dir?.remove();
});

describe('the Policies page, end to end in Chromium', { timeout: 400_000 }, () => {
  let sam: Page;

  it('a rule added with the keyboard alone, checked by the shared schema and reviewed as a diff, reaches a real agent', async () => {
    const agent = startAgentProcess(join(dir.path, 'agent'), consoleProc.url);
    await agent.waitFor(/connected to console/, 60_000, 'stderr');
    const before = await waitUntil(async () => ((await deviceVersion()) ?? null) || null, 60_000);

    ({ page: sam } = await newPage());
    await signIn(sam, 'sam');
    await sam.waitForSelector('#policy-rows tr[data-policy="baseline"]');
    expect(await sam.textContent('#policy-rows tr[data-policy="baseline"]')).toContain('every device (baseline, lowest)');
    await checkEveryView(sam, 'policies-list');

    await tabTo(sam, '#policy-rows a');
    await sam.keyboard.press('Enter');
    await sam.waitForFunction(() => document.getElementById('rules-count')?.textContent === '1 rule(s)');
    await sam.waitForSelector('#rule-rows tr.row');
    // The device-supplied-looking description is text, never markup.
    expect(await sam.locator('#rule-rows img').count()).toBe(0);
    expect(await sam.textContent('#rule-rows')).toContain(MARKUP);

    await tabTo(sam, '#rule-new');
    await sam.keyboard.press('Enter');
    await sam.waitForSelector('#rule-form:not([hidden])');
    expect(await focused(sam)).toBe('rule-form-title');
    await tabTo(sam, '#rule-sha256');
    await sam.keyboard.type('not-a-hash');
    await tabTo(sam, '#rule-reason');
    await sam.keyboard.type('no');
    await sam.keyboard.press('Enter');
    // The browser checks with the console's own schema: each problem next to its field, focus on the first.
    await sam.waitForFunction(() => document.getElementById('rule-sha256-error')?.textContent !== '');
    expect(await sam.textContent('#rule-sha256-error')).toBe('a SHA-256 in lowercase hex');
    expect(await sam.textContent('#rule-reason-error')).toMatch(/3/);
    expect(await focused(sam)).toBe('rule-sha256');
    expect(await sam.getAttribute('#rule-sha256', 'aria-invalid')).toBe('true');
    await checkEveryView(sam, 'policies-rule-errors');

    await sam.keyboard.press('Control+A');
    await sam.keyboard.type(HASH('c'));
    await tabTo(sam, '#rule-action-allow');
    await sam.keyboard.press('ArrowRight');
    expect(await sam.isChecked('#rule-action-block')).toBe(true);
    await tabTo(sam, '#rule-reason');
    await sam.keyboard.press('Control+A');
    await sam.keyboard.type('crypto miner found in the lab');
    await sam.keyboard.press('Enter');
    await sam.waitForSelector('#pending:not([hidden])');
    expect(await focused(sam)).toBe('pending-title');
    expect(await sam.textContent('#pending-diff')).toBe(`Add: Block hash ${HASH('c')}`);
    // Nothing is committed before Publish.
    expect((await consoleProc.api('/api/v1/named-policies/baseline')).body.policy.revision).toBe(1);
    await checkEveryView(sam, 'policies-pending');

    await tabTo(sam, '#pending-publish');
    await sam.keyboard.press('Enter');
    await sam.waitForFunction(() => /Published as policy version \d+/.test(document.getElementById('policy-result')?.textContent ?? ''));
    const version = Number(/version (\d+)/.exec((await sam.textContent('#policy-result'))!)![1]);
    expect(version).toBeGreaterThan(before!);
    expect(await sam.textContent('#rules-count')).toBe('2 rule(s)');

    // The real agent holds the new version, with the rule, and reports it.
    await waitUntil(async () => (await deviceVersion()) === version || null, 60_000);
    const held = JSON.parse(agentPolicy());
    expect(held.payload.version).toBe(version);
    expect(held.payload.policy.applications.rules).toContainEqual(expect.objectContaining({ kind: 'sha256', sha256: HASH('c'), action: 'block' }));
    expect(pageErrors).toEqual([]);
  });

  it('edits and removes a rule through the same review, shows each revision’s diff and rolls back after confirming', async () => {
    const row = sam.locator(`#rule-rows tr[data-key="sha256:${HASH('c')}"]`);
    await row.getByRole('button', { name: /^Edit/ }).click();
    await sam.waitForSelector('#rule-form:not([hidden])');
    expect(await sam.isDisabled('#rule-sha256')).toBe(true);
    await sam.check('#rule-action-allow');
    await sam.fill('#rule-reason', 'false positive: it is the lab’s benchmark');
    await sam.click('#rule-review');
    await sam.waitForSelector('#pending:not([hidden])');
    expect(await sam.textContent('#pending-diff')).toMatch(/^Change \(action, reason\): Block hash c+ → Allow hash c+$/);
    await sam.click('#pending-publish');
    await sam.waitForFunction(() => /revision 3/.test(document.getElementById('policy-summary')?.textContent ?? ''));
    await waitUntil(async () => heldRules().some((r) => r.sha256 === HASH('c') && r.action === 'allow') || null, 60_000);

    await row.getByRole('button', { name: /^Remove/ }).click();
    await sam.waitForSelector('#pending:not([hidden])');
    expect(await focused(sam)).toBe('pending-reason');
    await sam.click('#pending-publish');
    // The reason is checked before anything is sent.
    expect(await sam.textContent('#pending-reason-error')).toMatch(/at least 3/);
    await sam.fill('#pending-reason', 'benchmark retired');
    await sam.click('#pending-publish');
    await sam.waitForFunction(() => document.getElementById('rules-count')?.textContent === '1 rule(s)');

    await sam.waitForSelector('#history-rows tr[data-revision="4"]');
    expect(await sam.textContent('#history-rows tr[data-revision="4"]')).toContain('sam: benchmark retired');
    await sam
      .locator('#history-rows tr[data-revision="2"]')
      .getByRole('button', { name: /Show the changes/ })
      .click();
    await sam.waitForFunction(() => (document.getElementById('revision-diff')?.textContent ?? '').startsWith('Add: Block hash'));
    await checkEveryView(sam, 'policies-history');

    // Roll back to revision 3 (the allow rule), confirmed in the dialog with a reason.
    await sam
      .locator('#history-rows tr[data-revision="3"]')
      .getByRole('button', { name: /Roll back/ })
      .click();
    await sam.waitForSelector('#confirm[open]');
    await sam.fill('#rollback-reason', 'benchmark is back');
    await sam.click('#confirm-ok');
    await sam.waitForFunction(() => /Rolled back to revision 3 as revision 5/.test(document.getElementById('policy-result')?.textContent ?? ''));
    expect(await sam.textContent('#rules-count')).toBe('2 rule(s)');
    expect((await consoleProc.api('/api/v1/named-policies/baseline/history')).body.history[0]).toMatchObject({ revision: 5, rolledBackTo: 3 });
    expect(pageErrors).toEqual([]);
  });

  it('imports an uploaded Santa file: the notes and the rules to add are shown before anything is committed; settings forms check with the shared schema', async () => {
    const santa = `{"rules": [
{"identifier": "${HASH('d')}", "policy": "BLOCKLIST", "rule_type": "BINARY"},
{"identifier": "${HASH('e')}", "policy": "ALLOWLIST", "rule_type": "CERTIFICATE"}
]}`;
    const revision = (await consoleProc.api('/api/v1/named-policies/baseline')).body.policy.revision as number;
    await sam.setInputFiles('#import-file', { name: 'santa-rules.json', mimeType: 'application/json', buffer: Buffer.from(santa) });
    expect(await sam.inputValue('#import-format')).toBe('santa');
    await sam.click('#import-preview');
    await sam.waitForSelector('#pending:not([hidden])');
    expect(await sam.textContent('#pending-diff')).toBe(`Add: Block hash ${HASH('d')}`);
    expect(await sam.textContent('#pending-notes')).toMatch(/^Line 3: .*CERTIFICATE/);
    expect(await sam.textContent('#pending-what')).toMatch(/1 rule\(s\) and 0 exception\(s\): 1 would be added and 0 changed/);
    expect((await consoleProc.api('/api/v1/named-policies/baseline')).body.policy.revision).toBe(revision);
    await checkEveryView(sam, 'policies-import-preview');
    await sam.fill('#pending-reason', 'blocklist from the Mac lab');
    await sam.click('#pending-publish');
    await sam.waitForFunction(() => /Published as policy version/.test(document.getElementById('policy-result')?.textContent ?? ''));
    await waitUntil(async () => heldRules().some((r) => r.sha256 === HASH('d') && r.action === 'block') || null, 60_000);

    // Settings in form fields, keyboard only: an idle lock and a BYOD school-hours window. A logoff
    // before the lock and hours ending before they start are refused next to their fields by the shared schema.
    const key = async (selector: string, ...keys: string[]) => {
      await sam.focus(selector);
      for (const k of keys) await sam.keyboard.press(k);
    };
    const type = async (selector: string, text: string) => {
      await sam.focus(selector);
      await sam.keyboard.press('Control+A');
      await sam.keyboard.type(text);
    };
    await key('#set-session-state', 'ArrowDown');
    expect(await sam.inputValue('#set-session-state')).toBe('set');
    await type('#set-session-lockAfterIdleSeconds', '600');
    await type('#set-session-logoffAfterIdleSeconds', '300');
    await key('#set-activity-state', 'ArrowDown');
    await key('#set-activity-mode', 'ArrowDown');
    expect(await sam.inputValue('#set-activity-mode')).toBe('app-only');
    await key('#set-activity-byod-on', 'Space');
    await key('#set-activity-byod-schoolHours-add', 'Enter');
    // Focus is on the new row's first day box; Tab past the seven days reaches the start time.
    expect(await sam.evaluate(() => document.activeElement?.closest('fieldset')?.id)).toBe('set-activity-byod-schoolHours-0-days');
    for (let i = 0; i < 7; i++) await sam.keyboard.press('Tab');
    expect(await focused(sam)).toBe('set-activity-byod-schoolHours-0-start');
    await sam.keyboard.type('0830A');
    await sam.focus('#set-activity-byod-schoolHours-0-end');
    await sam.keyboard.type('0730A');
    await key('#settings-review', 'Enter');
    await sam.waitForFunction(() => document.getElementById('set-session-logoffAfterIdleSeconds-error')?.textContent !== '');
    expect(await sam.textContent('#set-session-logoffAfterIdleSeconds-error')).toMatch(/longer than lockAfterIdleSeconds/);
    expect(await sam.textContent('#set-activity-byod-schoolHours-0-end-error')).toBe('end must be after start (same day)');
    expect(await sam.getAttribute('#set-activity-byod-schoolHours-0-end', 'aria-invalid')).toBe('true');
    expect(await focused(sam)).toBe('set-session-logoffAfterIdleSeconds');
    expect(await sam.isHidden('#pending')).toBe(true);
    await checkEveryView(sam, 'policies-settings-error');
    await type('#set-session-logoffAfterIdleSeconds', '0');
    await sam.focus('#set-activity-byod-schoolHours-0-end');
    await sam.keyboard.type('1115A');
    await key('#settings-review', 'Enter');
    await sam.waitForSelector('#pending:not([hidden])');
    expect(await sam.textContent('#set-activity-byod-schoolHours-0-end-error')).toBe('');
    expect(await sam.textContent('#pending-diff')).toMatch(/^Setting session: .*"lockAfterIdleSeconds":600/);
    await checkEveryView(sam, 'policies-settings-form');
    await type('#pending-reason', 'idle lock and BYOD school hours');
    await key('#pending-publish', 'Enter');
    await sam.waitForFunction(() => /Published as policy version/.test(document.getElementById('policy-result')?.textContent ?? ''));
    const held = () => (agentPolicy() ? JSON.parse(agentPolicy()).payload.policy : {});
    await waitUntil(async () => (held().session?.lockAfterIdleSeconds === 600 && held().activity) || null, 60_000);
    expect(held().session).toMatchObject({ lockAfterIdleSeconds: 600, logoffAfterIdleSeconds: 0 });
    expect(held().activity).toMatchObject({
      mode: 'app-only',
      byod: { schoolHours: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '08:30', end: '11:15' }] },
    });
    await sam.waitForFunction(() => (document.getElementById('set-session-lockAfterIdleSeconds') as HTMLInputElement | null)?.value === '600');

    await sam.fill('#set-aup-variant', 'secondary');
    await sam.click('#settings-review');
    await sam.waitForSelector('#pending:not([hidden])');
    expect(await sam.textContent('#pending-diff')).toBe('Setting aup: {"variant":"pupil"} → {"variant":"secondary"}');
    await sam.fill('#pending-reason', 'the secondary AUP from September');
    await sam.click('#pending-publish');
    await sam.waitForFunction(() => /Published as policy version/.test(document.getElementById('policy-result')?.textContent ?? ''));
    await waitUntil(async () => (agentPolicy() && JSON.parse(agentPolicy()).payload.policy.aup?.variant === 'secondary') || null, 60_000);
    expect(pageErrors).toEqual([]);
  });

  it('explains where each of a device’s settings and rules comes from', async () => {
    await sam.goto(`${consoleProc.url}/policies/#/`);
    await sam.waitForSelector('#explain:not([hidden])');
    await sam.waitForFunction(() => (document.getElementById('explain-device') as HTMLSelectElement).options.length === 1);
    await tabTo(sam, '#explain-form button');
    await sam.keyboard.press('Enter');
    await sam.waitForSelector('#explain-result:not([hidden])');
    expect(await sam.textContent('#explain-settings')).toContain('aupbaseline (baseline)');
    expect(await sam.textContent('#explain-rules')).toContain(`sha256:${HASH('c')}`);
    await checkEveryView(sam, 'policies-explain');
  });

  it('a 100,000-rule policy loads, is searched and sorted, and keeps only a few rows in the DOM', async () => {
    const at = new Date().toISOString();
    const hex = (i: number) => i.toString(16).padStart(64, '0');
    const rules: RuleRecordInput[] = Array.from({ length: 100_000 }, (_, i) => ({
      rule: { kind: 'sha256', sha256: hex(i), action: i % 2 ? 'allow' : 'block' },
      author: 'importer',
      reason: `rule ${i}`,
      addedAt: at,
      origin: 'file',
    }));
    const created = await consoleProc.api('/api/v1/named-policies', {
      method: 'POST',
      body: JSON.stringify({ name: 'big', displayName: 'Big list', content: { rules } }),
    });
    expect(created.status).toBe(201);

    await sam.goto(`${consoleProc.url}/policies/#/policy/big`);
    await sam.waitForFunction(() => document.getElementById('rules-count')?.textContent === '100,000 rule(s)', undefined, { timeout: 120_000 });
    const domRows = () => sam.locator('#rule-rows tr.row').count();
    expect(await domRows()).toBeLessThan(60);
    expect(await domRows()).toBeGreaterThan(5);

    await sam.locator('#rule-search').focus();
    await sam.keyboard.type('rule 99987');
    await sam.waitForFunction(() => document.getElementById('rules-count')?.textContent === '1 of 100,000 shown');
    // The rows are drawn in the next frame after the count: wait for them, as a reader's eye would.
    await sam.waitForFunction((k) => document.querySelector('#rule-rows tr.row')?.getAttribute('data-key') === k, `sha256:${hex(99_987)}`);
    expect(await sam.locator('#rule-rows tr.row').count()).toBe(1);
    await sam.fill('#rule-search', '');
    await sam.waitForFunction(() => document.getElementById('rules-count')?.textContent === '100,000 rule(s)');

    // Sorted by program, descending: the last hash comes first; scrolled to the end, the first.
    await sam.locator('th[data-sort="what"] button').click();
    await sam.locator('th[data-sort="what"] button').click();
    expect(await sam.getAttribute('th[data-sort="what"]', 'aria-sort')).toBe('descending');
    await sam.waitForFunction((k) => document.querySelector('#rule-rows tr.row')?.getAttribute('data-key') === k, `sha256:${hex(99_999)}`);
    await sam.locator('#rule-scroll').evaluate((s) => (s.scrollTop = s.scrollHeight));
    await sam.waitForFunction((k) => [...document.querySelectorAll('#rule-rows tr.row')].at(-1)?.getAttribute('data-key') === k, `sha256:${hex(0)}`);
    expect(await domRows()).toBeLessThan(60);
    await checkEveryView(sam, 'policies-100k');
    expect(pageErrors).toEqual([]);
  });

  it('a technician reads policies without any control to change them; the dashboard links the page by role', async () => {
    const { page: tess } = await newPage();
    await signIn(tess, 'tess', PASSWORD, '/');
    expect(await tess.isVisible('#nav-policies')).toBe(true);
    await tabTo(tess, '#nav-policies');
    await tess.keyboard.press('Enter');
    await tess.waitForSelector('#policy-rows tr[data-policy="baseline"]');
    await tess.goto(`${consoleProc.url}/policies/#/policy/baseline`);
    await tess.waitForFunction(() => document.getElementById('rules-count')?.textContent === '3 rule(s)');
    expect(await tess.isHidden('#import')).toBe(true);
    expect(await tess.isHidden('#settings-review')).toBe(true);
    expect(await tess.isDisabled('#set-aup-variant')).toBe(true);
    expect(await tess.isVisible('#policy-readonly')).toBe(true);
    expect(await tess.isHidden('#rule-new')).toBe(true);
    expect(await tess.locator('#rule-rows button').count()).toBe(0);
    await tess.waitForSelector('#history-rows tr[data-revision="1"]');
    expect(await tess.locator('#history-rows button', { hasText: 'Roll back' }).count()).toBe(0);
    await checkEveryView(tess, 'policies-technician');

    const { page: admin } = await newPage();
    await signIn(admin, 'admin', ADMIN_PASSWORD, '/');
    expect(await admin.isVisible('#nav-policies')).toBe(true);
    expect(pageErrors).toEqual([]);
  });
});
