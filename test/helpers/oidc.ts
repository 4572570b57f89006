import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SsoConfig } from '../../src/shared/sso-config.js';
import { REPO, startProcess, type Proc } from './processes.js';

/** A person at the test provider: the claims its id_token carries for them. */
export type TestPerson = Record<string, unknown>;

export interface TestProvider {
  proc: Proc;
  issuer: string;
  /** Alters the next token response in one way (see oidc-provider.mjs). */
  tamper(mode: 'signature' | 'issuer' | 'audience' | 'expired' | 'nonce'): Promise<void>;
  /** Changes what the provider says about a person from now on (e.g. their groups). */
  setPerson(id: string, claims: TestPerson): Promise<void>;
}

export const TEST_CLIENT = { id: 'vigil-console', secret: 'test-client-secret-0123456789' };

/** Starts the real `oidc-provider` as its own process, with the console's client registered. */
export async function startTestProvider(redirectUris: string[], people: Record<string, TestPerson>): Promise<TestProvider> {
  const spec = {
    clients: [
      {
        client_id: TEST_CLIENT.id,
        client_secret: TEST_CLIENT.secret,
        redirect_uris: redirectUris,
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_post',
      },
    ],
    people,
  };
  const proc = startProcess([join(REPO, 'test/helpers/oidc-provider.mjs')], { VIGIL_TEST_OP: JSON.stringify(spec) });
  const [, issuer] = await proc.waitFor(/listening on (http:\/\/\S+)/, 30_000);
  const post = async (path: string, body: unknown) => {
    const res = await fetch(`${issuer}${path}`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
    if (!res.ok) throw new Error(`test provider ${path}: ${res.status}`);
  };
  return {
    proc,
    issuer: issuer!,
    tamper: (mode) => post('/__test/tamper', { mode }),
    setPerson: (id, claims) => post('/__test/person', { id, claims }),
  };
}

/** Writes the console's --sso-config file for the test provider. */
export function writeSsoConfig(dir: string, issuer: string, consoleUrl: string, rules: Partial<SsoConfig> = {}): string {
  const file = join(dir, 'sso.json');
  const config = {
    label: 'School account',
    issuer,
    clientId: TEST_CLIENT.id,
    clientSecret: TEST_CLIENT.secret,
    redirectUri: `${consoleUrl}/api/v1/sso/callback`,
    allowHttpLoopbackIssuer: true,
    ...rules,
  };
  writeFileSync(file, JSON.stringify(config, null, 2), { mode: 0o600 });
  return file;
}
