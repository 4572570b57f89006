import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { build, type Rollup } from 'vite';
import { afterAll, beforeAll } from 'vitest';
import { launchChromium } from './browser.js';
import { REPO } from './processes.js';

/**
 * Bundles a browser module (and what it imports) into one script that sets `window[name]`, so a
 * test can drive a page's real code in Chromium without a console behind it.
 */
export async function bundleForPage(entry: string, name: string): Promise<string> {
  const out = (await build({
    configFile: false,
    logLevel: 'silent',
    build: { write: false, minify: false, lib: { entry, formats: ['iife'], name } },
  })) as Rollup.RollupOutput | Rollup.RollupOutput[];
  return (Array.isArray(out) ? out[0]! : out).output[0].code;
}

/**
 * For a test file that drives browser modules on bare pages: the bundle of `entry` (a path in the
 * repository) and a Chromium, made before its tests and closed after them. Read both in tests.
 */
export function chromiumWithBundle(entry: string, name: string): { readonly browser: Browser; readonly script: string } {
  let browser: Browser | undefined;
  let script = '';
  beforeAll(async () => {
    script = await bundleForPage(join(REPO, entry), name);
    browser = await launchChromium();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
  });
  return {
    get browser() {
      if (!browser) throw new Error('Chromium is started before the tests');
      return browser;
    },
    get script() {
      return script;
    },
  };
}
