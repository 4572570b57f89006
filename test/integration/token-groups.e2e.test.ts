import { createPrivateKey, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enroll } from '../../src/agent/enroll.js';
import { generateEd25519KeyPair } from '../../src/shared/node/crypto.js';
import { launchChromium } from '../helpers/browser.js';
import { ADMIN_PASSWORD, startConsoleProcess, type ConsoleHandle } from '../helpers/fleet.js';
import { checkEveryView, signInWithKeyboard, tabTo } from '../helpers/page-checks.js';
import { stopAll, tempDir } from '../helpers/processes.js';

/**
 * An enrollment token's default groups changed after it was made, through a real console process:
 * the API (`PUT /api/v1/enroll-tokens/<id>/groups`) changes them for an admin only, audits the
 * change, refuses a bad body, an unknown group or token and changes nothing then; the device
 * already enrolled with the token moves with them. Then the same on the dashboard's tokens page
 * in Chromium, with the keyboard alone.
 */
let dir: ReturnType<typeof tempDir>;
let consoleProc: ConsoleHandle;
let browser: Browser;
const pageErrors: string[] = [];
const PASSWORD = 'a-long-enough-password-13';
let tokenId: string;
let deviceId: string;

const tokenGroups = async (id: string): Promise<string[]> =>
  (await consoleProc.api('/api/v1/enroll-tokens')).body.tokens.find((t: { id: string }) => t.id === id).groups;
const membersOf = async (group: string): Promise<string[]> => (await consoleProc.api(`/api/v1/groups/${group}`)).body.group.members;
const put = (id: string, body: unknown, token?: string) =>
  consoleProc.api(`/api/v1/enroll-tokens/${id}/groups`, { method: 'PUT', body: JSON.stringify(body), ...(token ? { token } : {}) });

beforeAll(async () => {
  dir = tempDir();
  consoleProc = await startConsoleProcess(join(dir.path, 'console'), { pingSeconds: 1 });
  expect(
    (await consoleProc.api('/api/v1/users', { method: 'POST', body: JSON.stringify({ username: 'sam', password: PASSWORD, role: 'systems_manager' }) })).status,
  ).toBe(201);
  for (const [name, displayName] of [
    ['lab', 'Computer lab'],
    ['library', 'Library'],
  ]) {
    expect((await consoleProc.api('/api/v1/groups', { method: 'POST', body: JSON.stringify({ name, displayName }) })).status).toBe(201);
  }
  const created = await consoleProc.api('/api/v1/enroll-tokens', {
    method: 'POST',
    body: JSON.stringify({ label: 'Lab laptops <b>', expiresInHours: 24, maxUses: null, groups: ['lab'] }),
  });
  expect(created.status).toBe(201);
  tokenId = created.body.id;
  // A device enrolled with the token before its groups change.
  const pair = generateEd25519KeyPair();
  deviceId = randomUUID();
  await enroll({
    consoleUrl: consoleProc.url,
    token: created.body.token,
    key: { deviceId, privateKey: createPrivateKey(pair.privateKeyPem), publicKey: pair.publicKey },
    hostname: 'lab-07',
    platform: 'linux',
    machineIdHint: null,
  });
  browser = await launchChromium();
}, 180_000);
afterAll(async () => {
  await browser?.close();
  await stopAll();
  dir?.remove();
});

describe("an enrollment token's default groups, changed after it was made", { timeout: 200_000 }, () => {
  it('the API changes them for an admin, audited; the device enrolled with the token moves; bad requests change nothing', async () => {
    expect(await membersOf('lab')).toEqual([deviceId]);
    // Making the token with groups is audited under the same action already.
    const audited = async () => (await consoleProc.api('/api/v1/audit?action=enroll-token.groups')).body.audit as { actor: string; target: string }[];
    const before = (await audited()).length;

    const changed = await put(tokenId, { groups: ['library'], reason: 'moved to the library' });
    expect(changed.status).toBe(200);
    expect(await tokenGroups(tokenId)).toEqual(['library']);
    expect(await membersOf('lab')).toEqual([]);
    expect(await membersOf('library')).toEqual([deviceId]);
    const audit = await audited();
    expect(audit).toHaveLength(before + 1);
    expect(audit[0]).toMatchObject({ actor: 'admin', action: 'enroll-token.groups', target: `enroll-token:${tokenId}` });

    // Refused, and nothing changes: a bad group name, an unknown group, an unknown field, an unknown token, a systems manager.
    expect((await put(tokenId, { groups: ['Not A Name!'] })).status).toBe(400);
    expect((await put(tokenId, { groups: ['no-such-group'] })).status).toBe(404);
    expect((await put(tokenId, { groups: [], extra: 1 })).status).toBe(400);
    expect((await put(randomUUID(), { groups: [] })).status).toBe(404);
    const sam = await consoleProc.api('/api/v1/login', { method: 'POST', body: JSON.stringify({ username: 'sam', password: PASSWORD }), token: null });
    expect((await put(tokenId, { groups: [] }, sam.body.token)).status).toBe(403);
    expect(await tokenGroups(tokenId)).toEqual(['library']);
    expect(await membersOf('library')).toEqual([deviceId]);
    expect(await audited()).toHaveLength(before + 1);
  });

  it('the tokens page changes them with the keyboard alone, and the list shows the new groups', async () => {
    const page: Page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('dialog', (d) => (pageErrors.push(`dialog: ${d.message()}`), void d.dismiss()));
    await signInWithKeyboard(page, `${consoleProc.url}/`, 'admin', ADMIN_PASSWORD);
    await page.evaluate(() => (location.hash = '#/tokens'));
    const row = `#token-rows tr[data-token-id="${tokenId}"]`;
    await page.waitForSelector(row);
    expect(await page.locator(`${row} td`).nth(4).textContent()).toBe('library');

    await tabTo(page, `${row} button.token-groups`);
    expect(await page.getAttribute(`${row} button.token-groups`, 'aria-label')).toBe('Change the default groups of Lab laptops <b>');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#token-groups-edit:not([hidden])');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('token-groups-edit-title');
    expect(await page.textContent('#token-groups-edit-title')).toBe('Default groups of "Lab laptops <b>"');
    // The boxes show the token's groups as they are.
    expect(await page.locator('#token-edit-groups input:checked').evaluateAll((boxes) => boxes.map((b) => (b as HTMLInputElement).value))).toEqual(['library']);
    await checkEveryView(page, 'tokens-edit-groups');

    // Tick lab, untick library, save.
    await tabTo(page, '#token-edit-groups input[value="lab"]');
    await page.keyboard.press('Space');
    await tabTo(page, '#token-edit-groups input[value="library"]');
    await page.keyboard.press('Space');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.getElementById('token-groups-result')?.textContent !== '');
    expect(await page.textContent('#token-groups-result')).toBe('Saved: devices enrolled with "Lab laptops <b>" are in lab.');
    expect(await page.isVisible('#token-groups-edit')).toBe(false);
    expect(await page.locator(`${row} td`).nth(4).textContent()).toBe('lab');
    // The focus is back on the row's button, ready for another change.
    expect(await page.evaluate((sel) => document.activeElement?.matches(sel), `${row} button.token-groups`)).toBe(true);
    expect(await tokenGroups(tokenId)).toEqual(['lab']);
    expect(await membersOf('lab')).toEqual([deviceId]);

    // Cancel changes nothing and gives the focus back.
    await page.keyboard.press('Enter');
    await tabTo(page, '#token-edit-groups input[value="library"]');
    await page.keyboard.press('Space');
    await tabTo(page, '#token-groups-cancel');
    await page.keyboard.press('Enter');
    expect(await page.isVisible('#token-groups-edit')).toBe(false);
    expect(await page.evaluate((sel) => document.activeElement?.matches(sel), `${row} button.token-groups`)).toBe(true);
    expect(await tokenGroups(tokenId)).toEqual(['lab']);
    await checkEveryView(page, 'tokens-groups-saved');
    expect(pageErrors).toEqual([]);
  });
});
