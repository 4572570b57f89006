#!/usr/bin/env node
// Entry point for `npx vigil`: runs the compiled CLI (npm run build produces dist/).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const cli = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(cli))) {
  process.stderr.write('vigil: not built yet; run `npm run build` (or `npm start`, which builds first)\n');
  process.exit(1);
}
await import(cli.href);
