import { csvRows } from '../shared/csv.js';
import type { AupCoverageRow, AupReceipt } from '../shared/aup.js';
import { checkReceipt, signAup } from '../shared/aup-verify.js';
import type { Logger } from '../shared/log.js';
import type { ConsoleIdentity } from './identity.js';
import type { AupRecord, ConsoleStore } from './store/store.js';

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
      await this.store.appendAudit({ at: new Date().toISOString(), actor: `device:${deviceId}`, action: 'aup.receipt-refused', target: deviceId, detail: { why } });
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

  coverage(variant?: string): Promise<AupCoverageRow[]> {
    return this.store.aupCoverage({ variant });
  }
}

/**
 * CSV for spreadsheets. Every cell is quoted (so a ";" cannot start a new cell where a
 * spreadsheet splits on semicolons) and cells a spreadsheet would run as a formula are defused.
 */
export function coverageCsv(rows: AupCoverageRow[]): string {
  const header = ['variant', 'version', 'current', 'user', 'typed_name', 'device_id', 'hostname', 'accepted_at'];
  return csvRows(header, rows.map((r) => [r.variant, r.version, r.current, r.user, r.typedName, r.deviceId, r.hostname, r.acceptedAt]));
}
