import { z } from 'zod';

/**
 * Policy section `tray`: what the service does when a pupil's tray stops (killed, crashed) and
 * is not back within `graceSeconds`. Every case is reported to the console; `restart` starts
 * it again in the user's session, `lock` locks the session (the session runner's lock).
 */
export const TrayPolicySchema = z.strictObject({
  onStopped: z.enum(['restart', 'lock', 'report']).default('restart'),
  graceSeconds: z.number().int().min(2).max(600).default(15),
});
export type TrayPolicy = z.infer<typeof TrayPolicySchema>;
export const DEFAULT_TRAY_POLICY: TrayPolicy = { onStopped: 'restart', graceSeconds: 15 };
