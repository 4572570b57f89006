import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { summariseZodError } from '../../shared/zod-errors.js';
import { SsoConfigSchema, type SsoConfig } from '../../shared/sso-config.js';
import { join } from 'node:path';
import { DEFAULT_CONCERN_RETENTION_DAYS } from '../../console/concerns.js';
import { parseTrustedProxies } from '../../console/http/client-address.js';
import { startConsole } from '../../console/server.js';
import { copySqliteToPostgres } from '../../console/store/copy.js';
import { consoleDatabaseFile, isPostgresUrl } from '../../console/store/open.js';
import { parseBusUrl } from '../../console/bus/bus-url.js';
import { describeDatabase } from '../../console/store/postgres-store.js';
import { intOption, isRoot, parse } from '../args.js';
import { usageError } from '../errors.js';

export const CONSOLE_HELP = `vigil console [options]
  Runs the console: HTTP API, dashboard and the agents' WebSocket endpoint.
  --data-dir DIR       where the database and signing key live
                       (default: /var/lib/vigil-console as root, else ~/.local/share/vigil-console)
  --database URL       keep state in PostgreSQL (postgres://user@host/db; password from PGPASSWORD
                       or ~/.pgpass) so several console processes can share it (docs/scaling.md);
                       without it, embedded SQLite in the data directory. Every process needs the
                       same console-signing-key.pem in its data directory.
  --bus URL            the NATS message bus (nats://host:4222) that console processes on one
                       --database share: dashboards, commands, policy and AUP notices and sign-in
                       limits reach every process (docs/scaling.md). Needs --database.
                       tls://host:4222 requires TLS; nats://user:password@host or
                       nats://token@host signs in (or VIGIL_BUS_USER + VIGIL_BUS_PASSWORD, or
                       VIGIL_BUS_TOKEN, to keep them off the command line)
  --bus-ca FILE        the CA that signed the bus server's certificate (or VIGIL_BUS_CA); TLS
                       is then required
  --host HOST          address to listen on (default 127.0.0.1)
  --port PORT          port (default 8443 with TLS, else 8080; 0 = any free port)
  --tls-cert FILE      PEM certificate; with --tls-key serves HTTPS
  --tls-key FILE       PEM private key
  --trust-proxy ADDR   a load balancer's IP address (repeatable): requests from it are taken to
                       come from the address it appends to X-Forwarded-For (docs/haproxy.cfg)
  --ping-interval SEC  how often agents are pinged to detect dead connections (default 15)
  --retention-days N   delete device events older than this (default 180)
  --concern-retention-days N
                       delete a closed concern this many days after it was closed (default 365)
  --sso-config FILE    staff sign-in through the school's OpenID provider (Entra ID, Google
                       Workspace): see docs/sign-in.md; the client secret may instead be given
                       in VIGIL_SSO_CLIENT_SECRET
  First start creates the signing key, an admin account and an enrollment token and prints them once
  (or takes VIGIL_ADMIN_USERNAME, VIGIL_ADMIN_PASSWORD and VIGIL_ENROLL_TOKEN from the environment).

vigil console migrate --to URL [--data-dir DIR]
  Copies a stopped console's embedded database (DIR/console.db) into an empty PostgreSQL database:
  devices, keys, policies, AUPs, receipts, users, audit, stations, events and everything else.
  Refuses a target that holds any data. Then run: vigil console --data-dir DIR --database URL`;

/** The --sso-config file, checked in full before the console starts (a typo must not open sign-in to anyone). */
function readSsoConfig(file: string): { config: SsoConfig; clientSecret?: string } {
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw usageError(`cannot read --sso-config ${file}: ${(error as Error).message}`);
  }
  const parsed = SsoConfigSchema.safeParse(data);
  if (!parsed.success) throw usageError(`--sso-config ${file} is invalid: ${summariseZodError(parsed.error)}`);
  return { config: parsed.data, clientSecret: process.env.VIGIL_SSO_CLIENT_SECRET ?? parsed.data.clientSecret };
}

export function defaultConsoleDataDir(): string {
  return process.env.VIGIL_CONSOLE_DATA_DIR ?? (isRoot() ? '/var/lib/vigil-console' : join(homedir(), '.local/share/vigil-console'));
}

export async function runConsole(argv: string[]): Promise<void> {
  if (argv[0] === 'migrate') return runConsoleMigrate(argv.slice(1));
  const { values } = parse(argv, {
    'data-dir': { type: 'string' },
    database: { type: 'string' },
    bus: { type: 'string' },
    'bus-ca': { type: 'string' },
    host: { type: 'string' },
    port: { type: 'string' },
    'tls-cert': { type: 'string' },
    'tls-key': { type: 'string' },
    'ping-interval': { type: 'string' },
    'trust-proxy': { type: 'string', multiple: true },
    'retention-days': { type: 'string' },
    'concern-retention-days': { type: 'string' },
    'sso-config': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) return void console.log(CONSOLE_HELP);
  if (!!values['tls-cert'] !== !!values['tls-key']) throw usageError('--tls-cert and --tls-key go together');
  const tls = !!values['tls-cert'];
  if (values.database !== undefined && !isPostgresUrl(values.database)) throw usageError('--database must be a postgres:// or postgresql:// URL');
  const busTarget = values.bus === undefined ? undefined : parseBusUrl(values.bus, process.env, values['bus-ca'] ?? process.env.VIGIL_BUS_CA);
  if (typeof busTarget === 'string') throw usageError(busTarget);
  if (values['bus-ca'] !== undefined && values.bus === undefined) throw usageError('--bus-ca goes with --bus');
  if (values.bus !== undefined && values.database === undefined) {
    throw usageError(
      '--bus needs --database postgres://…: processes sharing a bus must share one PostgreSQL database; the embedded SQLite store is for one process',
    );
  }
  const pingSeconds = intOption(values['ping-interval'], 'ping-interval', 1, 3600, 15);
  const trustedProxies = parseTrustedProxies(values['trust-proxy'] ?? []);
  if (typeof trustedProxies === 'string') throw usageError(trustedProxies);
  const running = await startConsole({
    dataDir: values['data-dir'] ?? defaultConsoleDataDir(),
    database: values.database,
    bus: values.bus,
    busCa: values['bus-ca'],
    host: values.host ?? '127.0.0.1',
    port: intOption(values.port, 'port', 0, 65535, tls ? 8443 : 8080),
    tlsCert: values['tls-cert'],
    tlsKey: values['tls-key'],
    hub: { pingIntervalMs: pingSeconds * 1000, ...pendingCapFromEnv() },
    retentionDays: intOption(values['retention-days'], 'retention-days', 1, 3650, 180),
    concernRetentionDays: intOption(values['concern-retention-days'], 'concern-retention-days', 1, 3650, DEFAULT_CONCERN_RETENTION_DAYS),
    sso: values['sso-config'] ? readSsoConfig(values['sso-config']) : undefined,
    trustedProxies,
  });
  console.log(`Vigil console listening on ${running.url}`);
  console.log(`Dashboard: ${running.url}/`);
  console.log(`Safeguarding (concerns): ${running.url}/safeguarding/`);
  console.log(`Console signing key: ${running.identity.keyId} (public key ${running.identity.publicKey})`);
  for (const warning of running.warnings) console.log(`WARNING: ${warning}`);
  if (running.firstRun) {
    const s = running.firstRun;
    console.log('First start: created the admin account and an enrollment token. They are shown only this once.');
    console.log(`  admin username:   ${s.adminUsername}`);
    console.log(`  admin password:   ${s.adminPassword ?? '(from VIGIL_ADMIN_PASSWORD)'}`);
    console.log(`  enrollment token: ${s.enrollToken ?? '(from VIGIL_ENROLL_TOKEN)'}`);
  }
  const stop = async (signal: string) => {
    console.log(`Vigil console stopping (${signal})`);
    await running.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
}

/**
 * VIGIL_PENDING_PER_ADDRESS: unauthenticated agent connections held per address (default 512).
 * Tests lower it so a flood from one address can fill it on a slow machine.
 */
function pendingCapFromEnv(): { maxPendingPerAddress?: number } {
  const raw = process.env.VIGIL_PENDING_PER_ADDRESS;
  if (raw === undefined) return {};
  if (!/^\d+$/.test(raw) || Number(raw) < 8 || Number(raw) > 100_000) throw usageError('VIGIL_PENDING_PER_ADDRESS must be a whole number from 8 to 100000');
  return { maxPendingPerAddress: Number(raw) };
}

async function runConsoleMigrate(argv: string[]): Promise<void> {
  const { values } = parse(argv, { 'data-dir': { type: 'string' }, to: { type: 'string' }, help: { type: 'boolean', short: 'h' } });
  if (values.help) return void console.log(CONSOLE_HELP);
  if (!values.to) throw usageError('console migrate needs --to postgres://…');
  if (!isPostgresUrl(values.to)) throw usageError('--to must be a postgres:// or postgresql:// URL');
  const file = consoleDatabaseFile(values['data-dir'] ?? defaultConsoleDataDir());
  const copied = await copySqliteToPostgres(file, values.to);
  const total = Object.values(copied).reduce((a, b) => a + b, 0);
  console.log(`Copied ${total} rows from ${file} to ${describeDatabase(values.to)}:`);
  for (const [table, rows] of Object.entries(copied)) console.log(`  ${table}: ${rows}`);
}
