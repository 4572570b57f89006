import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchArgs, percentile, round } from './args.js';
import { screenToGrid } from './screen-to-grid.js';

/**
 * `npm run bench:activity [-- --seconds 60]` (Linux; needs Xvfb, openbox, xterm, xcalc,
 * xdotool, xprop). A private Xvfb + openbox with xterm and xcalc; focus moves between them
 * every 5 s. The sampler runs as the agent runs it (1 s sampling, full mode), alone in its own
 * process, for `seconds`, once with the X11 source Vigil uses (two long-lived `xprop -spy`) and
 * once with get-windows (xprop x2 + xwininfo per sample) for comparison. CPU counts the
 * sampler process and every helper process it started. Then screen to grid (issue 20): a real
 * console and agent on the same display and the dashboard in Chromium; `switches` focus changes,
 * each timed from xdotool to the grid cell naming the new app (`--switches 0` skips it; needs
 * Debian's chromium). Last line: one JSON object.
 */
const args = benchArgs({ seconds: { default: '60' }, switches: { default: '60' } });
const seconds = Number(args.seconds);
const switches = Number(args.switches);
const here = fileURLToPath(new URL('.', import.meta.url));
const log = (m: string) => process.stderr.write(`[bench:activity] ${m}\n`);

const missing = ['Xvfb', 'openbox', 'xterm', 'xcalc', 'xdotool', 'xprop', 'xwininfo'].filter((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0);
if (missing.length) {
  process.stderr.write(`bench:activity cannot run: missing ${missing.join(', ')}\n`);
  process.exit(1);
}

const started: ChildProcess[] = [];
let display = '';
for (let n = 150 + Math.floor(Math.random() * 500); ; n++) {
  if (!existsSync(`/tmp/.X11-unix/X${n}`) && !existsSync(`/tmp/.X${n}-lock`)) {
    display = `:${n}`;
    break;
  }
}
const { DISPLAY: _d, ...baseEnv } = process.env;
const env = { ...baseEnv, DISPLAY: display };
const start = (cmd: string, a: string[], e: NodeJS.ProcessEnv = env) => {
  const child = spawn(cmd, a, { env: e, stdio: 'ignore' });
  started.push(child);
  return child;
};
const x = (a: string[]) => spawnSync('xdotool', a, { env, encoding: 'utf8', timeout: 10_000 });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const cleanup = () => started.forEach((c) => c.exitCode === null && c.signalCode === null && c.kill('SIGTERM'));
process.once('SIGINT', () => (cleanup(), process.exit(130)));

async function waitFor(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 150; i++) {
    if (check()) return;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function run(source: string): Promise<Record<string, unknown>> {
  const child = spawn(process.execPath, [join(here, 'activity-sampler-child.js'), source, String(seconds)], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  started.push(child);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const ids = ['--name pupil-term', '--class xcalc'].map(
    (q) =>
      x(['search', ...q.split(' ')])
        .stdout.trim()
        .split('\n')[0]!,
  );
  let i = 0;
  const switcher = setInterval(() => x(['windowactivate', ids[i++ % 2]!]), 5000);
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  clearInterval(switcher);
  if (code !== 0) throw new Error(`sampler (${source}) exited ${code}`);
  return JSON.parse(out.trim().split('\n').at(-1)!);
}

try {
  start('Xvfb', [display, '-screen', '0', '1024x768x24', '-nolisten', 'tcp'], baseEnv);
  await waitFor(() => spawnSync('xdpyinfo', [], { env, stdio: 'ignore' }).status === 0, 'Xvfb');
  start('openbox', []);
  start('xterm', ['-title', 'pupil-term']);
  start('xcalc', []);
  await waitFor(() => x(['search', '--class', 'xcalc']).status === 0 && x(['search', '--name', 'pupil-term']).status === 0, 'xterm and xcalc');
  log(`display ${display}; ${seconds} s per source at 1 s sampling, focus switching every 5 s`);
  const spy = await run('xprop-spy');
  log(`xprop-spy: ${JSON.stringify(spy)}`);
  const gw = await run('get-windows');
  log(`get-windows: ${JSON.stringify(gw)}`);
  const windowOf = (q: string) =>
    x(['search', ...q.split(' ')])
      .stdout.trim()
      .split('\n')[0]!;
  const grid = switches
    ? await screenToGrid({
        display,
        env,
        windows: [
          { id: windowOf('--class xcalc'), app: 'XCalc' },
          { id: windowOf('--name pupil-term'), app: 'XTerm' },
        ],
        switches,
        log,
      })
    : null;
  const sorted = [...(grid?.latenciesMs ?? [])].sort((a, b) => a - b);
  const n = (v: unknown) => round(v as number);
  console.log(
    JSON.stringify({
      bench: 'activity',
      source: 'xprop-spy',
      seconds,
      cpuPct: n(spy.cpuPct),
      rssMb: n(spy.rssMb),
      peakRssMb: n(spy.peakRssMb),
      helperRssMb: n(spy.helperRssMb),
      spans: spy.spans,
      getWindowsCpuPct: n(gw.cpuPct),
      getWindowsRssMb: n(gw.rssMb),
      getWindowsSpans: gw.spans,
      screenToGridSwitches: sorted.length,
      screenToGridP50Ms: percentile(sorted, 50),
      screenToGridP99Ms: percentile(sorted, 99),
      screenToGridMaxMs: sorted.at(-1) ?? null,
      noWindowShownDuringSwitches: grid?.noWindowShown ?? null,
    }),
  );
} finally {
  cleanup();
}
