import type { IncomingMessage, ServerResponse } from 'node:http';
import { setImmediate as yieldToEvents } from 'node:timers/promises';
import { LIMITS } from '../../shared/limits.js';
import type { Logger } from '../../shared/node/log.js';
import { noticeFor } from '../../shared/node/policy-bundle-codec.js';
import type { PolicyBundle } from '../../shared/policy.js';
import { POLICY_FETCH_CAPABILITY, type PolicyAvailableMessage } from '../../shared/policies/delivery.js';
import { groupSetKey } from '../../shared/policies/merge.js';
import { PROTOCOL_VERSION } from '../../shared/protocol.js';
import type { EventRouter } from '../agent-link/event-router.js';
import { answerPolicyFetch } from './agent-fetch.js';
import type { PolicyModel, PolicyPublisher, PublicationPlan } from './publisher.js';

/**
 * Gets every signed policy to the devices it applies to, whatever its size (docs/policies.md
 * "Delivery at any size"). A connected device that announced the `policy-fetch` capability is
 * sent a `policy.available` notice (a few hundred bytes) and fetches the compressed bundle, or a
 * delta from what it holds, over HTTP with its device key; the bytes come from the publisher's
 * caches, so a rollout to thousands of devices compresses and signs each group set once. An agent
 * without the capability is sent the bundle in a `policy` frame only when the frame fits the frame
 * limit: a bigger frame would make it drop the link and reconnect in a loop, so it is withheld,
 * counted and logged.
 *
 * This is the seam the policy plane calls (PolicyDistributionPort): it prepares and commits
 * publications over group sets and says when a device moved. Until groups exist, every device is
 * in one group set (ALL_DEVICES) and today's single signed policy is adopted as its bundle.
 */
export interface PolicyDistributionPort {
  /** Merges every group set and checks the limits, changing nothing (throws PolicyLimitError naming the limit). */
  prepare(model: PolicyModel, groupSets: Map<string, readonly string[]>): Promise<PublicationPlan>;
  /** Signs the group sets the plan changes (one new version) and tells their connected devices. */
  commit(plan: PublicationPlan): Promise<{ changedKeys: string[]; notified: number; version: number | null }>;
  /** The device's group set changed (group, token or device edit): tells it now if it is connected. */
  deviceMoved(deviceId: string): Promise<boolean>;
}

export interface GroupSetPlace {
  key: string;
  groups: readonly string[];
}

/** The one group set of a console without groups: every device, no group that matters. */
export const ALL_DEVICES: GroupSetPlace = { key: groupSetKey([], new Set()), groups: [] };

export interface DistributionDeps {
  publisher: PolicyPublisher;
  hub: { sendTo(deviceId: string, message: PolicyAvailableMessage): boolean; sendText(deviceId: string, text: string): boolean };
  /** The device's current group set (the plane's membership; today ALL_DEVICES for every device). */
  groupSetOf(deviceId: string): GroupSetPlace | null | Promise<GroupSetPlace | null>;
  /** The enrolled key of a device that is neither unknown nor revoked (fetch authentication). */
  publicKeyOf(deviceId: string): Promise<string | null>;
  log: Logger;
  /** Frames larger than this are never sent (the agent's frame limit). */
  frameLimitBytes?: number;
  /**
   * Whether a device holding a newer version than its group set's bundle gets that set signed
   * again, higher (devices moving between group sets). Off while the single policy's versions
   * come from the store: a device ahead of it (a restored backup) waits for the next push.
   */
  resignForDevicesAhead?: boolean;
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

export class PolicyDistribution implements PolicyDistributionPort {
  private readonly devices = new Map<string, Connected>();
  /** The legacy `policy` frame per digest, serialised once. */
  private readonly frames = new Map<string, string>();
  readonly stats: DistributionStats = { noticesSent: 0, framesSent: 0, framesWithheld: 0, bundlesServed: 0, deltasServed: 0, fetchesRefused: 0 };

  constructor(private readonly deps: DistributionDeps) {}

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
        const place = await this.deps.groupSetOf(deviceId);
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

  async commit(plan: PublicationPlan): Promise<{ changedKeys: string[]; notified: number; version: number | null }> {
    const changedKeys = await this.deps.publisher.commit(plan);
    // One version for every set a commit signs.
    const version = changedKeys.length > 0 ? this.deps.publisher.current(changedKeys[0]!)!.version : null;
    return { changedKeys, notified: await this.notify(new Set(changedKeys)), version };
  }

  deviceMoved(deviceId: string): Promise<boolean> {
    return this.offer(deviceId);
  }

  /**
   * Today's single policy: the bundle PolicyService signed and stored becomes the bundle of every
   * device's group set, and connected devices are told. Returns how many were sent something.
   */
  async broadcastPolicy(bundle: PolicyBundle): Promise<number> {
    this.deps.publisher.adopt(ALL_DEVICES.key, ALL_DEVICES.groups, bundle);
    return this.notify(new Set([ALL_DEVICES.key]));
  }

  /** A technician's "refresh policy": the device is told of its current bundle even if it holds it. */
  refresh(deviceId: string): Promise<boolean> {
    return this.offer(deviceId, true);
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
      groupSetOf: async (id) => (await this.deps.groupSetOf(id))?.key ?? null,
    });
    if (answer.status !== 200) {
      this.stats.fetchesRefused++;
      this.deps.log.warn('refused a policy fetch', { path: path.slice(0, 200), status: answer.status, detail: String(answer.body) });
    } else if (path.includes('/delta/')) this.stats.deltasServed++;
    else this.stats.bundlesServed++;
    res.writeHead(answer.status, answer.headers);
    res.end(answer.body);
  }

  private async notify(keys: ReadonlySet<string>): Promise<number> {
    let sent = 0;
    let turn = 0;
    for (const deviceId of [...this.devices.keys()]) {
      const place = await this.deps.groupSetOf(deviceId);
      if (!place || !keys.has(place.key)) continue;
      if (await this.offer(deviceId)) sent++;
      if (++turn % NOTICES_PER_TURN === 0) await yieldToEvents();
    }
    return sent;
  }

  /** Tells one connected device of its group set's bundle, if it does not hold it. */
  private async offer(deviceId: string, force = false): Promise<boolean> {
    const device = this.devices.get(deviceId);
    const place = device && (await this.deps.groupSetOf(deviceId));
    const set = place ? this.deps.publisher.current(place.key) : undefined;
    if (!device || !place || !set) return false;
    const { held } = device;
    const ahead = held.version !== null && held.version >= set.version;
    if (!force && (held.digest === set.digest || (ahead && !this.deps.resignForDevicesAhead))) return false;
    if (device.fetches) {
      const notice = force ? noticeFor((await this.deps.publisher.bundleBytes(set.digest))!) : await this.deps.publisher.noticeFor(place.key, held);
      if (!notice || !this.deps.hub.sendTo(deviceId, notice)) return false;
      this.stats.noticesSent++;
      return true;
    }
    const frame = this.frameFor(set.digest, { payload: set.payload, signature: set.signature });
    const limit = this.deps.frameLimitBytes ?? LIMITS.wsMaxPayloadBytes;
    if (Buffer.byteLength(frame) > limit) {
      this.stats.framesWithheld++;
      this.deps.log.warn('not sending a policy frame larger than the frame limit to an agent that cannot fetch; it keeps its current policy until it is upgraded', {
        deviceId,
        version: set.version,
        frameBytes: Buffer.byteLength(frame),
        frameLimit: limit,
      });
      return false;
    }
    if (!this.deps.hub.sendText(deviceId, frame)) return false;
    this.stats.framesSent++;
    return true;
  }

  private frameFor(digest: string, bundle: PolicyBundle): string {
    let text = this.frames.get(digest);
    if (text === undefined) {
      text = JSON.stringify({ v: PROTOCOL_VERSION, type: 'policy', bundle });
      this.frames.clear(); // only the current bundles are ever sent: keep the latest
      this.frames.set(digest, text);
    }
    return text;
  }
}
