import type { BundleStations, StationRecord } from '../shared/usb-policy.js';

/** The registry as the bundle carries it; null when no station was ever registered. */
export function bundleStations(records: readonly StationRecord[]): BundleStations | null {
  if (records.length === 0) return null;
  const key = ({ id, publicKey, keyId: kid }: StationRecord) => ({ id, publicKey, keyId: kid });
  return {
    trusted: records.filter((r) => !r.revokedAt).map(key),
    revoked: records.filter((r) => r.revokedAt).map((r) => ({ ...key(r), revokedAt: r.revokedAt! })),
  };
}
