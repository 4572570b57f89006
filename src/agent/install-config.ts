import { win32 } from 'node:path';
import { EnrollFileSchema, type EnrollFile } from '../shared/api.js';
import { writeFileAtomic } from '../shared/node/files.js';
import { isLoopback } from '../shared/net.js';
import { summariseZodError } from '../shared/zod-errors.js';

export class InstallConfigError extends Error {}

/** Where installers put the enrollment file and the agent looks for it by default. */
export function defaultEnrollFilePath(platform: NodeJS.Platform = process.platform, env: NodeJS.ProcessEnv = process.env): string {
  if (platform === 'win32') return win32.join(env.ProgramData ?? 'C:\\ProgramData', 'Vigil', 'enroll.json');
  return '/etc/vigil/enroll.json';
}

/** What an installer was given (silent-install switches, MSI properties, a configuration profile). */
export interface InstallParameters {
  consoleUrl?: string;
  enrollToken?: string;
  consoleKey?: string;
  /** Plain HTTP to a console on another machine is refused unless this is set (test labs). */
  allowPlainHttp?: boolean;
}

/**
 * Turns installer parameters into the enrollment file the agent reads on first start, checked
 * against the same schema the agent uses. Empty strings count as absent: an MSI property or a
 * profile key that was not set arrives as "".
 */
export function enrollFileFromParameters(params: InstallParameters): EnrollFile {
  const given = (value: string | undefined) => (value === undefined || value.trim() === '' ? undefined : value.trim());
  const candidate = {
    consoleUrl: given(params.consoleUrl),
    enrollToken: given(params.enrollToken),
    ...(given(params.consoleKey) ? { consolePublicKey: given(params.consoleKey) } : {}),
  };
  const missing = [candidate.consoleUrl ? null : 'console URL', candidate.enrollToken ? null : 'enrollment token'].filter(Boolean);
  if (missing.length) throw new InstallConfigError(`missing ${missing.join(' and ')}`);
  const parsed = EnrollFileSchema.safeParse(candidate);
  if (!parsed.success) throw new InstallConfigError(`invalid installer parameters: ${summariseZodError(parsed.error)}`);
  const url = new URL(parsed.data.consoleUrl);
  if (url.protocol === 'http:' && !isLoopback(url.hostname) && !params.allowPlainHttp) {
    throw new InstallConfigError('the console URL uses plain HTTP to another machine: use https (or allow plain HTTP on an isolated test network)');
  }
  return parsed.data;
}

/** The Windows installer's switches, by name (NSIS compares switch names case-insensitively). */
const INSTALLER_SWITCHES = { CONSOLEURL: 'consoleUrl', ENROLLTOKEN: 'enrollToken', CONSOLEKEY: 'consoleKey' } as const;

/**
 * Reads the enrollment parameters from the Windows installer's own command line, as NSIS saw it
 * in $CMDLINE: `"…\Vigil Setup.exe" /S /CONSOLEURL=https://… /ENROLLTOKEN=… /CONSOLEKEY=…`.
 * Other switches (/S, /D=, --updated) are ignored; a value may be double-quoted; an empty value
 * (an MSI property that was not set) counts as absent. Returns null when no enrollment switch is
 * there at all (an interactive install, or enroll.json deployed separately).
 */
export function parametersFromInstallerArgs(commandLine: string): InstallParameters | null {
  const params: InstallParameters = {};
  let seen = false;
  for (const [, rawToken] of commandLine.matchAll(/((?:"[^"]*"|[^\s"])+)/g)) {
    const token = rawToken!.replace(/"/g, '');
    const match = /^\/([A-Za-z]+)=(.*)$/s.exec(token);
    const field = match && INSTALLER_SWITCHES[match[1]!.toUpperCase() as keyof typeof INSTALLER_SWITCHES];
    if (!field) continue;
    if (params[field] !== undefined) throw new InstallConfigError(`the switch /${match![1]!.toUpperCase()}= is given twice`);
    params[field] = match![2]!;
    seen = true;
  }
  return seen ? params : null;
}

/** Writes the enrollment file readable by its owner only (the token in it enrolls devices). */
export function writeEnrollFile(path: string, file: EnrollFile): void {
  writeFileAtomic(path, `${JSON.stringify(file, null, 2)}\n`, 0o600);
}
