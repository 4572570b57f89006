import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RemovableDrive } from '../../src/agent/usb/drives.js';
import { noticeText, type UsbNotice } from '../../src/agent/usb/notices.js';
import { UsbGate } from '../../src/agent/usb/usb-gate.js';
import { keyId } from '../../src/shared/node/crypto.js';
import type { NewAgentEvent } from '../../src/shared/events.js';
import { createLogger } from '../../src/shared/node/log.js';
import { UsbPolicySchema, type BundleStations } from '../../src/shared/usb-policy.js';
import { flagDirectory, generateEd25519KeyPair } from '../helpers/flags.js';
import { tempDirsPerTest } from '../helpers/processes.js';
import { memoryPlatform, memoryVolume } from '../helpers/usb-memory.js';
import { createUsbGate } from '../../src/agent/usb/host.js';
import { PolicyBus } from '../../src/agent/policy-bus.js';
import type { PolicyBundle } from '../../src/shared/policy.js';

/**
 * The gate's decisions with the OS replaced by an in-memory mount table (the real Linux one is
 * exercised by test/integration/usb-agent.e2e.test.ts). Drives are real directories with real
 * signed flags.
 */
const dir = tempDirsPerTest();
const station = generateEd25519KeyPair();
const stations: BundleStations = { trusted: [{ id: 'library', publicKey: station.publicKey, keyId: keyId(station.publicKey) }], revoked: [] };

function rig(drive: Partial<RemovableDrive> = {}) {
  const { platform, table, acted } = memoryPlatform(drive);
  const events: NewAgentEvent[] = [];
  const notices: UsbNotice[] = [];
  const gate = new UsbGate({ platform, emit: (e) => events.push(e), log: createLogger('test', 'error') });
  gate.onNotice((n) => notices.push(n));
  return { gate, table, acted, events, notices };
}
const vol = memoryVolume;
const until = async (check: () => boolean) => {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(check()).toBe(true);
};
async function flagged(days = 0): Promise<string> {
  const root = dir();
  mkdirSync(join(root, 'Art'));
  writeFileSync(join(root, 'Art/picture.png'), 'png');
  await flagDirectory(root, {
    key: station,
    volume: { fsUuid: 'AAAA-0001', fsType: 'vfat', label: 'HOMEWORK', usbSerial: null },
    stationId: 'library',
    scannedAt: new Date(Date.now() - days * 86_400_000),
    expiresDays: 30,
  });
  return root;
}

describe('USB gate decisions', () => {
  it('checks the drives present at start and new ones; ignores what is not removable', async () => {
    const { gate, table, acted, events } = rig();
    const present = dir();
    table.volumes.push(vol(present), vol('/tmp', 'tmpfs'));
    await gate.apply(UsbPolicySchema.parse({}), stations);
    expect(acted).toEqual([`block ${present}`]);
    const good = await flagged();
    table.plug(vol(good));
    await until(() => events.length === 2);
    expect(events.map((e) => [e.type, (e.data as { reason: string }).reason])).toEqual([
      ['usb.blocked', 'not-scanned'],
      ['usb.allowed', 'ok'],
    ]);
    expect(gate.status).toMatchObject({ running: true, drives: 2 });
  });

  it('maxFlagAgeDays turns an old (but unexpired) flag into "expired"', async () => {
    const { gate, table, events, notices } = rig();
    table.volumes.push(vol(await flagged(10)));
    await gate.apply(UsbPolicySchema.parse({ maxFlagAgeDays: 7, response: 'read-only' }), stations);
    expect(events[0]).toMatchObject({ type: 'usb.read-only', data: { reason: 'expired', action: 'remounted-read-only' } });
    expect(events[0]!.data).toMatchObject({ detail: expect.stringContaining("older than the policy's 7 day(s)") });
    expect(notices[0]).toMatchObject({ kind: 'read-only', title: '"HOMEWORK" is read-only' });
    expect(notices[0]!.why).toBe(
      'The drive "HOMEWORK" was opened read-only (you can copy files from it, but not change them or run programs from it) because its virus check is too old.',
    );
    // The plain message window gets it wrapped, in paragraphs.
    const text = noticeText(notices[0]!).split('\n');
    expect(text[0]).toBe('"HOMEWORK" is read-only');
    expect(text[1]).toBe('');
    expect(Math.max(...text.map((l) => l.length))).toBeLessThanOrEqual(72);
    expect(text.join(' ').replace(/ +/g, ' ')).toContain('not change them or run programs from it) because its virus check is too old.');
  });

  it('allow-and-audit: no action, an audit event, a notice that says use is recorded', async () => {
    const { gate, table, acted, events, notices } = rig();
    table.volumes.push(vol(dir()));
    await gate.apply(UsbPolicySchema.parse({ response: 'allow-and-audit' }), stations);
    expect(acted).toEqual([]);
    expect(events[0]).toMatchObject({ type: 'usb.audited', data: { action: 'none', actionOk: true, response: 'allow-and-audit' } });
    expect(notices[0]!.why).toContain('the school records its use because it has not been checked for viruses');
  });

  it('serial allowlist: allowed without a flag, no notice', async () => {
    const { gate, table, events, notices } = rig({ usbSerial: '4C530001230615117281' });
    table.volumes.push(vol(dir()));
    await gate.apply(UsbPolicySchema.parse({ allowSerials: [{ serial: '4C530001230615117281' }] }), stations);
    expect(events[0]).toMatchObject({ type: 'usb.allowed', data: { reason: 'allowlisted-serial', usbSerial: '4C530001230615117281' } });
    expect(notices).toEqual([]);
  });

  it('a new policy re-checks open drives (revocation takes effect), and no usb section stops the gate', async () => {
    const { gate, table, events, acted } = rig();
    const good = await flagged();
    table.volumes.push(vol(good));
    await gate.apply(UsbPolicySchema.parse({}), stations);
    expect(events[0]).toMatchObject({ type: 'usb.allowed' });
    await gate.apply(UsbPolicySchema.parse({}), { trusted: [], revoked: [{ ...stations.trusted[0]!, revokedAt: new Date().toISOString() }] });
    expect(events[1]).toMatchObject({ type: 'usb.blocked', data: { reason: 'revoked-station', stationId: 'library' } });
    expect(acted).toEqual([`block ${good}`]);
    await gate.apply(undefined, undefined);
    expect(table.started).toBe(0);
    expect(gate.status).toMatchObject({ running: false, detail: 'the policy has no usb section' });
    table.plug(vol(dir()));
    await new Promise((r) => setTimeout(r, 50));
    expect(events).toHaveLength(2);
  });

  it('a drive remounted writable after being made read-only is made read-only again', async () => {
    const { gate, table, acted } = rig();
    const v = vol(dir());
    table.volumes.push(v);
    await gate.apply(UsbPolicySchema.parse({ response: 'read-only' }), stations);
    table.emit('changed', { ...v, options: ['ro', 'noexec'] });
    table.emit('changed', { ...v, options: ['rw'] });
    await until(() => acted.length === 2);
    expect(acted).toEqual([`ro ${v.mountPoint}`, `ro ${v.mountPoint}`]);
  });
});

describe('USB gate state per mount, whatever the order of the decision and the unmount', () => {
  /**
   * A flagged drive whose verdict is "block", with the unmount the watcher reports placed
   * exactly: while the decision is still running (as when it takes longer than one poll of the
   * mount table), or after it has been recorded.
   */
  async function blockedDrive(unmountSeen: 'during-the-decision' | 'after-the-decision') {
    const { platform, table, acted } = memoryPlatform();
    const events: NewAgentEvent[] = [];
    const notices: UsbNotice[] = [];
    const gate = new UsbGate({ platform, emit: (e) => events.push(e), log: createLogger('test', 'error') });
    gate.onNotice((n) => notices.push(n));
    const root = await flagged();
    const v = vol(root);
    const unmount = () => {
      table.volumes = table.volumes.filter((x) => x.key !== v.key);
      table.emit('unmounted', v);
    };
    platform.actions.block = async (target) => {
      acted.push(`block ${target.mountPoint}`);
      if (unmountSeen === 'during-the-decision') unmount(); // the watcher saw it before block() returned
      return { ok: true, detail: 'unmounted' };
    };
    table.volumes.push(v);
    // Revoked station: the flag does not count, so the verdict is "block" (reason revoked-station).
    const revoked: BundleStations = { trusted: [], revoked: [{ ...stations.trusted[0]!, revokedAt: new Date().toISOString() }] };
    await gate.apply(UsbPolicySchema.parse({}), revoked);
    if (unmountSeen === 'after-the-decision') unmount();
    return { gate, table, acted, events, notices, revoked, v };
  }

  it.each(['during-the-decision', 'after-the-decision'] as const)('unmount seen %s: later policy pushes report nothing for the gone drive', async (order) => {
    const { gate, acted, events, notices, revoked } = await blockedDrive(order);
    expect(events.map((e) => [e.type, (e.data as { reason: string }).reason])).toEqual([['usb.blocked', 'revoked-station']]);
    expect(notices).toHaveLength(1);
    expect(gate.status).toMatchObject({ running: true, drives: 0 });
    for (let push = 0; push < 3; push++) await gate.apply(UsbPolicySchema.parse({ maxFlagAgeDays: 10 + push }), revoked);
    expect(events).toHaveLength(1);
    expect(notices).toHaveLength(1);
    expect(acted).toHaveLength(1);
  });

  it('a drive unmounted and mounted again while its decision ran is decided again, as the new mount it is', async () => {
    const { platform, table, acted } = memoryPlatform();
    const events: NewAgentEvent[] = [];
    const gate = new UsbGate({ platform, emit: (e) => events.push(e), log: createLogger('test', 'error') });
    const v = vol(dir());
    const again = { ...v, source: '/dev/sdc1' };
    platform.actions.block = async (target) => {
      acted.push(`block ${target.source}`);
      if (target === v) {
        table.emit('unmounted', v);
        table.emit('mounted', again); // plugged back in before the first decision came back
      }
      return { ok: true, detail: 'unmounted' };
    };
    table.volumes.push(v);
    await gate.apply(UsbPolicySchema.parse({}), stations);
    await until(() => events.length === 2);
    expect(acted).toEqual(['block /dev/sdb1', 'block /dev/sdc1']);
    expect(gate.status).toMatchObject({ drives: 1 });
  });
});

describe('USB gate hosted in the agent service', () => {
  it('follows policy bundles and shows notices in the session message window', async () => {
    const { platform, table } = memoryPlatform();
    const events: NewAgentEvent[] = [];
    const shown: string[] = [];
    const policies = new PolicyBus(createLogger('test', 'error'));
    const session = {
      command: async (action: 'lock' | 'logoff' | 'message', text?: string) => (
        shown.push(`${action}: ${text}`),
        { ok: true, detail: 'shown', backend: 'test' }
      ),
    };
    const host = { emit: (e: NewAgentEvent) => events.push(e), policies, session: () => session };
    const gate = createUsbGate(host, { mode: 'service', log: createLogger('test', 'error'), os: 'linux' }, platform)!;
    const tray: string[] = [];
    gate.onNotice((n) => tray.push(n.title));
    table.volumes.push(vol(dir()));
    const bundle = { payload: { policy: { usb: UsbPolicySchema.parse({}) }, stations } } as unknown as PolicyBundle;
    policies.publish(bundle);
    await until(() => shown.length === 1);
    expect(shown[0]).toMatch(/^message: "HOMEWORK" was not opened\n\nThe drive "HOMEWORK" was not opened because it has not been checked for\nviruses/);
    expect(tray).toEqual(['"HOMEWORK" was not opened']);
    expect(events[0]).toMatchObject({ type: 'usb.blocked' });
    expect(createUsbGate({ ...host, session: () => null }, { mode: 'user', log: createLogger('test', 'error'), os: 'linux' }, platform)).toBeNull();
    gate.stop();
  });
});
