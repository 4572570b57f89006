import { existsSync, readFileSync } from 'node:fs';
import { describeFetchError } from '../shared/fetch-error.js';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { LoginResponseSchema } from '../shared/api.js';
import { writeFileAtomic } from '../shared/node/files.js';
import { CliError, usageError } from './errors.js';

/**
 * How the CLI reaches the console's API as a person: a console URL and a session token, from
 * (in order) flags/environment (VIGIL_CONSOLE_URL, VIGIL_TOKEN or VIGIL_USERNAME + VIGIL_PASSWORD)
 * or the session saved by `vigil login`.
 */
const SavedSessionSchema = z.strictObject({ consoleUrl: z.url(), token: z.string(), username: z.string(), expiresAt: z.string() });

export function sessionFile(): string {
  const base = process.env.XDG_CONFIG_HOME ?? join(homedir(), '.config');
  return join(base, 'vigil', 'cli-session.json');
}

/** Signs in; if the account has a second factor, `askCode` is asked for it and the sign-in sent again. */
export async function login(consoleUrl: string, username: string, password: string, askCode?: () => Promise<string>) {
  try {
    return LoginResponseSchema.parse(await request(consoleUrl, null, 'POST', '/api/v1/login', { username, password }));
  } catch (error) {
    if (!(error instanceof SecondFactorRequired) || !askCode) throw error;
  }
  const code = await askCode();
  return LoginResponseSchema.parse(await request(consoleUrl, null, 'POST', '/api/v1/login', { username, password, code }));
}

/** The console wants the second factor before it signs this account in. */
export class SecondFactorRequired extends CliError {}

export function saveSession(consoleUrl: string, session: z.infer<typeof LoginResponseSchema>): string {
  const file = sessionFile();
  writeFileAtomic(file, JSON.stringify({ consoleUrl, token: session.token, username: session.username, expiresAt: session.expiresAt }), 0o600);
  return file;
}

export class ApiClient {
  private constructor(
    readonly consoleUrl: string,
    private readonly token: string,
  ) {}

  static async fromEnvironment(consoleFlag: string | undefined): Promise<ApiClient> {
    const env = process.env;
    const saved = readSaved();
    const consoleUrl = consoleFlag ?? env.VIGIL_CONSOLE_URL ?? saved?.consoleUrl;
    if (!consoleUrl) throw usageError('no console given: use --console URL, set VIGIL_CONSOLE_URL, or run `vigil login` first');
    if (!/^https?:\/\//.test(consoleUrl)) throw usageError(`--console must be an http(s) URL, not "${consoleUrl}"`);
    if (env.VIGIL_TOKEN) return new ApiClient(consoleUrl, env.VIGIL_TOKEN);
    if (env.VIGIL_USERNAME && env.VIGIL_PASSWORD) {
      const session = await login(consoleUrl, env.VIGIL_USERNAME, env.VIGIL_PASSWORD);
      return new ApiClient(consoleUrl, session.token);
    }
    if (saved && saved.consoleUrl === consoleUrl && Date.parse(saved.expiresAt) > Date.now()) return new ApiClient(consoleUrl, saved.token);
    throw usageError('not signed in: run `vigil login`, or set VIGIL_USERNAME and VIGIL_PASSWORD (or VIGIL_TOKEN)');
  }

  call(method: string, path: string, body?: unknown): Promise<unknown> {
    return request(this.consoleUrl, this.token, method, path, body);
  }

  /** For endpoints that answer with text (CSV exports). */
  callText(method: string, path: string): Promise<string> {
    return request(this.consoleUrl, this.token, method, path, undefined, true) as Promise<string>;
  }
}

function readSaved() {
  const file = sessionFile();
  if (!existsSync(file)) return null;
  try {
    return SavedSessionSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
  } catch {
    return null;
  }
}

async function request(consoleUrl: string, token: string | null, method: string, path: string, body?: unknown, asText = false): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(new URL(path, consoleUrl), {
      method,
      headers: {
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (error) {
    throw new CliError(`cannot reach the console at ${consoleUrl}: ${describeFetchError(error)}`);
  }
  const text = await res.text();
  if (asText && res.ok) return text;
  let data: unknown = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    throw new CliError(`console answered ${res.status} with something that is not JSON`);
  }
  if (!res.ok) {
    const { message, error } = (data as { message?: string; error?: string } | null) ?? {};
    const text = `console refused (${res.status}): ${message ?? res.statusText}`;
    throw error === 'second-factor-required' ? new SecondFactorRequired(text) : new CliError(text);
  }
  return data;
}
