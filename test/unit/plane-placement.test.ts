import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applyChange, applyConfigChange, changeCanMoveDevices, groupSets, type PlaneState } from '../../src/console/policies/plane-state.js';
import type { PolicyChange } from '../../src/console/store/store.js';
import type { DeviceGroup, NamedPolicy, RuleRecord } from '../../src/shared/policies/model.js';
import { AT, hashRule, rec } from '../helpers/policy-model.js';

/**
 * A change the plane judges unable to move devices is stored without reading the fleet, and other
 * console processes keep their placements (plane.ts keepPlaces, cluster/broadcasts.ts). If the
 * judgement is ever wrong, a device keeps a bundle of a group set it left: so, for any fleet and
 * any change, "cannot move" must mean every device's group set is the same after it.
 */
const GROUPS = ['lab', 'staff', 'y7', 'all'] as const;
const TOKENS = ['00000000-0000-4000-8000-00000000000a', '00000000-0000-4000-8000-00000000000b'] as const;
const DEVICES = Array.from({ length: 6 }, (_, i) => `00000000-0000-4000-8000-00000000010${i}`);
const POLICIES = ['base', 'labs', 'staffing'] as const;

const arbMembershipRule = fc.oneof(
  fc.constantFrom('lab-*', 'staff-*', '*', 'y7-0?').map((pattern) => ({ kind: 'hostname' as const, pattern })),
  fc.constantFrom(...TOKENS).map((tokenId) => ({ kind: 'enrollment-token' as const, tokenId })),
  fc.constantFrom('school' as const, 'byod' as const).map((ownership) => ({ kind: 'ownership' as const, ownership })),
);
const arbGroup = (name: string) =>
  fc
    .record({ devices: fc.subarray(DEVICES), rules: fc.array(arbMembershipRule, { maxLength: 2 }) })
    .map((g): DeviceGroup => ({ name, displayName: name, ...g }));
const arbGroups = fc.subarray([...GROUPS]).chain((names) => (names.length ? fc.tuple(...names.map(arbGroup)) : fc.constant([] as DeviceGroup[])));
const arbRecord = fc
  .record({ n: fc.integer({ min: 1, max: 6 }), scope: fc.option(fc.subarray([...GROUPS], { minLength: 1 }), { nil: undefined }) })
  .map(({ n, scope }): RuleRecord => rec(hashRule(n, 'allow', scope ? { groups: scope } : {})));
const arbRecords = fc.uniqueArray(arbRecord, { maxLength: 4, selector: (r) => `${r.rule.kind === 'sha256' ? r.rule.sha256 : ''}` });
const arbPolicy = (name: string) => arbRecords.map((rules): NamedPolicy => ({ name, displayName: name, revision: 1, content: { settings: {}, rules } }));
const arbAssignments = fc.uniqueArray(
  fc.record({ policy: fc.constantFrom(...POLICIES.slice(1)), group: fc.constantFrom(...GROUPS), precedence: fc.integer({ min: 1, max: 9 }) }),
  { maxLength: 3, selector: (a) => `${a.policy}/${a.group}` },
);

const arbState = fc
  .record({
    groups: arbGroups,
    policies: fc.tuple(...POLICIES.map(arbPolicy)),
    assignments: arbAssignments,
    tokenGroups: fc.array(fc.tuple(fc.constantFrom(...TOKENS), fc.subarray([...GROUPS])), { maxLength: 2 }),
    devices: fc.tuple(
      ...DEVICES.map((id) =>
        fc
          .record({
            hostname: fc.constantFrom('lab-01', 'staff-02', 'y7-03', 'office'),
            token: fc.constantFrom(...TOKENS),
            ownership: fc.constantFrom('school' as const, 'byod' as const, null),
          })
          .map(({ hostname, token, ownership }) => ({ id, hostname, enrollmentTokenId: token, ownership })),
      ),
    ),
  })
  .map((s): PlaneState => ({
    groups: s.groups,
    policies: new Map(s.policies.map((p) => [p.name, p])),
    assignments: { baseline: 'base', assignments: s.assignments },
    tokenGroups: new Map(s.tokenGroups),
    devices: s.devices,
  }));

/** Every kind of change the plane makes, alone or together. */
const arbAnyChange = fc
  .record(
    {
      revision: fc.tuple(fc.constantFrom(...POLICIES), arbRecords),
      assignments: arbAssignments,
      putGroup: fc.constantFrom(...GROUPS).chain(arbGroup),
      tokenGroups: fc.tuple(fc.constantFrom(...TOKENS), fc.subarray([...GROUPS])),
      ownership: fc.tuple(fc.constantFrom(...DEVICES), fc.constantFrom('school' as const, 'byod' as const, null)),
      rename: fc.tuple(fc.constantFrom(...GROUPS), fc.constantFrom('renamed', 'lab')),
      deleteGroup: fc.constantFrom(...GROUPS),
    },
    { requiredKeys: [] },
  )
  .map((c): PolicyChange => ({
    audit: [],
    ...(c.revision
      ? {
          revisions: [
            {
              displayName: c.revision[0],
              revision: { policy: c.revision[0], revision: 2, author: 't', at: AT, change: 'push' as const, content: { settings: {}, rules: c.revision[1] } },
            },
          ],
        }
      : {}),
    ...(c.assignments ? { assignments: { baseline: 'base', assignments: c.assignments } } : {}),
    ...(c.putGroup ? { putGroups: [c.putGroup] } : {}),
    ...(c.tokenGroups ? { tokenGroups: [{ tokenId: c.tokenGroups[0], groups: c.tokenGroups[1] }] } : {}),
    ...(c.ownership ? { ownership: [{ deviceId: c.ownership[0], ownership: c.ownership[1] }] } : {}),
    ...(c.rename && c.rename[0] !== c.rename[1] ? { renameGroup: { from: c.rename[0], to: c.rename[1] } } : {}),
    ...(c.deleteGroup ? { deleteGroups: [c.deleteGroup] } : {}),
  }));
/** Half of them only revise policies or assignments: the changes the judgement is about. */
const arbChange = fc.oneof(
  arbAnyChange,
  arbAnyChange.map(({ audit, revisions, assignments }): PolicyChange => ({
    audit,
    ...(revisions ? { revisions } : {}),
    ...(assignments ? { assignments } : {}),
  })),
);

describe('changeCanMoveDevices', () => {
  it('never says a change cannot move devices when it moves one', () => {
    fc.assert(
      fc.property(arbState, arbChange, (state, change) => {
        const { devices, ...config } = state;
        void devices;
        if (changeCanMoveDevices(config, change, applyConfigChange(config, change))) return;
        const before = groupSets(state);
        const after = groupSets(applyChange(state, change));
        expect([...after.byDevice]).toEqual([...before.byDevice]);
        expect([...after.matter].sort()).toEqual([...before.matter].sort());
      }),
      { numRuns: 2000 },
    );
  });

  it('lets rule and settings edits that keep the groups that matter through without reading devices', () => {
    const config = {
      groups: [{ name: 'lab', displayName: 'lab', devices: [], rules: [{ kind: 'hostname' as const, pattern: 'lab-*' }] }],
      policies: new Map([
        ['base', { name: 'base', displayName: 'base', revision: 1, content: { settings: {}, rules: [rec(hashRule(1, 'allow', { groups: ['lab'] }))] } }],
      ]),
      assignments: { baseline: 'base', assignments: [] },
      tokenGroups: new Map<string, string[]>(),
    };
    const revise = (rules: RuleRecord[]): PolicyChange => ({
      audit: [],
      revisions: [
        { displayName: 'base', revision: { policy: 'base', revision: 2, author: 't', at: AT, change: 'rule-add', content: { settings: {}, rules } } },
      ],
    });
    const held = config.policies.get('base')!.content.rules;
    const addUnscoped = revise([...held, rec(hashRule(99))]);
    expect(changeCanMoveDevices(config, addUnscoped, applyConfigChange(config, addUnscoped))).toBe(false);
    // A rule scoped to a group nothing used before makes that group matter; dropping the last rule scoped to one, stop.
    const addScoped = revise([...held, rec(hashRule(98, 'allow', { groups: ['staff'] }))]);
    expect(changeCanMoveDevices(config, addScoped, applyConfigChange(config, addScoped))).toBe(true);
    const dropScoped = revise([]);
    expect(changeCanMoveDevices(config, dropScoped, applyConfigChange(config, dropScoped))).toBe(true);
    expect(changeCanMoveDevices(config, { audit: [], putGroups: [] }, config)).toBe(false);
    expect(changeCanMoveDevices(config, { audit: [], ownership: [{ deviceId: DEVICES[0]!, ownership: 'byod' }] }, config)).toBe(true);
  });
});
