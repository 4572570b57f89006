import { execFile } from 'node:child_process';

/**
 * What `blkid -o export` reports about a block device (UUID, TYPE, LABEL, …), read from the device
 * itself; null when blkid is missing, fails or knows nothing. The scan station and the agent's USB
 * classifier both probe drives this way.
 */
export function blkid(device: string): Promise<Record<string, string> | null> {
  return new Promise((resolve) => {
    execFile('blkid', ['-o', 'export', device], { maxBuffer: 64 * 1024 }, (error, stdout) => resolve(error ? null : parseBlkidExport(stdout)));
  });
}

function parseBlkidExport(stdout: string): Record<string, string> {
  return Object.fromEntries(
    stdout
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}
