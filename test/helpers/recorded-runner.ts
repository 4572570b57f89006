import type { CommandOutput, CommandRunner } from '../../src/agent/session/platform.js';

/**
 * Records command lines and answers from recorded outputs; runs nothing. An output is given per
 * command name, either fixed or computed from the arguments (for commands run several ways).
 */
export function recorder(outputs: Record<string, Partial<CommandOutput> | ((args: readonly string[]) => Partial<CommandOutput>)> = {}, installed: string[] = []) {
  const calls: string[][] = [];
  const runner: CommandRunner = {
    async run(command, args) {
      calls.push([command, ...args]);
      const output = outputs[command];
      return { code: 0, stdout: '', stderr: '', ...(typeof output === 'function' ? output(args) : output) };
    },
    start(command, args) {
      calls.push([command, ...args]);
      return { pid: 4242, alive: () => true, exited: new Promise(() => undefined), stop: () => undefined };
    },
    has: (command) => installed.includes(command),
  };
  return { runner, calls };
}
