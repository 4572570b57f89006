import type { IncomingMessage, ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { ConflictError, ForbiddenError, InvalidError, NotFoundError } from '../../src/console/errors.js';
import { toHttpError } from '../../src/console/http/error-status.js';
import { HttpError } from '../../src/console/http/http-error.js';
import { Router } from '../../src/console/http/router.js';

describe('typed console errors', () => {
  it('map to one HTTP status each, keeping their code and message', () => {
    const cases: [Error, number, string][] = [
      [new NotFoundError('no such concern'), 404, 'not-found'],
      [new ConflictError('already-revoked', 'station "a" was already revoked'), 409, 'already-revoked'],
      [new InvalidError('no-signer', 'approve by hash instead'), 400, 'no-signer'],
      [new ForbiddenError('bad-enroll-token', 'the enrollment token has no uses left'), 403, 'bad-enroll-token'],
    ];
    for (const [error, status, code] of cases) {
      expect(toHttpError(error)).toMatchObject({ status, code, message: error.message });
    }
  });

  it('leaves HTTP errors as they are and anything else to the internal-error path', () => {
    const http = new HttpError(429, 'rate-limited', 'slow down', { 'Retry-After': '1' });
    expect(toHttpError(http)).toBe(http);
    expect(toHttpError(new Error('SQLITE_BUSY'))).toBeNull();
    expect(toHttpError('a string')).toBeNull();
  });

  it('are turned into HTTP errors by the router, whatever route throws them', async () => {
    const router = new Router(async () => null)
      .add('POST', '/api/v1/things/:id', 'public', async ({ params }) => {
        throw new ConflictError('exists', `thing ${params.id} exists`);
      })
      .add('GET', '/api/v1/boom', 'public', async () => {
        throw new Error('disk on fire');
      });
    const req = (method: string) => ({ method, headers: {} }) as IncomingMessage;
    const res = {} as ServerResponse;
    const thrown = await router.dispatch(req('POST'), res, new URL('http://x/api/v1/things/7'), '127.0.0.1').catch((e: unknown) => e);
    expect(thrown).toBeInstanceOf(HttpError);
    expect(thrown).toMatchObject({ status: 409, code: 'exists', message: 'thing 7 exists' });
    await expect(router.dispatch(req('GET'), res, new URL('http://x/api/v1/boom'), '127.0.0.1')).rejects.toThrow('disk on fire');
  });
});
