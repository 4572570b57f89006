import { existsSync } from 'node:fs';
import { EnrollFileSchema } from '../../shared/api.js';
import { enrollAndSave, EnrollError } from '../../agent/enroll.js';
import { loadOrCreateDeviceKey, readDeviceFile } from '../../agent/identity.js';
import {
  defaultEnrollFilePath,
  enrollFileFromParameters,
  InstallConfigError,
  parametersFromInstallerArgs,
  writeEnrollFile,
} from '../../agent/install-config.js';
import { sendUninstallNotice, UninstallNoticeError } from '../../agent/uninstall-notice.js';
import { ensurePrivateDir } from '../../shared/node/files.js';
import { parse, readJsonFileArg } from '../args.js';
import { CliError, usageError } from '../errors.js';

export const INSTALL_HELP = `vigil install-config --console-url URL --enroll-token TOKEN [--console-key KEY] --out FILE
  Used by the installers (NSIS/MSI switches, macOS profile keys, Linux packaging): checks the
  parameters and writes the enrollment file the agent reads on first start (mode 600). Bad
  parameters are reported and nothing is written. The token may come from VIGIL_ENROLL_TOKEN
  instead of the command line. --allow-plain-http permits http:// to another machine (test labs).
vigil install-config --installer-args-env NAME --out FILE
  The same, reading the Windows installer's switches (/CONSOLEURL= /ENROLLTOKEN= /CONSOLEKEY=) from
  the command line the installer passes in environment variable NAME; writes nothing when none
  of them is there.

vigil agent enroll --data-dir DIR --enroll-file FILE
  Enrolls this device once and exits (package install scripts); does nothing if already enrolled.
vigil agent uninstall-notice --data-dir DIR
  Tells the console this device is being uninstalled (signed with the device key); the console
  revokes it. Exits 0 without sending when the device was never enrolled.`;

export async function runInstallConfig(argv: string[]): Promise<void> {
  const { values } = parse(argv, {
    'console-url': { type: 'string' },
    'enroll-token': { type: 'string' },
    'console-key': { type: 'string' },
    'installer-args-env': { type: 'string' },
    out: { type: 'string' },
    'allow-plain-http': { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) return void console.log(INSTALL_HELP);
  if (!values.out) throw usageError('--out FILE is required');
  let file;
  try {
    const fromInstaller = values['installer-args-env'];
    let params;
    if (fromInstaller !== undefined) {
      if (values['console-url'] !== undefined || values['enroll-token'] !== undefined || values['console-key'] !== undefined) {
        throw usageError('--installer-args-env takes the place of --console-url, --enroll-token and --console-key');
      }
      params = parametersFromInstallerArgs(process.env[fromInstaller] ?? '');
      if (!params) return void console.log('no enrollment switches on the installer command line: nothing written');
    } else {
      params = { consoleUrl: values['console-url'], enrollToken: values['enroll-token'] ?? process.env.VIGIL_ENROLL_TOKEN, consoleKey: values['console-key'] };
    }
    file = enrollFileFromParameters({ ...params, allowPlainHttp: values['allow-plain-http'] });
  } catch (error) {
    if (error instanceof InstallConfigError) throw usageError(error.message);
    throw error;
  }
  writeEnrollFile(values.out, file);
  console.log(`wrote ${values.out} (console ${file.consoleUrl}${file.consolePublicKey ? ', console key pinned' : ''})`);
}

/** `vigil agent enroll`: one enrollment, no service (install scripts). */
export async function runAgentEnroll(argv: string[], defaultDataDir: string): Promise<void> {
  const { values } = parse(argv, { 'data-dir': { type: 'string' }, 'enroll-file': { type: 'string' } });
  const dataDir = values['data-dir'] ?? defaultDataDir;
  const existing = readDeviceFile(dataDir);
  if (existing) return void console.log(`already enrolled as device ${existing.deviceId}`);
  const enrollFile = values['enroll-file'] ?? defaultEnrollFilePath();
  if (!existsSync(enrollFile)) throw usageError(`no enrollment file at ${enrollFile}`);
  const config = readJsonFileArg(enrollFile, EnrollFileSchema, 'enrollment file');
  ensurePrivateDir(dataDir);
  try {
    const device = await enrollAndSave({
      dataDir,
      consoleUrl: config.consoleUrl,
      token: config.enrollToken,
      key: loadOrCreateDeviceKey(dataDir),
      pinnedConsoleKey: config.consolePublicKey,
    });
    console.log(`enrolled as device ${device.deviceId} with ${device.consoleUrl}`);
  } catch (error) {
    if (error instanceof EnrollError) throw new CliError(error.message);
    throw error;
  }
}

/** `vigil agent uninstall-notice`: the removal script's message to the console. */
export async function runAgentUninstallNotice(argv: string[], defaultDataDir: string): Promise<void> {
  const { values } = parse(argv, { 'data-dir': { type: 'string' } });
  try {
    const result = await sendUninstallNotice(values['data-dir'] ?? defaultDataDir);
    console.log(result.sent ? `console told: device revoked${result.changed ? '' : ' (it already was)'}` : 'not enrolled: nothing to tell the console');
  } catch (error) {
    if (error instanceof UninstallNoticeError) throw new CliError(error.message);
    throw error;
  }
}
