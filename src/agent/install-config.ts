import { win32 } from 'node:path';
import { EnrollFileSchema, type EnrollFile } from '../shared/api.js';
import { writeFileAtomic } from '../shared/files.js';
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

/** Writes the enrollment file readable by its owner only (the token in it enrolls devices). */
export function writeEnrollFile(path: string, file: EnrollFile): void {
  writeFileAtomic(path, `${JSON.stringify(file, null, 2)}\n`, 0o600);
}
