import type { KeyObject } from 'node:crypto';
import type { AupAcceptRequest, AupBridgeResult, AupPageData } from '../../shared/aup-bridge.js';
import { AupUserSchema, type SignedAup } from '../../shared/aup.js';
import { aupHash, checkReceipt } from '../../shared/node/aup-verify.js';
import type { NewAgentEvent } from '../../shared/events.js';
import type { Logger } from '../../shared/node/log.js';
import type { PolicyBundle } from '../../shared/policy.js';
import type { AcceptanceRecords } from './acceptances.js';
import type { AupGateApi, AupGateDecision } from './gate-api.js';
import { ReceiptRefused, receiptForAcceptance } from './receipts.js';

/** What the console said about one user and one AUP text, or why it could not say. */
export type ConsoleAcceptance =
  | { kind: 'answered'; accepted: boolean; acceptedAt: string | null }
  /** The link is down: the page says the receipt will be queued. */
  | { kind: 'offline' }
  /** The link is up but there was no usable answer (timeout, refused). */
  | { kind: 'unanswered'; detail: string };

export interface AupGateOptions {
  deviceId: string;
  key: { privateKey: KeyObject; publicKey: string };
  /** The signed AUP this device must show now (the policy's variant), or null for none. */
  aup: () => SignedAup | null;
  /** The school's name for the page heading. */
  school: () => string;
  records: AcceptanceRecords;
  askConsole: (user: string, aupHash: string) => Promise<ConsoleAcceptance>;
  emit: (event: NewAgentEvent) => void;
  /** Signs this user out now; resolves with what happened. */
  logoff: (user: string) => Promise<{ ok: boolean; detail: string }>;
  log: Logger;
  now?: () => Date;
}

/**
 * The AUP gate, per user, per device, per AUP version. Not needed when this device holds a
 * receipt it signed for the exact text, or knows (from the console, remembered across restarts)
 * that the user accepted that text elsewhere; otherwise the page is shown — offline too, from
 * the cached signed AUP, with the receipt queued in the outbox. Accepting signs a receipt only
 * for the text held now; declining signs the user out.
 */
export class AupGate implements AupGateApi {
  constructor(private readonly options: AupGateOptions) {}

  async decide(user: string): Promise<AupGateDecision> {
    checkUser(user);
    const signed = this.options.aup();
    if (!signed) return { needed: false, reason: 'no-aup' };
    const aup = signed.payload;
    const hash = aupHash(aup);
    const known = this.options.records.get(user, hash);
    if (known?.source === 'here') {
      // The store is only writable by the service, but a receipt must still prove itself.
      const check = checkReceipt(known.receipt, this.options.key.publicKey, aup);
      if (check.ok && check.receipt.payload.user === user && check.receipt.payload.deviceId === this.options.deviceId)
        return { needed: false, reason: 'accepted-here' };
      this.options.log.warn('a stored AUP receipt does not verify; asking again', {
        user,
        detail: check.ok ? 'receipt names another user or device' : check.detail,
      });
    }
    if (known?.source === 'elsewhere') return { needed: false, reason: 'accepted-elsewhere' };
    const answer = await this.options.askConsole(user, hash).catch((error: Error): ConsoleAcceptance => ({ kind: 'unanswered', detail: error.message }));
    if (answer.kind === 'answered' && answer.accepted) {
      this.options.records.addElsewhere(user, { variant: aup.variant, version: aup.version, hash }, answer.acceptedAt);
      return { needed: false, reason: 'accepted-elsewhere' };
    }
    if (answer.kind === 'unanswered')
      this.options.log.info('the console did not say whether this user accepted the AUP elsewhere', { user, detail: answer.detail });
    const page: AupPageData = {
      variant: aup.variant,
      version: aup.version,
      aupHash: hash,
      title: aup.title,
      markdown: aup.markdown,
      school: this.options.school().slice(0, 120),
      user,
      offline: answer.kind !== 'answered',
    };
    return { needed: true, reason: this.options.records.acceptedEarlier(user, aup.variant, hash) ? 'new-version' : 'not-accepted', page };
  }

  async accept(user: string, request: AupAcceptRequest): Promise<AupBridgeResult> {
    if (!AupUserSchema.safeParse(user).success) return { ok: false, message: 'no signed-in user to record the acceptance for' };
    const signed = this.options.aup();
    if (!signed) return { ok: false, message: 'there are no rules to accept on this computer right now' };
    try {
      const receipt = receiptForAcceptance({
        request,
        aup: signed.payload,
        deviceId: this.options.deviceId,
        user,
        key: this.options.key,
        now: this.options.now?.(),
      });
      this.options.records.addReceipt(receipt);
      this.options.emit({ type: 'aup.accepted', data: { receipt } });
      this.options.log.info('AUP accepted', { user, variant: receipt.payload.variant, version: receipt.payload.version });
      return { ok: true };
    } catch (error) {
      if (error instanceof ReceiptRefused) return { ok: false, message: error.message };
      throw error;
    }
  }

  async decline(user: string): Promise<AupBridgeResult> {
    if (!AupUserSchema.safeParse(user).success) return { ok: false, message: 'no signed-in user to sign out' };
    const aup = this.options.aup()?.payload;
    const done = await this.options.logoff(user).catch((error: Error) => ({ ok: false, detail: error.message }));
    this.options.emit({
      type: 'aup.declined',
      data: { user, variant: aup?.variant ?? null, version: aup?.version ?? null, logoff: done.ok, detail: done.detail },
    });
    this.options.log.info('AUP declined', { user, logoff: done.ok, detail: done.detail });
    return done.ok ? { ok: true } : { ok: false, message: `could not sign you out: ${done.detail}`.slice(0, 500) };
  }
}

export class AupGateError extends Error {}

/**
 * The AUP to show under this policy: the held one only if it is the variant the policy names.
 * Until the console delivers the named variant there is nothing to show (no gate), rather than
 * asking pupils to accept a variant that is not theirs.
 */
export function aupToShow(policy: PolicyBundle | null, held: SignedAup | null): SignedAup | null {
  const variant = policy?.payload.policy.aup?.variant;
  return held && variant === held.payload.variant ? held : null;
}

function checkUser(user: string): void {
  if (!AupUserSchema.safeParse(user).success) throw new AupGateError('a user name of 1 to 128 characters is needed');
}
