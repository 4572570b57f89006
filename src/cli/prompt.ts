import { createInterface } from 'node:readline/promises';
import { usageError } from './errors.js';

/** Asks on the terminal; refuses clearly when there is none (scripts must use the environment). */
export async function prompt(question: string): Promise<string> {
  requireTerminal(question);
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return await rl.question(question);
  } finally {
    rl.close();
  }
}

/**
 * Asks for a secret without echoing it. The terminal is put in raw mode so that neither the
 * terminal's own echo nor readline's shows what is typed; Backspace edits, Ctrl+C and Ctrl+D
 * give up without sending anything.
 */
export async function promptSecret(question: string): Promise<string> {
  requireTerminal(question);
  const stdin = process.stdin;
  // Echo goes off before the question shows: whatever is typed (or pasted by a password
  // manager) as soon as "Password:" appears must not be echoed by the terminal.
  stdin.setRawMode(true);
  process.stderr.write(question);
  stdin.resume();
  stdin.setEncoding('utf8');
  try {
    return await new Promise<string>((resolve, reject) => {
      let typed = '';
      const onData = (chunk: string) => {
        for (const ch of chunk) {
          if (ch === '\r' || ch === '\n') {
            stdin.off('data', onData);
            resolve(typed);
            return;
          }
          if (ch === '\u0003' || ch === '\u0004') {
            stdin.off('data', onData);
            reject(usageError('cancelled'));
            return;
          }
          if (ch === '\u007f' || ch === '\b') typed = typed.slice(0, -1);
          else if (ch >= ' ') typed += ch;
        }
      };
      stdin.on('data', onData);
    });
  } finally {
    stdin.setRawMode(false);
    stdin.pause();
    process.stderr.write('\n');
  }
}

function requireTerminal(question: string): void {
  if (!process.stdin.isTTY) throw usageError(`${question.replace(/:\s*$/, '')} is needed and there is no terminal to ask on`);
}
