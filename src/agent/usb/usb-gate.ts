import { EventEmitter } from 'node:events';
import { lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { SCAN_FLAG_FILE } from '../../shared/node/scan-flag.js';
import type { NewAgentEvent } from '../../shared/events.js';
import type { Logger } from '../../shared/node/log.js';
import type { BundleStations, UsbDecisionData, UsbPolicy } from '../../shared/usb-policy.js';
import type { MountedVolume, RemovableDrive, UsbPlatform } from './drives.js';
import { usbNotice, type UsbNotice } from './notices.js';
import { verifyDriveFlag, type StationTrust, type Verdict } from './verify-flag.js';

export interface UsbGateOptions {
  platform: UsbPlatform;
  emit: (event: NewAgentEvent) => void;
  log: Logger;
  now?: () => Date;
}

type Decision = Pick<UsbDecisionData, 'reason' | 'response' | 'action' | 'actionOk'>;
type UsbEventType = Extract<NewAgentEvent['type'], `usb.${string}`>;

export interface UsbGateStatus {
  running: boolean;
  /** Why not, when not. */
  detail: string;
  drives: number;
}

/**
 * The USB gate: every removable drive that is mounted (or already mounted when the gate
 * starts) is checked against its clean-scan flag and answered per policy — allowed, blocked
 * (unmounted), made read-only, or allowed and audited. Every decision is an event; drives that
 * are not simply allowed also produce a pupil notice (`notice` events on this emitter).
 * Platform-free: the OS is behind UsbPlatform.
 */
export class UsbGate extends EventEmitter {
  private policy: UsbPolicy | null = null;
  private trust: StationTrust = { stations: [], revokedKeyIds: [] };
  private running = false;
  private starting: Promise<void> | null = null;
  private readonly decisions = new Map<string, { volume: MountedVolume; drive: RemovableDrive; decision: Decision }>();
  private readonly inProgress = new Set<string>();
  /**
   * What is mounted at each key now, as the watcher last said, with a number that changes at
   * every mount. A decision can take longer than one poll of the mount table (a strict check,
   * or our own unmount being seen before block() returns), so a decision is kept only if the
   * mount it was made for is still there; otherwise a later policy push would re-check a drive
   * that is gone and report it blocked again, with a notice each time.
   */
  private readonly mounts = new Map<string, { volume: MountedVolume; generation: number }>();
  private generation = 0;

  constructor(private readonly options: UsbGateOptions) {
    super();
    const { watcher } = options.platform;
    watcher.on('mounted', (v: MountedVolume) => {
      this.track(v);
      void this.check(v, Date.now());
    });
    watcher.on('unmounted', (v: MountedVolume) => {
      this.mounts.delete(v.key);
      this.decisions.delete(v.key);
    });
    watcher.on('changed', (v: MountedVolume) => {
      const mount = this.mounts.get(v.key);
      if (mount) mount.volume = v; // new options, same mount
      void this.onChanged(v);
    });
    watcher.on('error', (error: unknown) => options.log.warn('cannot read the mount table', { error }));
  }

  get status(): UsbGateStatus {
    if (!this.running) return { running: false, detail: this.policy ? 'starting' : 'the policy has no usb section', drives: 0 };
    return {
      running: true,
      detail: `${this.options.platform.name}; ${this.policy!.verification} verification, response ${this.policy!.response}`,
      drives: this.decisions.size,
    };
  }

  /**
   * Follows the policy. Absent `usb` section: the gate stops. A new policy (new station keys,
   * a revocation, another response) re-checks the drives that are mounted now.
   */
  async apply(policy: UsbPolicy | undefined, stations: BundleStations | undefined): Promise<void> {
    this.policy = policy ?? null;
    this.trust = {
      stations: (stations?.trusted ?? []).map((s) => ({ publicKey: s.publicKey, stationId: s.id })),
      revokedKeyIds: (stations?.revoked ?? []).map((s) => s.keyId),
    };
    const { watcher } = this.options.platform;
    if (!policy) {
      if (this.running) watcher.stop();
      this.running = false;
      this.decisions.clear();
      this.mounts.clear();
      return;
    }
    if (!this.running) {
      // Bundles can arrive back to back; the watcher starts once.
      this.starting ??= this.startWatcher().finally(() => {
        this.starting = null;
      });
      return this.starting;
    }
    const current = [...this.decisions.values()].map((d) => d.volume);
    this.decisions.clear();
    await Promise.all(current.map((v) => this.check(v, Date.now())));
  }

  private async startWatcher(): Promise<void> {
    const present = await this.options.platform.watcher.start();
    present.forEach((v) => this.track(v));
    this.running = true;
    this.options.log.info('usb gate started', { platform: this.options.platform.name, mounts: present.length });
    await Promise.all(present.map((v) => this.check(v, Date.now())));
  }

  stop(): void {
    if (this.running) this.options.platform.watcher.stop();
    this.running = false;
    this.mounts.clear();
  }

  private track(volume: MountedVolume): void {
    this.mounts.set(volume.key, { volume, generation: ++this.generation });
  }

  /** Subscribe to pupil notices; returns the unsubscribe function. */
  onNotice(listener: (notice: UsbNotice) => void): () => void {
    this.on('notice', listener);
    return () => this.off('notice', listener);
  }

  private async check(volume: MountedVolume, detectedMs: number): Promise<void> {
    const policy = this.policy;
    const mount = this.mounts.get(volume.key);
    if (!policy || !this.running || !mount || this.inProgress.has(volume.key)) return;
    this.inProgress.add(volume.key);
    try {
      const drive = await this.options.platform.classifier.classify(volume, policy.treatAsRemovable);
      if (!drive) return;
      const data = await this.decide(volume, drive, policy, detectedMs);
      // Reported either way (the drive was there when it was decided), kept only while mounted.
      if (this.mounts.get(volume.key)?.generation === mount.generation) this.decisions.set(volume.key, { volume, drive, decision: data });
      this.report(data);
    } catch (error) {
      this.options.log.error('usb gate could not handle a mount', { mountPoint: volume.mountPoint, error });
    } finally {
      this.inProgress.delete(volume.key);
      // Unmounted and mounted again while this decision ran: the new mount is a new drive.
      const now = this.mounts.get(volume.key);
      if (now && now.generation !== mount.generation) void this.check(now.volume, Date.now());
    }
  }

  private async decide(volume: MountedVolume, drive: RemovableDrive, policy: UsbPolicy, detectedMs: number): Promise<UsbDecisionData> {
    const now = this.options.now?.() ?? new Date();
    const allowlisted = drive.usbSerial !== null && policy.allowSerials.some((s) => s.serial === drive.usbSerial);
    const held = !allowlisted && (await this.hold(volume, policy));
    const verdict: Pick<Verdict, 'ok' | 'reason' | 'detail' | 'flag' | 'stats'> = allowlisted
      ? {
          ok: true,
          reason: 'ok',
          detail: `USB serial ${drive.usbSerial} is on the school's allowlist`,
          stats: { files: 0, hashedFiles: 0, hashedBytes: 0, ms: 0 },
        }
      : tooOld(
          await verifyDriveFlag(volume.mountPoint, {
            trust: this.trust,
            volume: { fsUuid: drive.fsUuid, usbSerial: drive.usbSerial },
            level: policy.verification,
            now,
          }),
          policy,
          now,
        );
    let action: UsbDecisionData['action'] = 'none';
    let result = { ok: true, detail: verdict.ok ? 'allowed' : 'allowed (audit only)' };
    const response = verdict.ok ? null : policy.response;
    if (held && response !== 'read-only' && response !== 'block') {
      const restored = await this.options.platform.actions.restore!(volume);
      await this.options.platform.watcher.refresh();
      result = restored.ok
        ? { ok: true, detail: `${result.detail}; held read-only while checking, then restored` }
        : { ok: false, detail: `could not restore after the check: ${restored.detail}` };
    }
    if (response === 'block') {
      action = 'unmounted';
      result = await this.options.platform.actions.block(volume);
    } else if (response === 'read-only') {
      action = 'remounted-read-only';
      result = await this.options.platform.actions.makeReadOnly(volume);
      // The watcher's table must hold the read-only options, or a quick remount back to
      // writable would look like no change at all.
      await this.options.platform.watcher.refresh();
    }
    return {
      mountPoint: volume.mountPoint,
      device: drive.device,
      label: drive.label,
      fsType: drive.fsType,
      fsUuid: drive.fsUuid,
      usbSerial: drive.usbSerial,
      classifiedBy: drive.classifiedBy,
      reason: allowlisted ? 'allowlisted-serial' : verdict.reason,
      detail: verdict.detail.slice(0, 512),
      level: policy.verification,
      response,
      action,
      actionOk: result.ok,
      actionDetail: result.detail.slice(0, 512),
      stationId: verdict.flag?.station.id ?? null,
      detectedAt: new Date(detectedMs).toISOString(),
      decisionMs: Math.max(0, Math.round(Date.now() - detectedMs)),
      files: verdict.stats.files,
      hashedFiles: verdict.stats.hashedFiles,
    };
  }

  /**
   * A drive with a flag stays read-only and non-executable while it is checked (a strict check
   * of a big drive takes seconds), so nothing on it runs or changes before the verdict. A drive
   * without a flag is decided at once and needs no hold; allow-and-audit never restricts.
   */
  private async hold(volume: MountedVolume, policy: UsbPolicy): Promise<boolean> {
    const { actions, watcher } = this.options.platform;
    if (policy.response === 'allow-and-audit' || !actions.restore || actions.isReadOnly(volume)) return false;
    if (!(await hasFlag(volume.mountPoint))) return false;
    const r = await actions.makeReadOnly(volume);
    await watcher.refresh();
    if (!r.ok) this.options.log.warn('could not hold the drive read-only while checking it', { mountPoint: volume.mountPoint, detail: r.detail });
    return r.ok;
  }

  private report(data: UsbDecisionData): void {
    const type: UsbEventType =
      data.response === null ? 'usb.allowed' : data.response === 'block' ? 'usb.blocked' : data.response === 'read-only' ? 'usb.read-only' : 'usb.audited';
    this.options.emit({ type, data });
    const log = data.actionOk ? this.options.log.info.bind(this.options.log) : this.options.log.warn.bind(this.options.log);
    log(`usb drive ${type.slice(4)}`, {
      mountPoint: data.mountPoint,
      reason: data.reason,
      detail: data.detail,
      action: data.action,
      actionDetail: data.actionDetail,
      decisionMs: data.decisionMs,
    });
    const notice = usbNotice(data, new Date().toISOString());
    if (notice) {
      this.options.log.info('usb notice for the pupil', { title: notice.title, why: notice.why, whatToDo: notice.whatToDo });
      this.emit('notice', notice);
    }
  }

  /** Someone remounted a drive we made read-only with write access again: put it back. */
  private async onChanged(volume: MountedVolume): Promise<void> {
    const held = this.decisions.get(volume.key);
    if (!held || held.decision.action !== 'remounted-read-only' || this.options.platform.actions.isReadOnly(volume)) return;
    held.volume = volume;
    const result = await this.options.platform.actions.makeReadOnly(volume);
    await this.options.platform.watcher.refresh();
    this.options.log.warn('a read-only drive was remounted writable; made read-only again', {
      mountPoint: volume.mountPoint,
      ok: result.ok,
      detail: result.detail,
    });
  }
}

async function hasFlag(root: string): Promise<boolean> {
  return lstat(join(root, SCAN_FLAG_FILE)).then(
    () => true,
    () => false,
  );
}

/** The policy may cap a flag's age below what the station allowed. */
function tooOld(verdict: Verdict, policy: UsbPolicy, now: Date): Verdict {
  if (!verdict.ok || !policy.maxFlagAgeDays || !verdict.flag) return verdict;
  const limit = Date.parse(verdict.flag.scannedAt) + policy.maxFlagAgeDays * 86_400_000;
  if (limit > now.getTime()) return verdict;
  return {
    ...verdict,
    ok: false,
    reason: 'expired',
    detail: `flag is older than the policy's ${policy.maxFlagAgeDays} day(s) (scanned ${verdict.flag.scannedAt})`,
  };
}
