import { readFileSync } from 'node:fs';
import { GetWindowsSource } from '../src/agent/activity/get-windows-source.js';
import { ActivitySampler } from '../src/agent/activity/sampler.js';
import type { WindowSource } from '../src/agent/activity/window-source.js';
import { XpropWindowSource } from '../src/agent/platform/linux/activity/xprop-source.js';
import { createLogger } from '../src/shared/node/log.js';

/**
 * The sampler alone, as the agent runs it, in its own process so its CPU and memory can be
 * measured (bench:activity). argv: source name, seconds. Prints one JSON line at the end.
 */
const [sourceName = 'xprop-spy', secondsText = '60'] = process.argv.slice(2);
const seconds = Number(secondsText);
const CLOCK_TICKS = 100;

let source: WindowSource | null = null;
const sessionEnv = { PATH: process.env.PATH, LC_ALL: 'C', DISPLAY: process.env.DISPLAY };
let spans = 0;
let frames = 0;
const apps = new Set<string>();
const sampler = new ActivitySampler({
  ownership: 'school',
  displayServer: 'x11',
  createSource: (detail) => (source = sourceName === 'get-windows' ? new GetWindowsSource(detail) : new XpropWindowSource(sessionEnv, detail)),
  session: () => ({ idleMs: 0, locked: false }),
  network: { status: () => true },
  emit: (e) => {
    if (e.type === 'activity.spans') {
      spans += e.data.spans.length;
      e.data.spans.forEach((s) => s.window && apps.add(s.window.app));
    }
  },
  sendNow: () => frames++,
  log: createLogger('bench-sampler', 'warn'),
});

/** utime+stime of a process, and of its reaped children (get-windows' xprop/xwininfo). */
function ticks(pid: number | 'self', withChildren: boolean): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]) + (withChildren ? Number(f[13]) + Number(f[14]) : 0);
  } catch {
    return 0;
  }
}
const helperPids = () => (source instanceof XpropWindowSource ? source.helperPids : []);
const rssKb = (pid: number | 'self', field = 'VmRSS') => {
  try {
    return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
};
const total = () => ticks('self', true) + helperPids().reduce((sum, pid) => sum + ticks(pid, false), 0);

sampler.applyPolicy({ mode: 'full', batchSeconds: 10 });
sampler.start();
// Warm up (module loading, first spawn), then measure.
await new Promise((r) => setTimeout(r, 3000));
const t0 = total();
const started = performance.now();
let helperRssMax = 0;
const watch = setInterval(
  () =>
    (helperRssMax = Math.max(
      helperRssMax,
      helperPids().reduce((s, p) => s + rssKb(p), 0),
    )),
  1000,
);
await new Promise((r) => setTimeout(r, seconds * 1000));
const cpuTicks = total() - t0;
const elapsed = (performance.now() - started) / 1000;
clearInterval(watch);
const rss = rssKb('self');
const hwm = rssKb('self', 'VmHWM');
const helpers = helperPids().length;
sampler.stop();
process.stdout.write(
  `${JSON.stringify({
    source: sourceName,
    seconds: elapsed,
    cpuPct: (cpuTicks / CLOCK_TICKS / elapsed) * 100,
    rssMb: rss / 1024,
    peakRssMb: hwm / 1024,
    helperRssMb: helperRssMax / 1024,
    helpers,
    spans,
    frames,
    apps: [...apps].sort(),
  })}\n`,
);
process.exit(0);
