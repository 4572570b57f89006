import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/**
 * Loads native/<dir>/build/Release/<target>.node, which scripts/prepare.mjs builds: found from
 * dist/src/agent/platform/linux/ (built) or src/agent/platform/linux/ (tests run from source).
 */
export function loadNativeAddon<T>(dir: string, target: string, override?: string): T {
  const candidates = override
    ? [override]
    : ['../../../../../', '../../../../'].map((up) => fileURLToPath(new URL(`${up}native/${dir}/build/Release/${target}.node`, import.meta.url)));
  const path = candidates.find(existsSync);
  if (!path) throw new Error(`the ${dir} addon is not built (${candidates[0]}); run node scripts/prepare.mjs`);
  return createRequire(import.meta.url)(path) as T;
}
