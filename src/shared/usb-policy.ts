import { z } from 'zod';
import { Base64PublicKey, KeyIdSchema } from './signed.js';
import { boundedText, IsoDateTime } from './text.js';

/**
 * USB storage control: the `usb` section of a policy document (what the Systems Manager
 * writes) and the station keys the console adds to every signed bundle (what the console
 * registry holds). See docs/usb.md.
 */

export const UsbVerifyLevelSchema = z.enum(['fast', 'strict']);
/** What happens to a drive whose flag does not verify. */
export const UsbResponseSchema = z.enum(['block', 'read-only', 'allow-and-audit']);
export type UsbResponse = z.infer<typeof UsbResponseSchema>;

/**
 * A glob over a mount point or a device path: `*` matches within one path segment, `**`
 * across segments, `?` one character but `/` (src/agent/path-glob.ts). Only absolute paths.
 */
export const PathGlobSchema = z
  .string()
  .min(2)
  .max(512)
  .regex(/^\/[^\0\n]*$/, 'must be an absolute path pattern');

/**
 * Mounts to handle as removable storage although the OS does not say so: loop devices in a
 * test rig, or an automounter that presents sticks through loop/FUSE. Both fields given: both
 * must match.
 */
export const TreatAsRemovableSchema = z
  .strictObject({
    mountPoint: PathGlobSchema.optional(),
    source: PathGlobSchema.optional(),
    note: boundedText(200).optional(),
  })
  .refine((r) => r.mountPoint !== undefined || r.source !== undefined, 'give mountPoint, source or both');

export const UsbPolicySchema = z.strictObject({
  /** fast: sizes + mtimes, re-hash what changed; strict: re-hash every file. */
  verification: UsbVerifyLevelSchema.default('fast'),
  response: UsbResponseSchema.default('block'),
  /** School-issued (encrypted) drives, by the USB serial the device reports: allowed without a flag. */
  allowSerials: z
    .array(
      z.strictObject({
        serial: z
          .string()
          .min(1)
          .max(128)
          .regex(/^[\x20-\x7e]+$/, 'printable ASCII only'),
        note: boundedText(200).optional(),
      }),
    )
    .max(5000)
    .default([]),
  /** A flag older than this is treated as expired even if the station gave it longer. */
  maxFlagAgeDays: z.number().int().min(1).max(365).optional(),
  treatAsRemovable: z.array(TreatAsRemovableSchema).max(64).default([]),
});
export type UsbPolicy = z.infer<typeof UsbPolicySchema>;

/** A scan-station key as the console registered it. */
export const StationKeySchema = z.strictObject({
  id: z
    .string()
    .min(1)
    .max(64)
    .regex(/^[A-Za-z0-9._:-]+$/, 'letters, digits and . _ : - only'),
  publicKey: Base64PublicKey,
  keyId: KeyIdSchema,
});
export type StationKey = z.infer<typeof StationKeySchema>;

/**
 * Station keys carried inside the signed policy bundle, so a device trusts them offline and a
 * rollback to an older bundle (one that still trusted a revoked key) is refused by the
 * bundle's version check. Revoked keys stay listed: revocation wins over any other trust.
 */
export const BundleStationsSchema = z.strictObject({
  trusted: z.array(StationKeySchema).max(1000),
  revoked: z.array(StationKeySchema.extend({ revokedAt: IsoDateTime })).max(10_000),
});
export type BundleStations = z.infer<typeof BundleStationsSchema>;

/** The console registry's view of one station key (API and CLI). */
export const StationRecordSchema = StationKeySchema.extend({
  registeredBy: z.string(),
  registeredAt: IsoDateTime,
  revokedBy: z.string().nullable(),
  revokedAt: IsoDateTime.nullable(),
});
export type StationRecord = z.infer<typeof StationRecordSchema>;

export const StationRegisterRequestSchema = StationKeySchema.omit({ keyId: true });

/** Why a drive was allowed, limited or refused: the verifier's reasons plus the allowlist. */
export const UsbDecisionReasonSchema = z.enum([
  'ok',
  'allowlisted-serial',
  'not-scanned',
  'malformed',
  'unknown-station',
  'revoked-station',
  'bad-signature',
  'expired',
  'not-yet-valid',
  'wrong-volume',
  'changed-since-scan',
  'unreadable',
]);
export type UsbDecisionReason = z.infer<typeof UsbDecisionReasonSchema>;

/** One decision about one mounted drive: the data of every usb.* event. */
export const UsbDecisionDataSchema = z.strictObject({
  mountPoint: boundedText(4096),
  device: boundedText(4096),
  label: boundedText(64).nullable(),
  fsType: boundedText(32),
  fsUuid: boundedText(64).nullable(),
  usbSerial: boundedText(128).nullable(),
  /** How the agent knew it was removable: the OS said so, or a treatAsRemovable rule. */
  classifiedBy: z.enum(['os', 'policy']),
  reason: UsbDecisionReasonSchema,
  detail: boundedText(512),
  level: UsbVerifyLevelSchema,
  response: UsbResponseSchema.nullable(),
  /** What the agent did and whether it worked (an unmount can fail on a busy drive). */
  action: z.enum(['none', 'unmounted', 'remounted-read-only']),
  actionOk: z.boolean(),
  actionDetail: boundedText(512),
  stationId: boundedText(64).nullable(),
  /** When the mount was seen, and how long from then until the response was in place. */
  detectedAt: IsoDateTime,
  decisionMs: z.number().int().nonnegative(),
  files: z.number().int().nonnegative(),
  hashedFiles: z.number().int().nonnegative(),
});
export type UsbDecisionData = z.infer<typeof UsbDecisionDataSchema>;
