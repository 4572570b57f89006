import { setImmediate as yieldToEvents } from 'node:timers/promises';
import type { z } from 'zod';
import { parsePolicyDocument, type PolicyDocument } from '../../shared/policy.js';
import {
  APPROVALS_POLICY,
  type AssignRequestSchema,
  type GroupCreateRequestSchema,
  type GroupUpdateRequestSchema,
  type PolicyCreateRequestSchema,
  type RuleAddRequestSchema,
} from '../../shared/policies/api.js';
import { diffPolicyContent, planPush, type PolicyDiff, type PushMode, type RuleChange } from '../../shared/policies/diff.js';
import {
  addRule,
  addRules,
  groupReferences,
  nextRevision,
  PolicyEditError,
  removeRule,
  renameGroupEverywhere,
  rollbackRevision,
} from '../../shared/policies/edits.js';
import { BASELINE_POLICY, contentFromDocument } from '../../shared/policies/from-document.js';
import { explainEffectivePolicy, groupSetKey, mergeEffectivePolicy, type Explanation } from '../../shared/policies/merge.js';
import type { Membership } from '../../shared/policies/membership.js';
import {
  AssignmentSetSchema,
  DeviceGroupSchema,
  PolicyContentSchema,
  type AssignmentSet,
  type DeviceGroup,
  type NamedPolicy,
  type PolicyContent,
  type PolicyRevision,
  type PolicySettings,
  type RuleRecord,
} from '../../shared/policies/model.js';
import { POLICY_LIMITS } from '../../shared/policy-limits.js';
import { SerialQueue } from '../../shared/serial-queue.js';
import type { Ownership } from '../../shared/session.js';
import { summariseZodError } from '../../shared/zod-errors.js';
import { ConflictError, InvalidError, NotFoundError } from '../errors.js';
import type { AuditRecord, PolicyChange, PolicyChangeStore } from '../store/store.js';
import type { DistributionResult, PolicyChangeNotice, PolicyDistributionPort, PolicyPlaneView } from './distribution-port.js';
import {
  applyChange,
  applyConfigChange,
  changeCanMoveDevices,
  deviceFactsOf,
  groupMembers,
  groupSets,
  groupsThatMatterIn,
  loadPlaneConfig,
  loadPlaneDevices,
  loadPlaneState,
  membershipsIn,
  modelOf,
  place,
  universalGroups,
  type Placement,
  type PlaneConfig,
  type PlaneState,
  type PlaneStore,
} from './plane-state.js';
import type { PublicationPlan } from './publisher.js';

/**
 * The plan as the plane commits it: with the fleet's group set (devices in no particular group,
 * only universal groups: the fleet's published policy), and the devices this change moved to
 * another set (other console processes place those again, and keep every other placement).
 */
function fleetPlan(where: PlacedIn, plan: PublicationPlan, moved: readonly string[] | undefined): PublicationPlan {
  return { ...plan, fleetKey: groupSetKey(universalGroups(where.state), where.matter), ...(moved ? { moved } : {}) };
}

/** The state a plan was prepared over, with the groups that matter in it (computed with its placement). */
type PlacedIn = { state: PlaneConfig; matter: ReadonlySet<string> };

/**
 * The console's policy plane (issue 16, docs/policies.md): device groups, named policies with
 * revisions, assignments, and each device's effective policy. Every change goes the same way,
 * one at a time: validate → build the new content → distribution.prepare (limits, nothing
 * changed yet) → one store transaction with its revision(s) and audit entries → distribution.commit
 * → tell devices whose group set changed. Nothing here knows how bundles travel.
 */

export interface ChangeResult extends DistributionResult {
  /** The revision a policy change stored, when it changed one policy. */
  revision?: number;
}

export type PushOutcome =
  | ({ ok: true; policy: string; diff: PolicyDiff; notes: string[] } & ChangeResult)
  | { ok: false; dropped: RuleRecord[]; overridden: RuleChange[] };

/** The group that holds every device (hostname `*`): the approvals policy is assigned to it. */
export const ALL_DEVICES_GROUP = 'all-devices';

/** Beyond this many moved devices, other processes are told to check every device they hold. */
const ANNOUNCED_DEVICES_MAX = 1000;

export interface PolicyPlaneDeps {
  store: PlaneStore & PolicyChangeStore;
  distribution: PolicyDistributionPort;
  /** Tells the other console processes on the same database (cluster/broadcasts.ts). */
  announce?: (change: PolicyChangeNotice) => void;
  now?: () => Date;
}

type Actor = { actor: string; reason?: string };

const editError = (error: unknown): never => {
  if (!(error instanceof PolicyEditError)) throw error;
  if (error.code === 'not-found' || error.code === 'no-such-revision') throw new NotFoundError(error.message, error.code);
  if (error.code === 'exists') throw new ConflictError('rule-exists', error.message);
  throw new InvalidError('invalid-request', error.message);
};

export class PolicyPlane implements PolicyPlaneView {
  private readonly queue = new SerialQueue();
  private readonly now: () => Date;
  /** Every device's group set with the state it was computed from, kept until the next plane change. */
  private placement: Promise<Placement & { state: PlaneState }> | null = null;
  /** Group sets published since start (every set of the state at each publication). */
  private readonly published = new Set<string>();

  constructor(private readonly deps: PolicyPlaneDeps) {
    this.now = deps.now ?? (() => new Date());
  }

  // ------------------------------------------------------------------ reads

  state(): Promise<PlaneState> {
    return loadPlaneState(this.deps.store);
  }

  /** The state but its devices (cheap at any fleet size). */
  config(): Promise<PlaneConfig> {
    return loadPlaneConfig(this.deps.store);
  }

  async groups(): Promise<(DeviceGroup & { members: string[] })[]> {
    const state = await this.state();
    const members = groupMembers(state);
    return state.groups.map((g) => ({ ...g, members: members.get(g.name) ?? [] }));
  }

  /** Group name -> member device ids: what the dashboard's Group filter shows. */
  async groupMembers(): Promise<Record<string, string[]>> {
    return Object.fromEntries(groupMembers(await this.state()));
  }

  async tokenGroups(tokenId: string): Promise<string[]> {
    return (await this.deps.store.listTokenGroups()).get(tokenId) ?? [];
  }

  async policies(): Promise<{ name: string; displayName: string; description?: string; revision: number; rules: number; baseline: boolean; assignedTo: string[] }[]> {
    const state = await this.config();
    return [...state.policies.values()].map((p) => ({
      name: p.name,
      displayName: p.displayName,
      ...(p.description !== undefined ? { description: p.description } : {}),
      revision: p.revision,
      rules: p.content.rules.length,
      baseline: state.assignments?.baseline === p.name,
      assignedTo: (state.assignments?.assignments ?? []).filter((a) => a.policy === p.name).map((a) => a.group),
    }));
  }

  async policy(name: string): Promise<NamedPolicy> {
    const policy = await this.deps.store.getNamedPolicy(name);
    if (!policy) throw new NotFoundError(`no policy named ${name}`);
    return policy;
  }

  async history(name: string, limit: number): Promise<Omit<PolicyRevision, 'content'>[]> {
    await this.policy(name);
    return this.deps.store.listPolicyRevisions(name, limit);
  }

  async revision(name: string, revision: number): Promise<PolicyRevision> {
    const found = await this.deps.store.getPolicyRevision(name, revision);
    if (!found) throw new NotFoundError(`policy ${name} has no revision ${revision}`, 'no-such-revision');
    return found;
  }

  /** Rules added, removed and changed, and settings changed, from one revision to another (default: the one before `to`). */
  async diff(name: string, from: number | null, to: number | null): Promise<{ from: number; to: number; diff: PolicyDiff }> {
    const current = await this.policy(name);
    const toRev = to ?? current.revision;
    const fromRev = from ?? Math.max(1, toRev - 1);
    const [a, b] = await Promise.all([this.revision(name, fromRev), this.revision(name, toRev)]);
    return { from: fromRev, to: toRev, diff: diffPolicyContent(a.content, b.content) };
  }

  async assignments(): Promise<AssignmentSet | null> {
    return this.deps.store.getAssignments();
  }

  /** The device's groups and why, its effective policy, and where each setting and rule came from. */
  async explain(deviceId: string): Promise<{ memberships: Membership[]; explanation: Explanation; effective: PolicyDocument; problems: string[] }> {
    const state = await this.state();
    const device = state.devices.find((d) => d.id === deviceId);
    if (!device) throw new NotFoundError('no such device (or it is revoked)');
    const model = modelOf(state);
    if (!model) throw new ConflictError('no-policy', 'no baseline policy yet: push a policy first');
    const memberships = membershipsIn(state, device);
    const input = { ...model, groups: memberships.map((m) => m.group), now: this.now() };
    const merged = mergeEffectivePolicy(input);
    return { memberships, explanation: explainEffectivePolicy(input), effective: merged.document, problems: merged.problems };
  }

  /**
   * The device's group set. Distribution asks for every notice and fetch (thousands during a
   * rollout), so the sets are computed once per plane change and kept until the next one; a
   * device not placed yet (enrolled through another console process) is read and placed alone.
   */
  async groupSetOf(deviceId: string): Promise<{ key: string; groups: readonly string[] } | null> {
    const placement = await this.placed();
    const key = placement.byDevice.get(deviceId) ?? (await this.placeOne(placement, deviceId));
    return key === null ? null : { key, groups: placement.sets.get(key)! };
  }

  private placed(): Promise<Placement & { state: PlaneState }> {
    this.placement ??= this.state().then((state) => ({ ...groupSets(state), state }));
    const placement = this.placement;
    return placement.catch((error: unknown) => {
      if (this.placement === placement) this.placement = null;
      throw error;
    });
  }

  /** Reads one device's facts and places it; null (and no place) when it is unknown or revoked. */
  private async placeOne(placement: Placement & { state: PlaneState }, deviceId: string): Promise<string | null> {
    const facts = await deviceFactsOf(this.deps.store, deviceId);
    if (!facts) {
      placement.byDevice.delete(deviceId);
      return null;
    }
    return place(placement.state, placement, facts);
  }

  nextVersion(): Promise<number> {
    return this.deps.store.allocatePolicyVersion();
  }

  /**
   * Another console process changed groups or policies. Without `devices`, any device may have
   * moved: group sets are computed again when next asked. With them, only those are placed
   * again, alone, after reading again what placing reads when the plane changed (`reread`).
   */
  async forgetPlacements(devices?: readonly string[], reread = false): Promise<void> {
    if (!devices || !this.placement) {
      this.placement = null;
      return;
    }
    const placement = await this.placed();
    if (reread) {
      const config = await this.config();
      placement.state = { ...config, devices: placement.state.devices };
      placement.matter = groupsThatMatterIn(config);
    }
    for (const id of devices) await this.placeOne(placement, id);
  }

  // ------------------------------------------------------------------ groups

  createGroup(input: z.infer<typeof GroupCreateRequestSchema>, who: Actor): Promise<ChangeResult> {
    return this.change(who, (state) => {
      if (state.groups.some((g) => g.name === input.name)) throw new ConflictError('group-exists', `a group named ${input.name} already exists`);
      if (state.groups.length >= POLICY_LIMITS.groups) throw new InvalidError('too-many-groups', `a console holds at most ${POLICY_LIMITS.groups} groups`);
      return { putGroups: [input], audit: [this.audit(who, 'group.created', `group:${input.name}`, { devices: input.devices.length, rules: input.rules })] };
    });
  }

  updateGroup(name: string, patch: z.infer<typeof GroupUpdateRequestSchema>, who: Actor): Promise<ChangeResult> {
    return this.change(who, (state) => {
      const group = this.group(state, name);
      const change: PolicyChange = { audit: [] };
      const to = patch.name && patch.name !== name ? patch.name : null;
      if (to) {
        if (state.groups.some((g) => g.name === to)) throw new ConflictError('group-exists', `a group named ${to} already exists`);
        change.renameGroup = { from: name, to };
        // Assignments follow through the store; scoped rules are renamed in each policy, as revisions.
        const model = modelOf(state);
        if (model) {
          const renamed = renameGroupEverywhere(name, to, model.policies, model.assignments);
          change.assignments = renamed.assignments;
          change.revisions = [...renamed.changedPolicies].map(([policy, content]) =>
            this.revisionOf(state.policies.get(policy)!, content, { ...who, reason: who.reason ?? `group ${name} renamed to ${to}` }, 'settings'),
          );
        }
      }
      const removed = new Set(patch.removeDevices ?? []);
      const devices = [...new Set([...group.devices.filter((d) => !removed.has(d)), ...(patch.addDevices ?? [])])];
      const parsed = DeviceGroupSchema.safeParse({
        name: to ?? name,
        displayName: patch.displayName ?? group.displayName,
        ...((patch.description ?? group.description) !== undefined ? { description: patch.description ?? group.description } : {}),
        devices,
        rules: patch.rules ?? group.rules,
      });
      if (!parsed.success) throw new InvalidError('invalid-request', summariseZodError(parsed.error));
      change.putGroups = [parsed.data];
      change.audit.push(this.audit(who, 'group.updated', `group:${name}`, { ...patch, addDevices: patch.addDevices?.length, removeDevices: patch.removeDevices?.length }));
      return change;
    });
  }

  deleteGroup(name: string, who: Actor): Promise<ChangeResult> {
    return this.change(who, (state) => {
      this.group(state, name);
      const model = modelOf(state);
      if (model) {
        const refs = groupReferences(name, model.policies, model.assignments);
        if (refs.assignments.length > 0 || refs.scopedRules.length > 0)
          throw new ConflictError(
            'group-in-use',
            `group ${name} is still used by ${[
              ...refs.assignments.map((a) => `the assignment of ${a.policy} (precedence ${a.precedence})`),
              ...refs.scopedRules.map((r) => `${r.count} rule(s) of ${r.policy}`),
            ].join(', ')}; unassign and remove those first`,
          );
      }
      return { deleteGroups: [name], audit: [this.audit(who, 'group.deleted', `group:${name}`, {})] };
    });
  }

  setTokenGroups(tokenId: string, groups: string[], who: Actor): Promise<ChangeResult> {
    return this.change(who, (state) => {
      for (const g of groups) this.group(state, g);
      return { tokenGroups: [{ tokenId, groups: [...new Set(groups)] }], audit: [this.audit(who, 'enroll-token.groups', `enroll-token:${tokenId}`, { groups })] };
    });
  }

  setOwnership(deviceId: string, ownership: Ownership | null, who: Actor): Promise<ChangeResult> {
    return this.change(who, async () => {
      if (!(await deviceFactsOf(this.deps.store, deviceId))) throw new NotFoundError('no such device (or it is revoked)');
      return { ownership: [{ deviceId, ownership }], audit: [this.audit(who, 'device.ownership', deviceId, { ownership })] };
    });
  }

  /**
   * A device enrolled, was revoked, or its facts changed (hostname): its group set may be new,
   * and a set nobody was in may need a bundle.
   */
  async deviceChanged(deviceId: string): Promise<void> {
    await this.serially(async () => {
      // One device's facts, not the fleet's: 10,000 enrolments must not read 10,000 devices each.
      const placement = await this.placed();
      const key = await this.placeOne(placement, deviceId);
      const model = modelOf(placement.state);
      // Only a set that has no bundle yet needs signing: content changes go through change().
      if (model && key !== null && !this.published.has(key))
        await this.commitPlan(placement, await this.deps.distribution.prepare(model, new Map([[key, placement.sets.get(key)!]])), [key], [deviceId]);
      await this.deps.distribution.deviceMoved(deviceId);
      this.deps.announce?.({ devices: [deviceId] });
    });
  }

  /**
   * Publishes the current state with no change stored: at start (a set whose stored bundle is
   * out of date is signed again) and when published content changes by itself (a rule expired).
   */
  republish(): Promise<DistributionResult> {
    return this.serially(async () => this.publish(await this.state()));
  }

  private async publish(state: PlaneState): Promise<DistributionResult> {
    const model = modelOf(state);
    if (!model) return { changedKeys: [], notified: 0, version: null };
    const { sets, matter } = groupSets(state);
    // Publishing what is already there moves no device.
    return this.commitPlan({ state, matter }, await this.deps.distribution.prepare(model, sets), sets.keys(), []);
  }

  /** Commits a plan prepared over `keys` of `state`, remembering that those sets have a bundle. */
  private async commitPlan(where: PlacedIn, plan: PublicationPlan, keys: Iterable<string>, moved: readonly string[] | undefined): Promise<DistributionResult> {
    const result = await this.deps.distribution.commit(fleetPlan(where, plan, moved));
    for (const key of keys) this.published.add(key);
    return result;
  }

  // ------------------------------------------------------------------ policies

  createPolicy(input: z.infer<typeof PolicyCreateRequestSchema>, who: Actor): Promise<ChangeResult> {
    return this.change(who, (state) => {
      if (state.policies.has(input.name)) throw new ConflictError('policy-exists', `a policy named ${input.name} already exists`);
      if (state.policies.size >= POLICY_LIMITS.policies) throw new InvalidError('too-many-policies', `a console holds at most ${POLICY_LIMITS.policies} policies`);
      const content = input.content ?? { settings: {}, rules: [] };
      return {
        revisions: [this.firstRevision(input, content, who, 'create')],
        // The first policy on a console becomes its baseline: every device needs one.
        ...(state.assignments ? {} : { assignments: { baseline: input.name, assignments: [] } }),
        audit: [this.audit(who, 'policy.created', `policy:${input.name}`, { rules: content.rules.length })],
      };
    });
  }

  /**
   * `vigil policy push FILE`: the file's settings and rules replace the policy's, except that a
   * push that would drop or change console-added rules is refused naming them (mode `refuse`).
   * Groups the file lists become console groups with those devices (as the upgrade does), so a
   * file written for the single-policy console keeps its meaning. Without a policy name the
   * file goes onto the baseline; a policy that does not exist yet is created by it.
   */
  async push(name: string | null, raw: unknown, mode: PushMode, who: Actor): Promise<PushOutcome> {
    // A 100,000-rule document is checked in slices, the console reading its sockets in between.
    const parsed = await parsePolicyDocument(raw, () => yieldToEvents());
    if (!parsed.success) throw new InvalidError('invalid-request', `policy: ${summariseZodError(parsed.error)}`);
    const document = parsed.data;
    let refused: PushOutcome | null = null;
    let notes: string[] = [];
    let diff: PolicyDiff = { rules: { added: [], removed: [], changed: [] }, settings: [] };
    let target = '';
    const result = await this.change(who, async (state) => {
      target = name ?? state.assignments?.baseline ?? BASELINE_POLICY;
      const at = this.now().toISOString();
      const converted = contentFromDocument(document, { author: who.actor, at, origin: 'file' });
      notes = converted.notes;
      // Converting a 100,000-rule file and comparing it with what is held are each a good part of a second.
      await yieldToEvents();
      const current = state.policies.get(target);
      const plan = planPush(current?.content ?? { settings: {}, rules: [] }, converted.content, mode);
      if (!plan.ok) {
        refused = { ok: false, dropped: plan.dropped, overridden: plan.overridden };
        return null;
      }
      diff = plan.diff;
      const meta = { displayName: document.name, ...(document.description ? { description: document.description } : {}) };
      const change: PolicyChange = {
        revisions: [
          current
            ? { ...meta, revision: nextRevision({ policy: current.name, revision: current.revision }, plan.content, { author: who.actor, at, change: 'push', ...(who.reason ? { reason: who.reason } : {}) }) }
            : this.firstRevision({ name: target, ...meta }, plan.content, who, 'push'),
        ],
        putGroups: Object.entries(document.groups ?? {}).map(([group, devices]) => {
          const held = state.groups.find((g) => g.name === group);
          return { ...(held ?? { name: group, displayName: group, rules: [] }), devices: [...new Set(devices)] };
        }),
        audit: [
          this.audit(who, 'policy.pushed', `policy:${target}`, {
            mode,
            name: document.name,
            added: plan.diff.rules.added.length,
            removed: plan.diff.rules.removed.length,
            changed: plan.diff.rules.changed.length,
            settings: plan.diff.settings.map((s) => s.setting),
          }),
        ],
      };
      if (!state.assignments) change.assignments = { baseline: target, assignments: [] };
      return change;
    });
    if (refused) return refused;
    return { ok: true, policy: target, diff, notes, ...result };
  }

  addRule(name: string, input: z.infer<typeof RuleAddRequestSchema>, who: Actor): Promise<ChangeResult> {
    const record: RuleRecord = {
      rule: input.rule,
      exception: input.exception,
      author: who.actor,
      reason: input.reason,
      addedAt: this.now().toISOString(),
      ...(input.expiresAt ? { expiresAt: input.expiresAt } : {}),
      origin: 'console',
    };
    return this.editRules(name, who, (content) => {
      const { content: next, replaced } = addRule(content, record, { replace: input.replace });
      return { content: next, change: replaced ? 'rule-change' : 'rule-add', detail: { rule: input.rule, exception: input.exception, expiresAt: input.expiresAt } };
    });
  }

  /**
   * Rules read from a file (AppLocker, Santa, CSV) added to a policy in one revision, each
   * replacing the policy's rule with the same key. A dry run stores nothing and answers the diff
   * committing would make: the Policies page shows it before anything is published.
   */
  async importRules(name: string, records: RuleRecord[], who: Actor, dryRun: boolean): Promise<{ diff: PolicyDiff; result: ChangeResult | null }> {
    const plan = (content: PolicyContent) => {
      try {
        const next = addRules(content, records);
        return { next, diff: diffPolicyContent(content, next) };
      } catch (error) {
        return editError(error);
      }
    };
    if (dryRun) return { diff: plan(this.named(await this.config(), name).content).diff, result: null };
    let diff: PolicyDiff = { rules: { added: [], removed: [], changed: [] }, settings: [] };
    const result = await this.editRules(name, who, (content) => {
      const planned = plan(content);
      diff = planned.diff;
      return { content: planned.next, change: 'rule-add', detail: { imported: records.length, added: diff.rules.added.length, changed: diff.rules.changed.length } };
    });
    return { diff, result };
  }

  /** The policy's settings replaced (the Policies page's settings forms); its rules are kept. */
  setSettings(name: string, settings: PolicySettings, who: Actor): Promise<ChangeResult> {
    return this.editRules(name, who, (content) => {
      const next = { ...content, settings };
      return { content: next, change: 'settings', detail: { settings: diffPolicyContent(content, next).settings.map((s) => s.setting) } };
    });
  }

  removeRule(name: string, key: string, who: Actor): Promise<ChangeResult> {
    return this.editRules(name, who, (content) => {
      const { content: next, removed } = removeRule(content, key);
      return { content: next, change: 'rule-remove', detail: { rule: removed.rule, origin: removed.origin, author: removed.author } };
    });
  }

  rollback(name: string, to: number, who: Actor): Promise<ChangeResult> {
    return this.change(who, async (state) => {
      const current = this.named(state, name);
      const target = await this.revision(name, to);
      const revision = rollbackRevision([{ ...target }, { ...target, revision: current.revision }], to, {
        author: who.actor,
        at: this.now().toISOString(),
        ...(who.reason ? { reason: who.reason } : {}),
      });
      return {
        revisions: [{ displayName: current.displayName, ...(current.description ? { description: current.description } : {}), revision }],
        audit: [this.audit(who, 'policy.rolled-back', `policy:${name}`, { to, revision: revision.revision })],
      };
    });
  }

  /**
   * Approving an app request: the rule goes into the chosen policy (default: the approvals
   * policy, created on first use and assigned to every device, above the baseline), where no
   * later file push onto another policy touches it and a push onto this one is refused.
   */
  addApproval(target: string | undefined, record: RuleRecord, who: Actor, audit: (result: ChangeResult) => Omit<AuditRecord, 'id'>): Promise<ChangeResult> {
    const name = target ?? APPROVALS_POLICY;
    return this.change(who, (state) => {
      if (!state.assignments) throw new ConflictError('no-policy', 'publish a policy before approving requests: the rule is added to it');
      const change: PolicyChange = { audit: [] };
      let assignments: AssignmentSet = state.assignments;
      const existing = state.policies.get(name);
      let content: PolicyContent = existing?.content ?? { settings: {}, rules: [] };
      try {
        content = addRule(content, record, { replace: true }).content;
      } catch (error) {
        editError(error);
      }
      if (existing) {
        change.revisions = [this.revisionOf(existing, content, who, 'rule-add')];
      } else {
        if (name !== APPROVALS_POLICY) throw new NotFoundError(`no policy named ${name}`);
        change.revisions = [this.firstRevision({ name, displayName: 'Approved requests' }, content, who, 'create')];
        if (!state.groups.some((g) => g.name === ALL_DEVICES_GROUP))
          change.putGroups = [{ name: ALL_DEVICES_GROUP, displayName: 'All devices', devices: [], rules: [{ kind: 'hostname', pattern: '*' }] }];
        const used = new Set(assignments.assignments.map((a) => a.precedence));
        let precedence = 1;
        while (used.has(precedence)) precedence++;
        assignments = { ...assignments, assignments: [...assignments.assignments, { policy: name, group: ALL_DEVICES_GROUP, precedence }] };
        change.assignments = assignments;
      }
      change.audit.push(this.audit(who, 'policy.rule-added', `policy:${name}`, { rule: record.rule, origin: 'approval', requestId: record.requestId }));
      return change;
    }, audit);
  }

  // ------------------------------------------------------------------ assignments

  assign(input: z.infer<typeof AssignRequestSchema>, who: Actor): Promise<ChangeResult> {
    return this.change(who, (state) => {
      const set = this.requireAssignments(state);
      this.named(state, input.policy);
      this.group(state, input.group);
      const others = set.assignments.filter((a) => !(a.policy === input.policy && a.group === input.group));
      const next = this.validAssignments({ ...set, assignments: [...others, { policy: input.policy, group: input.group, precedence: input.precedence }] });
      return { assignments: next, audit: [this.audit(who, 'policy.assigned', `policy:${input.policy}`, { group: input.group, precedence: input.precedence })] };
    });
  }

  unassign(policy: string, group: string, who: Actor): Promise<ChangeResult> {
    return this.change(who, (state) => {
      const set = this.requireAssignments(state);
      const next = set.assignments.filter((a) => !(a.policy === policy && a.group === group));
      if (next.length === set.assignments.length) throw new NotFoundError(`policy ${policy} is not assigned to group ${group}`);
      return { assignments: { ...set, assignments: next }, audit: [this.audit(who, 'policy.unassigned', `policy:${policy}`, { group })] };
    });
  }

  setBaseline(policy: string, who: Actor): Promise<ChangeResult> {
    return this.change(who, (state) => {
      this.named(state, policy);
      const set = state.assignments ?? { baseline: policy, assignments: [] };
      return { assignments: { ...set, baseline: policy }, audit: [this.audit(who, 'policy.baseline', `policy:${policy}`, { was: state.assignments?.baseline ?? null })] };
    });
  }

  // ------------------------------------------------------------------ the one way a change is made

  /** Runs plane changes one at a time: each reads the state the previous one left. */
  private serially<T>(task: () => Promise<T>): Promise<T> {
    return this.queue.run(task);
  }

  /**
   * Validate and build (the callback, which may refuse by throwing or return null to store
   * nothing), prepare (limits), store with audit in one transaction, commit, tell moved devices.
   * `lateAudit` adds an audit entry that names the result (the version), appended after commit.
   */
  private change(
    who: Actor,
    build: (state: PlaneConfig) => PolicyChange | null | Promise<PolicyChange | null>,
    lateAudit?: (result: ChangeResult) => Omit<AuditRecord, 'id'>,
  ): Promise<ChangeResult> {
    return this.serially(async () => {
      const config = await this.config();
      let change: PolicyChange | null;
      try {
        change = await build(config);
      } catch (error) {
        return editError(error);
      }
      if (!change) return { changedKeys: [], notified: 0, version: null };
      // Building a change to 100,000 rules (a file converted, compared with what is held) and
      // merging it are each most of a second: the console reads its sockets in between.
      await yieldToEvents();
      if (who.reason) for (const entry of change.audit) entry.detail = { ...entry.detail, reason: who.reason };
      const next = applyConfigChange(config, change);
      const model = modelOf(next);
      const { after, moved } = changeCanMoveDevices(config, change, next) ? await this.placeAgain(config, change) : await this.keepPlaces(next);
      // Throws PolicyLimitError naming the limit before anything is stored.
      const plan = model ? await this.deps.distribution.prepare(model, after.sets) : null;
      await this.deps.store.applyPolicyChange(change);
      // Storing a change and the first signing each hold the thread for a while: not in one turn.
      await yieldToEvents();
      // What was stored is what `after` says: every device's set is known without reading the
      // fleet again, and the notices that follow (thousands) ask for it at once.
      this.placement = Promise.resolve(after);
      const announced = moved.length <= ANNOUNCED_DEVICES_MAX ? moved : undefined;
      const result: ChangeResult = plan ? await this.commitPlan(after, plan, after.sets.keys(), announced) : { changedKeys: [], notified: 0, version: null };
      if (change.revisions?.length === 1) result.revision = change.revisions[0]!.revision.revision;
      for (const device of moved) await this.deps.distribution.deviceMoved(device);
      // Signed bundles are announced by distribution; moves without a signing are announced here.
      if (moved.length > 0 && result.version === null) this.deps.announce?.(announced ? { devices: announced, planeChanged: true } : {});
      if (lateAudit) await this.deps.store.applyPolicyChange({ audit: [lateAudit(result)] });
      return result;
    });
  }

  /** A change that can move devices: the fleet is read and placed before and after it. */
  private async placeAgain(config: PlaneConfig, change: PolicyChange): Promise<{ after: Placement & { state: PlaneState }; moved: string[] }> {
    const state = { ...config, devices: await loadPlaneDevices(this.deps.store) };
    const before = groupSets(state).byDevice;
    const next = applyChange(state, change);
    const after = { ...groupSets(next), state: next };
    return { after, moved: [...after.byDevice].filter(([device, key]) => before.get(device) !== key).map(([device]) => device) };
  }

  /** A change that moves no device: the places held stay, with the changed policies. */
  private async keepPlaces(next: PlaneConfig): Promise<{ after: Placement & { state: PlaneState }; moved: string[] }> {
    const held = await this.placed();
    return { after: { byDevice: held.byDevice, sets: held.sets, matter: held.matter, state: { ...next, devices: held.state.devices } }, moved: [] };
  }

  private editRules(
    name: string,
    who: Actor,
    edit: (content: PolicyContent) => { content: PolicyContent; change: PolicyRevision['change']; detail: Record<string, unknown> },
  ): Promise<ChangeResult> {
    return this.change(who, (state) => {
      const policy = this.named(state, name);
      const { content, change, detail } = edit(policy.content);
      return { revisions: [this.revisionOf(policy, content, who, change)], audit: [this.audit(who, `policy.${change}`, `policy:${name}`, detail)] };
    });
  }

  private revisionOf(policy: NamedPolicy, content: PolicyContent, who: Actor, change: PolicyRevision['change']) {
    return {
      displayName: policy.displayName,
      ...(policy.description ? { description: policy.description } : {}),
      revision: nextRevision({ policy: policy.name, revision: policy.revision }, content, { author: who.actor, at: this.now().toISOString(), change, ...(who.reason ? { reason: who.reason } : {}) }),
    };
  }

  private firstRevision(meta: { name: string; displayName: string; description?: string }, content: PolicyContent, who: Actor, change: PolicyRevision['change']) {
    const valid = PolicyContentSchema.safeParse(content);
    if (!valid.success) throw new InvalidError('invalid-request', `the policy would not be valid: ${summariseZodError(valid.error)}`);
    return {
      displayName: meta.displayName,
      ...(meta.description ? { description: meta.description } : {}),
      revision: { policy: meta.name, revision: 1, author: who.actor, at: this.now().toISOString(), change, ...(who.reason ? { reason: who.reason } : {}), content: valid.data },
    };
  }

  private audit(who: Actor, action: string, target: string, detail: Record<string, unknown>): Omit<AuditRecord, 'id'> {
    return { at: this.now().toISOString(), actor: who.actor, action, target, detail };
  }

  private group(state: PlaneConfig, name: string): DeviceGroup {
    const group = state.groups.find((g) => g.name === name);
    if (!group) throw new NotFoundError(`no group named ${name}`);
    return group;
  }

  private named(state: PlaneConfig, name: string): NamedPolicy {
    const policy = state.policies.get(name);
    if (!policy) throw new NotFoundError(`no policy named ${name}`);
    return policy;
  }

  private requireAssignments(state: PlaneConfig): AssignmentSet {
    if (!state.assignments) throw new ConflictError('no-policy', 'no baseline policy yet: push or create a policy first');
    return state.assignments;
  }

  private validAssignments(set: AssignmentSet): AssignmentSet {
    const parsed = AssignmentSetSchema.safeParse(set);
    if (!parsed.success) throw new ConflictError('invalid-assignments', summariseZodError(parsed.error));
    return parsed.data;
  }
}
