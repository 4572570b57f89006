import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { CommandOutput, CommandRunner, RunOptions, StartedProcess } from './platform.js';

const MAX_OUTPUT = 64 * 1024;

/**
 * Runs commands with node:child_process — never through a shell, so text a technician typed
 * can't become a command. `env` is added to the agent's environment (DISPLAY, XAUTHORITY).
 */
export function nodeCommandRunner(env: Record<string, string> = {}): CommandRunner {
  const fullEnv = { ...process.env, ...env };
  return {
    run(command, args, timeoutMs = 5000, options: RunOptions = {}) {
      return new Promise<CommandOutput>((resolve) => {
        let stdout = '';
        let stderr = '';
        const child = spawn(command, args, { env: options.env ?? fullEnv, stdio: ['ignore', 'pipe', 'pipe'] });
        const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
        child.stdout.on('data', (d: Buffer) => (stdout = (stdout + d.toString()).slice(0, MAX_OUTPUT)));
        child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(0, MAX_OUTPUT)));
        child.once('error', (error) => (clearTimeout(timer), resolve({ code: null, stdout, stderr: error.message })));
        child.once('close', (code) => (clearTimeout(timer), resolve({ code, stdout, stderr })));
      });
    },
    start(command, args, options: RunOptions = {}): StartedProcess {
      // Its own process group: some lockers fork (i3lock does, even with -n), and stopping the
      // group ends exactly what we started and nothing else.
      const child = spawn(command, args, { env: options.env ?? fullEnv, stdio: 'ignore', detached: true });
      let running = true;
      const exited = new Promise<number | null>((resolve) => {
        child.once('error', () => ((running = false), resolve(null)));
        child.once('exit', (code) => ((running = false), resolve(code)));
      });
      return {
        pid: child.pid ?? null,
        alive: () => running,
        exited,
        stop: () => {
          if (!running || child.pid === undefined) return;
          try {
            process.kill(-child.pid, 'SIGTERM');
          } catch {
            child.kill('SIGTERM');
          }
        },
      };
    },
    has(command) {
      for (const dir of (process.env.PATH ?? '').split(delimiter)) {
        if (!dir) continue;
        try {
          accessSync(join(dir, command), constants.X_OK);
          return true;
        } catch {
          /* not here */
        }
      }
      return false;
    },
  };
}
