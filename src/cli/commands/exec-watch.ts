import type { ExecWatchRecord } from '../../shared/exec.js';
import { FallbackWatcher, whyNotActOn } from '../../agent/exec/fallback.js';
import { linuxWatchBackend } from '../../agent/platform/linux/exec-watch.js';
import { systemBuiltins } from '../../agent/platform/linux/exec-gate.js';
import { intOption, parse } from '../args.js';
import { CliError, usageError } from '../errors.js';
import { policyOfRules, rulesLoader } from './exec-gate.js';

export const EXEC_WATCH_HELP = `vigil exec-watch [options]      (Linux; any user)
  Runs the fallback exec watcher in the foreground, for diagnostics and tests (the agent uses it
  where no pre-exec gate can run). It sees programs after they start and, in enforce mode, kills
  unapproved ones, printing one JSON line per judged program with how long it lived. Not root:
  only your own processes. Root: only people's accounts (uid >= 1000), never root or system
  accounts.
  --rules FILE          vigil-exec-rules/1 JSON (SIGHUP re-reads it; without it: monitor, default deny)
  --mode MODE           monitor or enforce (overrides the file)
  --watcher KIND        auto (default: proc-connector when permitted, else proc-poll) or proc-poll
  --interval-ms N       proc-poll: list /proc every N ms (default 25)
  --always-allow PATH   add PATH to the built-in always-allow directories (repeatable)`;

export async function runExecWatch(argv: string[]): Promise<void> {
  const { values } = parse(argv, {
    rules: { type: 'string' },
    mode: { type: 'string' },
    watcher: { type: 'string' },
    'interval-ms': { type: 'string' },
    'always-allow': { type: 'string', multiple: true },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) return void console.log(EXEC_WATCH_HELP);
  if (process.platform !== 'linux') throw new CliError('vigil exec-watch is for Linux; on Windows and macOS the agent hosts the watcher');
  const prefer = values.watcher ?? 'auto';
  if (prefer !== 'auto' && prefer !== 'proc-poll') throw usageError('--watcher must be auto or proc-poll');
  const intervalMs = intOption(values['interval-ms'], 'interval-ms', 1, 10_000, 25);
  const loadRules = rulesLoader(values.rules, values.mode);
  let rules = loadRules();
  const print = (record: ExecWatchRecord) => process.stdout.write(`${JSON.stringify(record)}\n`);

  const { backend, detail } = linuxWatchBackend({ intervalMs, ...(prefer === 'proc-poll' ? { prefer } : {}) });
  const self = { pid: process.pid, uid: process.getuid?.() ?? null };
  const watcher = new FallbackWatcher({
    backend,
    builtins: systemBuiltins(values['always-allow'] ?? []),
    ...policyOfRules(rules),
    whyNot: (p) => whyNotActOn(p, self),
    onRecord: print,
  });
  await watcher.start();
  print({ type: 'ready', pid: process.pid, watcher: watcher.kind, mode: rules.mode, detail });

  process.on('SIGHUP', () => {
    try {
      rules = loadRules();
      watcher.setPolicy(policyOfRules(rules));
    } catch (error) {
      print({ type: 'error', message: (error as Error).message }); // a bad file changes nothing
    }
  });
  process.on('SIGUSR1', () => print({ type: 'stats', stats: watcher.stats() }));
  const stop = () => {
    print({ type: 'stats', stats: watcher.stats() });
    watcher.stop();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
