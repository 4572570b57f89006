import { randomUUID } from 'node:crypto';
import { randomSecret, sha256Hex } from '../shared/node/crypto.js';
import { Password, Username } from '../shared/api.js';
import type { AuthService } from './auth.js';
import type { ConsoleStore } from './store/store.js';

export interface FirstRunSecrets {
  adminUsername: string;
  /** Present only when the console generated it: shown once, never stored in clear. */
  adminPassword: string | null;
  enrollToken: string | null;
}

/**
 * First start: an admin account and an enrollment token. Both can come from the environment
 * (VIGIL_ADMIN_USERNAME / VIGIL_ADMIN_PASSWORD / VIGIL_ENROLL_TOKEN) for scripted installs;
 * otherwise they are generated and printed once.
 */
export async function firstRun(store: ConsoleStore, auth: AuthService, env: NodeJS.ProcessEnv): Promise<FirstRunSecrets | null> {
  if ((await store.countUsers()) > 0) return null;
  const adminUsername = Username.parse(env.VIGIL_ADMIN_USERNAME ?? 'admin');
  const fromEnv = env.VIGIL_ADMIN_PASSWORD;
  if (fromEnv !== undefined) Password.parse(fromEnv);
  const password = fromEnv ?? randomSecret(18);
  await auth.createUser(adminUsername, password, 'admin');

  const tokenFromEnv = env.VIGIL_ENROLL_TOKEN;
  if (tokenFromEnv !== undefined && !/^[A-Za-z0-9_-]{16,256}$/.test(tokenFromEnv)) {
    throw new Error('VIGIL_ENROLL_TOKEN must be 16-256 letters, digits, "-" or "_"');
  }
  const token = tokenFromEnv ?? randomSecret(24);
  const now = new Date();
  await store.createEnrollToken({
    id: randomUUID(),
    tokenHash: sha256Hex(token),
    label: 'first-run',
    createdBy: adminUsername,
    createdAt: now.toISOString(),
    expiresAt: new Date(now.getTime() + 30 * 86400_000).toISOString(),
    maxUses: null,
    uses: 0,
    revoked: false,
  });
  await store.appendAudit({ at: now.toISOString(), actor: 'console', action: 'console.first-run', target: null, detail: { adminUsername } });
  return {
    adminUsername,
    adminPassword: fromEnv === undefined ? password : null,
    enrollToken: tokenFromEnv === undefined ? token : null,
  };
}
