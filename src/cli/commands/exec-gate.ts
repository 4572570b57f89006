import { existsSync } from 'node:fs';
import { ExecActionSchema, ExecModeSchema, ExecRulesSchema, type ExecGateRecord, type ExecRules } from '../../shared/exec.js';
import { ruleSetDecider } from '../../agent/exec/decision.js';
import { ruleSetFromRules } from '../../agent/exec/rule-set.js';
import { DEFAULT_DEADLINE_MS, LinuxExecGate } from '../../agent/platform/linux/exec-gate.js';
import { intOption, isRoot, parse, readJsonFileArg } from '../args.js';
import { CliError, usageError } from '../errors.js';

export const EXEC_GATE_HELP = `vigil exec-gate --mark PATH [--mark PATH ...] [options]      (Linux, root)
  Runs the pre-exec gate in the foreground, for diagnostics and tests (the agent service will
  host it). Every program started from a marked mount is checked before it runs; one JSON line
  per decision is printed on stdout. Nothing is marked unless you name it.
  --mark PATH           mark the file system holding PATH, and every file system mounted below
                        PATH later (a USB stick under /media) as it appears (repeatable)
  --mark-kind KIND      filesystem (default: every mount of it, in every mount namespace) or
                        mount (only the mount holding PATH, as this namespace sees it)
  --no-follow-mounts    do not mark file systems mounted below PATH
  --rules FILE          vigil-exec-rules/1 JSON: mode, defaultAction, allowSha256 (SIGHUP re-reads it;
                        without it: monitor mode, default deny, so everything is reported)
  --mode MODE           monitor or enforce (overrides the file)
  --on-timeout ACTION   allow (fail-open, default) or deny (fail-closed) when no decision is
                        made within the deadline
  --deadline-ms N       answer every exec within N ms (default ${DEFAULT_DEADLINE_MS})
  --quiet-cached        print nothing for allowed execs answered from the cache (busy machines)
  --always-allow PATH   add PATH to the built-in always-allow directories (repeatable); like
                        them it is answered natively, even while decisions are stalled`;

const NO_RULES: ExecRules = { format: 'vigil-exec-rules/1', mode: 'monitor', defaultAction: 'deny', allowSha256: [], rules: [], exceptions: [] };

/** Reads --rules FILE (or the report-everything default) and applies --mode; shared with exec-watch. */
export function rulesLoader(rulesPath: string | undefined, mode: string | undefined): () => ExecRules {
  const modeOverride = mode === undefined ? undefined : ExecModeSchema.safeParse(mode);
  if (modeOverride && !modeOverride.success) throw usageError('--mode must be monitor or enforce');
  return () => {
    const rules = rulesPath ? readJsonFileArg(rulesPath, ExecRulesSchema, 'rules file') : NO_RULES;
    return modeOverride?.data ? { ...rules, mode: modeOverride.data } : rules;
  };
}

export const policyOfRules = (rules: ExecRules) => ({ decide: ruleSetDecider(ruleSetFromRules(rules)), mode: rules.mode });

export async function runExecGate(argv: string[]): Promise<void> {
  const { values } = parse(argv, {
    mark: { type: 'string', multiple: true },
    'mark-kind': { type: 'string' },
    rules: { type: 'string' },
    mode: { type: 'string' },
    'on-timeout': { type: 'string' },
    'deadline-ms': { type: 'string' },
    'always-allow': { type: 'string', multiple: true },
    'quiet-cached': { type: 'boolean' },
    'no-follow-mounts': { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) return void console.log(EXEC_GATE_HELP);
  if (process.platform !== 'linux') throw new CliError('the exec gate needs Linux (fanotify)');
  if (!isRoot()) throw new CliError('the exec gate needs root (fanotify permission events need CAP_SYS_ADMIN)');
  if (!values.mark?.length) throw usageError('give at least one --mark PATH');
  const kind = values['mark-kind'] ?? 'filesystem';
  if (kind !== 'mount' && kind !== 'filesystem') throw usageError('--mark-kind must be mount or filesystem');
  const loadRules = rulesLoader(values.rules, values.mode);
  const onTimeout = ExecActionSchema.safeParse(values['on-timeout'] ?? 'allow');
  if (!onTimeout.success) throw usageError('--on-timeout must be allow or deny');
  const missing = values['always-allow']?.find((path) => !existsSync(path));
  if (missing) throw usageError(`--always-allow ${missing}: no such file or directory`);
  const deadlineMs = intOption(values['deadline-ms'], 'deadline-ms', 1, 60_000, DEFAULT_DEADLINE_MS);
  const stallMs = intOption(process.env.VIGIL_EXEC_GATE_STALL_MS, 'VIGIL_EXEC_GATE_STALL_MS', 0, 60_000, 0);

  const policyOf = policyOfRules;
  let rules = loadRules();
  const print = (record: ExecGateRecord) => process.stdout.write(`${JSON.stringify(record)}\n`);

  const gate = new LinuxExecGate({
    marks: values.mark.map((path) => ({ path, kind })),
    ...policyOf(rules),
    onTimeout: onTimeout.data,
    deadlineMs,
    stallMs,
    extraBuiltins: values['always-allow'] ?? [],
    followMounts: !values['no-follow-mounts'],
    onRecord: (record) => {
      if (values['quiet-cached'] && record.type === 'exec' && record.cached && record.verdict === 'allow') return;
      print(record);
    },
  });
  try {
    gate.start();
  } catch (error) {
    throw new CliError(`cannot start the exec gate: ${(error as Error).message}`);
  }
  print({ type: 'rules', mode: rules.mode, defaultAction: rules.defaultAction, allowCount: rules.allowSha256.length });
  print({ type: 'ready', pid: process.pid, marks: values.mark, mode: rules.mode, onTimeout: onTimeout.data, deadlineMs });

  process.on('SIGHUP', () => {
    try {
      rules = loadRules();
      gate.setPolicy(policyOf(rules));
      print({ type: 'rules', mode: rules.mode, defaultAction: rules.defaultAction, allowCount: rules.allowSha256.length });
    } catch (error) {
      // A bad file changes nothing: the gate keeps the rules it had.
      print({ type: 'error', message: (error as Error).message });
    }
  });
  process.on('SIGUSR1', () => print({ type: 'stats', stats: gate.stats() }));
  const stop = () => {
    print({ type: 'stats', stats: gate.stats() });
    gate.stop();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
