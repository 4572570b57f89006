import type { PolicyBundle, PolicyDocument } from '../shared/policy.js';
import { signPolicyBundle } from '../shared/policy-verify.js';
import type { ConsoleIdentity } from './identity.js';
import type { ConsoleStore, PolicyRecord } from './store/store.js';

/** Turns a policy document into the next signed bundle and records who published it. */
export class PolicyService {
  constructor(
    private readonly store: ConsoleStore,
    private readonly identity: ConsoleIdentity,
  ) {}

  async publish(document: PolicyDocument, actor: string, expiresInDays: number): Promise<PolicyRecord> {
    const now = new Date();
    const record = await this.store.publishPolicy((version) => {
      const bundle: PolicyBundle = signPolicyBundle(
        {
          kind: 'vigil.policy-bundle',
          version,
          issuedAt: now.toISOString(),
          expiresAt: new Date(now.getTime() + expiresInDays * 86400_000).toISOString(),
          policy: document,
        },
        this.identity.privateKey,
        this.identity.publicKey,
      );
      return { version, bundle, document, publishedBy: actor, publishedAt: now.toISOString() };
    });
    await this.store.appendAudit({
      at: record.publishedAt,
      actor,
      action: 'policy.published',
      target: `policy:${record.version}`,
      detail: { name: document.name, expiresInDays },
    });
    return record;
  }

  latest(): Promise<PolicyRecord | null> {
    return this.store.latestPolicy();
  }
}
