import { readFileSync } from 'node:fs';

/** The version in package.json, read once; works from dist/ and from a packaged app alike. */
export const VIGIL_VERSION: string = (() => {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
})();
