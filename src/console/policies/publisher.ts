import { canonicalJson, type CanonicalMemo } from '../../shared/canonical-json.js';
import { totalLength } from '../../shared/node/bytes.js';
import { sha256Hex } from '../../shared/node/crypto.js';
import { PolicyBundlePayloadSchema, PolicyDocumentSchema, type PolicyBundlePayload, type PolicyDocument } from '../../shared/policy.js';
import { setImmediate as yieldToEvents } from 'node:timers/promises';
import { canonicalPartsAround, listBytesOf, type SlotBytes } from '../../shared/node/policy-text.js';
import { DEFAULT_ENCODING, encodeBundleAsync, encodeDelta, noticeFor, type EncodedBlob, type EncodedBundle } from '../../shared/node/policy-bundle-codec.js';
import { POLICY_LIMITS } from '../../shared/policy-limits.js';
import type { Signature } from '../../shared/signed.js';
import type { BundleStations } from '../../shared/usb-policy.js';
import type { BundleEncoding, PolicyAvailableMessage } from '../../shared/policies/delivery.js';
import { makeDelta } from '../../shared/policies/delta.js';
import { mergeEffectivePolicy, sortPolicyRules, type PolicyTitle } from '../../shared/policies/merge.js';
import type { AssignmentSet, PolicyContent } from '../../shared/policies/model.js';

/**
 * Signs and serves effective policies, one bundle per group set (merge.ts groupSetKey): devices
 * with the same effective policy share one signature and one compressed copy. Versions come from
 * one console-wide counter, so a device's rollback protection holds whichever group set it moves
 * between: a set whose bundle is older than what a device holds is signed again, higher.
 * Compressed bundles and deltas are made on first request and kept, so a rollout to thousands of
 * devices compresses each once.
 */

export interface PublisherDeps {
  /** Signs a payload (purpose `policy`) by the SHA-256 of its canonical JSON's UTF-8 bytes, made once (its digest). */
  sign(sha256: string): Signature;
  now(): Date;
  /** Strictly greater than every version issued before, across restarts (the store persists it). */
  nextVersion(): number;
  /** How long a bundle signed now is valid (a number, or read at each signing: the push's lifetime setting). */
  lifetimeMs: number | (() => number);
  stations?(): BundleStations | undefined;
  encoding?: BundleEncoding;
  /** Earlier bundles kept per group set, for deltas to devices a little behind. */
  keep?: number;
}

export interface PolicyModel {
  policies: ReadonlyMap<string, PolicyContent>;
  assignments: AssignmentSet;
  /** Policies' display names and descriptions: each effective document takes its main policy's (merge.ts). */
  titles?: ReadonlyMap<string, PolicyTitle>;
}

export interface SignedSet {
  key: string;
  groups: readonly string[];
  version: number;
  digest: string;
  /** Canonical JSON bytes of the payload: the size devices are told. */
  size: number;
  payload: PolicyBundlePayload;
  signature: Signature;
  /** Digest of the effective document alone: unchanged content is not signed again. */
  contentDigest: string;
  nextChangeAt: string | null;
}

export interface PublicationPlan {
  /**
   * The group set of devices in no particular group (only groups every device is in): its bundle
   * is recorded as the fleet's published policy (GET /api/v1/policies). Set by the plane.
   */
  fleetKey?: string;
  /**
   * The devices the change being published moved to another group set (set by the plane). Absent:
   * any may have moved, and other console processes place all theirs again.
   */
  moved?: readonly string[];
  changed: {
    key: string;
    groups: readonly string[];
    /** The effective document as it is signed (bundlePolicy). */
    policy: PolicyDocument;
    /** Its canonical JSON's UTF-8 bytes, made once (in parts): hashed for contentDigest here, put into the signed payload's bytes at commit. */
    policyBytes: SlotBytes;
    nextChangeAt: string | null;
    contentDigest: string;
  }[];
}

export class PolicyLimitError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('; '));
  }
}

export class PolicyPublisher {
  private readonly sets = new Map<string, SignedSet>();
  private readonly byDigest = new Map<string, SignedSet>();
  private readonly history = new Map<string, SignedSet[]>();
  private readonly encoded = new Map<string, Promise<EncodedBundle>>();
  private readonly deltas = new Map<string, Promise<(EncodedBlob & { fromDigest: string }) | null>>();
  /** Notices as sent, by `<bundle digest>:<digest held>` (noticeTextFor). */
  private readonly noticeTexts = new Map<string, string>();
  /** Canonical texts of rule objects: the stored rules do not change, so each is serialised once. */
  private readonly memo: CanonicalMemo = new WeakMap();
  /** Each policy's content as last prepared: its next revision's rules are sorted from it. */
  private readonly contents = new Map<string, PolicyContent>();

  constructor(private readonly deps: PublisherDeps) {}

  /**
   * Merges every group set and checks the limits, changing nothing: the console prepares a change
   * before it stores it, so that nothing it accepts is undeliverable, and commits the same plan
   * after, so each group set is merged once. Every problem of every group set is reported, each
   * naming its limit. Yields to the event loop between group sets, so a big change does not stall
   * the console.
   */
  async prepare(model: PolicyModel, groupSets: Map<string, readonly string[]>): Promise<PublicationPlan> {
    const now = this.deps.now();
    const problems: string[] = [];
    const changed: PublicationPlan['changed'] = [];
    for (const [name, content] of model.policies) {
      // A rule added or removed on the console is put in place in the sorted rules of the revision before.
      if (await sortPolicyRules(content, now, this.memo, () => yieldToEvents(), this.contents.get(name))) await yieldToEvents();
      this.contents.set(name, content);
    }
    for (const name of this.contents.keys()) if (!model.policies.has(name)) this.contents.delete(name);
    for (const [key, groups] of groupSets) {
      const result = mergeEffectivePolicy({ ...model, groups, now, memo: this.memo, spliced: 'recipe' });
      problems.push(...result.problems.map((p) => `${describe(groups)}: ${p}`));
      if (result.problems.length === 0) {
        // Making the set's 11 MB of bytes is a turn of its own.
        await yieldToEvents();
        const policy = bundlePolicy(result.document);
        const policyBytes = this.policyBytes(policy);
        const contentDigest = sha256Hex(policyBytes);
        if (this.sets.get(key)?.contentDigest !== contentDigest) changed.push({ key, groups, policy, policyBytes, nextChangeAt: result.nextChangeAt, contentDigest });
      }
      await yieldToEvents();
    }
    if (problems.length > 0) throw new PolicyLimitError(problems);
    return { changed };
  }

  /**
   * Signs, at one new version, the group sets whose effective policy the plan changes. The plan
   * compares against what was published when it was prepared: the console makes policy changes
   * one at a time (prepare, store, commit), never interleaved.
   */
  async commit(plan: PublicationPlan): Promise<string[]> {
    if (plan.changed.length === 0) return [];
    const version = this.deps.nextVersion();
    for (const { key, groups, policy, policyBytes, contentDigest, nextChangeAt } of plan.changed) {
      this.sign(key, groups, policy, contentDigest, nextChangeAt, version, policyBytes);
      await yieldToEvents();
    }
    return plan.changed.map((c) => c.key);
  }

  async update(model: PolicyModel, groupSets: Map<string, readonly string[]>): Promise<string[]> {
    return this.commit(await this.prepare(model, groupSets));
  }

  private sign(
    key: string,
    groups: readonly string[],
    policy: PolicyDocument,
    contentDigest: string,
    nextChangeAt: string | null,
    version: number,
    policyBytes: SlotBytes = this.policyBytes(policy),
  ): SignedSet {
    const issued = this.deps.now();
    const stations = this.deps.stations?.();
    // The policy was checked when it was prepared (bundlePolicy); the schema checks the rest.
    const outer = PolicyBundlePayloadSchema.omit({ policy: true }).parse({
      kind: 'vigil.policy-bundle',
      version,
      issuedAt: issued.toISOString(),
      expiresAt: new Date(issued.getTime() + this.lifetimeMs()).toISOString(),
      ...(stations ? { stations } : {}),
    });
    const payload: PolicyBundlePayload = { ...outer, policy };
    // Made once: measured, hashed and signed (a 100,000-rule payload is about 11 MB), in parts
    // around the policy's bytes: a fresh 11 MB copy for each group set cost more than the hash.
    const slot = {};
    const parts = canonicalPartsAround({ ...payload, policy: slot }, [[slot, policyBytes]]);
    const size = totalLength(parts);
    if (size > POLICY_LIMITS.bundleBytes)
      throw new PolicyLimitError([`${describe(groups)}: the signed policy would be ${size} bytes; the bundle size limit is ${POLICY_LIMITS.bundleBytes}`]);
    const digest = sha256Hex(parts);
    const set = this.install({
      key,
      groups,
      version,
      digest,
      size,
      payload,
      signature: this.deps.sign(digest),
      contentDigest,
      nextChangeAt,
    });
    // Compression starts now, on libuv's pool, while the console stores what it signed: every
    // notice names the compressed bundle, so devices are told only once it is ready.
    void this.bundleBytes(set.digest, parts)?.catch(() => undefined);
    return set;
  }

  /**
   * Serves a bundle signed before (by this console before a restart: distribution stores each
   * signed set) as the bundle of one group set, so it is delivered, compressed, cached and diffed
   * exactly like one signed now. The payload must be in canonical form (delta.ts canonicalPayload)
   * for deltas to reproduce it; a bundle not in it is still served whole.
   */
  adopt(
    key: string,
    groups: readonly string[],
    bundle: { payload: PolicyBundlePayload; signature: Signature },
    known: { contentDigest?: string; nextChangeAt?: string | null } = {},
  ): SignedSet {
    const current = this.sets.get(key);
    const text = canonicalJson(bundle.payload, this.memo);
    const digest = sha256Hex(text);
    if (current?.digest === digest) return current;
    return this.install({
      key,
      groups,
      version: bundle.payload.version,
      digest,
      size: Buffer.byteLength(text),
      payload: bundle.payload,
      signature: bundle.signature,
      // A bundle this publisher signed before a restart: its merge digest says whether content changed since.
      contentDigest: known.contentDigest ?? sha256Hex(canonicalJson(bundle.payload.policy, this.memo)),
      nextChangeAt: known.nextChangeAt ?? null,
    });
  }

  /**
   * Signs every group set again, unchanged, at one new version: before bundles expire, when the
   * station keys they carry change, or when a device holds another bundle under a version number
   * this console issued (a restored backup). Returns the keys signed.
   */
  async renewAll(): Promise<string[]> {
    if (this.sets.size === 0) return [];
    const version = this.deps.nextVersion();
    const keys = [...this.sets.keys()];
    for (const key of keys) {
      const set = this.sets.get(key)!;
      this.sign(key, set.groups, set.payload.policy, set.contentDigest, set.nextChangeAt, version);
      await yieldToEvents();
    }
    return keys;
  }

  /** Signs one group set's current content again at the next version (a device holds a later one). */
  resign(key: string): SignedSet {
    const set = this.sets.get(key)!;
    return this.sign(key, set.groups, set.payload.policy, set.contentDigest, set.nextChangeAt, this.deps.nextVersion());
  }

  /**
   * The policy's canonical JSON as UTF-8, in parts: its rule list from the bytes of the list it
   * was spliced from (policy-text.ts listBytesOf), or its kept text; the rest serialised (small).
   */
  private policyBytes(policy: PolicyDocument): Uint8Array[] {
    const apps = policy.applications;
    const rules = apps && listBytesOf(apps.rules, this.memo);
    if (!apps || !rules) return [Buffer.from(canonicalJson(policy, this.memo), 'utf8')];
    const slots = { rules: [] as unknown[], exceptions: [] as unknown[] };
    const exceptions = listBytesOf(apps.exceptions, this.memo) ?? [Buffer.from(canonicalJson(apps.exceptions, this.memo), 'utf8')];
    return canonicalPartsAround({ ...policy, applications: { ...apps, ...slots } }, [
      [slots.rules, rules],
      [slots.exceptions, exceptions],
    ]);
  }

  /** Canonical JSON of (parts of) what this publisher signed: kept texts, not serialised again. */
  jsonOf(value: object): string {
    return canonicalJson(value, this.memo);
  }

  /** Every group set's current bundle. */
  all(): SignedSet[] {
    return [...this.sets.values()];
  }

  /** Whether this publisher signed a bundle at this version (current or recent) and which digests it has. */
  digestsAt(version: number): string[] {
    return [...this.byDigest.values()].filter((s) => s.version === version).map((s) => s.digest);
  }

  private lifetimeMs(): number {
    const { lifetimeMs } = this.deps;
    return typeof lifetimeMs === 'number' ? lifetimeMs : lifetimeMs();
  }

  private install(set: SignedSet): SignedSet {
    const key = set.key;
    const previous = this.sets.get(key);
    if (previous) {
      const kept = [previous, ...(this.history.get(key) ?? [])].slice(0, this.deps.keep ?? 4);
      this.history.set(key, kept);
    }
    this.sets.set(key, set);
    this.byDigest.set(set.digest, set);
    this.forgetUnreachable();
    return set;
  }

  private forgetUnreachable(): void {
    const live = new Set<string>();
    for (const [key, set] of this.sets) {
      live.add(set.digest);
      for (const old of this.history.get(key) ?? []) live.add(old.digest);
    }
    for (const digest of this.byDigest.keys()) if (!live.has(digest)) this.byDigest.delete(digest);
    for (const digest of this.encoded.keys()) if (!live.has(digest)) this.encoded.delete(digest);
    for (const pair of this.deltas.keys()) if (!live.has(pair.slice(0, 64)) || !live.has(pair.slice(65))) this.deltas.delete(pair);
    // Only notices of current bundles are sent again.
    const current = new Set([...this.sets.values()].map((set) => set.digest));
    for (const pair of this.noticeTexts.keys()) if (!current.has(pair.slice(0, 64))) this.noticeTexts.delete(pair);
  }

  current(key: string): SignedSet | undefined {
    return this.sets.get(key);
  }

  /**
   * What to tell a device in this group set, given what it holds. A set signed before the version
   * the device holds (it moved here from a set published later) is signed again first.
   */
  async noticeFor(key: string, held: { version: number | null; digest: string | null }): Promise<PolicyAvailableMessage | null> {
    let set = this.sets.get(key);
    if (!set) return null;
    if (held.digest === set.digest) return null;
    // The agent keeps what it holds when offered the same version, so a device that holds another
    // set's bundle at this version (it moved) needs this one signed higher too.
    if (held.version !== null && held.version >= set.version)
      set = this.sign(key, set.groups, set.payload.policy, set.contentDigest, set.nextChangeAt, this.deps.nextVersion());
    const full = (await this.bundleBytes(set.digest))!;
    const delta = held.digest ? await this.deltaBytes(held.digest, set.digest) : undefined;
    return noticeFor(full, delta ?? undefined);
  }

  /**
   * The same notice as sent, serialised once per bundle and digest held: a rollout tells
   * thousands of devices in one group set the same thing.
   */
  async noticeTextFor(key: string, held: { version: number | null; digest: string | null }): Promise<string | null> {
    const set = this.sets.get(key);
    const cacheable = set && held.digest !== set.digest && (held.version === null || held.version < set.version);
    const cacheKey = cacheable ? `${set.digest}:${held.digest ?? ''}` : null;
    const cached = cacheKey && this.noticeTexts.get(cacheKey);
    if (cached) return cached;
    const notice = await this.noticeFor(key, held);
    const text = notice && JSON.stringify(notice);
    if (text && cacheKey) this.noticeTexts.set(cacheKey, text);
    return text;
  }

  /** The compressed signed bundle with this digest, if it is current or recent (`payloadBytes`: its payload's canonical JSON, when at hand). */
  bundleBytes(digest: string, payloadBytes?: SlotBytes): Promise<EncodedBundle> | undefined {
    const cached = this.encoded.get(digest);
    if (cached) return cached;
    const set = this.byDigest.get(digest);
    if (!set) return undefined;
    // The promise is kept, so devices asking while it compresses all wait for the one compression.
    const encoded = encodeBundleAsync({ payload: set.payload, signature: set.signature }, this.deps.encoding ?? DEFAULT_ENCODING, {
      memo: this.memo,
      digest: set.digest,
      ...(payloadBytes ? { payloadBytes } : {}),
    });
    this.encoded.set(digest, encoded);
    return encoded;
  }

  /** A compressed delta between two bundles this publisher signed; null when a full bundle is better. */
  deltaBytes(fromDigest: string, toDigest: string): Promise<(EncodedBlob & { fromDigest: string }) | null> {
    const pair = `${fromDigest}:${toDigest}`;
    const cached = this.deltas.get(pair);
    if (cached) return cached;
    const from = this.byDigest.get(fromDigest);
    const to = this.byDigest.get(toDigest);
    if (!from || !to) return Promise.resolve(null);
    const made = (async () => {
      const delta = makeDelta({ payload: from.payload, digest: from.digest }, { payload: to.payload, digest: to.digest, signature: to.signature }, this.memo);
      const blob = delta ? encodeDelta(delta, this.deps.encoding ?? DEFAULT_ENCODING) : null;
      // A delta that saves little is not worth the device's work.
      return blob && blob.bytes.length * 2 <= (await this.bundleBytes(toDigest))!.bytes.length ? blob : null;
    })();
    this.deltas.set(pair, made);
    return made;
  }

  /** Whether a device in this group set may fetch this digest (its current bundle, or the one it is moving to). */
  servesTo(key: string, digest: string): boolean {
    return this.sets.get(key)?.digest === digest;
  }
}

/**
 * An effective document as it is signed: checked by the schema (which may fill in defaults)
 * without its rule lists, which come from merge in canonical order, built from records validated
 * when they were stored, so 100,000 rules are not parsed again.
 */
function bundlePolicy(document: PolicyDocument): PolicyDocument {
  const apps = document.applications;
  const checked = PolicyDocumentSchema.parse(apps ? { ...document, applications: { ...apps, rules: [], exceptions: [] } } : document);
  return apps ? { ...checked, applications: { ...checked.applications!, rules: apps.rules, exceptions: apps.exceptions } } : checked;
}

function describe(groups: readonly string[]): string {
  return groups.length === 0 ? 'devices in no group' : `devices in ${groups.join(', ')}`;
}
