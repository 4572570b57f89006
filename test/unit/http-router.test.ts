import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpError } from '../../src/console/http/http-error.js';
import { Router, type Principal, type RequestContext } from '../../src/console/http/router.js';
import type { Permission, Role } from '../../src/shared/roles.js';
import { MATRIX, ROLES } from '../helpers/permission-matrix.js';

/**
 * The console's router on a real HTTP server on loopback: who may reach a handler is decided
 * before it runs (401 without a session, 403 for a role without the permission, 405 for a method
 * the path does not take). Sessions are a bearer token naming a role (the console's real
 * authentication is tested in auth.test.ts); the router takes authentication as a dependency.
 */
const principalOf = (role: Role): Principal => ({ username: `${role}-user`, role, tokenHash: `hash-${role}` });

let authenticateCalls = 0;
async function authenticate(req: IncomingMessage): Promise<Principal | null> {
  authenticateCalls++;
  const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
  return token && (ROLES as readonly string[]).includes(token) ? principalOf(token as Role) : null;
}

/** What a handler saw, echoed back so the test can check it. */
const echo = (name: string) => async (ctx: RequestContext) => ({
  status: 200,
  body: { route: name, params: ctx.params, principal: ctx.principal, ip: ctx.ip, path: ctx.url.pathname },
});

/** Built in beforeAll, so a router that fails to build fails the tests rather than the import. */
function buildRouter(): Router {
  const router = new Router(authenticate)
    .add('POST', '/api/v1/auth/login', 'public', echo('login'))
    .add('GET', '/api/v1/me', 'signed-in', echo('me'))
    .add('GET', '/api/v1/devices/:id', 'devices:read', echo('device'))
    .add('POST', '/api/v1/devices/:id/commands', 'devices:command', echo('command'))
    .add('DELETE', '/api/v1/devices/:id', 'devices:revoke', echo('revoke'))
    .add('GET', '/api/v1/concerns/:id/notes/:note', 'concerns:manage', echo('concern-note'))
    .add('GET', '/api/v1/trailing/', 'signed-in', echo('trailing'));
  // One route per permission, for the whole matrix.
  for (const permission of Object.keys(MATRIX)) router.add('GET', `/matrix/${permission}`, permission as Permission, echo(permission));
  return router;
}

async function call(method: string, path: string, role?: Role | 'nobody'): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${base}${path}`, { method, headers: role ? { authorization: `Bearer ${role}` } : {} });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

let server: Server;
let base: string;

describe('router building', () => {
  it('add() returns the router itself, so routes chain', () => {
    const r = new Router(authenticate);
    expect(r.add('GET', '/a', 'public', echo('a'))).toBe(r);
  });
});

describe('HTTP router', () => {
  beforeAll(async () => {
    const router = buildRouter();
    server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const send = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      router.dispatch(req, res, url, '192.0.2.7').then(
        (result) => {
          if (result === null) return send(404, { error: 'not-found' });
          if ('body' in result) return send(result.status, result.body);
          throw new Error('unexpected result');
        },
        (error: unknown) => {
          if (error instanceof HttpError) return send(error.status, { error: error.code, message: error.message });
          send(500, { error: String(error) });
        },
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('runs a public route without asking who the caller is', async () => {
    const before = authenticateCalls;
    expect(await call('POST', '/api/v1/auth/login')).toEqual({
      status: 200,
      body: { route: 'login', params: {}, principal: null, ip: '192.0.2.7', path: '/api/v1/auth/login' },
    });
    // Even a caller with a session reaches a public route as nobody: it authenticates in its own way.
    expect((await call('POST', '/api/v1/auth/login', 'admin')).body.principal).toBeNull();
    expect(authenticateCalls).toBe(before);
  });

  it('refuses a signed-in route without a session (401) and runs it for every role', async () => {
    for (const role of [undefined, 'nobody'] as const) {
      expect(await call('GET', '/api/v1/me', role)).toEqual({ status: 401, body: { error: 'unauthenticated', message: 'sign in first' } });
    }
    for (const role of ROLES) {
      expect(await call('GET', '/api/v1/me', role)).toMatchObject({ status: 200, body: { route: 'me', principal: principalOf(role) } });
    }
  });

  it('runs a permission route for a role that has it, with the principal and decoded parameters', async () => {
    expect(await call('GET', '/api/v1/devices/dev%201', 'technician')).toEqual({
      status: 200,
      body: { route: 'device', params: { id: 'dev 1' }, principal: principalOf('technician'), ip: '192.0.2.7', path: '/api/v1/devices/dev%201' },
    });
    expect(await call('GET', '/api/v1/concerns/c-9/notes/n%2F2', 'safeguarding_lead')).toMatchObject({
      status: 200,
      body: { params: { id: 'c-9', note: 'n/2' } },
    });
  });

  it('refuses a role without the permission (403) before the handler runs, and a caller without a session first (401)', async () => {
    expect(await call('POST', '/api/v1/devices/d1/commands', 'systems_manager')).toEqual({
      status: 403,
      body: { error: 'forbidden', message: 'your role (systems_manager) may not devices:command' },
    });
    expect(await call('GET', '/api/v1/concerns/c-9/notes/n1', 'admin')).toMatchObject({ status: 403, body: { error: 'forbidden' } });
    expect(await call('POST', '/api/v1/devices/d1/commands')).toMatchObject({ status: 401, body: { error: 'unauthenticated' } });
  });

  it('answers 405 for a method the path does not take, and picks the route by method where a path has several', async () => {
    expect(await call('PUT', '/api/v1/devices/d1', 'admin')).toEqual({
      status: 405,
      body: { error: 'method-not-allowed', message: 'PUT is not allowed here' },
    });
    expect(await call('GET', '/api/v1/auth/login')).toMatchObject({ status: 405 });
    expect(await call('DELETE', '/api/v1/devices/d1', 'admin')).toMatchObject({ status: 200, body: { route: 'revoke' } });
    expect(await call('DELETE', '/api/v1/devices/d1', 'technician')).toMatchObject({ status: 403 });
    expect(await call('GET', '/api/v1/devices/d1', 'technician')).toMatchObject({ status: 200, body: { route: 'device' } });
  });

  it('matches whole segments only: other lengths, other names and undecodable parameters are no route', async () => {
    for (const path of [
      '/api/v1/devices',
      '/api/v1/devices/d1/extra/more',
      '/api/v1/device/d1',
      '/api/v1/devices/%E0%A4%A',
      '/',
      '/api/v1/concerns/c/note/n',
    ]) {
      expect(await call('GET', path, 'admin'), path).toEqual({ status: 404, body: { error: 'not-found' } });
    }
    // Empty segments do not count, on either side.
    expect(await call('GET', '/api/v1/devices/d1/', 'admin')).toMatchObject({ status: 200, body: { params: { id: 'd1' } } });
    expect(await call('GET', '/api//v1/me', 'admin')).toMatchObject({ status: 200, body: { route: 'me' } });
    expect(await call('GET', '/api/v1/trailing', 'admin')).toMatchObject({ status: 200, body: { route: 'trailing' } });
  });

  it('applies the whole permission matrix: every role against a route for every permission', async () => {
    for (const [permission, row] of Object.entries(MATRIX)) {
      for (const [i, role] of ROLES.entries()) {
        const { status } = await call('GET', `/matrix/${permission}`, role);
        expect(status, `${role} ${permission}`).toBe(row[i] ? 200 : 403);
      }
      expect((await call('GET', `/matrix/${permission}`)).status, `nobody ${permission}`).toBe(401);
    }
  });
});
