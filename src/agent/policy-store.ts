import { existsSync, readFileSync } from 'node:fs';
import type { PolicyBundle } from '../shared/policy.js';
import { bundleFileBytes, checkPolicyBundle, type BundleCheck } from '../shared/node/policy-verify.js';
import { writeFileAtomic } from '../shared/node/files.js';

export type PolicyOffer =
  | { outcome: 'applied'; bundle: PolicyBundle }
  | { outcome: 'unchanged'; bundle: PolicyBundle }
  | { outcome: 'rejected'; rejection: Extract<BundleCheck, { ok: false }>; kept: PolicyBundle | null };

/**
 * The last good policy bundle, on disk so the device enforces it offline and after restarts.
 * A candidate replaces it only if it is signed by the pinned console key, not expired, and not
 * older than what is held (rollback protection). The held bundle is re-verified at load.
 */
export class PolicyStore {
  private current: PolicyBundle | null = null;
  loadProblem: string | null = null;

  constructor(
    private readonly file: string,
    private readonly consolePublicKey: string,
  ) {
    this.load();
  }

  get bundle(): PolicyBundle | null {
    return this.current;
  }

  get version(): number | null {
    return this.current?.payload.version ?? null;
  }

  offer(candidate: unknown, now = new Date()): PolicyOffer {
    const check = checkPolicyBundle(candidate, { trustedKey: this.consolePublicKey, heldVersion: this.version, now });
    if (!check.ok) return { outcome: 'rejected', rejection: check, kept: this.current };
    if (check.bundle.payload.version === this.version) return { outcome: 'unchanged', bundle: this.current! };
    writeFileAtomic(this.file, bundleFileBytes(check.bundle), 0o600);
    this.current = check.bundle;
    return { outcome: 'applied', bundle: check.bundle };
  }

  private load(): void {
    if (!existsSync(this.file)) return;
    let data: unknown;
    try {
      data = JSON.parse(readFileSync(this.file, 'utf8'));
    } catch (error) {
      this.loadProblem = `stored policy is unreadable: ${(error as Error).message}`;
      return;
    }
    // Expiry is not re-checked here: an expired bundle is still the best the device has while
    // the console is out of reach (the service reports the expiry as an event).
    const check = checkPolicyBundle(data, { trustedKey: this.consolePublicKey, heldVersion: null, checkTimes: false });
    if (!check.ok) {
      this.loadProblem = `stored policy failed verification (${check.reason}): ${check.detail}`;
      return;
    }
    this.current = check.bundle;
  }
}
