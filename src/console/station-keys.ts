import { keyId } from '../shared/node/crypto.js';
import type { Logger } from '../shared/node/log.js';
import { SerialQueue } from '../shared/serial-queue.js';
import type { StationRecord } from '../shared/usb-policy.js';
import { ConflictError, NotFoundError } from './errors.js';
import type { PolicyRenewal } from './maintenance.js';
import type { ConsoleStore } from './store/store.js';

/**
 * The registry of scan-station keys. Devices learn it only through the signed policy bundle
 * (the publisher adds it to every group set's bundle), so every change signs every bundle again
 * as a new version and delivers it live: a revoked key stops working on a device as soon as
 * the device takes that version, and never comes back (bundles cannot be rolled back).
 */
export class StationKeyService {
  constructor(
    private readonly store: ConsoleStore,
    private readonly policies: Pick<PolicyRenewal, 'renewAll'>,
    private readonly log: Logger,
  ) {}

  /** Registrations and revocations one at a time: each reads the registry the previous one left. */
  private readonly queue = new SerialQueue();

  list(): Promise<StationRecord[]> {
    return this.store.listStationKeys();
  }

  register(id: string, publicKey: string, actor: string): Promise<{ station: StationRecord; version: number | null; deliveredTo: number }> {
    return this.queue.run(async () => {
      const kid = keyId(publicKey);
      const known = (await this.store.listStationKeys()).find((s) => s.id === id || s.publicKey === publicKey);
      if (known) {
        const what = known.id === id ? `station id "${id}" is already registered` : `this key is already registered as station "${known.id}"`;
        throw new ConflictError('already-registered', `${what}${known.revokedAt ? ' (revoked; a revoked key cannot be registered again)' : ''}`);
      }
      const at = new Date().toISOString();
      await this.store.insertStationKey({ id, publicKey, keyId: kid, registeredBy: actor, registeredAt: at });
      const published = await this.republish();
      await this.store.appendAudit({
        at,
        actor,
        action: 'station.registered',
        target: `station:${id}`,
        detail: { keyId: kid, policyVersion: published.version },
      });
      this.log.info('scan station registered', { id, keyId: kid, policyVersion: published.version });
      return { station: (await this.find(id))!, ...published };
    });
  }

  revoke(id: string, actor: string): Promise<{ station: StationRecord; version: number | null; deliveredTo: number }> {
    return this.queue.run(async () => {
      const station = await this.find(id);
      if (!station) throw new NotFoundError(`no scan station "${id}"`);
      if (station.revokedAt)
        throw new ConflictError('already-revoked', `station "${id}" was already revoked by ${station.revokedBy ?? 'someone'} at ${station.revokedAt}`);
      const at = new Date().toISOString();
      await this.store.revokeStationKey(id, actor, at);
      const published = await this.republish();
      await this.store.appendAudit({
        at,
        actor,
        action: 'station.revoked',
        target: `station:${id}`,
        detail: { keyId: station.keyId, policyVersion: published.version },
      });
      this.log.info('scan station revoked', { id, keyId: station.keyId, policyVersion: published.version });
      return { station: (await this.find(id))!, ...published };
    });
  }

  private async find(id: string): Promise<StationRecord | null> {
    return (await this.store.listStationKeys()).find((s) => s.id === id) ?? null;
  }

  /** Without a published policy there is nothing to carry the keys yet: the first publication will. */
  private async republish(): Promise<{ version: number | null; deliveredTo: number }> {
    const { version, notified } = await this.policies.renewAll();
    return { version, deliveredTo: notified };
  }
}
