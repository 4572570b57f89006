import { describe, expect, it } from 'vitest';
import { AuthService } from '../../src/console/auth.js';
import { HttpError } from '../../src/console/http/http-error.js';
import { openSqliteStore } from '../../src/console/store/sqlite-store.js';
import { tempDirsPerTest } from '../helpers/processes.js';

const tempPath = tempDirsPerTest();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('AuthService (real SQLite)', () => {
  it('stores passwords as scrypt hashes and tokens only as hashes', async () => {
    const store = openSqliteStore(tempPath('console.db'));
    const auth = new AuthService(store);
    await auth.createUser('admin', 'a-long-admin-password', 'admin');
    expect((await store.getUser('admin'))!.passwordHash).toMatch(/^scrypt\$131072\$8\$1\$/);
    const { token } = await auth.login('admin', 'a-long-admin-password', '127.0.0.1');
    expect(await auth.principalForToken(token)).toMatchObject({ username: 'admin', role: 'admin' });
    expect(await store.getSession(token)).toBeNull();
    await store.close();
  });

  it('ends sessions at their absolute lifetime and after idling', async () => {
    const store = openSqliteStore(tempPath('console.db'));
    await new AuthService(store).createUser('tech', 'a-long-tech-password', 'technician');
    const shortLived = new AuthService(store, { sessionMaxAgeMs: 300, sessionIdleMs: 60_000 });
    const a = await shortLived.login('tech', 'a-long-tech-password', '127.0.0.1');
    expect(await shortLived.principalForToken(a.token)).not.toBeNull();
    await sleep(350);
    expect(await shortLived.principalForToken(a.token)).toBeNull();

    const idle = new AuthService(store, { sessionMaxAgeMs: 60_000, sessionIdleMs: 300 });
    const b = await idle.login('tech', 'a-long-tech-password', '127.0.0.1');
    await sleep(350);
    expect(await idle.principalForToken(b.token)).toBeNull();
    await store.close();
  });

  it('locks a username after repeated failures, even for the right password', async () => {
    const store = openSqliteStore(tempPath('console.db'));
    const auth = new AuthService(store);
    await auth.createUser('admin', 'a-long-admin-password', 'admin');
    for (let i = 0; i < 5; i++) await expect(auth.login('admin', 'wrong', '10.0.0.1')).rejects.toMatchObject({ status: 401 });
    const locked = await auth.login('admin', 'a-long-admin-password', '10.0.0.2').catch((e: HttpError) => e);
    expect(locked).toMatchObject({ status: 429 });
    expect((locked as HttpError).headers['Retry-After']).toBe('60');
    await store.close();
  });
});
