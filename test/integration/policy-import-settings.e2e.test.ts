import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeUtf16le } from '../../src/shared/node/appcontrol/xml.js';
import { ChangeResponseSchema } from '../../src/shared/policies/api.js';
import { ImportPreviewResponseSchema, ImportResponseSchema } from '../../src/shared/policies/import-api.js';
import { startConsoleProcess, type ConsoleHandle } from '../helpers/fleet.js';
import { stopAll, tempDir } from '../helpers/processes.js';

/**
 * The Policies page's two server additions through a real console process: importing a rule
 * file (preview first: the importer's per-line notes and the diff, nothing stored; then one
 * revision), and replacing a policy's settings. Bad files and bad settings are refused with a
 * clear error and change nothing; a technician can do neither.
 */
let dir: ReturnType<typeof tempDir>;
let consoleProc: ConsoleHandle;
let techToken = '';
const HASH = (c: string) => c.repeat(64);
const b64 = (text: string | Buffer) => Buffer.from(text).toString('base64');
const state = async () => ({
  history: (await consoleProc.api('/api/v1/named-policies/baseline/history')).body.history.length as number,
  audit: (await consoleProc.api('/api/v1/audit?limit=1000')).body.audit.length as number,
  rules: (await consoleProc.api('/api/v1/named-policies/baseline/rules')).body.rules.length as number,
});
const post = (path: string, body: unknown, token?: string) =>
  consoleProc.api(`/api/v1/named-policies/baseline/${path}`, { method: 'POST', body: JSON.stringify(body), ...(token ? { token } : {}) });

const CSV = `kind,action,value,reason,expires_at
sha256,block,${HASH('a')},,
path,allow,/opt/exam/**,,
sha256,allow,${HASH('b')},exam week,2099-01-01T00:00:00Z
`;
const SANTA = `{"rules": [
{"identifier": "${HASH('d')}", "policy": "BLOCKLIST", "rule_type": "BINARY"},
{"identifier": "${HASH('e')}", "policy": "ALLOWLIST", "rule_type": "CERTIFICATE"}
]}`;
const APPLOCKER = `<?xml version="1.0" encoding="utf-16"?>
<AppLockerPolicy Version="1">
  <RuleCollection Type="Msi" EnforcementMode="Enabled" />
  <RuleCollection Type="Exe" EnforcementMode="Enabled">
    <FilePathRule Id="921cc481-6e17-4653-8f75-050b80acca20" Name="Program Files" Description="" UserOrGroupSid="S-1-1-0" Action="Allow">
      <Conditions>
        <FilePathCondition Path="%PROGRAMFILES%\\*" />
      </Conditions>
    </FilePathRule>
  </RuleCollection>
</AppLockerPolicy>
`;

beforeAll(async () => {
  dir = tempDir();
  consoleProc = await startConsoleProcess(join(dir.path, 'console'));
  const base = {
    format: 'vigil-policy/1',
    name: 'Base',
    aup: { variant: 'pupil' },
    applications: { mode: 'monitor', defaultAction: 'allow', rules: [], exceptions: [] },
  };
  expect((await consoleProc.api('/api/v1/named-policies/baseline/push', { method: 'POST', body: JSON.stringify({ document: base }) })).status).toBe(201);
  expect(
    (
      await consoleProc.api('/api/v1/users', {
        method: 'POST',
        body: JSON.stringify({ username: 'tess', password: 'a-long-enough-password-13', role: 'technician' }),
      })
    ).status,
  ).toBe(201);
  const login = await consoleProc.api('/api/v1/login', {
    method: 'POST',
    body: JSON.stringify({ username: 'tess', password: 'a-long-enough-password-13' }),
    token: null,
  });
  techToken = login.body.token;
}, 60_000);
afterAll(async () => {
  await stopAll();
  dir?.remove();
});

describe('importing a rule file into a named policy', { timeout: 120_000 }, () => {
  it('previews CSV, Santa and AppLocker files with the notes and the rules to be added, storing nothing', async () => {
    const before = await state();
    const csv = ImportPreviewResponseSchema.parse((await post('import/preview', { format: 'csv', content: b64(CSV) })).body);
    expect(csv).toMatchObject({ rules: 2, exceptions: 1, notes: [] });
    // The diff lists rules by key: the path rule, then the two hashes.
    expect(csv.diff.rules.added.map((r) => [r.rule.kind, r.rule.action, r.exception])).toEqual([
      ['path', 'allow', false],
      ['sha256', 'block', false],
      ['sha256', 'allow', true],
    ]);
    expect(csv.diff.rules.added[2]).toMatchObject({ reason: 'exam week', expiresAt: '2099-01-01T00:00:00Z', origin: 'console', author: 'admin' });

    const santa = ImportPreviewResponseSchema.parse((await post('import/preview', { format: 'santa', content: b64(SANTA) })).body);
    expect(santa.rules).toBe(1);
    expect(santa.notes).toEqual([{ line: 3, message: expect.stringMatching(/CERTIFICATE/) }]);

    const applocker = ImportPreviewResponseSchema.parse((await post('import/preview', { format: 'applocker', content: b64(encodeUtf16le(APPLOCKER)) })).body);
    expect(applocker).toMatchObject({ rules: 1, mode: 'enforce', defaultAction: 'block' });
    expect(applocker.notes).toEqual([
      { line: 3, message: expect.stringMatching(/Type="Msi".*not imported/) },
      { line: 0, message: expect.stringMatching(/sets mode enforce and default action block: an import adds rules only/) },
    ]);
    expect(applocker.diff.rules.added[0]!.rule).toMatchObject({ kind: 'path', platform: 'windows', pattern: '%PROGRAMFILES%\\*' });
    expect(await state()).toEqual(before);
  });

  it('refuses an unreadable file naming the line, a technician, and a commit without a reason; none changes anything', async () => {
    const before = await state();
    const bad = await post('import/preview', { format: 'csv', content: b64(`kind,action,value\nsha256,block,nothex\n`) });
    expect(bad).toMatchObject({ status: 400, body: { error: 'invalid-file', message: expect.stringMatching(/csv file could not be read: line 2/) } });
    expect((await post('import', { format: 'csv', content: b64(CSV), reason: 'x' })).status).toBe(400);
    expect((await post('import/preview', { format: 'csv', content: b64(CSV) }, techToken)).status).toBe(403);
    expect((await post('import', { format: 'csv', content: b64(CSV), reason: 'exam rules' }, techToken)).status).toBe(403);
    expect((await post('import', { format: 'xlsx', content: b64(CSV), reason: 'exam rules' })).status).toBe(400);
    expect(await state()).toEqual(before);
  });

  it('commits an import as one revision with the notes, and a second import of the same file changes nothing but the reason', async () => {
    const before = await state();
    const done = ImportResponseSchema.parse((await post('import', { format: 'csv', content: b64(CSV), reason: 'exam rules from the spreadsheet' })).body);
    expect(done.diff.rules.added).toHaveLength(3);
    expect(done.revision).toBe(before.history + 1);
    expect(done.version).toBeGreaterThan(0);
    const after = await state();
    expect(after).toMatchObject({ history: before.history + 1, rules: 3 });
    const audit = (await consoleProc.api('/api/v1/audit?limit=1000')).body.audit as { action: string; detail: Record<string, unknown> }[];
    expect(audit.filter((a) => a.action === 'policy.rule-add' && a.detail.imported === 3)).toEqual([
      expect.objectContaining({ detail: expect.objectContaining({ added: 3, changed: 0, reason: 'exam rules from the spreadsheet' }) }),
    ]);
    const again = ImportPreviewResponseSchema.parse((await post('import/preview', { format: 'csv', content: b64(CSV) })).body);
    expect(again.diff.rules.added).toEqual([]);
    expect(again.diff.rules.changed.map((c) => c.fields)).toEqual([['reason'], ['reason']]);
  });
});

describe("replacing a named policy's settings", { timeout: 60_000 }, () => {
  const put = (body: unknown, token?: string) =>
    consoleProc.api('/api/v1/named-policies/baseline/settings', { method: 'PUT', body: JSON.stringify(body), ...(token ? { token } : {}) });

  it('stores the settings as a revision, keeps the rules, and publishes', async () => {
    const before = await state();
    const current = (await consoleProc.api('/api/v1/named-policies/baseline')).body.policy.content.settings;
    const settings = {
      ...current,
      aup: { variant: 'secondary' },
      tray: { onStopped: 'lock', graceSeconds: 30 },
      applications: { mode: 'monitor', defaultAction: 'allow' },
    };
    const answer = await put({ settings, reason: 'secondary AUP from September' });
    expect(answer.status).toBe(200);
    expect(ChangeResponseSchema.parse(answer.body).version).toBeGreaterThan(0);
    const policy = (await consoleProc.api('/api/v1/named-policies/baseline')).body.policy;
    expect(policy.content.settings).toEqual(settings);
    expect(policy.content.rules).toHaveLength(before.rules);
    expect((await consoleProc.api('/api/v1/named-policies/baseline/history')).body.history[0]).toMatchObject({
      change: 'settings',
      reason: 'secondary AUP from September',
    });
    const diff = (await consoleProc.api('/api/v1/named-policies/baseline/diff')).body.diff;
    expect(diff.settings.map((s: { setting: string }) => s.setting)).toEqual(['aup', 'tray']);
  });

  it('refuses settings the schema refuses, naming the field, and a technician; nothing changes', async () => {
    const before = await state();
    const bad = await put({ settings: { session: { lockAfterIdleSeconds: 600, logoffAfterIdleSeconds: 300 } }, reason: 'tighter' });
    expect(bad).toMatchObject({ status: 400, body: { message: expect.stringMatching(/logoffAfterIdleSeconds/) } });
    expect((await put({ settings: {}, reason: 'clear' }, techToken)).status).toBe(403);
    expect(await state()).toEqual(before);
  });
});
