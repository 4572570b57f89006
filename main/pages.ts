import { readFile } from 'node:fs/promises';
import { resolveStaticFile, SECURITY_HEADERS } from '../src/shared/node/static-files.js';
import { TrayPageSchema, type TrayPage } from '../src/shared/tray-bridge.js';

/**
 * The tray's pages come from its own scheme, `vigil-app://pages/<page>/index.html`, never from
 * file:// (which would let a page read any local file). The handler serves only files below the
 * built renderer directory, with the same CSP and headers the console uses.
 */
export const PAGE_SCHEME = 'vigil-app';
export const PAGE_ORIGIN = `${PAGE_SCHEME}://pages`;

export function pageUrl(page: TrayPage): string {
  return `${PAGE_ORIGIN}/${page}/index.html`;
}

/** The page a URL belongs to, or null if it is not one of ours (another scheme, host or path). */
export function pageOf(url: string | undefined | null): TrayPage | null {
  if (!url) return null;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return null;
  }
  if (`${parsed.protocol}//${parsed.host}` !== PAGE_ORIGIN) return null;
  const page = TrayPageSchema.safeParse(parsed.pathname.split('/')[1]);
  return page.success ? page.data : null;
}

/** Answers one request on the page scheme. */
export async function servePage(root: string, requestUrl: string): Promise<Response> {
  const notFound = () => new Response('not found', { status: 404, headers: SECURITY_HEADERS });
  let url: URL;
  try {
    url = new URL(requestUrl);
  } catch {
    return notFound();
  }
  const file = `${url.protocol}//${url.host}` === PAGE_ORIGIN ? resolveStaticFile(root, url.pathname) : null;
  if (!file) return notFound();
  try {
    const body = await readFile(file.full);
    return new Response(new Uint8Array(body), { status: 200, headers: { 'Content-Type': file.type, 'Cache-Control': 'no-cache', ...SECURITY_HEADERS } });
  } catch {
    return notFound();
  }
}
