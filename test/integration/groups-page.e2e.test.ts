import { hostname as machineHostname } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../helpers/browser.js';
import { ADMIN_PASSWORD, startAgentProcess, startConsoleProcess, type ConsoleHandle } from '../helpers/fleet.js';
import { checkEveryView, signInWithKeyboard, tabTo } from '../helpers/page-checks.js';
import { CLI, runCli, startProcess, stopAll, tempDir } from '../helpers/processes.js';
import { enrollRawDevice, type RawDevice } from '../helpers/raw-device.js';
import { readDeviceFile } from '../../src/agent/identity.js';

/**
 * Issue 13 item 2, in Debian's Chromium through a real console process and real agents, with the
 * keyboard alone: a group made, given a hostname rule, renamed and deleted on the Groups page
 * (each form checked with the console's own schema, errors next to the field); two enrolled
 * agents picked in the grid with "select all matching" and added to a group, which
 * `vigil groups show` then lists; Space picks a single row; a device's groups set on its page
 * show after a reload; technicians read groups but change nothing. Every state passes axe-core
 * in light and dark and fits 390 px; names from devices and staff are shown as text only.
 */
let dir: ReturnType<typeof tempDir>;
let consoleProc: ConsoleHandle;
let browser: Browser;
const pageErrors: string[] = [];
const PASSWORD = 'a-long-enough-password-13';
const MARKUP = '<img src=x onerror=alert(1)>';

async function signIn(username: string, password = PASSWORD): Promise<Page> {
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('dialog', (d) => (pageErrors.push(`dialog: ${d.message()}`), void d.dismiss()));
  await signInWithKeyboard(page, `${consoleProc.url}/`, username, password);
  return page;
}

async function openGroups(page: Page): Promise<void> {
  await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
  await tabTo(page, '#nav-groups');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#groups:not([hidden])');
}

const env = () => ({ VIGIL_CONSOLE_URL: consoleProc.url, VIGIL_TOKEN: consoleProc.token });
async function groupShow(name: string): Promise<{ devices: string[]; members: string[]; rules: unknown[]; displayName: string }> {
  const shown = await runCli(['groups', 'show', name], env());
  expect(shown.code, shown.stderr).toBe(0);
  return JSON.parse(shown.stdout);
}
const focused = (page: Page) => page.evaluate(() => document.activeElement?.id);

let lab01: RawDevice;
let office: RawDevice;
const agentIds: string[] = [];

beforeAll(async () => {
  dir = tempDir();
  consoleProc = await startConsoleProcess(join(dir.path, 'console'), { pingSeconds: 1 });
  for (const [username, role] of [
    ['sam', 'systems_manager'],
    ['tess', 'technician'],
  ]) {
    expect((await consoleProc.api('/api/v1/users', { method: 'POST', body: JSON.stringify({ username, password: PASSWORD, role }) })).status).toBe(201);
  }
  lab01 = await enrollRawDevice(consoleProc.url, 'lab-01');
  office = await enrollRawDevice(consoleProc.url, `office-${MARKUP}`);
  // Two real agents (same machine, so the same hostname: the search finds both and nothing else).
  for (const name of ['agent-a', 'agent-b']) {
    const agent = startAgentProcess(join(dir.path, name), consoleProc.url);
    await agent.waitFor(/connected to console/, 60_000, 'stderr');
    agentIds.push(readDeviceFile(join(dir.path, name))!.deviceId);
  }
  browser = await launchChromium();
}, 180_000);
afterAll(async () => {
  await browser?.close();
  await stopAll();
  dir?.remove();
});

describe('groups in the console, end to end in Chromium', { timeout: 300_000 }, () => {
  let sam: Page;

  it('Groups page with the keyboard: create (the schema refuses a bad name next to the field), add a hostname rule, rename, see members, delete after confirming', async () => {
    sam = await signIn('sam');
    await openGroups(sam);
    await sam.waitForSelector('#groups-empty:not([hidden])');
    await checkEveryView(sam, 'groups-empty');

    await tabTo(sam, '#group-name');
    await sam.keyboard.type('Lab 4');
    await sam.keyboard.press('Tab');
    await sam.keyboard.type(`Computer lab ${MARKUP}`);
    await sam.keyboard.press('Enter');
    await sam.waitForFunction(() => document.getElementById('group-name-error')?.textContent !== '');
    expect(await sam.textContent('#group-name-error')).toMatch(/lower-case letters/);
    expect(await focused(sam)).toBe('group-name');
    expect(await sam.getAttribute('#group-name', 'aria-invalid')).toBe('true');
    await checkEveryView(sam, 'groups-create-error');
    await sam.keyboard.press('Control+A');
    await sam.keyboard.type('lab-4');
    await sam.keyboard.press('Enter');
    await sam.waitForSelector('#group-detail:not([hidden])');
    expect(await focused(sam)).toBe('group-detail-title');
    expect(await sam.textContent('#group-detail-title')).toBe(`Computer lab ${MARKUP} (lab-4)`);
    expect(await sam.locator('#groups img').count()).toBe(0);

    // A hostname rule: a bad pattern is refused next to the field, a good one puts lab-01 in.
    await tabTo(sam, '#group-rule-value');
    await sam.keyboard.type('lab 0*');
    await sam.keyboard.press('Enter');
    await sam.waitForFunction(() => document.getElementById('group-rule-value-error')?.textContent !== '');
    expect(await sam.textContent('#group-rule-value-error')).toMatch(/hostname patterns use/);
    expect(await focused(sam)).toBe('group-rule-value');
    await sam.keyboard.press('Control+A');
    await sam.keyboard.type('lab-0*');
    await sam.keyboard.press('Enter');
    await sam.waitForFunction(() => document.getElementById('group-rules')?.textContent?.includes('Hostname matches lab-0*'));
    await sam.waitForSelector(`#group-member-rows tr[data-device-id="${lab01.deviceId}"]`);
    expect(await sam.textContent(`#group-member-rows tr[data-device-id="${lab01.deviceId}"]`)).toContain('By a rule or token');
    expect((await groupShow('lab-4')).rules).toEqual([{ kind: 'hostname', pattern: 'lab-0*' }]);
    await checkEveryView(sam, 'groups-detail');

    // Rename: the CLI finds it under the new name, with its rule.
    await tabTo(sam, '#group-new-name', { back: true });
    await sam.keyboard.press('Control+A');
    await sam.keyboard.type('lab');
    await tabTo(sam, '#group-rename button[type=submit]');
    await sam.keyboard.press('Enter');
    await sam.waitForFunction(() => document.getElementById('group-detail-title')?.textContent?.endsWith('(lab)'));
    // The result line is written once the group list and the device list have both reloaded.
    await sam.waitForFunction(() => /^Renamed lab-4 to lab;/.test(document.getElementById('groups-result')?.textContent ?? ''));
    const lab = await groupShow('lab');
    expect(lab.members).toEqual([lab01.deviceId]);
    expect((await runCli(['groups', 'show', 'lab-4'], env())).code).not.toBe(0);

    // A second group, deleted after confirming; cancelling first deletes nothing.
    await tabTo(sam, '#group-name', { back: true });
    await sam.keyboard.type('spare');
    await sam.keyboard.press('Tab');
    await sam.keyboard.type('Spare laptops');
    await sam.keyboard.press('Enter');
    await sam.waitForFunction(() => document.getElementById('group-detail-title')?.textContent === 'Spare laptops (spare)');
    await tabTo(sam, '#group-delete');
    await sam.keyboard.press('Enter');
    await sam.waitForSelector('#confirm[open]');
    await sam.keyboard.press('Escape');
    await sam.waitForFunction(() => !(document.getElementById('confirm') as HTMLDialogElement).open);
    expect((await groupShow('spare')).displayName).toBe('Spare laptops');
    expect(await focused(sam)).toBe('group-delete');
    await sam.keyboard.press('Enter');
    await sam.waitForSelector('#confirm[open]');
    expect(await focused(sam)).toBe('confirm-ok');
    await sam.keyboard.press('Enter');
    await sam.waitForFunction(() => document.getElementById('groups-result')?.textContent === 'Deleted the group spare.');
    expect(await sam.locator('#group-rows tr[data-group="spare"]').count()).toBe(0);
    expect((await runCli(['groups', 'show', 'spare'], env())).code).not.toBe(0);
  });

  it('grid: "select all matching" picks the two real agents, they are added to a group with the keyboard and `vigil groups show` lists them; Space picks one row; removing leaves rule members in', async () => {
    await sam.evaluate(() => (location.hash = '#/devices'));
    await sam.waitForSelector('#devices:not([hidden])');
    await sam.waitForFunction((n) => document.querySelectorAll('#device-rows tr.row').length === n, 4);
    expect(await sam.isVisible('#bulk')).toBe(true);
    await tabTo(sam, '#search', { back: true });
    await sam.keyboard.type(machineHostname());
    await sam.waitForFunction(() => document.querySelectorAll('#device-rows tr.row').length === 2);
    await tabTo(sam, '#select-matching');
    await sam.keyboard.press('Enter');
    expect(await sam.textContent('#bulk-count')).toBe('2 devices selected');
    expect(await sam.locator('#device-rows input.pick:checked').count()).toBe(2);
    // Without a group chosen nothing happens, and the error sits next to the group field.
    await tabTo(sam, '#bulk-add');
    await sam.keyboard.press('Enter');
    await sam.waitForFunction(() => document.getElementById('bulk-group-error')?.textContent === 'choose a group');
    expect(await focused(sam)).toBe('bulk-group');
    await sam.keyboard.press('ArrowDown');
    expect(await sam.inputValue('#bulk-group')).toBe('lab');
    await tabTo(sam, '#bulk-add');
    await sam.keyboard.press('Enter');
    await sam.waitForFunction(() => /^Added 2 devices to lab; it has 3 members\.$/.test(document.getElementById('bulk-result')?.textContent ?? ''));
    const lab = await groupShow('lab');
    expect([...lab.devices].sort()).toEqual([...agentIds].sort());
    expect([...lab.members].sort()).toEqual([...agentIds, lab01.deviceId].sort());
    await checkEveryView(sam, 'devices-selected');

    // The Group filter now holds the three; "Select all matching" with it picks exactly them.
    await tabTo(sam, '#select-none');
    await sam.keyboard.press('Enter');
    expect(await sam.textContent('#bulk-count')).toBe('No device selected');
    await tabTo(sam, '#search', { back: true });
    await sam.keyboard.press('Control+A');
    await sam.keyboard.press('Backspace');
    await tabTo(sam, '#filter-group');
    await sam.keyboard.press('ArrowDown');
    expect(await sam.inputValue('#filter-group')).toBe('lab');
    await sam.waitForFunction(() => document.querySelectorAll('#device-rows tr.row').length === 3);
    await tabTo(sam, '#select-matching');
    await sam.keyboard.press('Enter');
    expect(await sam.textContent('#bulk-count')).toBe('3 devices selected');
    await tabTo(sam, '#bulk-remove');
    await sam.keyboard.press('Enter');
    await sam.waitForFunction(
      () => document.getElementById('bulk-result')?.textContent === 'Removed 3 devices from lab. 1 stays in it by a membership rule or enrollment token.',
    );
    expect((await groupShow('lab')).devices).toEqual([]);
    expect((await groupShow('lab')).members).toEqual([lab01.deviceId]);

    // Space on the focused row picks it; the grid stays one tab stop.
    await tabTo(sam, '#select-none');
    await sam.keyboard.press('Enter');
    await tabTo(sam, '#filter-group', { back: true });
    await sam.keyboard.press('ArrowUp');
    await sam.waitForFunction(() => document.querySelectorAll('#device-rows tr.row').length === 4);
    await tabTo(sam, '#device-rows tr.row');
    await sam.keyboard.press('Space');
    expect(await sam.textContent('#bulk-count')).toBe('1 device selected');
    const picked = await sam.evaluate(() => (document.activeElement as HTMLElement).dataset.deviceId);
    expect(await sam.locator(`#device-rows tr[data-device-id="${picked}"] input.pick`).isChecked()).toBe(true);
    await sam.keyboard.press('Space');
    expect(await sam.textContent('#bulk-count')).toBe('No device selected');
    expect(await sam.locator('#device-rows tr.row input.pick').first().getAttribute('tabindex')).toBe('-1');
    // Device text is text: the hostname with markup is a label, not an element.
    expect(await sam.locator('#device-rows img').count()).toBe(0);
    expect(await sam.locator(`#device-rows tr[data-device-id="${office.deviceId}"] input.pick`).getAttribute('aria-label')).toBe(`Select office-${MARKUP}`);
  });

  it("device page: a device's groups set with the keyboard are saved, show after a reload, and a rule membership cannot be unticked there", async () => {
    await sam.evaluate((id) => (location.hash = `#/device/${id}`), agentIds[0]);
    await sam.waitForSelector('#device-groups:not([hidden])');
    await sam.waitForSelector('#device-group-choices input[value="lab"]');
    expect(await sam.locator('#device-group-choices input[value="lab"]').isChecked()).toBe(false);
    await tabTo(sam, '#device-group-choices input[value="lab"]');
    await sam.keyboard.press('Space');
    await tabTo(sam, '#device-groups-save');
    await sam.keyboard.press('Enter');
    await sam.waitForFunction(() => document.getElementById('device-groups-result')?.textContent === 'Saved: added to lab.');
    expect((await groupShow('lab')).devices).toEqual([agentIds[0]]);
    await checkEveryView(sam, 'device-groups');

    await sam.reload();
    await sam.waitForSelector('#device-page:not([hidden])');
    await sam.waitForFunction(() => document.querySelector('.fact-groups')?.textContent?.includes('lab'));
    await sam.waitForSelector('#device-group-choices input[value="lab"]:checked');

    await sam.evaluate((id) => (location.hash = `#/device/${id}`), lab01.deviceId);
    await sam.waitForSelector('#device-group-choices input[value="lab"]');
    expect(await sam.locator('#device-group-choices input[value="lab"]').isChecked()).toBe(true);
    expect(await sam.locator('#device-group-choices input[value="lab"]').isDisabled()).toBe(true);
    expect(await sam.textContent('#device-group-choices')).toContain('by a rule or enrollment token');
  });

  it('technicians read groups and members but see no forms, no selection in the grid and no "set groups"', async () => {
    const tess = await signIn('tess');
    await openGroups(tess);
    await tess.waitForSelector('#group-rows tr[data-group="lab"]');
    expect(await tess.isVisible('#group-create')).toBe(false);
    await tabTo(tess, '#group-rows button');
    await tess.keyboard.press('Enter');
    await tess.waitForSelector('#group-detail:not([hidden])');
    // The members are loaded after the panel opens; counting buttons before they are drawn proves nothing.
    await tess.waitForFunction(() => document.querySelectorAll('#group-member-rows tr').length === 2);
    expect(await tess.isVisible('#group-rename')).toBe(false);
    expect(await tess.isVisible('#group-rule-add')).toBe(false);
    expect(await tess.locator('#group-member-rows button').count()).toBe(0);
    expect(await tess.locator('#group-rules button').count()).toBe(0);
    expect(await tess.locator('#group-member-rows tr').count()).toBe(2);
    await checkEveryView(tess, 'groups-read-only');

    await tess.evaluate(() => (location.hash = '#/devices'));
    await tess.waitForSelector('#devices:not([hidden])');
    expect(await tess.isVisible('#bulk')).toBe(false);
    expect(await tess.locator('#device-rows input.pick:visible').count()).toBe(0);
    await tess.evaluate((id) => (location.hash = `#/device/${id}`), agentIds[0]);
    await tess.waitForFunction(() => document.querySelector('.fact-groups')?.textContent?.includes('lab'));
    expect(await tess.isVisible('#device-groups')).toBe(false);
    // The API refuses a technician's change anyway.
    const res = await tess.evaluate(async () => (await fetch('/api/v1/groups/lab', { method: 'DELETE' })).status);
    expect(res).toBe(403);
    expect(pageErrors).toEqual([]);
  });

  it('enrollment tokens: default groups ticked with the keyboard on create; a real agent enrolled with the token is a member of them', async () => {
    const admin = await signIn('admin', ADMIN_PASSWORD);
    await admin.evaluate(() => (location.hash = '#/tokens'));
    await admin.waitForSelector('#token-groups input[value="lab"]');
    await tabTo(admin, '#token-label', { back: true });
    await admin.keyboard.type('Lab laptops');
    await tabTo(admin, '#token-groups input[value="lab"]');
    await admin.keyboard.press('Space');
    await admin.keyboard.press('Enter');
    await admin.waitForSelector('#token-once:not([hidden])');
    const token = (await admin.textContent('#token-value'))!;
    const tokenRow = admin.locator('#token-rows tr', { hasText: 'Lab laptops' });
    expect(await tokenRow.locator('td').nth(4).textContent()).toBe('lab');
    expect(await admin.locator('#token-groups input:checked').count()).toBe(0);
    await checkEveryView(admin, 'tokens-default-groups');

    const dataDir = join(dir.path, 'agent-token');
    const agent = startProcess([CLI, 'agent', '--data-dir', dataDir, '--console', consoleProc.url, '--enroll-token', token], { VIGIL_BACKOFF_MAX_MS: '1000' });
    await agent.waitFor(/connected to console/, 60_000, 'stderr');
    const id = readDeviceFile(dataDir)!.deviceId;
    const lab = await groupShow('lab');
    expect(lab.members).toContain(id);
    expect(lab.devices).not.toContain(id);
    await openGroups(admin);
    await tabTo(admin, '#group-rows tr[data-group="lab"] button');
    await admin.keyboard.press('Enter');
    await admin.waitForSelector(`#group-member-rows tr[data-device-id="${id}"]`);
    expect(await admin.textContent(`#group-member-rows tr[data-device-id="${id}"]`)).toContain('By a rule or token');
    expect(pageErrors).toEqual([]);
  });
});
