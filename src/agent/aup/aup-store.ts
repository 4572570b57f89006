import { existsSync, readFileSync } from 'node:fs';
import type { SignedAup } from '../../shared/aup.js';
import { checkSignedAup, type AupCheck } from '../../shared/node/aup-verify.js';
import { writeFileAtomic } from '../../shared/node/files.js';

export type AupOffer = { outcome: 'stored' | 'unchanged'; aup: SignedAup } | { outcome: 'rejected'; rejection: Extract<AupCheck, { ok: false }> };

/**
 * The AUP this device shows at sign-in, cached so the gate works offline. Only a document
 * signed by the pinned console key is kept; a newer version replaces an older one (which
 * makes the gate ask everyone again), an older one never replaces a newer.
 */
export class AupStore {
  private current: SignedAup | null = null;

  constructor(
    private readonly file: string,
    private readonly consolePublicKey: string,
  ) {
    if (!existsSync(file)) return;
    try {
      const check = checkSignedAup(JSON.parse(readFileSync(file, 'utf8')), consolePublicKey);
      if (check.ok) this.current = check.aup;
    } catch {
      // An unreadable cache is simply replaced by the next AUP from the console.
    }
  }

  get aup(): SignedAup | null {
    return this.current;
  }

  offer(candidate: unknown): AupOffer {
    const check = checkSignedAup(candidate, this.consolePublicKey);
    if (!check.ok) return { outcome: 'rejected', rejection: check };
    const incoming = check.aup.payload;
    const held = this.current?.payload;
    if (held && held.variant === incoming.variant && held.version >= incoming.version) return { outcome: 'unchanged', aup: this.current! };
    writeFileAtomic(this.file, JSON.stringify(check.aup), 0o600);
    this.current = check.aup;
    return { outcome: 'stored', aup: check.aup };
  }
}
