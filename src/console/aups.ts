import { csvRows } from '../shared/csv.js';
import type { AupStatusResponse, AupStatusRow } from '../shared/admin-api.js';
import type { AupCoverageRow, AupReceipt } from '../shared/aup.js';
import { aupHash, checkReceipt, signAup } from '../shared/node/aup-verify.js';
import type { Logger } from '../shared/node/log.js';
import type { ConsoleIdentity } from './identity.js';
import type { AupRecord, ConsoleStore } from './store/store.js';

/** The AUP variant of the policy bundle a device is offered (policies/compose.ts `aupVariantOf`). */
export type AupVariantOf = (deviceId: string) => Promise<string | undefined>;

/**
 * AUP versions per variant, signed by the console, and the receipts devices send back.
 * A receipt is stored only if the device's own key signed it and it names, by hash, exactly a
 * version this console published.
 */
export class AupService {
  constructor(
    private readonly store: ConsoleStore,
    private readonly identity: ConsoleIdentity,
    private readonly log: Logger,
    /** Each device's own variant: devices in different group sets may be asked to show different AUPs. */
    private readonly variantOf: AupVariantOf,
  ) {}

  async publish(variant: string, title: string, markdown: string, actor: string): Promise<AupRecord> {
    const publishedAt = new Date().toISOString();
    const record = await this.store.publishAup(variant, (version) => ({
      variant,
      version,
      signed: signAup({ kind: 'vigil.aup', variant, version, title, markdown, publishedAt }, this.identity.privateKey, this.identity.publicKey),
      publishedBy: actor,
      publishedAt,
    }));
    await this.store.appendAudit({ at: publishedAt, actor, action: 'aup.published', target: `aup:${variant}:${record.version}`, detail: { title } });
    return record;
  }

  /** Verifies and stores a receipt from a device; returns whether it was accepted. */
  async recordReceipt(deviceId: string, receipt: AupReceipt): Promise<boolean> {
    const device = await this.store.getDevice(deviceId);
    if (!device) return false;
    const refuse = async (why: string) => {
      this.log.warn('refused an AUP receipt', { deviceId, why });
      await this.store.appendAudit({
        at: new Date().toISOString(),
        actor: `device:${deviceId}`,
        action: 'aup.receipt-refused',
        target: deviceId,
        detail: { why },
      });
      return false;
    };
    if (receipt.payload.deviceId !== deviceId) return refuse('receipt names another device');
    const aup = await this.store.aupVersion(receipt.payload.variant, receipt.payload.version);
    if (!aup) return refuse(`no AUP ${receipt.payload.variant} v${receipt.payload.version} was published`);
    const check = checkReceipt(receipt, device.publicKey, aup.signed.payload);
    if (!check.ok) return refuse(check.detail);
    await this.store.insertAupReceipt(receipt, new Date().toISOString());
    return true;
  }

  /**
   * A device asks whether `user` accepted the AUP text it holds. Answered only for the version
   * this console currently sends that device (its own policy bundle's variant, latest version): a
   * device learns yes/no about one user and the text it shows, never who else accepted or where.
   */
  async acceptance(deviceId: string, user: string, hash: string): Promise<{ accepted: boolean; acceptedAt: string | null; refused: 'not-current' | null }> {
    const variant = await this.variantOf(deviceId);
    const current = variant ? await this.store.latestAup(variant) : null;
    if (!current || this.hashOf(current) !== hash) return { accepted: false, acceptedAt: null, refused: 'not-current' };
    const acceptedAt = await this.store.aupAcceptedAt(user, current.variant, current.version, hash);
    return { accepted: acceptedAt !== null, acceptedAt, refused: null };
  }

  /** The hash of the current version, computed once per version (it is asked for at every sign-in). */
  private readonly hashes = new Map<string, string>();
  private hashOf(record: AupRecord): string {
    const key = `${record.variant}:${record.version}`;
    let hash = this.hashes.get(key);
    if (!hash) {
      hash = aupHash(record.signed.payload);
      if (this.hashes.size > 256) this.hashes.clear();
      this.hashes.set(key, hash);
    }
    return hash;
  }

  coverage(variant?: string): Promise<AupCoverageRow[]> {
    return this.store.aupCoverage({ variant });
  }

  /** The variants devices are asked to show now: each enrolled device's own, sorted. */
  async variantsInUse(): Promise<string[]> {
    const variants = new Set<string>();
    for (const { variant } of await this.devicesWithVariant()) if (variant) variants.add(variant);
    return [...variants].sort();
  }

  private async devicesWithVariant() {
    const devices = (await this.store.listDevices()).filter((d) => !d.revoked);
    return Promise.all(devices.map(async (device) => ({ device, variant: await this.variantOf(device.id) })));
  }

  /**
   * Who must accept `variant` and who has: every account seen signed in on a device whose own
   * policy names it, per device, with the user's acceptance of the current version on any device.
   */
  async status(variant: string): Promise<AupStatusResponse> {
    const current = await this.store.latestAup(variant);
    const devices = (await this.devicesWithVariant()).filter((d) => d.variant === variant).map((d) => d.device);
    const hostnames = new Map(devices.map((d) => [d.id, d.hostname]));
    const receipts = current ? (await this.store.aupCoverage({ variant })).filter((r) => r.version === current.version) : [];
    const firstByUser = new Map<string, AupCoverageRow>();
    for (const r of receipts) if (!firstByUser.has(r.user) || r.acceptedAt < firstByUser.get(r.user)!.acceptedAt) firstByUser.set(r.user, r);
    const here = new Set(receipts.map((r) => `${r.deviceId}\u0000${r.user}`));
    const rows: AupStatusRow[] = (await this.store.usersSeen())
      .filter((seen) => hostnames.has(seen.deviceId))
      .map((seen) => {
        const first = firstByUser.get(seen.user);
        return {
          user: seen.user,
          deviceId: seen.deviceId,
          hostname: hostnames.get(seen.deviceId)!,
          lastSeenAt: seen.lastSeenAt,
          acceptedHere: here.has(`${seen.deviceId}\u0000${seen.user}`),
          acceptedAt: first?.acceptedAt ?? null,
          typedName: first?.typedName ?? null,
        };
      })
      .sort((a, b) => Number(a.acceptedAt !== null) - Number(b.acceptedAt !== null) || a.user.localeCompare(b.user) || a.hostname.localeCompare(b.hostname));
    const users = new Set(rows.map((r) => r.user));
    const accepted = [...users].filter((u) => firstByUser.has(u)).length;
    return {
      variant,
      version: current?.version ?? null,
      devices: devices.length,
      counts: { users: users.size, accepted, notAccepted: users.size - accepted },
      rows,
    };
  }
}

/** The status report as CSV: one line per user and device, those who have not accepted first. */
export function aupStatusCsv(status: AupStatusResponse): string {
  const header = ['variant', 'version', 'user', 'hostname', 'device_id', 'last_seen_at', 'accepted', 'accepted_on_this_device', 'accepted_at', 'typed_name'];
  return csvRows(
    header,
    status.rows.map((r) => [
      status.variant,
      status.version ?? '',
      r.user,
      r.hostname,
      r.deviceId,
      r.lastSeenAt,
      r.acceptedAt !== null,
      r.acceptedHere,
      r.acceptedAt ?? '',
      r.typedName ?? '',
    ]),
  );
}

/**
 * CSV for spreadsheets. Every cell is quoted (so a ";" cannot start a new cell where a
 * spreadsheet splits on semicolons) and cells a spreadsheet would run as a formula are defused.
 */
export function coverageCsv(rows: AupCoverageRow[]): string {
  const header = ['variant', 'version', 'current', 'user', 'typed_name', 'device_id', 'hostname', 'accepted_at'];
  return csvRows(
    header,
    rows.map((r) => [r.variant, r.version, r.current, r.user, r.typedName, r.deviceId, r.hostname, r.acceptedAt]),
  );
}
