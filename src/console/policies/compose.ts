import type { Logger } from '../../shared/node/log.js';
import { signDigest, signPayload } from '../../shared/node/signing.js';
import type { SignedAup } from '../../shared/aup.js';
import type { BundleStations } from '../../shared/usb-policy.js';
import type { ConsoleIdentity } from '../identity.js';
import { bundleStations } from '../station-bundle.js';
import type { ConsoleStore } from '../store/store.js';
import type { PolicyChangeNotice } from './distribution-port.js';
import { PolicyDistribution, type DistributionDeps } from './distribution.js';
import { PolicyLifetime } from './lifetime.js';
import { migrateSinglePolicyOnce } from './plane-migration.js';
import { PolicyPlane } from './plane.js';
import { PolicyPublisher } from './publisher.js';
import { PreallocatedVersions } from './version-slot.js';

export interface PolicyPartsDeps {
  store: ConsoleStore;
  identity: ConsoleIdentity;
  hub: DistributionDeps['hub'] & { broadcastAup(signed: SignedAup, variantOf: (deviceId: string) => Promise<string | undefined>): Promise<number> };
  /** Dashboards are told of each published version. */
  feed: { publish(message: { kind: 'policy'; version: number }): void };
  log: Logger;
  /** Tells the other console processes on the same database (cluster/broadcasts.ts). */
  announce?: (change: PolicyChangeNotice) => void;
  /** Whether another console process can be listening (a bus others are on). */
  othersListening?: () => boolean;
}

export interface PolicyParts {
  plane: PolicyPlane;
  distribution: PolicyDistribution;
  /** The AUP variant of the policy a device is offered (its group set's). */
  aupVariantOf(deviceId: string): Promise<string | undefined>;
}

/**
 * The console's policy side, built once (composition.ts; the policy tests build the same): the
 * plane (groups, named policies, assignments) decides what each device enforces, distribution
 * signs one bundle per group set and gets it to devices (docs/policies.md). Runs the upgrade's
 * data step, offers again the bundles signed before this start, and publishes what changed since.
 */
export async function composePolicy({ store, identity, hub, feed, log, announce, othersListening }: PolicyPartsDeps): Promise<PolicyParts> {
  const lifetime = new PolicyLifetime(store);
  let stations: BundleStations | undefined;
  // The plane is built after distribution, which asks it for group sets and versions.
  let plane: PolicyPlane | null = null;
  const versions = new PreallocatedVersions(async () => {
    // What a signing reads from the store, with its version: the lifetime the last push asked
    // for and the scan-station keys every bundle carries.
    await lifetime.load();
    stations = bundleStations(await store.listStationKeys()) ?? undefined;
    return plane!.nextVersion();
  });
  const publisher = new PolicyPublisher({
    // By digest: signing 11 MB with Ed25519 hashes it twice more (docs/policies.md, signatures).
    sign: (sha256) => signDigest('policy', sha256, identity.privateKey, identity.publicKey),
    now: () => new Date(),
    nextVersion: versions.take,
    lifetimeMs: lifetime.ms,
    stations: () => stations,
  });
  const aupVariantOf = async (deviceId: string) => (await distribution.bundleFor(deviceId))?.payload.policy.aup?.variant;
  const distribution = new PolicyDistribution({
    publisher,
    hub,
    plane: { groupSetOf: (id) => plane!.groupSetOf(id) },
    versions,
    store,
    publicKeyOf: async (id) => {
      const device = await store.getDevice(id);
      return device && !device.revoked ? device.publicKey : null;
    },
    onContentDue: () => plane!.republish(),
    // Other processes take the signed sets from the store: they are told once the sets are there.
    stored: (_version, moved) => announce?.(moved ? { devices: [...moved], signed: true } : {}),
    othersWaitForStore: () => othersListening?.() ?? false,
    published: async (version, variants) => {
      feed.publish({ kind: 'policy', version });
      // A change may switch devices to another AUP variant: its text goes out too.
      for (const variant of variants) {
        const aup = await store.latestAup(variant);
        if (aup) await hub.broadcastAup(aup.signed, aupVariantOf);
      }
    },
    log: log.child('policy-delivery'),
    // Agents from before notices and digest signatures check the whole payload's signature.
    signFrame: (payload) => signPayload('policy', payload, identity.privateKey, identity.publicKey),
  });
  // The upgrade's data step: today's single policy becomes the baseline (once; see plane-migration.ts).
  if (await migrateSinglePolicyOnce(store, new Date())) log.info('the single policy document is now the baseline policy');
  plane = new PolicyPlane({ store, distribution, announce });
  await distribution.restore();
  await plane.republish();
  return { plane, distribution, aupVariantOf };
}
