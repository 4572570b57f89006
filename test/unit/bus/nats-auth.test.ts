import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { busServerUnavailable, startNatsServer, type BusServer } from '../../../bench/bus-servers.js';
import type { ConsoleBus } from '../../../src/console/bus/bus.js';
import { parseBusUrl } from '../../../src/console/bus/bus-url.js';
import { openConsoleBus } from '../../../src/console/bus/open.js';
import { createLogger } from '../../../src/shared/node/log.js';
import { tempDir, waitUntil } from '../../helpers/processes.js';
import { skipReason } from '../../helpers/requirements.js';

const unavailable = skipReason('NATS with TLS and credentials', busServerUnavailable('nats'));
const PASSWORD = 'bus-password-Zq81xk';
const TOKEN = 'bus-token-Pw02mv7';
const DATABASE = 'postgres://unused/vigil';

let dir: ReturnType<typeof tempDir>;
let withUser: BusServer;
let withToken: BusServer;
let ca: string;
const logged: string[] = [];
const log = createLogger('bus-auth-test', 'debug', { write: (line) => void logged.push(line) });

/** A throwaway CA and a certificate for 127.0.0.1 signed by it (openssl). */
function makeCertificates(path: string): { ca: string; cert: string; key: string } {
  const at = (name: string) => join(path, name);
  const run = (args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  run(['req', '-x509', ...ec, '-keyout', at('ca.key'), '-out', at('ca.pem'), '-days', '1', '-subj', '/CN=vigil-test-ca']);
  run(['req', ...ec, '-keyout', at('server.key'), '-out', at('server.csr'), '-subj', '/CN=127.0.0.1']);
  writeFileSync(at('ext'), 'subjectAltName=IP:127.0.0.1\n');
  run([
    'x509',
    '-req',
    '-in',
    at('server.csr'),
    '-CA',
    at('ca.pem'),
    '-CAkey',
    at('ca.key'),
    '-CAcreateserial',
    '-out',
    at('server.pem'),
    '-days',
    '1',
    '-extfile',
    at('ext'),
  ]);
  return { ca: at('ca.pem'), cert: at('server.pem'), key: at('server.key') };
}

/** Two buses on one server pass a message between them. */
async function exchange(a: ConsoleBus, b: ConsoleBus): Promise<void> {
  const got: string[] = [];
  b.subscribe('vigil.test', z.strictObject({ n: z.string() }), (m) => void got.push(m.n));
  await waitUntil(
    () => {
      a.publish('vigil.test', { n: 'hello' });
      return got.length > 0;
    },
    10_000,
    () => 'no message crossed the bus',
  );
  expect(got[0]).toBe('hello');
}

describe.skipIf(unavailable)('the console bus over NATS with TLS and credentials', () => {
  beforeAll(async () => {
    dir = tempDir();
    const certs = makeCertificates(dir.path);
    ca = certs.ca;
    const tls = `tls { cert_file: "${certs.cert}", key_file: "${certs.key}" }`;
    writeFileSync(join(dir.path, 'user.conf'), `${tls}\nauthorization { user: vigil, password: "${PASSWORD}" }\n`);
    writeFileSync(join(dir.path, 'token.conf'), `authorization { token: "${TOKEN}" }\n`);
    withUser = await startNatsServer(join(dir.path, 'user.conf'));
    withToken = await startNatsServer(join(dir.path, 'token.conf'));
  }, 60_000);
  afterAll(async () => {
    await withUser?.stop();
    await withToken?.stop();
    dir?.remove();
  });

  it('signs in with a user and password over TLS checked against the given CA, and never logs the password', async () => {
    const bus = `tls://vigil:${PASSWORD}@127.0.0.1:${withUser.port}`;
    const a = await openConsoleBus({ bus, busCa: ca, database: DATABASE, env: {} }, log);
    // The second process takes its credentials and CA from the environment instead.
    const b = await openConsoleBus(
      { bus: `tls://127.0.0.1:${withUser.port}`, database: DATABASE, env: { VIGIL_BUS_USER: 'vigil', VIGIL_BUS_PASSWORD: PASSWORD, VIGIL_BUS_CA: ca } },
      log,
    );
    await exchange(a, b);
    await a.close();
    await b.close();
    expect(logged.some((line) => line.includes(`tls://127.0.0.1:${withUser.port}`))).toBe(true);
    expect(logged.filter((line) => line.includes(PASSWORD))).toEqual([]);
  });

  it('refuses a wrong password at start, saying so without quoting it', async () => {
    const wrong = 'not-the-password-123';
    const opening = openConsoleBus({ bus: `tls://vigil:${wrong}@127.0.0.1:${withUser.port}`, busCa: ca, database: DATABASE, env: {} }, log);
    await expect(opening).rejects.toThrow(/refused this console's credentials/);
    const message = await opening.catch((e: Error) => e.message);
    expect(message).not.toContain(wrong);
    expect(message).toContain(`tls://127.0.0.1:${withUser.port}`);
  });

  it('refuses a server whose certificate is not signed by a trusted CA', async () => {
    await expect(openConsoleBus({ bus: `tls://vigil:${PASSWORD}@127.0.0.1:${withUser.port}`, database: DATABASE, env: {} }, log)).rejects.toThrow(
      /trusted TLS connection.*--bus-ca/,
    );
  });

  it('says credentials are needed when none are given, and signs in with a token', async () => {
    await expect(openConsoleBus({ bus: `nats://127.0.0.1:${withToken.port}`, database: DATABASE, env: {} }, log)).rejects.toThrow(/requires credentials/);
    await expect(openConsoleBus({ bus: `nats://wrong-token@127.0.0.1:${withToken.port}`, database: DATABASE, env: {} }, log)).rejects.toThrow(
      /refused this console's credentials/,
    );
    const a = await openConsoleBus({ bus: `nats://${TOKEN}@127.0.0.1:${withToken.port}`, database: DATABASE, env: {} }, log);
    const b = await openConsoleBus({ bus: `nats://127.0.0.1:${withToken.port}`, database: DATABASE, env: { VIGIL_BUS_TOKEN: TOKEN } }, log);
    await exchange(a, b);
    await a.close();
    await b.close();
    expect(logged.filter((line) => line.includes(TOKEN))).toEqual([]);
  });
});

describe('bus URLs', () => {
  it('takes nats:// and tls:// with credentials in the URL or the environment, and shows neither', () => {
    expect(parseBusUrl('nats://u:p%40ss@bus.trust.internal')).toEqual({
      server: 'bus.trust.internal:4222',
      user: 'u',
      pass: 'p@ss',
      shown: 'nats://bus.trust.internal:4222',
    });
    expect(parseBusUrl('tls://tok@10.0.0.5:4443', {}, '/etc/vigil/ca.pem')).toEqual({
      server: '10.0.0.5:4443',
      token: 'tok',
      tls: { caFile: '/etc/vigil/ca.pem' },
      shown: 'tls://10.0.0.5:4443',
    });
    expect(parseBusUrl('nats://10.0.0.5', { VIGIL_BUS_CA: '/ca.pem' })).toMatchObject({ tls: { caFile: '/ca.pem' } });
    expect(parseBusUrl('nats://10.0.0.5', { VIGIL_BUS_USER: 'u' })).toBe('VIGIL_BUS_USER and VIGIL_BUS_PASSWORD go together');
  });

  it('refuses other schemes, paths and hostless URLs', () => {
    for (const url of ['redis://h:6379', 'http://h', 'nats://h:4222/x', 'nats://h?x=1', 'nats:///', 'h:4222']) expect(typeof parseBusUrl(url)).toBe('string');
  });
});
