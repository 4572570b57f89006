import { build, type Rollup } from 'vite';

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
