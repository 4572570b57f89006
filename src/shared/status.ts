import { z } from 'zod';
import { boundedText, IsoDateTime } from './text.js';

export const PlatformSchema = z.enum(['linux', 'win32', 'darwin', 'other']);
export type Platform = z.infer<typeof PlatformSchema>;

/** What a device reports about itself. Deliberately small: enough for IT, nothing more. */
export const DeviceStatusSchema = z.strictObject({
  hostname: boundedText(255),
  os: z.strictObject({
    platform: PlatformSchema,
    release: boundedText(128),
    distro: boundedText(128).nullable(),
    arch: boundedText(32),
  }),
  /** The user signed in at the console seat, if any. */
  user: boundedText(128).nullable(),
  /** Everyone with a session on the device (remote sessions included), capped. */
  users: z.array(boundedText(128)).max(64),
  uptimeSeconds: z.number().int().nonnegative(),
  agentVersion: boundedText(64),
  policyVersion: z.number().int().positive().nullable(),
  collectedAt: IsoDateTime,
});
export type DeviceStatus = z.infer<typeof DeviceStatusSchema>;
