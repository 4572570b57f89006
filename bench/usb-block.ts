import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { linuxUsbPlatform } from '../src/agent/platform/linux/usb.js';
import { UsbGate } from '../src/agent/usb/usb-gate.js';
import type { NewAgentEvent } from '../src/shared/events.js';
import { createLogger } from '../src/shared/node/log.js';
import { UsbPolicySchema } from '../src/shared/usb-policy.js';

/**
 * How long an unscanned drive stays usable: from the start of `mount` until the USB gate (the
 * agent's own Linux backend, mountinfo watcher at its default interval) has unmounted it.
 * Root only; uses its own small ext4 loop drive under `work`.
 */
export async function measureBlockMs(work: string, runs = 10): Promise<{ medianMs: number; maxMs: number; runs: number[] }> {
  const sh = (cmd: string, a: string[]) => execFileSync(cmd, a, { encoding: 'utf8' }).trim();
  const image = join(work, 'block.img');
  const media = join(work, 'media');
  mkdirSync(media);
  sh('truncate', ['-s', '32M', image]);
  sh('mkfs.ext4', ['-q', '-F', '-O', '^has_journal', image]);
  const device = sh('losetup', ['--find', '--show', image]);
  let waiting: ((event: NewAgentEvent) => void) | null = null;
  const gate = new UsbGate({ platform: linuxUsbPlatform(), emit: (e) => waiting?.(e), log: createLogger('bench', 'error') });
  const results: number[] = [];
  // The gate's watcher timer does not hold the process open (the agent's socket does); here, this does.
  const keepAlive = setInterval(() => undefined, 1000);
  try {
    await gate.apply(UsbPolicySchema.parse({ response: 'block', treatAsRemovable: [{ mountPoint: `${media}/*`, source: '/dev/loop*' }] }), undefined);
    for (let i = 0; i < runs; i++) {
      const at = join(media, `plug-${i}`);
      mkdirSync(at);
      const blocked = new Promise<NewAgentEvent>((resolve) => (waiting = resolve));
      const started = performance.now();
      sh('mount', [device, at]);
      const event = await blocked;
      if (event.type !== 'usb.blocked' || !event.data.actionOk) throw new Error(`expected a block, got ${event.type}: ${JSON.stringify(event.data)}`);
      results.push(performance.now() - started);
      // Spread the mounts over the watcher's interval, as real plug-ins are.
      await new Promise((r) => setTimeout(r, 100 + ((i * 37) % 150)));
    }
  } finally {
    clearInterval(keepAlive);
    gate.stop();
    for (let i = 0; i < runs; i++) spawnSync('umount', [join(media, `plug-${i}`)]);
    spawnSync('losetup', ['-d', device]);
  }
  const sorted = [...results].sort((a, b) => a - b);
  return { medianMs: sorted[Math.floor(sorted.length / 2)]!, maxMs: sorted.at(-1)!, runs: results };
}
