import { randomBytes } from 'node:crypto';
import { Secret, TOTP } from 'otpauth';
import { MfaPolicySchema, RecoveryCodeSchema, TotpCodeSchema, type MfaPolicy } from '../shared/accounts.js';
import { sha256Hex } from '../shared/node/crypto.js';
import type { Role } from '../shared/roles.js';
import { ConflictError, InvalidError } from './errors.js';
import type { ConsoleStore, SignInMethod } from './store/store.js';

const PERIOD_S = 30;
const RECOVERY_CODES = 10;
const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';
const MFA_POLICY_KEY = 'mfa.required-roles';

/**
 * TOTP (RFC 6238: SHA-1, six digits, 30 s, one step either side for clock drift) and one-time
 * recovery codes for local accounts. A code is accepted once: the last accepted step is stored
 * and only later steps pass. Recovery codes carry 60 random bits each, so a plain SHA-256 is
 * enough to keep them useless to someone who reads the database (no slow hash needed).
 */
export class SecondFactorService {
  constructor(
    private readonly store: ConsoleStore,
    private readonly now: () => number = Date.now,
  ) {}

  async policy(): Promise<MfaPolicy> {
    const raw = await this.store.getSetting(MFA_POLICY_KEY);
    const parsed = raw ? MfaPolicySchema.safeParse(JSON.parse(raw)) : null;
    return parsed?.success ? parsed.data : { requiredRoles: [] };
  }

  async setPolicy(policy: MfaPolicy): Promise<void> {
    await this.store.setSetting(MFA_POLICY_KEY, JSON.stringify({ requiredRoles: [...new Set(policy.requiredRoles)] }));
  }

  async requiredFor(role: Role): Promise<boolean> {
    return (await this.policy()).requiredRoles.includes(role);
  }

  async isEnrolled(username: string): Promise<boolean> {
    return !!(await this.store.getTotp(username))?.confirmedAt;
  }

  /** A new secret to show once (as text and as an otpauth:// URI for a QR code); not active until confirmed. */
  async startEnrolment(username: string): Promise<{ secret: string; uri: string }> {
    if (await this.isEnrolled(username)) throw new ConflictError('enrolled', 'a second factor is set up already; an admin can reset it');
    const secret = new Secret({ size: 20 }).base32;
    await this.store.putTotp({ username, secret, createdAt: new Date(this.now()).toISOString(), confirmedAt: null, lastStep: 0 });
    return { secret, uri: this.totp(username, secret).toString() };
  }

  /** The first good code turns the secret on; the answer is the recovery codes, shown this once. */
  async confirmEnrolment(username: string, code: string): Promise<string[]> {
    const record = await this.store.getTotp(username);
    if (!record || record.confirmedAt) throw new ConflictError('not-enrolling', 'start setting up the authenticator first');
    const step = this.matchingStep(username, record.secret, code);
    if (step === null) throw new InvalidError('bad-code', 'that code does not match; check the time on your phone and try the next code');
    if (!(await this.store.confirmTotp(username, new Date(this.now()).toISOString(), step))) {
      throw new ConflictError('not-enrolling', 'start setting up the authenticator first');
    }
    return this.newRecoveryCodes(username);
  }

  /**
   * Checks a second-factor code at sign-in. Returns how the person proved themself, or null.
   * The caller counts a null against the sign-in rate limit.
   */
  async verify(username: string, code: string): Promise<SignInMethod | null> {
    const record = await this.store.getTotp(username);
    if (!record?.confirmedAt) return null;
    if (TotpCodeSchema.safeParse(code).success) {
      const step = this.matchingStep(username, record.secret, code);
      return step !== null && (await this.store.useTotpStep(username, step)) ? 'password+totp' : null;
    }
    if (RecoveryCodeSchema.safeParse(code).success) {
      return (await this.store.useRecoveryCode(username, sha256Hex(code), new Date(this.now()).toISOString())) ? 'recovery-code' : null;
    }
    return null;
  }

  async reset(username: string): Promise<void> {
    await this.store.deleteSecondFactor(username);
  }

  private async newRecoveryCodes(username: string): Promise<string[]> {
    const codes = Array.from({ length: RECOVERY_CODES }, recoveryCode);
    await this.store.replaceRecoveryCodes(username, codes.map(sha256Hex));
    return codes;
  }

  private totp(username: string, secret: string): TOTP {
    return new TOTP({ issuer: 'Vigil', label: username, algorithm: 'SHA1', digits: 6, period: PERIOD_S, secret: Secret.fromBase32(secret) });
  }

  private matchingStep(username: string, secret: string, code: string): number | null {
    if (!TotpCodeSchema.safeParse(code).success) return null;
    const timestamp = this.now();
    const delta = this.totp(username, secret).validate({ token: code, timestamp, window: 1 });
    return delta === null ? null : Math.floor(timestamp / 1000 / PERIOD_S) + delta;
  }
}

function recoveryCode(): string {
  const bytes = randomBytes(12);
  const chars = [...bytes].map((b) => BASE32[b % 32]).join('');
  return `${chars.slice(0, 4)}-${chars.slice(4, 8)}-${chars.slice(8, 12)}`;
}
