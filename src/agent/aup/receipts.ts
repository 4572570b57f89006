import type { KeyObject } from 'node:crypto';
import { AupAcceptRequestSchema } from '../../shared/aup-bridge.js';
import type { AupDocument, AupReceipt } from '../../shared/aup.js';
import { aupHash, signReceipt } from '../../shared/node/aup-verify.js';
import { summariseZodError } from '../../shared/zod-errors.js';

export class ReceiptRefused extends Error {}

/**
 * Turns the pupil's acceptance (from the AUP page, through the bridge) into a receipt signed
 * with the device key. The page says which version it showed; a receipt is only issued for
 * the version the device actually holds, so a stale page cannot accept a newer text.
 */
export function receiptForAcceptance(opts: {
  request: unknown;
  aup: AupDocument;
  deviceId: string;
  user: string;
  key: { privateKey: KeyObject; publicKey: string };
  now?: Date;
}): AupReceipt {
  const parsed = AupAcceptRequestSchema.safeParse(opts.request);
  if (!parsed.success) throw new ReceiptRefused(`the acceptance cannot be saved: ${summariseZodError(parsed.error)}`);
  const shown = parsed.data;
  if (shown.variant !== opts.aup.variant || shown.version !== opts.aup.version || shown.aupHash !== aupHash(opts.aup)) {
    throw new ReceiptRefused('the rules changed while you were reading; please read the new version');
  }
  return signReceipt(
    {
      kind: 'vigil.aup-receipt',
      deviceId: opts.deviceId,
      user: opts.user,
      variant: opts.aup.variant,
      version: opts.aup.version,
      aupHash: aupHash(opts.aup),
      typedName: shown.typedName,
      acceptedAt: (opts.now ?? new Date()).toISOString(),
    },
    opts.key.privateKey,
    opts.key.publicKey,
  );
}
