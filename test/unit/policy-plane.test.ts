import { randomUUID } from 'node:crypto';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { ruleSetDecider } from '../../src/agent/exec/decision.js';
import { compileApplications, groupsOf as legacyGroupsOf } from '../../src/agent/exec/rule-set.js';
import { loadOrCreateConsoleIdentity } from '../../src/console/identity.js';
import { checkPolicyBundle, signPolicyBundle } from '../../src/shared/node/policy-verify.js';
import { policySide } from '../helpers/policy-side.js';
import type { DistributionResult, PolicyDistributionPort } from '../../src/console/policies/distribution-port.js';
import { migrateSinglePolicyOnce } from '../../src/console/policies/plane-migration.js';
import { loadPlaneState } from '../../src/console/policies/plane-state.js';
import { PolicyPlane } from '../../src/console/policies/plane.js';
import { PolicyLimitError, PolicyPublisher, type PublicationPlan } from '../../src/console/policies/publisher.js';
import { openSqliteStore, type SqliteStore } from '../../src/console/store/sqlite-store.js';
import { signDigest } from '../../src/shared/node/signing.js';
import { mergeEffectivePolicy } from '../../src/shared/policies/merge.js';
import { POLICY_LIMITS } from '../../src/shared/policy-limits.js';
import { PolicyDocumentSchema, type PolicyDocument } from '../../src/shared/policy.js';
import { addTestToken } from '../helpers/console-store.js';
import { deviceRecord } from '../../bench/device-record.js';
import { hashRecord, hex } from '../helpers/policy-model.js';
import { tempDirsPerTest } from '../helpers/processes.js';

/**
 * The policy plane over a real SQLite store and a real publisher (signing with a real console
 * key): limits refused before anything is stored, devices told when their group set changes,
 * and the upgrade from a console of one policy document.
 */
const tempPath = tempDirsPerTest();

/** Distribution as the delivery branch does it: the real publisher prepares and signs per group set. */
class PublisherDistribution implements PolicyDistributionPort {
  readonly moved: string[] = [];
  private version = 0;
  readonly publisher: PolicyPublisher;
  constructor(dir: string) {
    const identity = loadOrCreateConsoleIdentity(dir);
    this.publisher = new PolicyPublisher({
      sign: (sha256) => signDigest('policy', sha256, identity.privateKey, identity.publicKey),
      now: () => new Date(),
      nextVersion: () => ++this.version,
      lifetimeMs: 86400_000,
    });
  }
  prepare(model: Parameters<PolicyPublisher['prepare']>[0], sets: Map<string, readonly string[]>) {
    return this.publisher.prepare(model, sets);
  }
  async commit(plan: PublicationPlan): Promise<DistributionResult> {
    const changedKeys = await this.publisher.commit(plan);
    return { changedKeys, notified: 0, version: changedKeys.length ? this.version : null };
  }
  async deviceMoved(deviceId: string) {
    this.moved.push(deviceId);
    return true;
  }
}

async function consoleWithDevices(hostnames: string[]) {
  const dir = tempPath();
  const store = openSqliteStore(`${dir}/console.db`);
  await addTestToken(store);
  const devices = [];
  for (const hostname of hostnames) {
    const d = deviceRecord(randomUUID(), hostname);
    await store.enrollDevice(d, 'tok');
    devices.push(d);
  }
  const distribution = new PublisherDistribution(dir);
  return { dir, store, devices, distribution, plane: new PolicyPlane({ store, distribution }) };
}

const who = { actor: 'sm' };
const doc = (over: Partial<PolicyDocument> = {}) => ({ format: 'vigil-policy/1', name: 'base', ...over });

describe('PolicyPlane', () => {
  it('gives devices in different groups their own signed bundle and tells a device that moves, and only it', async () => {
    const { store, plane, devices, distribution } = await consoleWithDevices(['lab-01', 'office-01']);
    const [lab, office] = devices as [(typeof devices)[0], (typeof devices)[0]];
    await plane.push(null, doc({ aup: { variant: 'pupil' } }), 'refuse', who);
    await plane.createGroup({ name: 'staff', displayName: 'Staff', devices: [office.id], rules: [] }, who);
    await plane.createPolicy({ name: 'staff', displayName: 'Staff', content: { settings: { aup: { variant: 'staff' } }, rules: [] } }, who);
    distribution.moved.length = 0;
    const assigned = await plane.assign({ policy: 'staff', group: 'staff', precedence: 5 }, who);
    expect(assigned.version).not.toBeNull();
    // Assigning made "staff" a group that matters: the office device's set changed, the lab's did not.
    expect(distribution.moved).toEqual([office.id]);
    const labSet = (await plane.groupSetOf(lab.id))!;
    const officeSet = (await plane.groupSetOf(office.id))!;
    expect(distribution.publisher.current(labSet.key)!.payload.policy.aup).toEqual({ variant: 'pupil' });
    expect(distribution.publisher.current(officeSet.key)!.payload.policy.aup).toEqual({ variant: 'staff' });

    distribution.moved.length = 0;
    await plane.updateGroup('staff', { addDevices: [lab.id] }, who);
    expect(distribution.moved).toEqual([lab.id]);
    expect((await plane.groupSetOf(lab.id))!.key).toBe(officeSet.key);
    // A rename follows into the assignments: the members keep the same effective policy.
    const held = distribution.publisher.current(officeSet.key)!.payload.policy;
    await plane.updateGroup('staff', { name: 'staff-laptops' }, who);
    expect(distribution.publisher.current((await plane.groupSetOf(office.id))!.key)!.payload.policy).toEqual(held);
    expect(distribution.publisher.current((await plane.groupSetOf(lab.id))!.key)!.payload.policy).toEqual(held);
    expect((await store.getAssignments())!.assignments).toEqual([{ policy: 'staff', group: 'staff-laptops', precedence: 5 }]);
    await store.close();
  });

  it("puts devices in their enrollment token's default groups and by ownership; a device whose set changes is told", async () => {
    const { store, plane, devices, distribution } = await consoleWithDevices(['pc-1', 'pc-2']);
    const [one, two] = devices as [(typeof devices)[0], (typeof devices)[0]];
    await plane.push(null, doc(), 'refuse', who);
    await plane.createGroup({ name: 'year-7', displayName: 'Year 7', devices: [], rules: [] }, who);
    await plane.createGroup({ name: 'byod', displayName: 'BYOD', devices: [], rules: [{ kind: 'ownership', ownership: 'byod' }] }, who);
    await plane.createPolicy({ name: 'y7', displayName: 'Y7', content: { settings: { aup: { variant: 'year-7' } }, rules: [] } }, who);
    await plane.createPolicy({ name: 'own', displayName: 'Own', content: { settings: { aup: { variant: 'byod' } }, rules: [] } }, who);
    await plane.assign({ policy: 'y7', group: 'year-7', precedence: 1 }, who);
    await plane.assign({ policy: 'own', group: 'byod', precedence: 2 }, who);
    distribution.moved.length = 0;
    await plane.setTokenGroups('tok', ['year-7'], who);
    expect(distribution.moved.sort()).toEqual([one.id, two.id].sort());
    expect((await plane.explain(one.id)).memberships).toEqual([{ group: 'year-7', reasons: [{ kind: 'token-default', tokenId: 'tok' }] }]);
    distribution.moved.length = 0;
    await plane.setOwnership(two.id, 'byod', who);
    expect(distribution.moved).toEqual([two.id]);
    expect((await plane.explain(two.id)).effective.aup).toEqual({ variant: 'byod' });
    expect((await plane.explain(one.id)).effective.aup).toEqual({ variant: 'year-7' });
    await expect(plane.setTokenGroups('tok', ['no-such-group'], who)).rejects.toThrow(/no group named no-such-group/);
    await store.close();
  });

  it('places each enrolling device alone: the fleet is read once, not once per enrolment, and a new set gets its bundle', async () => {
    const { store, plane, distribution } = await consoleWithDevices(['pc-1', 'pc-2', 'pc-3']);
    await plane.push(null, doc(), 'refuse', who);
    await plane.createGroup({ name: 'lab', displayName: 'Lab', devices: [], rules: [{ kind: 'hostname', pattern: 'lab-*' }] }, who);
    await plane.createPolicy({ name: 'lab', displayName: 'Lab', content: { settings: { aup: { variant: 'lab' } }, rules: [] } }, who);
    await plane.assign({ policy: 'lab', group: 'lab', precedence: 1 }, who);
    let fleetReads = 0;
    const listDevices = store.listDevices.bind(store);
    store.listDevices = () => (fleetReads++, listDevices());
    const enrolled = [];
    for (const hostname of ['lab-01', 'pc-4', 'lab-02', 'pc-5', 'lab-03']) {
      const d = deviceRecord(randomUUID(), hostname);
      await store.enrollDevice(d, 'tok');
      await plane.deviceChanged(d.id);
      enrolled.push(d);
    }
    expect(fleetReads).toBeLessThanOrEqual(1);
    const labSet = (await plane.groupSetOf(enrolled[0]!.id))!;
    expect(labSet.groups).toEqual(['lab']);
    expect(distribution.publisher.current(labSet.key)!.payload.policy.aup).toEqual({ variant: 'lab' });
    expect((await plane.groupSetOf(enrolled[1]!.id))!.groups).toEqual([]);
    // A device enrolled behind the plane's back (another console process) is read when first asked for.
    const late = deviceRecord(randomUUID(), 'lab-09');
    await store.enrollDevice(late, 'tok');
    expect((await plane.groupSetOf(late.id))!.key).toBe(labSet.key);
    // A hostname change moves it; a revoked device has no set.
    await store.setDeviceHostname(late.id, 'pc-9');
    await plane.deviceChanged(late.id);
    expect((await plane.groupSetOf(late.id))!.groups).toEqual([]);
    await store.revokeDevice(late.id);
    await plane.deviceChanged(late.id);
    expect(await plane.groupSetOf(late.id)).toBeNull();
    expect(fleetReads).toBeLessThanOrEqual(1);
    await store.close();
  });

  it('refuses a change whose effective policy would break a limit, naming it, and stores nothing', async () => {
    const { store, plane, devices } = await consoleWithDevices(['lab-01']);
    const exceptions = (from: number) =>
      Array.from({ length: 6_000 }, (_, i) => ({
        rule: { kind: 'sha256' as const, sha256: hex(from + i), action: 'allow' as const },
        exception: true,
        author: 'sm',
        reason: 'mock exams',
        addedAt: new Date().toISOString(),
        expiresAt: '2099-01-01T00:00:00.000Z',
        origin: 'console' as const,
      }));
    await plane.push(null, doc(), 'refuse', who);
    await plane.createGroup({ name: 'lab', displayName: 'Lab', devices: [devices[0]!.id], rules: [] }, who);
    await plane.createPolicy({ name: 'exams-a', displayName: 'A', content: { settings: {}, rules: exceptions(0) } }, who);
    await plane.createPolicy({ name: 'exams-b', displayName: 'B', content: { settings: {}, rules: exceptions(100_000) } }, who);
    await plane.assign({ policy: 'exams-a', group: 'lab', precedence: 1 }, who);
    const before = { assignments: await store.getAssignments(), audit: (await store.listAudit(1000)).length };
    const refused = plane.assign({ policy: 'exams-b', group: 'lab', precedence: 2 }, who);
    await expect(refused).rejects.toBeInstanceOf(PolicyLimitError);
    await expect(refused).rejects.toThrow(
      `devices in lab: the effective policy would hold 12000 exceptions; the policy's exception limit is ${POLICY_LIMITS.exceptions}`,
    );
    expect(await store.getAssignments()).toEqual(before.assignments);
    expect((await store.listAudit(1000)).length).toBe(before.audit);
    await store.close();
  }, 120_000);

  it('names every console-added rule a push would drop; approvals live in their own policy, which a baseline push does not touch', async () => {
    const { store, plane } = await consoleWithDevices(['lab-01']);
    await plane.push(null, doc(), 'refuse', who);
    const approval = {
      rule: { kind: 'sha256' as const, sha256: hex(1), action: 'allow' as const },
      exception: false,
      author: 'sm',
      reason: 'approved request from ann: maths',
      addedAt: new Date().toISOString(),
      origin: 'approval' as const,
      requestId: 'r1',
    };
    await plane.addApproval(undefined, approval, who, () => ({
      at: new Date().toISOString(),
      actor: 'sm',
      action: 'app-request.approved',
      target: null,
      detail: {},
    }));
    expect((await plane.push(null, doc({ name: 'base 2' }), 'refuse', who)).ok).toBe(true);
    expect((await store.getNamedPolicy('approvals'))!.content.rules).toEqual([approval]);
    // Approved into the baseline itself: a push without it is refused naming it.
    await plane.addApproval('baseline', { ...approval, rule: { ...approval.rule, sha256: hex(2) } }, who, () => ({
      at: new Date().toISOString(),
      actor: 'sm',
      action: 'app-request.approved',
      target: null,
      detail: {},
    }));
    const refused = await plane.push(null, doc(), 'refuse', who);
    expect(refused).toEqual({
      ok: false,
      dropped: [expect.objectContaining({ rule: expect.objectContaining({ sha256: hex(2) }), origin: 'approval' })],
      overridden: [],
    });
    await store.close();
  });
});

describe('revisions of a big policy', () => {
  it('stores one-rule changes and a rollback as runs of the first revision; a restarted console reads the same revisions, history and diffs', async () => {
    const { dir, store, plane } = await consoleWithDevices(['lab-01']);
    await plane.push(null, doc(), 'refuse', who);
    await plane.createPolicy(
      { name: 'big', displayName: 'Big', content: { settings: {}, rules: Array.from({ length: 3_000 }, (_, i) => hashRecord(i + 1)) } },
      who,
    );
    await plane.addRule('big', { rule: { kind: 'sha256', sha256: hex(9_000), action: 'block' }, exception: false, reason: 'seen in lab', replace: false }, who);
    await plane.removeRule('big', `sha256:${hex(3)}`, who);
    await plane.rollback('big', 2, who);
    const revisions = [1, 2, 3, 4];
    const read = async (p: PolicyPlane) => ({
      revisions: await Promise.all(revisions.map((r) => p.revision('big', r))),
      history: await p.history('big', 10),
      diffs: await Promise.all(revisions.slice(1).map((r) => p.diff('big', r - 1, r))),
    });
    const written = await read(plane);
    expect(written.revisions.map((r) => r.content.rules.length)).toEqual([3_000, 3_001, 3_000, 3_001]);
    expect(written.revisions[3]!.content).toEqual(written.revisions[1]!.content);
    expect(written.diffs.map((d) => [d.diff.rules.added.length, d.diff.rules.removed.length])).toEqual([
      [1, 0],
      [0, 1],
      [1, 0],
    ]);
    await store.close();

    const raw = new Database(`${dir}/console.db`, { readonly: true });
    const stored = raw.prepare("SELECT revision, base_revision FROM policy_revisions WHERE policy = 'big' ORDER BY revision").all();
    raw.close();
    expect(stored).toEqual(revisions.map((revision) => ({ revision, base_revision: revision === 1 ? null : 1 })));

    const again = openSqliteStore(`${dir}/console.db`);
    expect(await read(new PolicyPlane({ store: again, distribution: new PublisherDistribution(dir) }))).toEqual(written);
    await again.close();
  }, 60_000);
});

describe('upgrade from a console of one policy document (migration 0006 and its data step)', () => {
  /** A console database as the code before 0006 left it: policies published, devices enrolled. */
  async function preUpgradeConsole() {
    const dir = tempPath();
    const file = `${dir}/console.db`;
    const store = openSqliteStore(file);
    await addTestToken(store);
    const ids = [randomUUID(), randomUUID(), randomUUID()];
    for (const [i, id] of ids.entries()) await store.enrollDevice(deviceRecord(id, `pc-${i}`), 'tok');
    const legacy = PolicyDocumentSchema.parse({
      format: 'vigil-policy/1',
      name: 'Hillside',
      description: 'the whole school',
      groups: { 'year-7': [ids[0], ids[1]], lab: [ids[1], randomUUID()] },
      aup: { variant: 'secondary' },
      applications: {
        mode: 'enforce',
        defaultAction: 'block',
        rules: [
          { kind: 'sha256', sha256: hex(1), action: 'allow' },
          { kind: 'sha256', sha256: hex(2), action: 'allow', groups: ['year-7'] },
          { kind: 'sha256', sha256: hex(2), action: 'block', groups: ['lab'] },
          { kind: 'path', platform: 'posix', pattern: '/opt/**', action: 'allow', groups: ['lab'] },
        ],
        exceptions: [{ rule: { kind: 'sha256', sha256: hex(3), action: 'allow', groups: ['lab'] }, reason: 'mock exams', expiresAt: '2099-01-01T00:00:00Z' }],
      },
    });
    // Published as the single-policy console did: each document signed under the next version.
    const identity = loadOrCreateConsoleIdentity(dir);
    const publish = (document: PolicyDocument) =>
      store.publishPolicy((version) => {
        const issuedAt = new Date().toISOString();
        const payload = {
          kind: 'vigil.policy-bundle' as const,
          version,
          issuedAt,
          expiresAt: new Date(Date.now() + 30 * 86400_000).toISOString(),
          policy: document,
        };
        return { version, document, publishedBy: 'sm', publishedAt: issuedAt, bundle: signPolicyBundle(payload, identity.privateKey, identity.publicKey) };
      });
    await publish(PolicyDocumentSchema.parse({ format: 'vigil-policy/1', name: 'first' }));
    const latest = await publish(legacy);
    await store.close();
    // Back to schema 5, as a console before this change left it (undoing 0007 to 0011 too: the runner applies steps above the highest).
    const db = new Database(file);
    db.exec(`ALTER TABLE policies DROP COLUMN bundle_encoded; ALTER TABLE policies DROP COLUMN encoding;
             DROP TABLE console_leases; DROP INDEX devices_online_held_by; ALTER TABLE devices DROP COLUMN held_by;
             DROP TABLE policy_sets; DROP TABLE recovery_codes; DROP TABLE totp_secrets; DROP TABLE identities; DROP INDEX sessions_username;
             ALTER TABLE sessions DROP COLUMN restricted; ALTER TABLE sessions DROP COLUMN method;
             ALTER TABLE users DROP COLUMN last_sign_in_at; ALTER TABLE users DROP COLUMN source;
             DROP TABLE policy_assignments; DROP TABLE policy_revisions; DROP TABLE named_policies; DROP TABLE device_ownership;
             DROP TABLE enroll_token_groups; DROP TABLE group_devices; DROP TABLE device_groups; DELETE FROM schema_version WHERE version >= 6;`);
    db.pragma('user_version = 5');
    db.close();
    return { file, ids, legacy, version: latest.version };
  }

  const decide = (doc: PolicyDocument, groups: Set<string>) => {
    const now = Date.now();
    const decider = ruleSetDecider(compileApplications(doc.applications!, groups, undefined, now).ruleSet, () => now);
    return [0, 1, 2, 3, 4].flatMap((n) =>
      ['/opt/tool', '/usr/bin/x'].map((path) => decider({ path, pid: 1, sha256: hex(n), dev: 1n, ino: 1n, size: 1, ctimeSec: 0, ctimeNsec: 0 }).action),
    );
  };

  it('makes the document the baseline and its groups console groups, once; every device decides as before; versions continue', async () => {
    const { file, ids, legacy, version } = await preUpgradeConsole();
    const store: SqliteStore = openSqliteStore(file);
    expect(await migrateSinglePolicyOnce(store, new Date())).toBe(true);
    expect(await migrateSinglePolicyOnce(store, new Date())).toBe(false);
    expect(await store.listPolicyRevisions('baseline', 10)).toEqual([
      expect.objectContaining({ revision: 1, change: 'migration', author: 'system:migration' }),
    ]);
    expect(await store.getNamedPolicy('baseline')).toMatchObject({ displayName: 'Hillside', description: 'the whole school' });
    expect((await store.listGroups()).map((g) => [g.name, g.devices])).toEqual([
      ['lab', [...legacy.groups!.lab!].sort()],
      ['year-7', [...legacy.groups!['year-7']!].sort()],
    ]);
    expect(await store.getAssignments()).toEqual({ baseline: 'baseline', assignments: [] });
    expect((await store.listAudit(5)).map((a) => a.action)).toContain('policy.migrated');
    // Nothing was published: devices keep the bundle they hold, and the next version is higher.
    expect((await store.latestPolicy())!.version).toBe(version);
    expect(await store.allocatePolicyVersion()).toBe(version + 1);

    const state = await loadPlaneState(store);
    for (const id of ids) {
      const before = decide(legacy, legacyGroupsOf(legacy.groups, id));
      // The per-device effective policy the console computes and delivers (per-group-set delivery).
      const groups = state.groups.filter((g) => g.devices.includes(id)).map((g) => g.name);
      const effective = mergeEffectivePolicy({
        groups,
        policies: new Map([['baseline', state.policies.get('baseline')!.content]]),
        assignments: state.assignments!,
        now: new Date(),
      });
      expect(decide(effective.document, new Set()), id).toEqual(before);
      expect(effective.document.aup).toEqual({ variant: 'secondary' });
    }
    await store.close();
  });

  it('the console started on the upgraded database signs each group set above the old version; the bundle of each device decides as before', async () => {
    const { file, ids, legacy, version } = await preUpgradeConsole();
    const store: SqliteStore = openSqliteStore(file);
    const identity = loadOrCreateConsoleIdentity(dirname(file));
    // composePolicy runs the data step, then publishes every group set (as the console does at start).
    const { distribution } = await policySide(store, identity);
    for (const id of ids) {
      const bundle = (await distribution.bundleFor(id))!;
      expect(bundle.version, id).toBe(version + 1);
      expect(
        checkPolicyBundle({ payload: bundle.payload, signature: bundle.signature }, { trustedKey: identity.publicKey, heldVersion: version }),
      ).toMatchObject({ ok: true });
      expect(decide(bundle.payload.policy, new Set()), id).toEqual(decide(legacy, legacyGroupsOf(legacy.groups, id)));
    }
    // The three devices are in three different group sets (year-7, lab + year-7, none): three bundles.
    expect(new Set(await Promise.all(ids.map(async (id) => (await distribution.bundleFor(id))!.digest))).size).toBe(3);
    distribution.stop();
    await store.close();
  });
});
