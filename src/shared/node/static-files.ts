import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
  '.map': 'application/json',
};

/** Pages are built into dist/renderer; the console serves the dashboard from there. */
export const RENDERER_ROOT = fileURLToPath(new URL('../../../renderer/', import.meta.url));

export const SECURITY_HEADERS: Record<string, string> = {
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'Cross-Origin-Opener-Policy': 'same-origin',
};

/**
 * The file below `root` a URL path names, with its content type; null for anything outside
 * `root` (traversal, bad escapes) or of a type that is not served. The console and the tray's
 * page protocol (main/pages.ts) both serve through it.
 */
export function resolveStaticFile(root: string, urlPath: string): { full: string; type: string } | null {
  let relative: string;
  try {
    relative = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (relative.endsWith('/')) relative += 'index.html';
  const full = normalize(join(root, relative));
  if (!full.startsWith(root.endsWith(sep) ? root : root + sep)) return null;
  const type = TYPES[extname(full)];
  return type ? { full, type } : null;
}

/**
 * Serves a file below `root`; returns false when there is none (so the caller can 404). A page's
 * bare name (`/safeguarding`) is redirected to its folder, where its relative asset URLs work.
 */
export async function serveStatic(root: string, urlPath: string, res: ServerResponse): Promise<boolean> {
  if (/^\/[a-z][a-z-]*$/.test(urlPath) && existsSync(join(root, urlPath, 'index.html'))) {
    res.writeHead(308, { Location: `${urlPath}/`, 'Cache-Control': 'no-cache', ...SECURITY_HEADERS });
    res.end();
    return true;
  }
  const file = resolveStaticFile(root, urlPath);
  if (!file) return false;
  let body: Buffer;
  try {
    body = await readFile(file.full);
  } catch {
    return false;
  }
  res.writeHead(200, { 'Content-Type': file.type, 'Cache-Control': 'no-cache', ...SECURITY_HEADERS });
  res.end(body);
  return true;
}
