import { keyId } from '../shared/node/crypto.js';
import type { Logger } from '../shared/node/log.js';
import type { StationRecord } from '../shared/usb-policy.js';
import { ConflictError, NotFoundError } from './errors.js';
import type { PolicyService } from './policies.js';
import type { ConsoleStore, PolicyRecord } from './store/store.js';

/**
 * The registry of scan-station keys. Devices learn it only through the signed policy bundle
 * (PolicyService.publish adds it), so every change publishes the latest policy document again
 * as a new version and delivers it live: a revoked key stops working on a device as soon as
 * the device takes that version, and never comes back (bundles cannot be rolled back).
 */
export class StationKeyService {
  constructor(
    private readonly store: ConsoleStore,
    private readonly policies: PolicyService,
    private readonly deliver: (record: PolicyRecord) => Promise<number>,
    private readonly log: Logger,
  ) {}

  list(): Promise<StationRecord[]> {
    return this.store.listStationKeys();
  }

  register(id: string, publicKey: string, actor: string): Promise<{ station: StationRecord; version: number | null; deliveredTo: number }> {
    return this.policies.serially(async () => {
      const kid = keyId(publicKey);
      const known = (await this.store.listStationKeys()).find((s) => s.id === id || s.publicKey === publicKey);
      if (known) {
        const what = known.id === id ? `station id "${id}" is already registered` : `this key is already registered as station "${known.id}"`;
        throw new ConflictError('already-registered', `${what}${known.revokedAt ? ' (revoked; a revoked key cannot be registered again)' : ''}`);
      }
      const at = new Date().toISOString();
      await this.store.insertStationKey({ id, publicKey, keyId: kid, registeredBy: actor, registeredAt: at });
      const published = await this.republish(actor);
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
    return this.policies.serially(async () => {
      const station = await this.find(id);
      if (!station) throw new NotFoundError(`no scan station "${id}"`);
      if (station.revokedAt)
        throw new ConflictError('already-revoked', `station "${id}" was already revoked by ${station.revokedBy ?? 'someone'} at ${station.revokedAt}`);
      const at = new Date().toISOString();
      await this.store.revokeStationKey(id, actor, at);
      const published = await this.republish(actor);
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
  private async republish(actor: string): Promise<{ version: number | null; deliveredTo: number }> {
    const record = await this.policies.republish(actor);
    return record ? { version: record.version, deliveredTo: await this.deliver(record) } : { version: null, deliveredTo: 0 };
  }
}
