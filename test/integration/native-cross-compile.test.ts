import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { nodeHeadersDir } from '../../scripts/node-gyp.mjs';
import { REPO } from '../helpers/processes.js';
import { skipReason } from '../helpers/requirements.js';
import { crossCompilePeercred, windowsCompileFlags, windowsGypTarget, windowsSyntaxCheck, wineToolsMissing } from '../helpers/win32-cross.js';

/**
 * The Windows and macOS native code compiled on Debian, warnings as errors. Windows: the
 * peercred addon with mingw-w64 and the defines node-gyp gives MSVC (the GitHub Actions
 * Windows job builds it with MSVC itself). macOS: the __APPLE__ branch of peercred.cc
 * syntax-checked with clang against Debian's headers plus the three Darwin declarations it
 * uses (test/fixtures/macos/darwin-peercred.h), since the macOS SDK is not in Debian and may not
 * be redistributed; the macOS job builds it against the real SDK.
 */
const PIPE_WIN = join(REPO, 'native/peercred/src/pipe_win.cc');
const PEERCRED = join(REPO, 'native/peercred/src/peercred.cc');
const DARWIN_DECLS = join(REPO, 'test/fixtures/macos/darwin-peercred.h');
const onPath = (tool: string) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;

const skipWindows = skipReason(
  'Windows addon cross-compile',
  process.platform !== 'linux' ? 'cross-compiles on Linux (Windows builds with MSVC)' : wineToolsMissing(),
);
const skipMac = skipReason(
  'macOS syntax check',
  process.platform !== 'linux'
    ? 'checks on Linux (macOS builds natively)'
    : !onPath('clang')
      ? 'clang is not installed'
      : nodeHeadersDir()
        ? null
        : 'the Node headers are missing (include/node next to bin/node)',
);

describe.skipIf(skipWindows)('the Windows addon, built with mingw-w64 as node-gyp would build it', () => {
  it('compiles and links with -Werror into an x64 DLL that imports N-API from node.exe and exports the module', () => {
    const build = crossCompilePeercred();
    const image = readFileSync(build.output);
    expect(image.subarray(0, 2).toString()).toBe('MZ');
    const pe = image.readUInt32LE(0x3c);
    expect(image.subarray(pe, pe + 4).toString('latin1')).toBe('PE\0\0');
    expect(image.readUInt16LE(pe + 4)).toBe(0x8664); // IMAGE_FILE_MACHINE_AMD64
    const dump = spawnSync('x86_64-w64-mingw32-objdump', ['-p', build.output], { encoding: 'utf8' }).stdout;
    expect(dump).toMatch(/DLL Name: node\.exe/);
    expect(dump).toMatch(/DLL Name: ADVAPI32\.dll/);
    expect(dump).not.toMatch(/DLL Name: (libstdc\+\+|libgcc|libwinpthread)/);
    expect(dump).toMatch(/\] napi_register_module_v1\b/);
  }, 120_000);

  it("uses node-gyp's own Windows target: its defines, the addon's sources and the delay-load hook", () => {
    const gyp = windowsGypTarget('peercred');
    expect(gyp.defines).toEqual(
      expect.arrayContaining([
        'WIN32',
        'BUILDING_NODE_EXTENSION',
        'NAPI_VERSION=8',
        '_HAS_EXCEPTIONS=0',
        'HOST_BINARY="node.exe"',
        'NODE_GYP_MODULE_NAME=vigil_peercred',
      ]),
    );
    expect(gyp.sources.map((s) => s.split('/').pop())).toEqual(['pipe_win.cc', 'peercred.cc', 'win_delay_load_hook.cc']);
    expect(gyp.libraries).toEqual(expect.arrayContaining(['advapi32.lib']));
  }, 60_000);

  it("would catch <windows.h> before <uv.h> without WIN32_LEAN_AND_MEAN (the SDK's sockaddr redefinition)", () => {
    const flags = windowsCompileFlags(windowsGypTarget('peercred'));
    expect(windowsSyntaxCheck(flags, PIPE_WIN)).toEqual({ status: 0, messages: '' });
    const dir = mkdtempSync(join(tmpdir(), 'vigil-pipe-order-'));
    try {
      const reordered = join(dir, 'pipe_win.cc');
      writeFileSync(reordered, `#include <windows.h>\n${readFileSync(PIPE_WIN, 'utf8')}`);
      const result = windowsSyntaxCheck(flags, reordered);
      expect(result.status).not.toBe(0);
      expect(result.messages).toMatch(/error: #warning Please include winsock2\.h before windows\.h \[-Werror=cpp\]/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe.skipIf(skipMac)('the macOS branch of peercred.cc, syntax-checked with clang', () => {
  const clang = (extra: string[]) =>
    spawnSync(
      'clang',
      [
        '-fsyntax-only',
        '-x',
        'c++',
        '-std=c++17',
        '-Wall',
        '-Wextra',
        '-Werror',
        '-D__APPLE__',
        '-DNAPI_VERSION=8',
        '-DNODE_GYP_MODULE_NAME=vigil_peercred',
        `-I${join(nodeHeadersDir() ?? '', 'include', 'node')}`,
        ...extra,
        PEERCRED,
      ],
      { encoding: 'utf8' },
    );

  it('compiles with -Werror given the documented Darwin declarations', () => {
    const result = clang(['-include', DARWIN_DECLS]);
    expect({ status: result.status, stderr: result.stderr }).toEqual({ status: 0, stderr: '' });
  });

  it('is the __APPLE__ branch that is checked: without the declarations getpeereid is unknown', () => {
    const result = clang([]);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/use of undeclared identifier 'getpeereid'/);
  });
});
