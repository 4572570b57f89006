// Where node-gyp and the Node headers are, without downloading anything: node-gyp ships inside
// npm, and the headers come from the Node installation itself when it has them (include/node
// next to bin/node), or from npm's nodedir setting. Used by scripts/prepare.mjs (the addons for
// this OS) and test/helpers/win32-cross.ts (the Windows addon cross-compiled with mingw-w64).
import { existsSync, realpathSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';

export function findNodeGyp() {
  const candidates = [process.env.npm_config_node_gyp];
  // npm's own installation: npm_execpath when run by npm, else the npm found on PATH.
  const npmCli = process.env.npm_execpath ?? whichNpm();
  if (npmCli) candidates.push(join(dirname(realpathSync(npmCli)), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  // The npm installed with this Node: beside node.exe on Windows, under lib/ elsewhere.
  const npmDir =
    process.platform === 'win32'
      ? join(dirname(process.execPath), 'node_modules', 'npm')
      : join(dirname(dirname(process.execPath)), 'lib', 'node_modules', 'npm');
  candidates.push(join(npmDir, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  return candidates.find((c) => c && existsSync(c)) ?? null;
}

/** The directory holding include/node/node_api.h, or null (npm_config_nodedir then decides). */
export function nodeHeadersDir() {
  if (process.env.npm_config_nodedir) return process.env.npm_config_nodedir;
  const prefix = dirname(dirname(process.execPath));
  return existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? prefix : null;
}

function whichNpm() {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, 'npm');
    if (dir && existsSync(candidate)) return candidate;
  }
  return null;
}
