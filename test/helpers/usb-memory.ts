import { EventEmitter } from 'node:events';
import type { DriveActions, MountedVolume, RemovableDrive, UsbPlatform, VolumeWatcher } from '../../src/agent/usb/drives.js';

/**
 * A UsbPlatform over an in-memory mount table, for the gate's platform-free logic (the real
 * Linux backend is exercised by test/integration/usb-agent.e2e.test.ts).
 */
export class MemoryMounts extends EventEmitter implements VolumeWatcher {
  volumes: MountedVolume[] = [];
  started = 0;
  async start() {
    this.started++;
    return [...this.volumes];
  }
  stop() {
    this.started--;
  }
  async refresh() {}
  plug(v: MountedVolume) {
    this.volumes.push(v);
    this.emit('mounted', v);
  }
}

export function memoryPlatform(drive: Partial<RemovableDrive> = {}) {
  const table = new MemoryMounts();
  const acted: string[] = [];
  const actions: DriveActions = {
    block: async (v) => (acted.push(`block ${v.mountPoint}`), { ok: true, detail: 'unmounted' }),
    makeReadOnly: async (v) => (acted.push(`ro ${v.mountPoint}`), { ok: true, detail: 'remounted' }),
    isReadOnly: (v) => v.options.includes('ro'),
  };
  const platform: UsbPlatform = {
    name: 'memory',
    watcher: table,
    actions,
    classifier: {
      classify: async (v) =>
        v.fsType === 'tmpfs'
          ? null
          : { classifiedBy: 'os', device: v.source, fsUuid: 'AAAA-0001', label: 'HOMEWORK', fsType: 'vfat', usbSerial: null, ...drive },
    },
  };
  return { platform, table, acted };
}

export const memoryVolume = (mountPoint: string, fsType = 'vfat'): MountedVolume => ({
  key: mountPoint,
  mountPoint,
  source: '/dev/sdb1',
  fsType,
  major: 8,
  minor: 17,
  options: ['rw'],
});
