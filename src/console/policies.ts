import { canonicalJson } from '../shared/canonical-json.js';
import type { PolicyBundle, PolicyBundlePayload, PolicyDocument } from '../shared/policy.js';
import { signPolicyBundle } from '../shared/node/policy-verify.js';
import { canonicalPayload } from '../shared/policies/delta.js';
import { POLICY_LIMITS } from '../shared/policy-limits.js';
import { TooLargeError } from './errors.js';
import type { ConsoleIdentity } from './identity.js';
import type { ConsoleStore, PolicyRecord } from './store/store.js';
import { bundleStations } from './station-bundle.js';

/** Turns a policy document into the next signed bundle and records who published it. */
export class PolicyService {
  private edits: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly store: ConsoleStore,
    private readonly identity: ConsoleIdentity,
  ) {}

  /**
   * Runs changes that read the latest policy and publish a new one (approving an app request,
   * registering or revoking a scan station) one at a time, so one never publishes over the
   * other's edit.
   */
  serially<T>(task: () => Promise<T>): Promise<T> {
    const run = this.edits.then(task, task);
    this.edits = run.catch(() => undefined);
    return run;
  }

  async publish(document: PolicyDocument, actor: string, expiresInDays: number): Promise<PolicyRecord> {
    const now = new Date();
    const stations = bundleStations(await this.store.listStationKeys());
    // Canonical rule order: devices can then be sent a delta that names rules by position.
    const canonical = canonicalPayload({
      kind: 'vigil.policy-bundle',
      version: 1,
      issuedAt: now.toISOString(),
      expiresAt: new Date(now.getTime() + expiresInDays * 86400_000).toISOString(),
      policy: document,
      ...(stations ? { stations } : {}),
    });
    const payloadAt = (version: number): PolicyBundlePayload => ({ ...canonical, version });
    // Refused before anything is stored: a bundle over the limit could never be delivered. The
    // version only changes the length by a few digits, well inside the margin.
    const bytes = Buffer.byteLength(canonicalJson(payloadAt(Number.MAX_SAFE_INTEGER)));
    if (bytes > POLICY_LIMITS.bundleBytes)
      throw new TooLargeError(`the signed policy would be ${bytes} bytes; the bundle size limit is ${POLICY_LIMITS.bundleBytes} bytes`);
    const record = await this.store.publishPolicy((version) => {
      const bundle: PolicyBundle = signPolicyBundle(payloadAt(version), this.identity.privateKey, this.identity.publicKey);
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

  /**
   * Re-signs the latest document as a new version, with the same lifetime. Used before the
   * latest bundle expires (devices must never be left with only an expired bundle to take) and
   * when a device holds a different bundle under the same version number.
   */
  async reissue(reason: 'renewal' | 'version-conflict'): Promise<PolicyRecord | null> {
    return this.republish(`console:${reason}`);
  }

  /** The latest document again as the next version (e.g. when the station keys it carries change). */
  async republish(actor: string): Promise<PolicyRecord | null> {
    const latest = await this.store.latestPolicy();
    if (!latest) return null;
    const lifetimeMs = Date.parse(latest.bundle.payload.expiresAt) - Date.parse(latest.bundle.payload.issuedAt);
    const days = Math.min(365, Math.max(1, Math.round(lifetimeMs / 86400_000)));
    return this.publish(latest.document, actor, days);
  }

  /** True when less than a third of the latest bundle's lifetime is left. */
  async needsRenewal(now = Date.now()): Promise<boolean> {
    const latest = await this.store.latestPolicy();
    if (!latest) return false;
    const issued = Date.parse(latest.bundle.payload.issuedAt);
    const expires = Date.parse(latest.bundle.payload.expiresAt);
    return expires - now < (expires - issued) / 3;
  }
}
