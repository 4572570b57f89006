import type { IncomingMessage } from 'node:http';
import { HttpError } from './http-error.js';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * CSRF protection for state-changing requests. Browsers say where a request comes from (Origin,
 * and Sec-Fetch-Site in every current browser); a request another site's page makes is refused
 * whatever it carries, before anyone is authenticated. The session cookie is SameSite=Strict as
 * well; this check does not rely on it. A cookie-carrying request with neither header (no
 * current browser sends one) is refused too. Agents, the CLI and scripts send no cookie and
 * authenticate by signature or bearer token, which another site cannot attach.
 */
export function refuseCrossSite(req: IncomingMessage, sessionCookie: string): void {
  if (SAFE_METHODS.has(req.method ?? 'GET')) return;
  const site = header(req, 'sec-fetch-site');
  if (site !== null && site !== 'same-origin' && site !== 'none') throw crossSite(`a ${site} request`);
  const origin = header(req, 'origin');
  if (origin !== null) {
    let host: string | null = null;
    try {
      host = origin === 'null' ? null : new URL(origin).host;
    } catch {
      host = null;
    }
    if (host === null || host !== req.headers.host) throw crossSite(`a request from ${origin.slice(0, 100)}`);
    return;
  }
  if (site === null && hasCookie(req, sessionCookie)) throw crossSite('a cookie-carrying request that does not say where it comes from');
}

function crossSite(what: string): HttpError {
  return new HttpError(403, 'cross-site', `refused ${what}: the console accepts changes only from its own pages`);
}

function header(req: IncomingMessage, name: string): string | null {
  const value = req.headers[name];
  return typeof value === 'string' ? value : null;
}

function hasCookie(req: IncomingMessage, name: string): boolean {
  return (req.headers.cookie ?? '').split(';').some((part) => part.trim().startsWith(`${name}=`));
}
