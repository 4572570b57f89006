import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { defaultEnrollFilePath, enrollFileFromParameters, InstallConfigError, parametersFromInstallerArgs } from '../../src/agent/install-config.js';
import { EnrollFileSchema } from '../../src/shared/api.js';
import { generateEd25519KeyPair } from '../../src/shared/node/crypto.js';
import { runCli, tempDirsPerTest } from '../helpers/processes.js';

/**
 * `vigil install-config`: what the NSIS/MSI switches, the macOS profile keys and Linux admins
 * hand to the installer becomes /etc/vigil/enroll.json (or %ProgramData%\Vigil\enroll.json),
 * checked against the schema the agent reads it with. Bad parameters: a clear error, no file.
 */
const key = generateEd25519KeyPair().publicKey;
const token = 'school-enroll-token-0123456789';
const dir = tempDirsPerTest();

describe('installer parameters', () => {
  it('good parameters make an enrollment file the agent accepts', () => {
    const file = enrollFileFromParameters({ consoleUrl: ' https://console.school.example:8443 ', enrollToken: token, consoleKey: key });
    expect(file).toEqual({ consoleUrl: 'https://console.school.example:8443', enrollToken: token, consolePublicKey: key });
    expect(EnrollFileSchema.parse(file)).toEqual(file);
  });

  it('an unset MSI property or profile key ("") counts as absent', () => {
    expect(enrollFileFromParameters({ consoleUrl: 'https://c.example', enrollToken: token, consoleKey: '' })).not.toHaveProperty('consolePublicKey');
    expect(() => enrollFileFromParameters({ consoleUrl: '', enrollToken: '', consoleKey: key })).toThrow(/missing console URL and enrollment token/);
  });

  it.each([
    [{ consoleUrl: 'ftp://console.example', enrollToken: token }, /consoleUrl/],
    [{ consoleUrl: 'not a url', enrollToken: token }, /consoleUrl/],
    [{ consoleUrl: 'https://c.example', enrollToken: 'short' }, /enrollToken/],
    [{ consoleUrl: 'https://c.example', enrollToken: token, consoleKey: 'bm90LWEta2V5' }, /consolePublicKey: not a base64 Ed25519 public key/],
    [{ consoleUrl: 'http://console.school.example', enrollToken: token }, /plain HTTP/],
  ])('refuses %o', (params, message) => {
    expect(() => enrollFileFromParameters(params)).toThrow(InstallConfigError);
    expect(() => enrollFileFromParameters(params)).toThrow(message);
  });

  it('plain HTTP to the same machine, or with the test-lab switch, is allowed', () => {
    expect(enrollFileFromParameters({ consoleUrl: 'http://127.0.0.1:8080', enrollToken: token }).consoleUrl).toBe('http://127.0.0.1:8080');
    expect(enrollFileFromParameters({ consoleUrl: 'http://lab.example', enrollToken: token, allowPlainHttp: true }).consoleUrl).toBe('http://lab.example');
  });
});

describe('Windows installer switches (the NSIS command line)', () => {
  const exe = '"C:\\Program Files\\Intune\\Vigil Setup 0.1.0.exe"';
  it("reads /CONSOLEURL= /ENROLLTOKEN= /CONSOLEKEY= among the installer's own switches", () => {
    expect(parametersFromInstallerArgs(`${exe} /S /CONSOLEURL=https://c.example:8443 /ENROLLTOKEN=${token} /CONSOLEKEY=${key} /D=C:\\Vigil`)).toEqual({
      consoleUrl: 'https://c.example:8443',
      enrollToken: token,
      consoleKey: key,
    });
  });
  it('takes quoted values and any case of switch name, as NSIS does', () => {
    expect(parametersFromInstallerArgs(`${exe} /s /consoleurl="https://c.example" /EnrollToken="${token}"`)).toEqual({
      consoleUrl: 'https://c.example',
      enrollToken: token,
    });
  });
  it('an unset MSI property arrives as an empty switch, and counts as absent', () => {
    const params = parametersFromInstallerArgs(`${exe} /S /CONSOLEURL=https://c.example /ENROLLTOKEN=${token} /CONSOLEKEY=`);
    expect(enrollFileFromParameters(params!)).toEqual({ consoleUrl: 'https://c.example', enrollToken: token });
  });
  it('no enrollment switch at all is not an error (interactive install, enroll.json deployed apart)', () => {
    expect(parametersFromInstallerArgs(`${exe} /S --updated`)).toBeNull();
    expect(parametersFromInstallerArgs('')).toBeNull();
  });
  it('a switch given twice is refused rather than guessed', () => {
    expect(() => parametersFromInstallerArgs(`${exe} /CONSOLEURL=https://a.example /consoleurl=https://b.example`)).toThrow(/\/CONSOLEURL= is given twice/);
  });
  it('a prefix of a switch name is not that switch', () => {
    expect(parametersFromInstallerArgs(`${exe} /CONSOLE=https://a.example /XCONSOLEURL=https://b.example`)).toBeNull();
  });
});

describe('where the enrollment file lives', () => {
  it('is /etc/vigil/enroll.json on Linux and macOS and under %ProgramData% on Windows', () => {
    expect(defaultEnrollFilePath('linux')).toBe('/etc/vigil/enroll.json');
    expect(defaultEnrollFilePath('darwin')).toBe('/etc/vigil/enroll.json');
    expect(defaultEnrollFilePath('win32', { ProgramData: 'D:\\ProgramData' })).toBe('D:\\ProgramData\\Vigil\\enroll.json');
  });
});

describe('vigil install-config', () => {
  it('writes the file, owner-only, from the command line (token from the environment also works)', async () => {
    const out = dir('etc/vigil/enroll.json');
    const result = await runCli(['install-config', '--console-url', 'https://console.school.example', '--console-key', key, '--out', out], {
      VIGIL_ENROLL_TOKEN: token,
    });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/console key pinned/);
    expect(JSON.parse(readFileSync(out, 'utf8'))).toEqual({ consoleUrl: 'https://console.school.example', enrollToken: token, consolePublicKey: key });
    expect(statSync(out).mode & 0o777).toBe(0o600);
  });

  it('--installer-args-env: reads the switches from the command line NSIS passes in the environment', async () => {
    const out = dir('ProgramData/Vigil/enroll.json');
    const cmdline = `"C:\\Vigil Setup.exe" /S /CONSOLEURL=https://console.school.example /ENROLLTOKEN=${token} /CONSOLEKEY=${key}`;
    const result = await runCli(['install-config', '--installer-args-env', 'VIGIL_INSTALLER_ARGS', '--out', out], { VIGIL_INSTALLER_ARGS: cmdline });
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(readFileSync(out, 'utf8'))).toEqual({ consoleUrl: 'https://console.school.example', enrollToken: token, consolePublicKey: key });
    const none = await runCli(['install-config', '--installer-args-env', 'VIGIL_INSTALLER_ARGS', '--out', dir('none.json')], {
      VIGIL_INSTALLER_ARGS: '"C:\\Vigil Setup.exe" /S',
    });
    expect(none.code).toBe(0);
    expect(none.stdout).toMatch(/nothing written/);
  });

  it.each([
    [
      ['--installer-args-env', 'VIGIL_INSTALLER_ARGS', '--out', 'OUT'],
      /consoleUrl/,
      '/S /CONSOLEURL=ftp://x.example /ENROLLTOKEN=school-enroll-token-0123456789',
    ],
    [['--installer-args-env', 'VIGIL_INSTALLER_ARGS', '--out', 'OUT'], /missing enrollment token/, '/S /CONSOLEURL=https://c.example /ENROLLTOKEN='],
    [['--installer-args-env', 'VIGIL_INSTALLER_ARGS', '--console-url', 'https://c.example', '--out', 'OUT'], /takes the place of/, '/S'],
  ])('--installer-args-env with bad switches %j: exit 2, nothing written', async (args, message, cmdline) => {
    const out = dir('enroll.json');
    const result = await runCli(['install-config', ...args.map((a) => (a === 'OUT' ? out : a))], { VIGIL_INSTALLER_ARGS: `"C:\\Vigil Setup.exe" ${cmdline}` });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(existsSync(out)).toBe(false);
  });

  it.each([
    [['--console-url', 'https://c.example', '--enroll-token', token], /--out FILE is required/],
    [['--enroll-token', token, '--out', 'OUT'], /missing console URL/],
    [['--console-url', 'https://c.example', '--enroll-token', token, '--console-key', 'nope', '--out', 'OUT'], /not a base64 Ed25519 public key/],
    [['--console-url', 'https://c.example', '--enroll-token', token, '--out', 'OUT', '--colour', 'blue'], /Unknown option '--colour'/],
  ])('bad input %j: exit 2, one clear line, nothing written', async (args, message) => {
    const out = dir('enroll.json');
    const result = await runCli(['install-config', ...args.map((a) => (a === 'OUT' ? out : a))], { VIGIL_ENROLL_TOKEN: '' });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(existsSync(out)).toBe(false);
  });
});

describe('vigil agent enroll / uninstall-notice (what the package scripts run)', () => {
  it('enroll refuses a missing or invalid enrollment file and creates no device state', async () => {
    const data = dir('var/lib/vigil');
    const missing = await runCli(['agent', 'enroll', '--data-dir', data, '--enroll-file', dir('nope.json')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/no enrollment file at/);
    const bad = dir('bad.json');
    writeFileSync(bad, JSON.stringify({ consoleUrl: 'https://c.example', enrollToken: 'short' }));
    const invalid = await runCli(['agent', 'enroll', '--data-dir', data, '--enroll-file', bad]);
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toMatch(/enrollment file .* is invalid: enrollToken/);
    expect(existsSync(data)).toBe(false);
  });

  it('uninstall-notice on a device that never enrolled has nothing to tell and succeeds', async () => {
    const result = await runCli(['agent', 'uninstall-notice', '--data-dir', dir('empty')]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/not enrolled: nothing to tell the console/);
  });
});
