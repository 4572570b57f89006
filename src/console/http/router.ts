import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Permission, Role } from '../../shared/roles.js';
import { roleAllows } from '../../shared/roles.js';
import { toHttpError } from './error-status.js';
import { HttpError } from './http-error.js';

export interface Principal {
  username: string;
  role: Role;
  tokenHash: string;
  /** May only reach 'signed-in' routes (to set up the second factor their role requires). */
  restricted?: boolean;
}

export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  params: Record<string, string>;
  ip: string;
  /** Present on every route that declares a permission. */
  principal: Principal | null;
}

/** A list value sends the header once per item (Set-Cookie). */
export type ResponseHeaders = Record<string, string | string[]>;

export type RouteResult =
  | { status: number; body: unknown; headers?: ResponseHeaders }
  /** A non-JSON answer (CSV exports, redirects). */
  | { status: number; raw: string; contentType: string; headers?: ResponseHeaders }
  | { handled: true };
export type Handler = (ctx: RequestContext) => Promise<RouteResult>;

interface Route {
  method: string;
  segments: string[];
  /** 'public' routes authenticate in their own way (login, enrollment). */
  access: Permission | 'public' | 'signed-in';
  handler: Handler;
}

export type Authenticate = (req: IncomingMessage) => Promise<Principal | null>;
/** Runs before authentication on every matched route (the cross-site check); throws to refuse. */
export type RequestGuard = (req: IncomingMessage) => void;

/**
 * A deliberately small router: every route states who may call it, and the router refuses
 * the request before the handler runs if the caller lacks that permission.
 */
export class Router {
  private readonly routes: Route[] = [];

  constructor(
    private readonly authenticate: Authenticate,
    private readonly guard: RequestGuard = () => undefined,
  ) {}

  add(method: string, path: string, access: Route['access'], handler: Handler): this {
    this.routes.push({ method, segments: path.split('/').filter(Boolean), access, handler });
    return this;
  }

  /** Returns null when no route matches the path (so the caller can serve static files). */
  async dispatch(req: IncomingMessage, res: ServerResponse, url: URL, ip: string): Promise<RouteResult | null> {
    const segments = url.pathname.split('/').filter(Boolean);
    let pathMatched = false;
    for (const route of this.routes) {
      const params = match(route.segments, segments);
      if (!params) continue;
      pathMatched = true;
      if (route.method !== req.method) continue;
      this.guard(req);
      const principal = route.access === 'public' ? null : await this.authenticate(req);
      if (route.access !== 'public') {
        if (!principal) throw new HttpError(401, 'unauthenticated', 'sign in first');
        if (principal.restricted && route.access !== 'signed-in') {
          throw new HttpError(403, 'second-factor-setup-required', 'your role needs a second factor: set up an authenticator app first');
        }
        if (route.access !== 'signed-in' && !roleAllows(principal.role, route.access)) {
          throw new HttpError(403, 'forbidden', `your role (${principal.role}) may not ${route.access}`);
        }
      }
      try {
        return await route.handler({ req, res, url, params, ip, principal });
      } catch (error) {
        // The one place where the services' typed errors become HTTP statuses.
        throw toHttpError(error) ?? error;
      }
    }
    if (pathMatched) throw new HttpError(405, 'method-not-allowed', `${req.method} is not allowed here`);
    return null;
  }
}

function match(pattern: string[], actual: string[]): Record<string, string> | null {
  if (pattern.length !== actual.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i]!;
    const a = actual[i]!;
    if (p.startsWith(':')) {
      try {
        params[p.slice(1)] = decodeURIComponent(a);
      } catch {
        return null;
      }
    } else if (p !== a) return null;
  }
  return params;
}
