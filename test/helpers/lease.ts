import { spawn } from 'node:child_process';
import { once } from 'node:events';

/**
 * Makes a file unreadable to everyone, root included, without changing it: another process takes
 * a write lease on it (fcntl F_SETLEASE), and while a lease is held an open with O_NONBLOCK, as
 * Vigil opens drive files, fails with EWOULDBLOCK. The holder ignores the SIGIO that a lease
 * break sends, so the file stays unreadable until `release` ends it (by its pid).
 */
const HOLDER = `
import fcntl, os, signal, sys
signal.signal(signal.SIGIO, signal.SIG_IGN)
fd = os.open(sys.argv[1], os.O_RDWR)
fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_WRLCK)
print("held", flush=True)
sys.stdin.read()
`;

export async function holdWriteLease(path: string): Promise<{ release: () => Promise<void> }> {
  const child = spawn('python3', ['-c', HOLDER, path], { stdio: ['pipe', 'pipe', 'inherit'] });
  const [chunk] = (await Promise.race([once(child.stdout, 'data'), once(child, 'exit').then(() => [Buffer.from('exited')])])) as [Buffer];
  if (!chunk.toString().startsWith('held')) throw new Error(`could not take a lease on ${path}`);
  return {
    release: async () => {
      const exited = once(child, 'exit');
      process.kill(child.pid!, 'SIGTERM');
      await exited;
    },
  };
}
