import type { IncomingMessage, ServerResponse } from 'node:http';
import { setImmediate as yieldToEvents } from 'node:timers/promises';
import { LIMITS } from '../../shared/limits.js';
import type { Logger } from '../../shared/node/log.js';
import { noticeFor } from '../../shared/node/policy-bundle-codec.js';
import type { PolicyBundle } from '../../shared/policy.js';
import type { Signature } from '../../shared/signed.js';
import { POLICY_FETCH_CAPABILITY } from '../../shared/policies/delivery.js';
import { PROTOCOL_VERSION } from '../../shared/protocol.js';
import { SerialQueue } from '../../shared/serial-queue.js';
import type { EventRouter } from '../agent-link/event-router.js';
import type { PolicyStore, StoredBundleBytes } from '../store/store.js';
import { answerPolicyFetch } from './agent-fetch.js';
import { BodyPump, endWithBody } from '../http/large-body.js';
import type { DistributionResult, PolicyDistributionPort, PolicyPlaneView } from './distribution-port.js';
import type { PolicyModel, PolicyPublisher, PublicationPlan, SignedSet } from './publisher.js';
import type { PreallocatedVersions } from './version-slot.js';

/**
 * Gets every signed policy to the devices it applies to, whatever its size (docs/policies.md
 * "Delivery at any size"): one bundle per group set, signed by the publisher at one version per
 * change. A connected device that announced the `policy-fetch` capability is sent a
 * `policy.available` notice (a few hundred bytes) and fetches the compressed bundle, or a delta
 * from what it holds, over HTTP with its device key; the bytes come from the publisher's caches,
 * so a rollout to thousands of devices compresses and signs each group set once. An agent
 * without the capability is sent the bundle in a `policy` frame only when the frame fits the frame
 * limit: a bigger frame would make it drop the link and reconnect in a loop, so it is withheld,
 * counted and logged.
 *
 * The policy plane calls it through PolicyDistributionPort (prepare, commit, deviceMoved) and
 * tells it each device's group set and the next version (PolicyPlaneView). Signed sets are stored
 * (a restarted console offers the same bundles), and a device holding a version at or above its
 * set's (it moved from a set signed later) gets the set signed again, higher: rollback
 * protection holds across moves.
 */
export interface DistributionDeps {
  publisher: PolicyPublisher;
  /** `sendText`: a frame serialised once for many devices (notices, and policy frames checked against the frame limit). */
  hub: { sendText(deviceId: string, text: string): boolean };
  /** The plane: each device's group set (called for every notice and fetch: the plane caches it). */
  plane: Pick<PolicyPlaneView, 'groupSetOf'>;
  /** The versions the publisher signs at, allocated from the plane's counter before each signing. */
  versions: PreallocatedVersions;
  store: Pick<PolicyStore, 'savePolicySets' | 'listPolicySets'>;
  /** The enrolled key of a device that is neither unknown nor revoked (fetch authentication). */
  publicKeyOf(deviceId: string): Promise<string | null>;
  /**
   * The published content changes by itself at the plan's nextChangeAt (a rule's expiry): the
   * plane publishes again then (PolicyPlane.republish).
   */
  onContentDue(): Promise<unknown>;
  /** Tells dashboards a version was published and sends the AUP of a variant a changed set uses. */
  published?(version: number, aupVariants: string[]): Promise<void>;
  /**
   * After what a signing signed is stored: other console processes on the database can take it
   * now. `moved`: the devices it moved to another group set (absent: any may have).
   */
  stored?(version: number, moved: readonly string[] | undefined): void;
  /**
   * Whether other console processes wait for what is signed to be stored (a cluster): then it is
   * stored before this process tells its own devices, not after.
   */
  othersWaitForStore?(): boolean;
  log: Logger;
  /**
   * The signature of a bundle sent in a `policy` frame, to an agent without `policy-fetch`: such
   * an agent (an older release) checks only `ed25519` signatures over the whole payload. Without
   * it the frame carries the bundle's own signature.
   */
  signFrame?(payload: PolicyBundle['payload']): Signature;
  /** Frames larger than this are never sent (the agent's frame limit). */
  frameLimitBytes?: number;
  /** Shares each turn's writes among the bundles being fetched (default: a pump of its own, the process's one distribution). */
  bodies?: BodyPump;
  now?: () => Date;
}

/** Counters shown at GET /api/v1/stats: every withheld policy is counted. */
export interface DistributionStats {
  noticesSent: number;
  framesSent: number;
  /** Policies not sent to an agent without the fetch capability because the frame would exceed the limit. */
  framesWithheld: number;
  bundlesServed: number;
  deltasServed: number;
  fetchesRefused: number;
}

interface Connected {
  fetches: boolean;
  held: { version: number | null; digest: string | null };
}

/** Devices told per event-loop turn during a rollout, so the console keeps serving dashboards. */
const NOTICES_PER_TURN = 200;

/** Longest wait between checks for content that changes by itself (timers cannot wait years). */
const MAX_CONTENT_WAIT_MS = 3600_000;

export class PolicyDistribution implements PolicyDistributionPort {
  private readonly devices = new Map<string, Connected>();
  private fleetKey: string | null = null;
  private contentTimer: NodeJS.Timeout | null = null;
  private readonly signings = new SerialQueue();
  /** Signed sets are stored one signing at a time, in the order they were signed. */
  private readonly storing = new SerialQueue();
  /** The legacy `policy` frame per current digest, signed and serialised once. */
  private readonly frames = new Map<string, string>();
  readonly stats: DistributionStats = { noticesSent: 0, framesSent: 0, framesWithheld: 0, bundlesServed: 0, deltasServed: 0, fetchesRefused: 0 };

  private readonly bodies: BodyPump;

  constructor(private readonly deps: DistributionDeps) {
    this.bodies = deps.bodies ?? new BodyPump();
  }

  /** Follows each connected device: what it holds (hello, acks) and whether it fetches. */
  register(router: EventRouter): void {
    router
      .onFrame('hello', async ({ deviceId }, hello) => {
        this.devices.set(deviceId, {
          fetches: hello.capabilities.includes(POLICY_FETCH_CAPABILITY),
          held: { version: hello.policyVersion, digest: hello.policyDigest },
        });
        await this.offer(deviceId);
      })
      .onFrame('policy.ack', async ({ deviceId }, { version }) => {
        const device = this.devices.get(deviceId);
        if (!device) return;
        const place = await this.deps.plane.groupSetOf(deviceId);
        const current = place ? this.deps.publisher.current(place.key) : undefined;
        device.held = { version, digest: current?.version === version ? current.digest : null };
      })
      .onPresence('disconnected', async (deviceId) => {
        this.devices.delete(deviceId);
      });
  }

  prepare(model: PolicyModel, groupSets: Map<string, readonly string[]>): Promise<PublicationPlan> {
    return this.deps.publisher.prepare(model, groupSets);
  }

  async commit(plan: PublicationPlan): Promise<DistributionResult> {
    if (plan.fleetKey !== undefined) this.fleetKey = plan.fleetKey;
    if (plan.changed.length === 0) {
      this.watchContent();
      return { changedKeys: [], notified: 0, version: null };
    }
    return this.signAndTell(() => this.deps.publisher.commit(plan), plan.moved);
  }

  deviceMoved(deviceId: string): Promise<boolean> {
    return this.offer(deviceId);
  }

  /**
   * Offers again the bundles a previous run of the console signed (stored with each signing), so
   * devices keep what they hold and deltas start from it. The plane then publishes, which signs
   * only the sets whose content changed meanwhile.
   */
  async restore(): Promise<number> {
    const stored = await this.deps.store.listPolicySets();
    for (const set of stored) this.deps.publisher.adopt(set.key, set.groups, set.bundle, set);
    return stored.length;
  }

  /**
   * Signs every group set again at a new version and tells devices: before bundles expire, when the
   * scan-station keys they carry change, or when a device holds a different bundle under a version
   * this console issued. Returns the version, or null when nothing is published yet.
   */
  async renewAll(): Promise<DistributionResult> {
    // Nothing published yet: nothing to renew (and no version used up).
    if (this.deps.publisher.all().length === 0) return { changedKeys: [], notified: 0, version: null };
    // Renewing moves no device.
    return this.signAndTell(() => this.deps.publisher.renewAll(), []);
  }

  /** True when some group set's bundle has less than a third of its lifetime left. */
  needsRenewal(now = this.now()): boolean {
    return this.deps.publisher.all().some(({ payload }) => {
      const issued = Date.parse(payload.issuedAt);
      const expires = Date.parse(payload.expiresAt);
      return expires - now.getTime() < (expires - issued) / 3;
    });
  }

  /**
   * Whether a device claiming `version` with `digest` holds something this console did not sign
   * under that number (a console restored from a backup reissued it): null when the console keeps
   * no bundle of that version to compare with.
   */
  conflicts(version: number, digest: string | null): boolean | null {
    const ours = this.deps.publisher.digestsAt(version);
    if (ours.length === 0 || digest === null) return null;
    return !ours.includes(digest);
  }

  /** The highest version offered to any group set now (null before the first publication). */
  currentVersion(): number | null {
    const versions = this.deps.publisher.all().map((s) => s.version);
    return versions.length > 0 ? Math.max(...versions) : null;
  }

  /** What a device is offered now: its group set's bundle. */
  async bundleFor(deviceId: string): Promise<SignedSet | null> {
    const place = await this.deps.plane.groupSetOf(deviceId);
    return (place && this.deps.publisher.current(place.key)) ?? null;
  }

  stop(): void {
    if (this.contentTimer) clearTimeout(this.contentTimer);
    this.contentTimer = null;
  }

  /** Whether this process holds a connection of any of these devices. */
  holdsAny(deviceIds: readonly string[]): boolean {
    return deviceIds.some((id) => this.devices.has(id));
  }

  /**
   * After another console process changed policy (a shared database): takes the bundles it signed
   * and stored, then offers each device this process holds (`only` those, if named) what its group
   * set now has. Returns the AUP variants of the bundles taken, whose texts go out too.
   */
  async catchUp(only?: readonly string[]): Promise<{ notified: number; variants: string[] }> {
    const variants = new Set<string>();
    for (const set of await this.deps.store.listPolicySets()) {
      const current = this.deps.publisher.current(set.key);
      if (current && current.version >= set.bundle.payload.version) continue;
      const taken = this.deps.publisher.adopt(set.key, set.groups, set.bundle, set);
      const variant = taken.payload.policy.aup?.variant;
      if (variant) variants.add(variant);
    }
    this.watchContent();
    let notified = 0;
    let turn = 0;
    for (const deviceId of only ?? [...this.devices.keys()]) {
      if (await this.offer(deviceId)) notified++;
      if (++turn % NOTICES_PER_TURN === 0) await yieldToEvents();
    }
    return { notified, variants: [...variants] };
  }

  /** A technician's "refresh policy": the device is told of its current bundle even if it holds it. */
  refresh(deviceId: string): Promise<boolean> {
    return this.offer(deviceId, true);
  }

  /** The group sets offered a bundle now. */
  setKeys(): string[] {
    return this.deps.publisher.all().map((s) => s.key);
  }

  /** What a group set's devices are offered now: version, digest, and sizes as delivered. */
  async published(key: string): Promise<{ version: number; digest: string; size: number; compressedSize: number } | null> {
    const set = this.deps.publisher.current(key);
    if (!set) return null;
    const encoded = (await this.deps.publisher.bundleBytes(set.digest))!;
    return { version: set.version, digest: set.digest, size: set.size, compressedSize: encoded.bytes.length };
  }

  /** GET /api/v1/agent/policy/bundle/:digest and /delta/:from/:to (device-authenticated). */
  async serveFetch(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const answer = await answerPolicyFetch(path, req.headers.authorization, {
      publisher: this.deps.publisher,
      publicKeyOf: (id) => this.deps.publicKeyOf(id),
      groupSetOf: async (id) => (await this.deps.plane.groupSetOf(id))?.key ?? null,
    });
    if (answer.status !== 200) {
      this.stats.fetchesRefused++;
      this.deps.log.warn('refused a policy fetch', { path: path.slice(0, 200), status: answer.status, detail: String(answer.body) });
    } else if (path.includes('/delta/')) this.stats.deltasServed++;
    else this.stats.bundlesServed++;
    res.writeHead(answer.status, answer.headers);
    await endWithBody(res, Buffer.isBuffer(answer.body) ? answer.body : Buffer.from(answer.body), this.bodies);
  }

  /**
   * Signs at a newly allocated version, one signing at a time: a set signed again for one device
   * while a change signs every set must not end up lower than what that device was sent. What was
   * signed is stored in signing order (never an older set over a newer one) once `told` settles:
   * the devices are told first, since storing four 11 MB sets takes the console's thread for a
   * while and the devices need nothing from the store. A console that stops before storing has
   * already allocated a higher version from the store's counter, so what it signs next is still
   * above what any device was sent.
   */
  private signing(sign: () => Promise<string[]>, told: Promise<unknown> = Promise.resolve()): Promise<{ keys: string[]; stored: Promise<void> }> {
    return this.signings.run(async () => {
      const keys = await this.deps.versions.around(sign);
      const sets = keys.map((key) => this.deps.publisher.current(key)!);
      const stored = this.storing.run(async () => {
        await told;
        await this.persist(sets);
      });
      return { keys, stored };
    });
  }

  /**
   * Signs, tells dashboards and devices, then stores what it signed and tells other console
   * processes; in a cluster, whose other processes' devices wait for the store, it stores first.
   */
  private async signAndTell(sign: () => Promise<string[]>, moved: readonly string[] | undefined): Promise<DistributionResult> {
    if (this.deps.othersWaitForStore?.()) {
      const { keys, stored } = await this.signing(sign);
      this.watchContent();
      await stored;
      if (keys.length === 0) return { changedKeys: [], notified: 0, version: null };
      this.deps.stored?.(this.deps.publisher.current(keys[0]!)!.version, moved);
      return this.signed(keys);
    }
    let toldAll!: () => void;
    const told = new Promise<void>((resolve) => (toldAll = resolve));
    const signing = this.signing(sign, told);
    let result: DistributionResult = { changedKeys: [], notified: 0, version: null };
    try {
      const { keys } = await signing;
      this.watchContent();
      if (keys.length > 0) result = await this.signed(keys);
    } finally {
      toldAll();
      // Stored even when telling failed; a signing that failed stored nothing.
      await signing.then(({ stored }) => stored, () => undefined);
    }
    if (result.version !== null) this.deps.stored?.(result.version, moved);
    return result;
  }

  /** After a signing: tells dashboards and devices. */
  private async signed(keys: string[]): Promise<DistributionResult> {
    const sets = keys.map((key) => this.deps.publisher.current(key)!);
    // One version for every set a signing signs.
    const version = sets[0]!.version;
    await this.deps.published?.(version, [...new Set(sets.flatMap((s) => s.payload.policy.aup?.variant ?? []))]);
    return { changedKeys: keys, notified: await this.notify(new Set(keys)), version };
  }

  private async persist(sets: SignedSet[]): Promise<void> {
    if (sets.length === 0) return;
    const fleet = sets.find((s) => s.key === this.fleetKey);
    const { publisher } = this.deps;
    // Stored as devices fetch them: compressed bytes the publisher made anyway, a third of the JSON.
    const encoded = new Map<string, StoredBundleBytes>();
    for (const s of sets) {
      const bytes = await publisher.bundleBytes(s.digest);
      if (bytes) encoded.set(s.digest, { bytes: bytes.bytes, encoding: bytes.encoding });
    }
    const json = (s: SignedSet) => publisher.jsonOf({ payload: s.payload, signature: s.signature });
    await this.deps.store.savePolicySets(
      sets.map((s) => {
        const bundle = { payload: s.payload, signature: s.signature };
        const stored = encoded.get(s.digest);
        return { key: s.key, groups: [...s.groups], bundle, ...(stored ? { encoded: stored } : { bundleJson: json(s) }), contentDigest: s.contentDigest, nextChangeAt: s.nextChangeAt };
      }),
      fleet
        ? {
            version: fleet.version,
            bundle: { payload: fleet.payload, signature: fleet.signature },
            document: fleet.payload.policy,
            publishedBy: 'console:policy-plane',
            publishedAt: fleet.payload.issuedAt,
            ...(encoded.has(fleet.digest) ? { encoded: encoded.get(fleet.digest)! } : { json: { bundle: json(fleet), document: publisher.jsonOf(fleet.payload.policy) } }),
          }
        : null,
    );
  }

  /** Publishes again when the earliest published set's content changes by itself (a rule expires). */
  private watchContent(): void {
    this.stop();
    const next = Math.min(...this.deps.publisher.all().map((s) => (s.nextChangeAt ? Date.parse(s.nextChangeAt) : Infinity)));
    if (!Number.isFinite(next)) return;
    const wait = Math.min(MAX_CONTENT_WAIT_MS, Math.max(0, next - this.now().getTime()));
    this.contentTimer = setTimeout(() => {
      this.contentTimer = null;
      this.deps.onContentDue().catch((error: unknown) => this.deps.log.error('could not publish the policy again when its content was due to change', { error }));
    }, wait + 50);
    this.contentTimer.unref();
  }

  private now(): Date {
    return this.deps.now?.() ?? new Date();
  }

  private async notify(keys: ReadonlySet<string>): Promise<number> {
    let sent = 0;
    let turn = 0;
    for (const deviceId of [...this.devices.keys()]) {
      const place = await this.deps.plane.groupSetOf(deviceId);
      if (!place || !keys.has(place.key)) continue;
      if (await this.offer(deviceId)) sent++;
      if (++turn % NOTICES_PER_TURN === 0) await yieldToEvents();
    }
    return sent;
  }

  /** Tells one connected device of its group set's bundle, if it does not hold it. */
  private async offer(deviceId: string, force = false): Promise<boolean> {
    const device = this.devices.get(deviceId);
    const place = device && (await this.deps.plane.groupSetOf(deviceId));
    let set = place ? this.deps.publisher.current(place.key) : undefined;
    if (!device || !place || !set) return false;
    const { held } = device;
    if (!force && held.digest === set.digest) return false;
    // A device holding this version or a later one would keep what it holds: sign its set higher.
    if (held.version !== null && held.version >= set.version && held.digest !== set.digest) set = await this.resign(place.key, held);
    if (device.fetches) {
      const notice = force
        ? JSON.stringify(noticeFor((await this.deps.publisher.bundleBytes(set.digest))!))
        : await this.deps.publisher.noticeTextFor(place.key, held);
      if (!notice || !this.deps.hub.sendText(deviceId, notice)) return false;
      this.stats.noticesSent++;
      return true;
    }
    const limit = this.deps.frameLimitBytes ?? LIMITS.wsMaxPayloadBytes;
    // The payload alone is over the limit: the frame is not even made (nor signed for it).
    const frame = set.size > limit ? null : this.frameFor(set.digest, { payload: set.payload, signature: set.signature });
    if (frame === null || Buffer.byteLength(frame) > limit) {
      this.stats.framesWithheld++;
      this.deps.log.warn('not sending a policy frame larger than the frame limit to an agent that cannot fetch; it keeps its current policy until it is upgraded', {
        deviceId,
        version: set.version,
        frameBytes: frame === null ? set.size : Buffer.byteLength(frame),
        frameLimit: limit,
      });
      return false;
    }
    if (!this.deps.hub.sendText(deviceId, frame)) return false;
    this.stats.framesSent++;
    return true;
  }

  private async resign(key: string, held: { version: number | null }): Promise<SignedSet> {
    const { publisher } = this.deps;
    const was = publisher.current(key)!.version;
    // Another device's offer may have had it signed higher meanwhile: then there is nothing to sign.
    const { stored } = await this.signing(async () => {
      if (held.version === null || held.version < publisher.current(key)!.version) return [];
      publisher.resign(key);
      return [key];
    });
    // Not awaited: a rollout's notices wait for this offer, and its sets are stored after them.
    stored.catch((error: unknown) => this.deps.log.error('could not store a group set signed again for a device', { error }));
    const now = publisher.current(key)!;
    if (now.version !== was) this.deps.log.info('signed a group set again, higher, for a device that holds a later version', { version: now.version, was });
    return now;
  }

  private frameFor(digest: string, bundle: PolicyBundle): string {
    let text = this.frames.get(digest);
    if (text === undefined) {
      const signature = this.deps.signFrame?.(bundle.payload) ?? bundle.signature;
      text = JSON.stringify({ v: PROTOCOL_VERSION, type: 'policy', bundle: { payload: bundle.payload, signature } });
      // Only current bundles are ever sent: frames of bundles no set offers now are dropped.
      const current = new Set(this.deps.publisher.all().map((s) => s.digest));
      for (const kept of this.frames.keys()) if (!current.has(kept)) this.frames.delete(kept);
      this.frames.set(digest, text);
    }
    return text;
  }
}
