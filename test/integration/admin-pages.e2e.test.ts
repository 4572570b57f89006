import { createPrivateKey, randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AcceptanceRecords } from '../../src/agent/aup/acceptances.js';
import { AupStore } from '../../src/agent/aup/aup-store.js';
import { AupGate, aupToShow } from '../../src/agent/aup/gate.js';
import { enroll } from '../../src/agent/enroll.js';
import { loadOrCreateDeviceKey, paths, readDeviceFile } from '../../src/agent/identity.js';
import { Outbox } from '../../src/agent/outbox.js';
import { PolicyStore } from '../../src/agent/policy-store.js';
import { parseCsv } from '../../src/shared/csv.js';
import { generateEd25519KeyPair, keyId } from '../../src/shared/node/crypto.js';
import { createLogger } from '../../src/shared/node/log.js';
import { signStationReport } from '../../src/shared/node/station-report.js';
import { PROTOCOL_VERSION } from '../../src/shared/protocol.js';
import { sendStationReport } from '../../src/station/report.js';
import { blockedSteam } from '../helpers/app-event.js';
import { launchChromium, screenshot } from '../helpers/browser.js';
import { ADMIN_PASSWORD, startConsoleProcess, type ConsoleHandle } from '../helpers/fleet.js';
import { checkEveryView, signInWithKeyboard, tabTo } from '../helpers/page-checks.js';
import { CLI, REPO, runCli, startProcess, stopAll, tempDir, waitUntil } from '../helpers/processes.js';
import { connectAs, enrollRawDevice, eventFrame, type RawDevice, type RawSocket } from '../helpers/raw-device.js';

/**
 * Issue 13's admin pages, each task done in Debian's Chromium through a real console process,
 * with the keyboard alone: an enrollment token made in the browser enrolls a real agent; an AUP
 * written and published in the browser reaches a real agent and the pupil page shows exactly
 * the preview; a station registered in the browser has its reports shown and, revoked, is
 * refused; the audit log filters and exports; devices are summarised, exported, revoked live.
 * Every page (the existing ones too) passes axe-core in light and dark, and fits 390 px.
 */
let dir: ReturnType<typeof tempDir>;
let consoleProc: ConsoleHandle;
let browser: Browser;
const pageErrors: string[] = [];
const PASSWORD = 'a-long-enough-password-13';
const USERS = { sam: 'systems_manager', tess: 'technician', sally: 'safeguarding_lead' } as const;

async function newPage(opts: { downloads?: boolean } = {}): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: opts.downloads ?? true });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: consoleProc.url });
  const page = await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('dialog', (d) => (pageErrors.push(`dialog: ${d.message()}`), void d.dismiss()));
  return { context, page };
}

async function signIn(page: Page, username: string, password = PASSWORD, path = '/'): Promise<void> {
  await signInWithKeyboard(page, `${consoleProc.url}${path}`, username, password);
}

/** Opens a page from the navigation with the keyboard. */
async function openFromNav(page: Page, navId: string, section: string): Promise<void> {
  await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
  await tabTo(page, `#${navId}`);
  await page.keyboard.press('Enter');
  await page.waitForSelector(`#${section}:not([hidden])`);
}

/** Presses Enter on the dialog's focused OK button (confirmAction focuses it) and waits for it to close. */
async function confirmDialog(page: Page): Promise<void> {
  await page.waitForSelector('#confirm[open]');
  expect(await page.evaluate(() => document.activeElement?.id)).toBe('confirm-ok');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => !(document.getElementById('confirm') as HTMLDialogElement).open);
}

async function download(page: Page, start: () => Promise<void>): Promise<string> {
  const [file] = await Promise.all([page.waitForEvent('download'), start()]);
  return readFileSync((await file.path())!, 'utf8');
}

function status(hostname: string, users: string[]) {
  return {
    hostname,
    os: { platform: 'linux', release: '6.1.0', distro: 'Debian GNU/Linux 12', arch: 'x64' },
    user: users[0] ?? null,
    users,
    uptimeSeconds: 100,
    agentVersion: '0.9.1',
    policyVersion: null,
    appControl: { enforcement: 'pre-exec', mode: 'enforce', detail: null, marks: ['/home'] },
    collectedAt: new Date().toISOString(),
  };
}

async function simulate(hostname: string, users: string[], capabilities: string[] = []): Promise<{ device: RawDevice; socket: RawSocket }> {
  const device = await enrollRawDevice(consoleProc.url, hostname);
  const socket = await connectAs(consoleProc.url, device);
  socket.send({ v: PROTOCOL_VERSION, type: 'hello', agentVersion: '0.9.1', policyVersion: null, policyDigest: null, mode: 'service', capabilities });
  socket.send({ v: PROTOCOL_VERSION, type: 'status', status: status(hostname, users) });
  return { device, socket };
}

beforeAll(async () => {
  dir = tempDir();
  consoleProc = await startConsoleProcess(join(dir.path, 'console'), { pingSeconds: 1 });
  for (const [username, role] of Object.entries(USERS)) {
    expect((await consoleProc.api('/api/v1/users', { method: 'POST', body: JSON.stringify({ username, password: PASSWORD, role }) })).status).toBe(201);
  }
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await stopAll();
  dir.remove();
});

const agentDir = () => join(dir.path, 'agent');

describe('admin pages, end to end in Chromium', { timeout: 300_000 }, () => {
  let admin: Page;
  let token = '';

  it('enrollment tokens: made with the keyboard, shown once and copied; a real agent enrolls with it; revoked, it enrolls nothing more', async () => {
    ({ page: admin } = await newPage());
    await signIn(admin, 'admin', ADMIN_PASSWORD);
    await openFromNav(admin, 'nav-tokens', 'tokens');
    await tabTo(admin, '#token-label');
    await admin.keyboard.type('Year 9 laptops');
    await admin.keyboard.press('Tab');
    await admin.keyboard.press('Control+A');
    await admin.keyboard.type('48');
    await admin.keyboard.press('Tab');
    await admin.keyboard.type('0');
    await admin.keyboard.press('Enter');
    // The browser checks with the console's own schema: 0 uses is refused next to the field.
    await admin.waitForFunction(() => document.getElementById('token-uses-error')?.textContent !== '');
    expect(await admin.evaluate(() => document.activeElement?.id)).toBe('token-uses');
    expect(await admin.getAttribute('#token-uses', 'aria-invalid')).toBe('true');
    await admin.keyboard.press('Control+A');
    await admin.keyboard.type('2');
    await admin.keyboard.press('Enter');
    await admin.waitForSelector('#token-once:not([hidden])');
    token = (await admin.textContent('#token-value'))!;
    expect(token.length).toBeGreaterThanOrEqual(24);
    expect(await admin.evaluate(() => document.activeElement?.id)).toBe('token-copy');
    await admin.keyboard.press('Enter');
    await admin.waitForFunction(() => document.getElementById('token-copy-result')?.textContent === 'Copied to the clipboard.');
    expect(await admin.evaluate(() => navigator.clipboard.readText())).toBe(token);
    await checkEveryView(admin, 'tokens-created');
    await tabTo(admin, '#token-done');
    await admin.keyboard.press('Enter');
    expect(await admin.textContent('#token-value')).toBe('');
    // The list never shows a token, only its label and uses.
    expect(await admin.locator('#token-rows').textContent()).not.toContain(token);

    const agent = startProcess([CLI, 'agent', '--data-dir', agentDir(), '--console', consoleProc.url, '--enroll-token', token], {
      VIGIL_BACKOFF_MAX_MS: '1000',
    });
    await agent.waitFor(/connected to console/, 30_000, 'stderr');
    await openFromNav(admin, 'nav-tokens', 'tokens');
    const tokenRow = admin.locator('#token-rows tr', { hasText: 'Year 9 laptops' });
    await admin.waitForFunction(() => document.querySelector('#token-rows tr')?.textContent?.includes('1 of 2'));
    expect(await tokenRow.textContent()).toContain('Usable');

    await tabTo(admin, '#token-rows button.danger');
    await admin.keyboard.press('Enter');
    await confirmDialog(admin);
    await admin.waitForFunction(() => document.querySelector('#token-rows tr')?.textContent?.includes('Revoked'));
    const pair = generateEd25519KeyPair();
    const key = { deviceId: randomUUID(), privateKey: createPrivateKey(pair.privateKeyPem), publicKey: pair.publicKey };
    await expect(enroll({ consoleUrl: consoleProc.url, token, key, hostname: 'late-laptop', platform: 'linux', machineIdHint: null })).rejects.toThrow();
    await checkEveryView(admin, 'tokens');
  });

  let sam: Page;
  let lab02: { device: RawDevice; socket: RawSocket };

  it('AUP: written and published in the browser, it reaches the real agent; the pupil page renders exactly the preview; coverage names who has not accepted', async () => {
    const policy = JSON.parse(readFileSync(join(REPO, 'policies/secondary-default.json'), 'utf8'));
    expect((await consoleProc.api('/api/v1/policies', { method: 'POST', body: JSON.stringify({ policy }) })).status).toBe(201);
    lab02 = await simulate('lab-02', ['pupil1', 'pupil2'], ['events', 'policy', 'session', 'commands']);

    ({ page: sam } = await newPage());
    await signIn(sam, 'sam');
    await openFromNav(sam, 'nav-aup', 'aup');
    await sam.waitForFunction(() => document.getElementById('aup-versions-empty')?.hidden === false);
    await checkEveryView(sam, 'aup-empty');

    await tabTo(sam, '#aup-variant');
    expect(await sam.inputValue('#aup-variant')).toBe('secondary');
    await sam.keyboard.press('Tab');
    await sam.keyboard.type('Using school computers');
    await tabTo(sam, '#aup-markdown');
    const markdown = [
      '# Be kind online',
      '',
      'Treat everyone with **respect**, and *think* before you post.',
      '',
      '- Keep your password to yourself',
      '- Tell a teacher if something worries you',
      '',
      '1. Log off when you finish',
      '',
      'Text is text: <img src=x onerror=alert(1)> stays words.',
    ].join('\n');
    await sam.keyboard.insertText(markdown);
    await tabTo(sam, '#aup-preview-button');
    await sam.keyboard.press('Enter');
    await sam.waitForSelector('#aup-preview:not([hidden])');
    expect(await sam.locator('#aup-preview-document strong').textContent()).toBe('respect');
    expect(await sam.locator('#aup-preview-document li').count()).toBe(3);
    expect(await sam.locator('#aup-preview-document img').count()).toBe(0);
    expect(await sam.locator('#aup-preview-document').textContent()).toContain('<img src=x onerror=alert(1)>');

    await tabTo(sam, '#aup-publish', { back: true });
    await sam.keyboard.press('Enter');
    await confirmDialog(sam);
    await sam.waitForFunction(() => /^Published secondary v1; sent to \d+ connected device/.test(document.getElementById('aup-result')?.textContent ?? ''));
    await sam.waitForSelector('#aup-version-rows tr[data-aup="secondary:1"]');

    // The real agent stores the signed AUP; the tray would show it through the AUP gate.
    const aupFile = paths(agentDir()).aup;
    await waitUntil(() => existsSync(aupFile), 15_000);
    const device = readDeviceFile(agentDir())!;
    const p = paths(agentDir());
    const records = new AcceptanceRecords(p.aupAcceptances);
    const outbox = new Outbox(p.outbox);
    await waitUntil(() => new PolicyStore(p.policy, device.consolePublicKey).bundle?.payload.policy.aup?.variant === 'secondary', 15_000);
    const aups = new AupStore(p.aup, device.consolePublicKey);
    const gate = new AupGate({
      deviceId: device.deviceId,
      key: loadOrCreateDeviceKey(agentDir()),
      aup: () => aupToShow(new PolicyStore(p.policy, device.consolePublicKey).bundle, aups.aup),
      school: () => 'Example Secondary School',
      records,
      askConsole: async () => ({ kind: 'offline' }),
      emit: (event) => void outbox.append([event]),
      logoff: async () => ({ ok: false, detail: 'test' }),
      log: createLogger('aup-test'),
    });
    const decision = await gate.decide('pupil1');
    expect(decision.needed).toBe(true);
    if (!decision.needed) return;
    expect(decision.page).toMatchObject({ variant: 'secondary', version: 1, title: 'Using school computers', markdown });

    const { page: pupil } = await newPage();
    await pupil.exposeFunction('__vigilBridge', async (op: string, arg: unknown) => {
      if (op === 'load') return decision.page;
      if (op === 'accept') return gate.accept('pupil1', arg as never);
      return { ok: true };
    });
    await pupil.addInitScript(() => {
      const call = (op: string, arg?: unknown) => (window as any).__vigilBridge(op, arg);
      (window as any).vigilAup = { load: () => call('load'), accept: (r: unknown) => call('accept', r), decline: () => call('decline') };
    });
    await pupil.goto(`${consoleProc.url}/aup/`);
    await pupil.waitForSelector('#aup[aria-busy="false"]');
    // Same renderer, same sheet: the pupil's document is the preview, node for node and style for style.
    const shape = (pg: Page, sel: string) =>
      pg.evaluate((s) => {
        const root = document.querySelector(s)!;
        const p = root.querySelector('p')!;
        const cs = getComputedStyle(p);
        return {
          html: root.innerHTML.replace(/<div class="end-marker"[^>]*><\/div>/, ''),
          font: `${cs.fontSize} ${cs.lineHeight} ${cs.fontFamily}`,
          h2: getComputedStyle(root.querySelector('h2')!).fontSize,
        };
      }, sel);
    expect(await shape(pupil, '#document')).toEqual(await shape(sam, '#aup-preview-document'));
    expect(await pupil.textContent('#aup-title')).toBe('Using school computers');
    await screenshot(pupil, 'admin-aup-pupil-page');
    await checkEveryView(pupil, 'aup-pupil-page');

    // pupil1 accepts on the real agent's device; the agent sends the receipt.
    await pupil.locator('#document').evaluate((el) => el.scrollTo(0, el.scrollHeight));
    await pupil.fill('#typed-name', 'Pupil One');
    await pupil.check('#agree-tick');
    await pupil.click('#accept');
    await pupil.waitForFunction(() => document.getElementById('still-needed')?.textContent === 'Thank you. You can now use this computer.');
    records.close();
    outbox.close();

    // Coverage: pupil1 (seen on lab-02) accepted on another device; pupil2 has not.
    const coverage = async () => (await consoleProc.api('/api/v1/aups/status?variant=secondary')).body;
    await waitUntil(async () => (await coverage()).rows.some((r: any) => r.user === 'pupil1' && r.acceptedAt), 20_000);
    await openFromNav(sam, 'nav-aup', 'aup');
    // The page was open before the acceptance: wait for the coverage it loads now, not the one it drew then.
    await sam.waitForFunction(() => /: [1-9]\d* of \d+ users accepted/.test(document.getElementById('aup-counts')?.textContent ?? ''));
    await tabTo(sam, '#aup-coverage-show');
    await sam.keyboard.press('ArrowDown');
    expect(await sam.inputValue('#aup-coverage-show')).toBe('all');
    const rowFor = (user: string) => sam.locator('#aup-coverage-rows tr', { has: sam.locator(`td:text-is("${user}")`) });
    await rowFor('pupil1').waitFor();
    expect(await rowFor('pupil1').textContent()).toMatch(/\(on another device\)Pupil One/);
    expect(await rowFor('pupil2').textContent()).toContain('Not yet');
    const { counts } = await coverage();
    expect(counts.accepted).toBeGreaterThanOrEqual(1);
    expect(await sam.textContent('#aup-counts')).toBe(
      `secondary v1: ${counts.accepted} of ${counts.users} users accepted, ${counts.notAccepted} not yet (on ${(await coverage()).devices} devices).`,
    );
    await sam.locator('#aup-coverage-show').focus();
    await sam.keyboard.press('ArrowUp');
    await sam.waitForFunction(() => document.getElementById('aup-coverage-rows')?.textContent?.includes('pupil2'));
    expect(await sam.locator('#aup-coverage-rows').textContent()).not.toContain('pupil1');
    expect(await sam.locator('#aup-chart .seg').count()).toBe(2);

    await tabTo(sam, '#aup-coverage-csv');
    const csv = parseCsv(await download(sam, () => sam.keyboard.press('Enter')));
    expect(csv[0]!.cells).toEqual([
      'variant',
      'version',
      'user',
      'hostname',
      'device_id',
      'last_seen_at',
      'accepted',
      'accepted_on_this_device',
      'accepted_at',
      'typed_name',
    ]);
    const pupil2 = csv.find((r) => r.cells[2] === 'pupil2' && r.cells[3] === 'lab-02')!;
    expect(pupil2.cells.slice(0, 2)).toEqual(['secondary', '1']);
    expect(pupil2.cells[6]).toBe('false');
    expect(csv.find((r) => r.cells[2] === 'pupil1' && r.cells[3] === 'lab-02')!.cells.slice(6, 8)).toEqual(['true', 'false']);
    await checkEveryView(sam, 'aup');

    // Per device and per user: lab-02 has pupil1 (accepted elsewhere) and pupil2 (not yet).
    const devicesSeen = new Set((await coverage()).rows.map((r: any) => r.deviceId)).size;
    await tabTo(sam, '#aup-coverage-by');
    await sam.keyboard.press('End');
    expect(await sam.inputValue('#aup-coverage-by')).toBe('device');
    const lab02Coverage = sam.locator('#aup-coverage-rows tr', { has: sam.locator('td:text-is("lab-02")') });
    await lab02Coverage.waitFor();
    expect(await lab02Coverage.locator('td').allTextContents()).toEqual(['lab-02', '2', '1', '1', 'pupil2']);
    expect(await sam.locator('#aup-coverage-head th').allTextContents()).toEqual(['Device', 'Users seen', 'Accepted', 'Not yet', 'Still to accept']);
    expect(await sam.textContent('#aup-device-counts')).toBe(
      `Devices: 0 of ${devicesSeen} with every signed-in user accepted, ${devicesSeen} with someone still to accept.`,
    );
    await tabTo(sam, '#aup-coverage-csv');
    const byDevice = parseCsv(await download(sam, () => sam.keyboard.press('Enter')));
    expect(byDevice[0]!.cells).toEqual(['variant', 'version', 'hostname', 'device_id', 'users', 'accepted', 'not_accepted', 'not_accepted_users']);
    expect(byDevice.find((r) => r.cells[2] === 'lab-02')!.cells).toEqual(['secondary', '1', 'lab-02', lab02.device.deviceId, '2', '1', '1', 'pupil2']);
    await checkEveryView(sam, 'aup-by-device');
    await tabTo(sam, '#aup-coverage-by', { back: true });
    await sam.keyboard.press('ArrowUp');
    expect(await sam.inputValue('#aup-coverage-by')).toBe('user');
    await sam.waitForFunction(() => document.querySelector('#aup-coverage-head th')?.textContent === 'User');
    expect(await sam.locator('#aup-coverage-rows tr td:first-child').allTextContents()).toEqual(['pupil2']);
    expect(await sam.locator('#aup-coverage-rows tr td').nth(1).textContent()).toBe('lab-02');
    await tabTo(sam, '#aup-coverage-csv');
    const byUser = parseCsv(await download(sam, () => sam.keyboard.press('Enter')));
    expect(byUser.map((r) => r.cells.slice(2, 5))).toEqual([
      ['user', 'hostnames', 'accepted'],
      ['pupil2', 'lab-02', 'false'],
    ]);
    await tabTo(sam, '#aup-coverage-by', { back: true });
    await sam.keyboard.press('Home');
    expect(await sam.inputValue('#aup-coverage-by')).toBe('pair');

    // The same list from the command line.
    const env = { VIGIL_CONSOLE_URL: consoleProc.url, VIGIL_TOKEN: consoleProc.token };
    const pending = await runCli(['aup', 'pending', '--variant', 'secondary'], env);
    expect(pending.code).toBe(0);
    expect(pending.stdout).toMatch(/^pupil2\s+lab-02\s/m);
    expect(pending.stdout).not.toMatch(/^pupil1\s/m);
    expect(pending.stdout).toContain(`secondary v1: ${counts.notAccepted} of ${counts.users} users seen on its devices have not accepted yet`);
    expect((await runCli(['aup', 'pending'], env)).code).toBe(2);
  });

  it('scan stations: registered with the keyboard, its reports shown, revoked after confirming, then refused', async () => {
    await openFromNav(sam, 'nav-stations', 'stations');
    await sam.waitForSelector('#stations-empty:not([hidden])');
    await checkEveryView(sam, 'stations-empty');
    const station = generateEd25519KeyPair();
    await tabTo(sam, '#station-id');
    await sam.keyboard.type('library-station');
    await sam.keyboard.press('Tab');
    await sam.keyboard.insertText('not a key');
    await tabTo(sam, '#station-register button[type=submit]');
    await sam.keyboard.press('Enter');
    await sam.waitForFunction(() => document.getElementById('station-key-error')?.textContent !== '');
    await tabTo(sam, '#station-key', { back: true });
    await sam.keyboard.press('Control+A');
    await sam.keyboard.insertText(station.publicKey);
    await tabTo(sam, '#station-register button[type=submit]');
    await sam.keyboard.press('Enter');
    await sam.waitForSelector('#station-rows tr[data-station-id="library-station"]');
    expect(await sam.textContent('#station-rows tr[data-station-id="library-station"]')).toContain('Trusted');

    const report = (outcome: 'clean' | 'infected') =>
      signStationReport(
        {
          reportId: randomUUID(),
          station: { id: 'library-station', keyId: keyId(station.publicKey) },
          scannedAt: new Date().toISOString(),
          outcome,
          detail: outcome === 'infected' ? '1 infected file(s) found' : '',
          counts: { files: 12, bytes: 4096, infected: outcome === 'infected' ? 1 : 0, problems: 0 },
          findings: outcome === 'infected' ? [{ kind: 'infected', path: 'Homework/<b>free</b>.exe', problem: 'Vigil.Test.UNOFFICIAL' }] : [],
          findingsOmitted: 0,
          volume: { fsUuid: '0b6c1e2a-1111-2222-3333-444455556666', fsType: 'ext4', label: 'PUPILDRIVE', usbSerial: null },
          engine: { name: 'clamav', version: '1.0.7', databaseVersion: '27500' },
        },
        station.privateKeyPem,
        station.publicKey,
      );
    expect((await sendStationReport(consoleProc.url, report('clean'))).stored).toBe(true);
    expect((await sendStationReport(consoleProc.url, report('infected'))).stored).toBe(true);
    await tabTo(sam, '#station-rows button.secondary');
    await sam.keyboard.press('Enter');
    await sam.waitForSelector('#station-reports:not([hidden])');
    await sam.waitForFunction(() => document.querySelectorAll('#station-report-rows tr').length === 2);
    expect(await sam.textContent('#station-reports-summary')).toBe('1 clean, 1 infected, 0 unreadable, 0 refused. Engine: clamav 1.0.7 (db 27500)');
    expect(await sam.evaluate(() => document.activeElement?.id)).toBe('station-reports-title');
    await checkEveryView(sam, 'stations');

    await tabTo(sam, '#station-rows button.danger', { back: true });
    await sam.keyboard.press('Enter');
    await confirmDialog(sam);
    await sam.waitForFunction(() => document.querySelector('#station-rows tr[data-station-id="library-station"]')?.textContent?.includes('Revoked'));
    await expect(sendStationReport(consoleProc.url, report('clean'))).rejects.toThrow();
  });

  it('audit log: filtered by action and time with the keyboard; the CSV holds exactly the filtered entries; a filter with no match says so', async () => {
    await openFromNav(admin, 'nav-audit', 'audit');
    await admin.waitForFunction(() => document.querySelectorAll('#audit-rows tr').length > 0);
    await tabTo(admin, '#audit-action');
    await admin.keyboard.type('STATION.');
    await admin.keyboard.press('Enter');
    await admin.waitForFunction(() => [...document.querySelectorAll('#audit-rows tr')].every((tr) => tr.children[2]?.textContent?.startsWith('station.')));
    const shown = await admin.locator('#audit-rows tr td:nth-child(3)').allTextContents();
    expect(shown).toEqual(expect.arrayContaining(['station.registered', 'station.revoked', 'station.scan']));
    const api = (await consoleProc.api('/api/v1/audit?action=station.')).body.audit;
    expect(shown).toHaveLength(api.length);
    await tabTo(admin, '#audit-csv');
    const csv = parseCsv(await download(admin, () => admin.keyboard.press('Enter')));
    expect(csv[0]!.cells).toEqual(['id', 'at', 'actor', 'action', 'target', 'detail']);
    expect(csv.slice(1).map((r) => r.cells[3])).toEqual(shown);
    await admin.locator('#audit-rows details summary').first().focus();
    await admin.keyboard.press('Enter');
    expect(await admin.locator('#audit-rows details[open] pre').first().textContent()).toMatch(/"/);
    await checkEveryView(admin, 'audit');

    await tabTo(admin, '#audit-actor', { back: true });
    await admin.keyboard.type('nobody-at-all');
    await admin.keyboard.press('Enter');
    await admin.waitForFunction(() => {
      const empty = document.getElementById('audit-empty');
      return empty?.hidden === false && empty.textContent === 'No entry matches this filter.';
    });
    expect(await admin.locator('#audit-rows tr').count()).toBe(0);
    // A time window that ends before anything happened matches nothing either.
    expect((await consoleProc.api('/api/v1/audit?to=2000-01-01T00:00:00Z')).body.audit).toEqual([]);
    expect((await consoleProc.api('/api/v1/audit?from=yesterday')).status).toBe(400);
  });

  it('devices: fleet summary and chart, no-matches state, CSV of the filtered grid, events as sentences, commands only where they can run, revoke updates the page live', async () => {
    await openFromNav(admin, 'nav-devices', 'devices');
    lab02.socket.send(eventFrame(1, 'app.blocked', blockedSteam()));
    const lab03 = await simulate('lab-03', [], []);
    await admin.waitForFunction(() => document.getElementById('fleet-blocks')?.textContent === 'Blocks in the last 24 h: 1');
    const online = (await consoleProc.api('/api/v1/devices')).body.devices.filter((d: any) => d.presence === 'online' && !d.revoked).length;
    expect(await admin.textContent('#fleet-online')).toBe(`${online} online`);
    expect(await admin.locator('#fleet-chart .seg-online').count()).toBe(1);

    await tabTo(admin, '#search');
    await admin.keyboard.type('zzz-no-such-device');
    await admin.waitForSelector('#no-matches:not([hidden])');
    await checkEveryView(admin, 'devices-no-matches');
    await tabTo(admin, '#clear-filters');
    await admin.keyboard.press('Enter');
    await admin.waitForSelector('#no-matches', { state: 'hidden' });
    expect(await admin.evaluate(() => document.activeElement?.id)).toBe('search');
    await admin.keyboard.type('lab-0');
    await tabTo(admin, '#devices-csv');
    const csv = parseCsv(await download(admin, () => admin.keyboard.press('Enter')));
    expect(csv).toHaveLength(3);
    expect(
      csv
        .slice(1)
        .map((r) => r.cells[2])
        .sort(),
    ).toEqual(['lab-02', 'lab-03']);
    const lab02Row = csv.find((r) => r.cells[2] === 'lab-02')!.cells;
    expect(lab02Row.at(-1)).toBe(lab02.device.deviceId);
    expect(lab02Row[4]).toBe('pupil1');
    await checkEveryView(admin, 'devices');

    // lab-03 does not run session control: no lock, log off or message.
    await admin.evaluate((id) => (location.hash = `#/device/${id}`), lab03.device.deviceId);
    await admin.waitForSelector('#device-page:not([hidden])');
    await admin.waitForFunction(() => document.getElementById('device-title')?.textContent === 'lab-03');
    expect(await admin.isVisible('#device-actions button[data-action="lock"]')).toBe(false);
    expect(await admin.isVisible('#device-actions button[data-action="policy-refresh"]')).toBe(true);
    expect(await admin.textContent('#actions-note')).toMatch(/does not run session control/);

    await admin.evaluate((id) => (location.hash = `#/device/${id}`), lab02.device.deviceId);
    await admin.waitForFunction(() => document.getElementById('device-title')?.textContent === 'lab-02');
    expect(await admin.isVisible('#device-actions button[data-action="lock"]')).toBe(true);
    await admin.waitForFunction(() => document.getElementById('event-rows')?.textContent?.includes('Blocked Steam for pupil1'));
    await admin.locator('#event-rows summary').first().focus();
    await admin.keyboard.press('Enter');
    expect(await admin.locator('#event-rows details[open] pre').first().textContent()).toContain('"path": "/usr/games/steam"');
    await checkEveryView(admin, 'device-page');

    await tabTo(admin, '#revoke-device');
    await admin.keyboard.press('Enter');
    await confirmDialog(admin);
    await admin.waitForFunction(() => document.getElementById('device-presence')?.textContent === 'Revoked');
    expect(await admin.isVisible('#revoke-device')).toBe(false);
    expect(await admin.isVisible('#device-actions')).toBe(false);
    expect(await admin.textContent('#actions-note')).toMatch(/revoked/);
    expect((await lab02.socket.closed).code).toBeGreaterThan(1000);
  });

  it('navigation by role: each role sees only its pages, a page outside the role is refused; the safeguarding lead links back', async () => {
    const visibleNav = (p: Page) => p.locator('#nav a:visible').allTextContents();
    expect(await visibleNav(admin)).toEqual(['Devices', 'Policies', 'App requests', 'AUP', 'Groups', 'Scan stations', 'Enrollment', 'Audit log', 'Users']);
    expect(await visibleNav(sam)).toEqual(['Devices', 'Policies', 'App requests', 'AUP', 'Groups', 'Scan stations']);
    const { page: tess } = await newPage();
    await signIn(tess, 'tess');
    expect(await visibleNav(tess)).toEqual(['Devices', 'Policies', 'AUP', 'Groups']);
    await tess.evaluate(() => (location.hash = '#/audit'));
    await tess.waitForSelector('#not-allowed:not([hidden])');
    expect(await tess.isVisible('#audit')).toBe(false);
    await checkEveryView(tess, 'not-allowed');
    await tess.evaluate(() => (location.hash = '#/aup'));
    await tess.waitForSelector('#aup:not([hidden])');
    expect(await tess.isVisible('#aup-editor')).toBe(false);
    expect(await tess.isVisible('#aup-readonly')).toBe(true);

    const { page: sally } = await newPage();
    await signIn(sally, 'sally');
    expect(await visibleNav(sally)).toEqual(['Devices', 'AUP', 'Concerns']);
    await openFromNav(sally, 'nav-concerns', 'queue');
    await checkEveryView(sally, 'safeguarding-queue');
    await tabTo(sally, '#back-to-dashboard', { back: true });
    await sally.keyboard.press('Enter');
    await sally.waitForSelector('#devices:not([hidden])');

    // Users is the account management page of its own (sign-in work), reached from the navigation and back.
    await openFromNav(admin, 'nav-users', 'users');
    await checkEveryView(admin, 'users');
    await tabTo(admin, '#back-to-dashboard', { back: true });
    await admin.keyboard.press('Enter');
    await admin.waitForSelector('#devices:not([hidden])');
    await admin.evaluate(() => (location.hash = '#/requests'));
    await admin.waitForSelector('#requests:not([hidden])');
    await checkEveryView(admin, 'requests');
  });

  it('the other pages pass too: sign-in, and the tray and AUP pages without their bridge (their error states)', async () => {
    const { page } = await newPage();
    await page.goto(`${consoleProc.url}/`);
    await page.waitForSelector('#sign-in:not([hidden])');
    await checkEveryView(page, 'sign-in');
    await page.goto(`${consoleProc.url}/safeguarding/`);
    await page.waitForSelector('#sign-in:not([hidden])');
    await checkEveryView(page, 'safeguarding-sign-in');
    for (const tray of ['status', 'concern', 'request-app', 'blocked', 'aup']) {
      await page.goto(`${consoleProc.url}/${tray}/`);
      await page.waitForLoadState('networkidle');
      await checkEveryView(page, `tray-${tray}-no-bridge`);
    }
    expect(pageErrors.filter((e) => !/must be opened/.test(e))).toEqual([]);
  });

  it('says clearly when the console cannot be reached, on every admin page', async () => {
    await consoleProc.stop();
    for (const [hash, error] of [
      ['#/tokens', 'tokens-error'],
      ['#/audit', 'audit-error'],
      ['#/stations', 'stations-error'],
      ['#/aup', 'aup-error'],
    ] as const) {
      await admin.evaluate((h) => (location.hash = h), hash);
      await admin.waitForFunction((id) => /could not be reached/.test(document.getElementById(id)?.textContent ?? ''), error);
    }
    await checkEveryView(admin, 'aup-console-down');
  });
});
