import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AppRuleSchema, ApplicationsSchema, MAX_APP_RULES, type AppRule } from '../../src/shared/app-rules.js';
import { exportAppLocker, importAppLocker } from '../../src/shared/node/appcontrol/applocker.js';
import { exportRulesCsv, importRulesCsv } from '../../src/shared/appcontrol/csv-rules.js';
import { ImportError } from '../../src/shared/appcontrol/import.js';
import { exportSanta, importSanta } from '../../src/shared/appcontrol/santa.js';
import { decodeXmlBytes, encodeUtf16le, parseXml, XmlError } from '../../src/shared/node/appcontrol/xml.js';
import { CLI } from '../helpers/processes.js';

const AUTH = 'C1D2E3F4A5B6C7D8E9F0A1B2C3D4E5F6A7B8C9D0E1F2A3B4C5D6E7F8A9B0C1D2';
const SHA = '0'.repeat(63) + '1';

// Written for this test in the shape Get-AppLockerPolicy -Xml produces (line numbers matter below).
const SAMPLE = `<?xml version="1.0" encoding="utf-16"?>
<AppLockerPolicy Version="1">
  <RuleCollection Type="Appx" EnforcementMode="Enabled">
    <FilePublisherRule Id="a9e18c21-ff8f-43cf-b9fc-db40eed693ba" Name="All signed packaged apps" Description="" UserOrGroupSid="S-1-1-0" Action="Allow" />
  </RuleCollection>
  <RuleCollection Type="Exe" EnforcementMode="AuditOnly">
    <!-- school rules -->
    <FilePathRule Id="921cc481-6e17-4653-8f75-050b80acca20" Name="Program Files" Description="Everything in Program Files" UserOrGroupSid="S-1-1-0" Action="Allow">
      <Conditions>
        <FilePathCondition Path="%PROGRAMFILES%\\*" />
      </Conditions>
    </FilePathRule>
    <FilePathRule Id="fd686d83-a829-4351-8ff4-27c7de5755d2" Name="(Default Rule) All files" Description="Allows members of the local Administrators group to run all applications." UserOrGroupSid="S-1-5-32-544" Action="Allow">
      <Conditions>
        <FilePathCondition Path="*" />
      </Conditions>
    </FilePathRule>
    <FilePublisherRule Id="b7af7102-efde-4369-8a89-7a6a392d1473" Name="Firefox &amp; friends" Description="" UserOrGroupSid="S-1-1-0" Action="Allow">
      <Conditions>
        <FilePublisherCondition PublisherName="O=MOZILLA CORPORATION, L=MOUNTAIN VIEW, S=CALIFORNIA, C=US" ProductName="FIREFOX" BinaryName="*">
          <BinaryVersionRange LowSection="*" HighSection="*" />
        </FilePublisherCondition>
      </Conditions>
    </FilePublisherRule>
    <FilePublisherRule Id="3c3b1b0e-6f0a-4d55-9c3c-2c4b8b7e9a11" Name="Old tool" Description="" UserOrGroupSid="S-1-1-0" Action="Allow">
      <Conditions>
        <FilePublisherCondition PublisherName="O=EXAMPLE LTD" ProductName="*" BinaryName="*">
          <BinaryVersionRange LowSection="1.0.0.0" HighSection="*" />
        </FilePublisherCondition>
      </Conditions>
    </FilePublisherRule>
    <FileHashRule Id="5e5c1c5a-0d6b-4c6e-8d1a-6a3b2d4c5e6f" Name="game.exe" Description="Blocked game" UserOrGroupSid="S-1-1-0" Action="Deny">
      <Conditions>
        <FileHashCondition>
          <FileHash Type="SHA256" Data="0x${AUTH}" SourceFileName="game.exe" SourceFileLength="123456" />
        </FileHashCondition>
      </Conditions>
    </FileHashRule>
  </RuleCollection>
</AppLockerPolicy>
`;

function utf16be(text: string, bom: boolean): Buffer {
  const le = Buffer.from(text, 'utf16le');
  for (let i = 0; i < le.length; i += 2) [le[i], le[i + 1]] = [le[i + 1]!, le[i]!];
  return bom ? Buffer.concat([Buffer.from([0xfe, 0xff]), le]) : le;
}

function errorOf(fn: () => unknown): ImportError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ImportError) return error;
    throw error;
  }
  throw new Error('expected an ImportError');
}

describe('AppLocker import', () => {
  const expected: AppRule[] = [
    {
      kind: 'path',
      platform: 'windows',
      pattern: '%PROGRAMFILES%\\*',
      action: 'allow',
      id: '921cc481-6e17-4653-8f75-050b80acca20',
      description: 'Everything in Program Files',
    },
    {
      kind: 'signer',
      publisher: 'O=MOZILLA CORPORATION, L=MOUNTAIN VIEW, S=CALIFORNIA, C=US',
      product: 'FIREFOX',
      action: 'allow',
      id: 'b7af7102-efde-4369-8a89-7a6a392d1473',
      description: 'Firefox & friends',
    },
    {
      kind: 'authenticode-sha256',
      hash: AUTH.toLowerCase(),
      fileName: 'game.exe',
      action: 'block',
      id: '5e5c1c5a-0d6b-4c6e-8d1a-6a3b2d4c5e6f',
      description: 'Blocked game',
    },
  ];

  it.each([
    ['UTF-8', Buffer.from(SAMPLE, 'utf8')],
    ['UTF-8 with BOM', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(SAMPLE, 'utf8')])],
    ['UTF-16 LE with BOM', encodeUtf16le(SAMPLE)],
    ['UTF-16 LE without BOM', Buffer.from(SAMPLE, 'utf16le')],
    ['UTF-16 BE with BOM', utf16be(SAMPLE, true)],
    ['UTF-16 BE without BOM', utf16be(SAMPLE, false)],
  ])('reads %s; the file hash is an Authenticode hash, and unsupported parts are reported by line', (_name, bytes) => {
    const result = importAppLocker(bytes);
    expect(result.rules).toEqual(expected);
    expect(result.mode).toBe('monitor');
    expect(result.defaultAction).toBe('block');
    expect(result.notes.map((n) => n.line)).toEqual([3, 13, 28]);
    expect(result.notes[0]!.message).toMatch(/Type="Appx".*executables only/);
    expect(result.notes[1]!.message).toMatch(/S-1-5-32-544.*not imported/);
    expect(result.notes[2]!.message).toMatch(/BinaryVersionRange 1\.0\.0\.0-\*.*not imported/);
  });

  it('round-trips through the AppLocker export', () => {
    const first = importAppLocker(Buffer.from(SAMPLE));
    const exported = exportAppLocker({ mode: first.mode!, defaultAction: first.defaultAction!, rules: first.rules });
    expect(exported.notes).toEqual([]);
    const second = importAppLocker(encodeUtf16le(exported.xml));
    expect(second.rules).toEqual(first.rules);
    expect(second.mode).toBe('monitor');
    expect(second.notes).toEqual([]);
  });

  it('gives line-precise errors for malformed files', () => {
    expect(errorOf(() => importAppLocker(Buffer.from(SAMPLE.replace('</FilePathRule>', '</FilePathRul>'))))).toMatchObject({ line: 12 });
    expect(errorOf(() => importAppLocker(Buffer.from(SAMPLE.replace('Action="Deny"', 'Action="Maybe"'))))).toMatchObject({ line: 32 });
    expect(errorOf(() => importAppLocker(Buffer.from(SAMPLE.replace(`0x${AUTH}`, '0x1234'))))).toMatchObject({ line: 35 });
    expect(errorOf(() => importAppLocker(Buffer.from(SAMPLE.replace('Name="game.exe"', 'Name="game.exe" Name="x"'))))).toMatchObject({ line: 32 });
    expect(errorOf(() => importAppLocker(Buffer.from(SAMPLE.split('\n').slice(0, 21).join('\n'))))).toMatchObject({
      line: 21,
      message: expect.stringMatching(/<FilePublisherCondition> \(line 20\) is never closed/),
    });
    expect(errorOf(() => importAppLocker(Buffer.from('<Policy/>')))).toMatchObject({ line: 1, message: expect.stringMatching(/not <AppLockerPolicy>/) });
    expect(errorOf(() => importAppLocker(Buffer.from([0xff, 0xfe, 0x3c])))).toMatchObject({ line: 1 });
    expect(errorOf(() => importAppLocker(Buffer.from([0x3c, 0x61, 0xff, 0x2f, 0x3e])))).toMatchObject({ message: expect.stringMatching(/not valid UTF-8/) });
  });

  it('refuses DOCTYPEs, custom and external entities (no XXE), and processing instructions', () => {
    const xxe = `<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n<AppLockerPolicy>&x;</AppLockerPolicy>`;
    expect(errorOf(() => importAppLocker(Buffer.from(xxe)))).toMatchObject({ line: 2, message: expect.stringMatching(/DOCTYPE is not allowed/) });
    const entity = `<AppLockerPolicy>\n<RuleCollection Type="Exe" EnforcementMode="&x;"/></AppLockerPolicy>`;
    expect(errorOf(() => importAppLocker(Buffer.from(entity)))).toMatchObject({
      line: 2,
      message: expect.stringMatching(/&x; is not one of the five predefined/),
    });
    expect(errorOf(() => importAppLocker(Buffer.from('<AppLockerPolicy>\n<?php x?></AppLockerPolicy>')))).toMatchObject({ line: 2 });
    expect(errorOf(() => importAppLocker(Buffer.from('<a>' + '<b>'.repeat(100))))).toMatchObject({ message: expect.stringMatching(/deeper than/) });
  });

  // Written for this test in the shape some AppLocker toolkits ship their templates: values to be
  // filled in per site. Before, every rule was skipped as "not Everyone" and the import was an
  // empty rule set with exit 0.
  const TEMPLATE = `<AppLockerPolicy Version="1">
  <RuleCollection Type="Exe" EnforcementMode="Enabled">
    <FilePathRule Id="921cc481-6e17-4653-8f75-050b80acca20" Name="Windows" Description="" UserOrGroupSid="%SID%" Action="Allow">
      <Conditions><FilePathCondition Path="%WINDIR%\\*" /></Conditions>
    </FilePathRule>
    <FilePathRule Id="fd686d83-a829-4351-8ff4-27c7de5755d2" Name="School apps" Description="" UserOrGroupSid="S-1-1-0" Action="Allow">
      <Conditions>
        <FilePathCondition Path="%SCHOOL_APPS%\\*" />
      </Conditions>
    </FilePathRule>
    <FileHashRule Id="5e5c1c5a-0d6b-4c6e-8d1a-6a3b2d4c5e6f" Name="game" Description="" UserOrGroupSid="S-1-1-0" Action="Deny">
      <Conditions><FileHashCondition>
        <FileHash Type="SHA256" Data="{{FILE_HASH}}" SourceFileName="game.exe" SourceFileLength="0" />
      </FileHashCondition></Conditions>
    </FileHashRule>
    <FilePublisherRule Id="b7af7102-efde-4369-8a89-7a6a392d1473" Name="Vendor" Description="" UserOrGroupSid="S-1-5-21-&lt;DOMAIN&gt;-513" Action="Allow">
      <Conditions>
        <FilePublisherCondition PublisherName="REPLACE_ME" ProductName="*" BinaryName="*"><BinaryVersionRange LowSection="*" HighSection="*" /></FilePublisherCondition>
      </Conditions>
    </FilePublisherRule>
  </RuleCollection>
</AppLockerPolicy>
`;

  it('refuses a template whose values are placeholders, naming each line that holds one', () => {
    const error = errorOf(() => importAppLocker(Buffer.from(TEMPLATE)));
    expect(error.line).toBe(3);
    expect(error.message).toMatch(/a template, not a policy: 5 value\(s\) are placeholders/);
    const named = [...error.message.matchAll(/line (\d+): <(\w+)> (\w+)=/g)].map((m) => [Number(m[1]), m[2], m[3]]);
    expect(named).toEqual([
      [3, 'FilePathRule', 'UserOrGroupSid'],
      [8, 'FilePathCondition', 'Path'],
      [13, 'FileHash', 'Data'],
      [16, 'FilePublisherRule', 'UserOrGroupSid'],
      [18, 'FilePublisherCondition', 'PublisherName'],
    ]);
    // AppLocker's own path variables (%WINDIR%, %PROGRAMFILES%, %OSDRIVE%...) are values, not placeholders.
    expect(error.message).not.toMatch(/WINDIR/);
    const filled = TEMPLATE.replace('%SID%', 'S-1-1-0')
      .replace('%SCHOOL_APPS%', '%OSDRIVE%\\\\Apps')
      .replace('{{FILE_HASH}}', `0x${AUTH}`)
      .replace('S-1-5-21-&lt;DOMAIN&gt;-513', 'S-1-1-0')
      .replace('REPLACE_ME', 'O=VENDOR LTD');
    expect(importAppLocker(Buffer.from(filled)).rules).toHaveLength(4);
  });

  it('the CLI refuses the template with a non-zero exit and prints nothing to import', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-applocker-'));
    try {
      const file = join(dir, 'template.xml');
      writeFileSync(file, TEMPLATE);
      const run = spawnSync(process.execPath, [CLI, 'app-rules', 'import', file, '--format', 'applocker'], { encoding: 'utf8', timeout: 30_000 });
      expect(run.status).not.toBe(0);
      expect(run.stdout).toBe('');
      for (const line of [3, 8, 13, 16, 18]) expect(run.stderr).toContain(`line ${line}: <`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('XML reader', () => {
  it('decodes the predefined entities and character references, keeps line numbers, and rejects bad ones', () => {
    const root = parseXml('<a x="&lt;&#65;&#x42;&quot;">\n<b>t&amp;u<![CDATA[<raw>]]></b><!-- c --></a>');
    expect(root.attributes.get('x')).toBe('<AB"');
    expect(root.children[0]).toMatchObject({ name: 'b', text: 't&u<raw>', line: 2 });
    expect(() => parseXml('<a>&#0;</a>')).toThrow(XmlError);
    expect(() => parseXml('<a>AT&T</a>')).toThrow(/entity reference/);
    expect(() => parseXml('<a></a><b/>')).toThrow(/after the root/);
    expect(decodeXmlBytes(Buffer.from([0xef, 0xbb, 0xbf, 0x3c, 0x61, 0x2f, 0x3e]))).toBe('<a/>');
  });
});

describe('AppLocker export', () => {
  it('writes an Exe collection; reports what AppLocker cannot express; a default allow becomes an allow-all path rule', () => {
    const rules = [
      { kind: 'sha256', sha256: SHA, action: 'allow', id: 'plain' },
      { kind: 'signer', teamId: 'EQHXZ8M8AV', action: 'allow', id: 'mac' },
      { kind: 'path', pattern: '/home/**', action: 'block', id: 'posix' },
      { kind: 'path', platform: 'windows', pattern: '%OSDRIVE%\\Users\\*\\Downloads\\*', action: 'block', description: 'No <downloads> & "such"' },
    ].map((r) => AppRuleSchema.parse(r));
    const { xml, notes } = exportAppLocker({ mode: 'enforce', defaultAction: 'allow', rules });
    expect(notes.map((n) => n.ruleId)).toEqual(['plain', 'mac', 'posix']);
    expect(notes[0]!.message).toMatch(/Authenticode/);
    expect(xml).toContain('<RuleCollection Type="Exe" EnforcementMode="Enabled">');
    expect(xml).toContain('Action="Deny"');
    expect(xml).toContain('<FilePathCondition Path="%OSDRIVE%\\Users\\*\\Downloads\\*" />');
    expect(xml).toContain('Name="No &lt;downloads&gt; &amp; &quot;such&quot;"');
    expect(xml).toMatch(
      /<FilePathRule Id="[0-9a-f-]{36}" Name="Vigil default action: allow"[^>]*Action="Allow">\r\n {6}<Conditions>\r\n {8}<FilePathCondition Path="\*" \/>/,
    );
    // Ids are stable GUIDs, so re-exporting an unchanged policy changes nothing on Windows.
    expect(exportAppLocker({ mode: 'enforce', defaultAction: 'allow', rules }).xml).toBe(xml);
    const back = importAppLocker(encodeUtf16le(xml));
    expect(back.rules.map((r) => r.kind)).toEqual(['path', 'path']);
  });
});

describe('Santa import and export', () => {
  const santa = `{
  "rules": [
    { "identifier": "${SHA}", "policy": "ALLOWLIST", "rule_type": "BINARY", "custom_msg": "calc" },
    { "identifier": "EQHXZ8M8AV", "policy": "BLOCKLIST", "rule_type": "TEAMID" },
    { "identifier": "EQHXZ8M8AV:com.google.Chrome", "policy": "ALLOWLIST", "rule_type": "SIGNINGID" },
    {
      "identifier": "7ae80b9ab38af0c63a9a81765f434d9a7cd8f720eb6037ef303de39d779bc258",
      "policy": "ALLOWLIST",
      "rule_type": "CERTIFICATE"
    },
    { "identifier": "platform:com.apple.Terminal", "policy": "BLOCKLIST", "rule_type": "SIGNINGID", "file_bundle_hash": "x" }
  ]
}`;

  it('imports BINARY, TEAMID and SIGNINGID; reports certificate and platform rules by line', () => {
    const result = importSanta(santa);
    expect(result.rules).toEqual([
      { kind: 'sha256', sha256: SHA, action: 'allow', description: 'calc' },
      { kind: 'signer', teamId: 'EQHXZ8M8AV', action: 'block' },
      { kind: 'signer', teamId: 'EQHXZ8M8AV', signingId: 'com.google.Chrome', action: 'allow' },
    ]);
    expect(result.notes.map((n) => [n.line, /CERTIFICATE/.test(n.message) || /file_bundle_hash|platform/.test(n.message)])).toEqual([
      [6, true],
      [11, true],
      [11, true],
    ]);
  });

  it('round-trips', () => {
    const first = importSanta(santa);
    const out = exportSanta(first.rules);
    expect(out.notes).toEqual([]);
    expect(importSanta(out.json).rules).toEqual(first.rules);
  });

  it('gives line-precise errors', () => {
    expect(errorOf(() => importSanta('{\n "rules": [\n  { "identifier": "x", }\n ]\n}'))).toMatchObject({ line: 3 });
    expect(errorOf(() => importSanta('{\n "rules": [\n  {"identifier": "abc", "policy": "ALLOWLIST", "rule_type": "BINARY"}\n ]\n}'))).toMatchObject({
      line: 3,
      message: expect.stringMatching(/SHA-256/),
    });
    expect(errorOf(() => importSanta('{"rules": 3}'))).toMatchObject({ line: 1 });
    expect(errorOf(() => importSanta('['.repeat(1000)))).toMatchObject({ message: expect.stringMatching(/deeper/) });
  });

  it("reads Santa's rule-download form: the hash under sha256 where identifier is absent, and the cursor beside the rules", () => {
    // The shape of a sync server's rule download (Santa's own sync tests use it), written for this test.
    const download = `{"rules": [{"rule_type": "BINARY", "policy": "BLOCKLIST", "sha256": "${'ab'.repeat(32)}", "custom_msg": ""},
{"rule_type": "CERTIFICATE", "policy": "ALLOWLIST", "sha256": "${'cd'.repeat(32)}", "custom_msg": ""}],
"cursor": "next-batch="}`;
    const result = importSanta(download);
    expect(result.rules).toEqual([{ kind: 'sha256', sha256: 'ab'.repeat(32), action: 'block' }]);
    expect(result.notes).toEqual([
      { line: 1, message: 'ignored top-level field(s) cursor' },
      { line: 2, message: expect.stringMatching(/^rule 2: \(CERTIFICATE cdcd.*\) a CERTIFICATE rule .* not imported$/) },
    ]);
  });

  it('accepts every form SNTRule accepts, and notes on its line what Vigil cannot enforce', () => {
    const lines = [
      '[',
      `{"Identifier": "${'ef'.repeat(32)}", "POLICY": "whitelist", "Rule_Type": "binary"},`, // 2: names and values in any case, old policy name
      `{"identifier": "", "sha256": "${'01'.repeat(32)}", "policy": "BLACKLIST", "rule_type": "BINARY", "custom_msg": 7},`, // 3: empty identifier -> sha256; non-text message ignored
      `{"identifier": "eqhxz8m8av", "policy": "SILENT_TTY_BLOCKLIST", "rule_type": "TEAMID", "comment": "no terminals"},`, // 4: silent block
      `{"identifier": "EQHXZ8M8AV:com.example.tool", "policy": "SILENT_GUI_BLOCKLIST", "rule_type": "SIGNINGID", "custom_url": "https://help.example/x"},`, // 5
      `{"identifier": "${'23'.repeat(32)}", "policy": "REMOVE", "rule_type": "BINARY"},`, // 6
      `{"identifier": "EQHXZ8M8AV:com.example.tool", "policy": "CEL", "rule_type": "SIGNINGID", "cel_expr": "target.signing_time >= timestamp('2025-05-31T00:00:00Z')"},`, // 7
      `{"identifier": "${'45'.repeat(32)}", "policy": "ALLOWLIST_LOCAL_BINARY", "rule_type": "BINARY"},`, // 8
      `{"identifier": "${'67'.repeat(20)}", "policy": "ALLOWLIST", "rule_type": "CDHASH"},`, // 9
      `{"identifier": "${'89'.repeat(32)}", "policy": "WHITELIST_COMPILER", "rule_type": "BINARY", "event_detail_button_label": "More"}`, // 10
      ']',
    ];
    const result = importSanta(lines.join('\n'));
    expect(result.rules).toEqual([
      { kind: 'sha256', sha256: 'ef'.repeat(32), action: 'allow' },
      { kind: 'sha256', sha256: '01'.repeat(32), action: 'block' },
      { kind: 'signer', teamId: 'EQHXZ8M8AV', action: 'block', description: 'no terminals' },
      { kind: 'signer', teamId: 'EQHXZ8M8AV', signingId: 'com.example.tool', action: 'block' },
      { kind: 'sha256', sha256: '89'.repeat(32), action: 'allow' },
    ]);
    const at = (line: number) => result.notes.filter((n) => n.line === line).map((n) => n.message);
    expect(at(2)).toEqual([]);
    expect(at(3)).toEqual([expect.stringMatching(/custom_msg is not text; ignored/)]);
    expect(at(4)).toEqual([expect.stringMatching(/silent block: imported as a block/)]);
    expect(at(5)).toEqual([expect.stringMatching(/custom_url .* ignored/), expect.stringMatching(/silent block/)]);
    expect(at(6)).toEqual([expect.stringMatching(/REMOVE entry deletes a rule/)]);
    expect(at(7)).toEqual([expect.stringMatching(/CEL rule .* not imported/)]);
    expect(at(8)).toEqual([expect.stringMatching(/local-approval rule .* not imported/)]);
    expect(at(9)).toEqual([expect.stringMatching(/CDHASH rule .* not imported/)]);
    expect(at(10)).toEqual([expect.stringMatching(/event_detail_button_label ignored/), expect.stringMatching(/compiler rule/)]);
  });

  it('refuses what SNTRule refuses, at its line: no identifier nor sha256, a policy that is not text', () => {
    expect(errorOf(() => importSanta(`[\n{"policy": "ALLOWLIST", "rule_type": "BINARY", "sha256": ""}\n]`))).toMatchObject({
      line: 2,
      message: expect.stringMatching(/no identifier \(nor a sha256\)/),
    });
    expect(errorOf(() => importSanta(`[\n{"identifier": "${SHA}", "policy": 1, "rule_type": "BINARY"}\n]`))).toMatchObject({
      line: 2,
      message: expect.stringMatching(/policy is missing or not text/),
    });
    expect(errorOf(() => importSanta(`[\n"${SHA}"\n]`))).toMatchObject({ message: expect.stringMatching(/not an object/) });
  });

  it(`says the policy's rule limit (${MAX_APP_RULES.toLocaleString('en')}) by name, at the first rule too many`, () => {
    const rule = (n: number) => `{"identifier": "${n.toString(16).padStart(64, '0')}", "policy": "ALLOWLIST", "rule_type": "BINARY"}`;
    const rules = Array.from({ length: MAX_APP_RULES + 1 }, (_, n) => rule(n));
    const error = errorOf(() => importSanta(`{"rules": [\n${rules.join(',\n')}\n]}`));
    expect(error).toMatchObject({ line: MAX_APP_RULES + 2, message: expect.stringMatching(/more than 200,000 rules: a policy holds at most 200,000/) });
    expect(error.message).not.toMatch(/Invalid input/);
  });
});

describe('CSV import and export', () => {
  const csv = [
    'kind,action,value,product,binary_name,id,description,groups,expires_at,reason',
    `sha256,allow,${SHA},,,calc,"Calculator, the school build",year-7;lab,,`,
    'path,block,/home/**,,,,,,,',
    `publisher,allow,"O=MOZILLA CORPORATION, C=US",FIREFOX,,,,,,`,
    'signing-id,allow,EQHXZ8M8AV:com.google.Chrome,,,,,,,',
    `authenticode-sha256,block,${AUTH},,,,'=SUM(A1),,,`,
    'windows-path,allow,%PROGRAMFILES%\\*,,,,,,2026-12-01T00:00:00Z,exam week',
  ].join('\r\n');

  it('imports every kind, exceptions with expiry and reason, and round-trips (formula cells defused both ways)', () => {
    const first = importRulesCsv(csv);
    expect(first.rules).toHaveLength(5);
    expect(first.rules[0]).toEqual({
      kind: 'sha256',
      sha256: SHA,
      action: 'allow',
      id: 'calc',
      description: 'Calculator, the school build',
      groups: ['year-7', 'lab'],
    });
    expect(first.rules[4]).toMatchObject({ description: '=SUM(A1)' });
    expect(first.exceptions).toEqual([
      { rule: { kind: 'path', platform: 'windows', pattern: '%PROGRAMFILES%\\*', action: 'allow' }, reason: 'exam week', expiresAt: '2026-12-01T00:00:00Z' },
    ]);
    const out = exportRulesCsv(first.rules, first.exceptions);
    expect(out).toContain(`,"'=SUM(A1)",`);
    const second = importRulesCsv(out);
    expect(second.rules).toEqual(first.rules);
    expect(second.exceptions).toEqual(first.exceptions);
  });

  it('gives line-precise errors', () => {
    const lines = csv.split('\r\n');
    const bad = (n: number, row: string) => [...lines.slice(0, n), row, ...lines.slice(n + 1)].join('\n');
    expect(errorOf(() => importRulesCsv(bad(3, 'path,block,relative/*,,,,,,,')))).toMatchObject({ line: 4, message: expect.stringMatching(/absolute/) });
    expect(errorOf(() => importRulesCsv(bad(2, 'sha256,allow,abc,,,,,,,')))).toMatchObject({ line: 3 });
    expect(errorOf(() => importRulesCsv(bad(2, 'hash,allow,abc,,,,,,,')))).toMatchObject({ line: 3, message: expect.stringMatching(/unknown kind/) });
    expect(errorOf(() => importRulesCsv(bad(4, 'sha256,allow')))).toMatchObject({ line: 5 });
    expect(errorOf(() => importRulesCsv(bad(5, `sha256,allow,${SHA},,,,,,2026-12-01T00:00:00Z,`)))).toMatchObject({
      line: 6,
      message: expect.stringMatching(/reason/),
    });
    expect(errorOf(() => importRulesCsv('kind,action,value,colour\n'))).toMatchObject({ line: 1 });
    expect(errorOf(() => importRulesCsv(`kind,action,value\npath,allow,"/a\n/b\npath,allow,/c\n`))).toMatchObject({
      line: 2,
      message: expect.stringMatching(/never closed/),
    });
  });

  it(`holds the policy's rule limit: ${MAX_APP_RULES.toLocaleString('en')} rules import, one more is refused by name at its row`, () => {
    const header = 'kind,action,value';
    const rows = Array.from({ length: MAX_APP_RULES + 1 }, (_, n) => `sha256,allow,${n.toString(16).padStart(64, '0')}`);
    const error = errorOf(() => importRulesCsv([header, ...rows].join('\n')));
    expect(error).toMatchObject({ line: MAX_APP_RULES + 2, message: expect.stringMatching(/more than 200,000 rules: a policy holds at most 200,000/) });
    const atLimit = importRulesCsv([header, ...rows.slice(1)].join('\n'));
    expect(atLimit.rules).toHaveLength(MAX_APP_RULES);
    // What the importer accepts, the policy schema accepts too.
    expect(ApplicationsSchema.safeParse({ rules: atLimit.rules }).success).toBe(true);
  });
});
