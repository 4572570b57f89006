import type { KeyObject } from 'node:crypto';
import { canonicalJson } from '../canonical-json.js';
import { sha256Hex } from './crypto.js';
import { AupReceiptSchema, SignedAupSchema, type AupDocument, type AupReceipt, type AupReceiptPayload, type SignedAup } from '../aup.js';
import { signPayload, verifyPayload } from './signing.js';
import { summariseZodError } from '../zod-errors.js';

export function signAup(document: AupDocument, privateKey: KeyObject | string, publicKey: string): SignedAup {
  return { payload: document, signature: signPayload('aup', document, privateKey, publicKey) };
}

export function aupHash(document: AupDocument): string {
  return sha256Hex(canonicalJson(document));
}

export type AupCheck = { ok: true; aup: SignedAup } | { ok: false; reason: 'malformed' | 'bad-signature'; detail: string };

/** A tampered AUP is refused: the pupil must only ever be asked to accept what the school signed. */
export function checkSignedAup(candidate: unknown, consolePublicKey: string): AupCheck {
  const parsed = SignedAupSchema.safeParse(candidate);
  if (!parsed.success) return { ok: false, reason: 'malformed', detail: summariseZodError(parsed.error) };
  if (!verifyPayload('aup', parsed.data.payload, parsed.data.signature, consolePublicKey)) {
    return { ok: false, reason: 'bad-signature', detail: 'the AUP does not carry a valid signature from the console' };
  }
  return { ok: true, aup: parsed.data };
}

export function signReceipt(payload: AupReceiptPayload, devicePrivateKey: KeyObject | string, devicePublicKey: string): AupReceipt {
  return { payload, signature: signPayload('aup-receipt', payload, devicePrivateKey, devicePublicKey) };
}

export type ReceiptCheck = { ok: true; receipt: AupReceipt } | { ok: false; detail: string };

/** Checks a receipt against the device key and, when given, the exact AUP it claims to accept. */
export function checkReceipt(candidate: unknown, devicePublicKey: string, aup?: AupDocument): ReceiptCheck {
  const parsed = AupReceiptSchema.safeParse(candidate);
  if (!parsed.success) return { ok: false, detail: summariseZodError(parsed.error) };
  const receipt = parsed.data;
  if (!verifyPayload('aup-receipt', receipt.payload, receipt.signature, devicePublicKey)) {
    return { ok: false, detail: 'receipt is not signed by the device key' };
  }
  if (aup) {
    if (receipt.payload.variant !== aup.variant || receipt.payload.version !== aup.version) {
      return { ok: false, detail: `receipt is for ${receipt.payload.variant} v${receipt.payload.version}, not ${aup.variant} v${aup.version}` };
    }
    if (receipt.payload.aupHash !== aupHash(aup)) return { ok: false, detail: 'receipt names a different AUP text' };
  }
  return { ok: true, receipt };
}
