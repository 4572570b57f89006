import { createServer, type Server } from 'node:http';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { serveStatic } from '../../src/shared/node/static-files.js';
import { launchChromium } from './browser.js';
import { REPO } from './processes.js';

/** The built pages (the console serves the same directory). */
const BUILT_PAGES = join(REPO, 'dist', 'renderer') + '/';

/** Serves the built pages (dist/renderer) with the console's own security headers and CSP. */
export async function startPageServer(): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    void serveStatic(BUILT_PAGES, new URL(req.url ?? '/', 'http://x').pathname, res).then((served) => {
      if (!served) res.writeHead(404).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * For a test file of pages: the built pages served and Chromium launched before its tests, both
 * closed after them.
 */
export function builtPagesInChromium(): { readonly url: string; readonly browser: Browser } {
  let server: Awaited<ReturnType<typeof startPageServer>> | undefined;
  let browser: Browser | undefined;
  beforeAll(async () => {
    server = await startPageServer();
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });
  return {
    get url() {
      return server!.url;
    },
    get browser() {
      return browser!;
    },
  };
}
