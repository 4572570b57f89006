import type { CommandOutput, CommandRunner, RunOptions } from '../../src/agent/session/platform.js';

/**
 * Records command lines and answers from recorded outputs; runs nothing. An output is given per
 * command name, either fixed or computed from the arguments (for commands run several ways).
 */
export function recorder(
  outputs: Record<string, Partial<CommandOutput> | ((args: readonly string[]) => Partial<CommandOutput>)> = {},
  installed: string[] = [],
) {
  const calls: string[][] = [];
  /** The options each call was given, by the call's index. */
  const options: (RunOptions | undefined)[] = [];
  const runner: CommandRunner = {
    async run(command, args, _timeoutMs, given) {
      calls.push([command, ...args]);
      options.push(given);
      const output = outputs[command];
      return { code: 0, stdout: '', stderr: '', ...(typeof output === 'function' ? output(args) : output) };
    },
    start(command, args, given) {
      calls.push([command, ...args]);
      options.push(given);
      return { pid: 4242, alive: () => true, exited: new Promise(() => undefined), stop: () => undefined };
    },
    has: (command) => installed.includes(command),
  };
  return { runner, calls, options };
}
