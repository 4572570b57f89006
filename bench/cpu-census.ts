import { readdirSync, readFileSync } from 'node:fs';

/**
 * Where a machine's CPU goes during a benchmark's window, by group of processes (Linux /proc):
 * the bench's own parts (named by their pids; children of a named pid, such as PostgreSQL's
 * backends, count with their parent) and everything else on the machine as `other`. Sampled
 * every second so that a process killed in the window keeps what it used until then. Figures are
 * percent of one core over the window; `machine` is the sum, out of 100 × cores.
 */
const CLOCK_TICKS = 100;

interface Sample {
  ppid: number;
  ticks: number;
}

function readAll(): Map<number, Sample> {
  const out = new Map<number, Sample>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(Number(name), { ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]) });
    } catch {
      // Gone between the listing and the read.
    }
  }
  return out;
}

export function cpuCensus(groups: () => Record<string, readonly number[]>): { stop(): Record<string, number> } {
  const first = readAll();
  const last = new Map(first);
  const startedAt = performance.now();
  const timer = setInterval(() => {
    for (const [pid, sample] of readAll()) last.set(pid, sample);
  }, 1000);
  return {
    stop() {
      clearInterval(timer);
      for (const [pid, sample] of readAll()) last.set(pid, sample);
      const seconds = (performance.now() - startedAt) / 1000;
      const named = new Map<number, string>();
      for (const [group, pids] of Object.entries(groups())) for (const pid of pids) named.set(pid, group);
      const totals: Record<string, number> = Object.fromEntries([...new Set(named.values()), 'other'].map((g) => [g, 0]));
      for (const [pid, sample] of last) {
        const group = named.get(pid) ?? named.get(sample.ppid) ?? 'other';
        const used = sample.ticks - (first.get(pid)?.ticks ?? 0);
        totals[group] = (totals[group] ?? 0) + used;
      }
      const percent = Object.fromEntries(Object.entries(totals).map(([g, ticks]) => [g, Math.round((ticks / CLOCK_TICKS / seconds) * 1000) / 10]));
      return { ...percent, machine: Math.round(Object.values(percent).reduce((a, b) => a + b, 0) * 10) / 10 };
    },
  };
}
