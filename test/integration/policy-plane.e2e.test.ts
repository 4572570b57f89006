import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROTOCOL_VERSION } from '../../src/shared/protocol.js';
import { ExplainResponseSchema, PushResponseSchema } from '../../src/shared/policies/api.js';
import { POLICY_LIMITS } from '../../src/shared/policy-limits.js';
import { adminCli, startConsoleProcess, writeJsonFile, type ConsoleHandle } from '../helpers/fleet.js';
import { HASH, monitorDoc } from '../helpers/policy-docs.js';
import { stopAll, tempDir, waitUntil } from '../helpers/processes.js';
import { connectWithHello, enrollRawDevice, type RawDevice, type RawSocket } from '../helpers/raw-device.js';

/**
 * Issue 16's management plane through a real console process and the real CLI: groups, named
 * policies and assignments giving two devices different effective policies and AUP variants,
 * moving a device, approvals that a later file push cannot silently remove, revisions, limits,
 * roles and bad arguments. Per-device policies are checked through `explain` (the API and the
 * CLI); what devices receive (one bundle per group set) is checked live on a device's socket here
 * and by real agents in policy-group-sets.e2e.test.ts.
 */
describe('policy plane: groups, named policies, rules and assignments', () => {
  let dir: ReturnType<typeof tempDir>;
  let consoleProc: ConsoleHandle;
  let lab: RawDevice;
  let staff: RawDevice;
  let socket: RawSocket;

  const { cli, ok } = adminCli(() => consoleProc);
  const file = (name: string, doc: unknown) => writeJsonFile(dir.path, name, doc);
  const explain = async (id: string) => ExplainResponseSchema.parse((await consoleProc.api(`/api/v1/devices/${id}/policy/explain`)).body);
  const auditCount = async () => (await consoleProc.api('/api/v1/audit?limit=1000')).body.audit.length as number;

  const base = monitorDoc('Hillside base', 'pupil', [['1', 'block']]);
  const staffDoc = monitorDoc('Staff laptops', 'staff', [['1', 'allow']]);

  beforeAll(async () => {
    dir = tempDir();
    consoleProc = await startConsoleProcess(join(dir.path, 'console'));
    lab = await enrollRawDevice(consoleProc.url, 'lab-01');
    staff = await enrollRawDevice(consoleProc.url, 'office-07');
    socket = await connectWithHello(consoleProc.url, lab);
  });
  afterAll(async () => {
    socket?.ws.close();
    await stopAll();
    dir?.remove();
  });

  it('gives two devices in different groups different effective policies and AUP variants; moving a device changes its policy', async () => {
    expect(await ok(['policy', 'push', file('base.json', base)])).toMatch(/pushed "Hillside base" as version 1/);
    expect(await ok(['groups', 'create', 'lab', '--hostname', 'lab-*', '--display-name', 'Computer lab'])).toMatch(/created group lab/);
    await ok(['groups', 'create', 'staff', '--device', staff.deviceId]);
    expect(await ok(['policy', 'push', file('staff.json', staffDoc), '--policy', 'staff', '--reason', 'staff laptops get their own policy'])).toMatch(
      /pushed onto staff as revision 1: 1 rule\(s\) added/,
    );
    expect(await ok(['policy', 'assign', 'staff', 'staff', '--precedence', '10'])).toMatch(/assigned staff to staff at precedence 10/);

    const [forLab, forStaff] = [await explain(lab.deviceId), await explain(staff.deviceId)];
    expect(forLab.memberships.map((m) => m.group)).toEqual(['lab']);
    expect(forLab.effective.aup).toEqual({ variant: 'pupil' });
    expect(forLab.effective.applications!.rules).toEqual([{ kind: 'sha256', sha256: HASH('1'), action: 'block' }]);
    expect(forStaff.memberships).toEqual([{ group: 'staff', reasons: [{ kind: 'explicit' }] }]);
    expect(forStaff.effective.aup).toEqual({ variant: 'staff' });
    // The same program, decided by the higher-precedence assignment; the baseline's rule is shadowed.
    expect(forStaff.effective.applications!.rules).toEqual([{ kind: 'sha256', sha256: HASH('1'), action: 'allow' }]);
    expect(forStaff.explanation.shadowed).toEqual([
      expect.objectContaining({ key: `sha256:${HASH('1')}`, from: { policy: 'baseline', group: null, precedence: 0 } }),
    ]);
    const text = await ok(['policy', 'explain', staff.deviceId]);
    expect(text).toMatch(/aup: staff \(group staff, precedence 10\)/);
    expect(text).toMatch(/AUP variant: staff/);

    // Moving the lab device into staff changes its effective policy at once, and back again.
    await ok(['groups', 'add-device', 'staff', lab.deviceId]);
    expect((await explain(lab.deviceId)).effective.aup).toEqual({ variant: 'staff' });
    await ok(['groups', 'remove-device', 'staff', lab.deviceId]);
    expect((await explain(lab.deviceId)).effective.aup).toEqual({ variant: 'pupil' });

    // The dashboard's Group filter reads console groups (members by rule included).
    const devices = (await consoleProc.api('/api/v1/devices')).body;
    expect(devices.groups).toEqual({ lab: [lab.deviceId], staff: [staff.deviceId] });
  });

  it('keeps an approved request through a later file push, refuses a push that would drop console rules and names them', async () => {
    const requestId = randomUUID();
    socket.send({
      v: PROTOCOL_VERSION,
      type: 'events',
      events: [
        {
          id: requestId,
          seq: 1,
          at: new Date().toISOString(),
          type: 'app.permission-requested',
          data: { name: 'geogebra', path: '/home/ann/geogebra', sha256: HASH('a'), signer: 'unknown', user: 'ann', reason: 'maths' },
        },
      ],
    });
    await waitUntil(async () => (await consoleProc.api('/api/v1/app-requests?status=pending')).body.requests.length === 1);
    const approved = await consoleProc.api(`/api/v1/app-requests/${requestId}/approve`, { method: 'POST', body: '{}' });
    expect(approved).toMatchObject({ status: 200, body: { policy: 'approvals', request: { status: 'approved' } } });
    expect((await consoleProc.api('/api/v1/named-policies/approvals/rules')).body.rules).toEqual([
      expect.objectContaining({ key: `sha256:${HASH('a')}`, record: expect.objectContaining({ origin: 'approval', requestId, author: 'admin' }) }),
    ]);

    // A later push of the file (which knows nothing of the approval) leaves it in force.
    await ok(['policy', 'push', file('base.json', { ...base, name: 'Hillside base v2' })]);
    const current = (await consoleProc.api('/api/v1/policies/current')).body.document;
    expect(current.name).toBe('Hillside base v2');
    expect(current.applications.rules).toEqual(expect.arrayContaining([expect.objectContaining({ sha256: HASH('a'), action: 'allow' })]));
    expect((await explain(lab.deviceId)).explanation.rules).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ key: `sha256:${HASH('a')}`, origin: 'approval', from: expect.objectContaining({ policy: 'approvals' }) }),
      ]),
    );

    // A rule added on the console to the baseline: a push without it is refused, naming it, and changes nothing.
    expect(await ok(['policy', 'rules', 'add', 'baseline', '--sha256', HASH('b'), '--action', 'allow', '--reason', 'exam software'])).toMatch(/revision 3/);
    const before = { history: (await consoleProc.api('/api/v1/named-policies/baseline/history')).body.history.length, audit: await auditCount() };
    const refused = await cli(['policy', 'push', file('base.json', base)]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/409/);
    expect(refused.stderr).toContain(`sha256:${HASH('b')}`);
    const api = await consoleProc.api('/api/v1/named-policies/baseline/push', { method: 'POST', body: JSON.stringify({ document: base }) });
    expect(api).toMatchObject({
      status: 409,
      body: { error: 'would-drop-console-rules', dropped: [expect.objectContaining({ author: 'admin', reason: 'exam software' })] },
    });
    expect((await consoleProc.api('/api/v1/named-policies/baseline/history')).body.history.length).toBe(before.history);
    expect(await auditCount()).toBe(before.audit);

    // Said explicitly: kept, or dropped.
    expect(await ok(['policy', 'push', file('base.json', base), '--keep-console-rules'])).toMatch(/as version \d+/);
    expect((await ok(['policy', 'rules', 'list', 'baseline'])).split('\n').filter((l) => l.includes(HASH('b')))).toHaveLength(1);
    const replaced = PushResponseSchema.parse(
      (
        await consoleProc.api('/api/v1/named-policies/baseline/push', {
          method: 'POST',
          body: JSON.stringify({ document: base, mode: 'replace', reason: 'exams over' }),
        })
      ).body,
    );
    expect(replaced.diff.rules.removed).toEqual([expect.objectContaining({ rule: expect.objectContaining({ sha256: HASH('b') }) })]);
  });

  it('keeps every change as a revision: history, diff, rollback as a new revision and a higher version', async () => {
    const history = await ok(['policy', 'history', 'baseline']);
    expect(history).toMatch(/rev 1 .* push +by admin/);
    expect(history).toMatch(/rev 3 .* rule-add +by admin: exam software/);
    const diff = await ok(['policy', 'diff', 'baseline', '--from', '2', '--to', '3']);
    expect(diff.split('\n').filter((l) => l.startsWith('+ ') || l.startsWith('- '))).toEqual([
      expect.stringMatching(new RegExp(`^\\+ .*${HASH('b')}.*\\(console by admin\\)$`)),
    ]);
    const versionBefore = (await consoleProc.api('/api/v1/policies/current')).body.version as number;
    const rolled = await ok(['policy', 'rollback', 'baseline', '3', '--reason', 'exams are back']);
    expect(rolled).toMatch(/rolled baseline back to revision 3 \(revision 6\); published as policy version (\d+)/);
    expect(Number(/policy version (\d+)/.exec(rolled)![1])).toBeGreaterThan(versionBefore);
    const rules = (await consoleProc.api('/api/v1/named-policies/baseline/rules')).body.rules.map((r: { key: string }) => r.key);
    expect(rules).toContain(`sha256:${HASH('b')}`);
    expect((await consoleProc.api('/api/v1/named-policies/baseline/history')).body.history[0]).toMatchObject({
      revision: 6,
      change: 'rollback',
      rolledBackTo: 3,
    });
    // One rule removed by its key, without re-uploading anything.
    expect(await ok(['policy', 'rules', 'remove', 'baseline', `sha256:${HASH('b')}`, '--reason', 'exams are over'])).toMatch(/revision 7/);
    expect((await consoleProc.api('/api/v1/named-policies/baseline/rules')).body.rules.map((r: { key: string }) => r.key)).not.toContain(`sha256:${HASH('b')}`);
    expect((await cli(['policy', 'rules', 'remove', 'baseline', `sha256:${HASH('b')}`, '--reason', 'again'])).stderr).toMatch(/404.*no rule/);
  });

  it('delivers the policy of a device in no assigned group live: the baseline with the approvals policy', async () => {
    expect(await ok(['policy', 'rules', 'add', 'approvals', '--sha256', HASH('e'), '--action', 'block', '--reason', 'known bad tool'])).toMatch(
      /sent live to 1 connected device/,
    );
    const live = await waitUntil(async () => {
      const frame = await socket.next('policy');
      return frame.bundle.payload.policy.applications.rules.some((r: { sha256?: string }) => r.sha256 === HASH('e')) ? frame : null;
    });
    expect(live.bundle.payload.policy.applications.rules).toEqual(expect.arrayContaining([expect.objectContaining({ sha256: HASH('a'), action: 'allow' })]));
    expect((await ok(['groups', 'list'])).split('\n').some((l) => l.startsWith('all-devices'))).toBe(true);
  });

  it('refuses an oversized push naming the limit, bad arguments with clear errors, changes by technicians; none of them changes anything', async () => {
    const before = { audit: await auditCount(), policies: (await consoleProc.api('/api/v1/named-policies')).body.policies };
    const rules = Array.from({ length: POLICY_LIMITS.rules + 1 }, (_, i) => ({ kind: 'sha256', sha256: i.toString(16).padStart(64, '0'), action: 'allow' }));
    const huge = await consoleProc.api('/api/v1/named-policies/staff/push', {
      method: 'POST',
      body: JSON.stringify({ document: { ...staffDoc, applications: { ...staffDoc.applications, rules } } }),
    });
    expect(huge).toMatchObject({ status: 413, body: { message: expect.stringContaining(`the policy's rule limit is ${POLICY_LIMITS.rules}`) } });

    const bad: [string[], RegExp][] = [
      [['policy', 'assign', 'staff'], /usage: vigil policy assign POLICY GROUP/],
      [['policy', 'assign', 'staff', 'lab'], /usage/],
      [['groups', 'create', 'Bad Name!'], /not a group name/],
      [['groups', 'add-device', 'lab', 'not-a-uuid'], /not a device id/],
      [['policy', 'rules', 'add', 'baseline', '--sha256', 'zz', '--action', 'allow', '--reason', 'because'], /the rule is not valid/],
      [['policy', 'rules', 'add', 'baseline', '--sha256', HASH('c'), '--action', 'allow'], /--reason is required/],
      [['policy', 'rollback', 'baseline', 'x', '--reason', 'why not'], /--revision must be a whole number/],
      [['policy', 'push', file('base.json', base), '--replace', '--keep-console-rules'], /at most one of/],
      [['policy', 'explain', 'nope'], /not a device id/],
    ];
    for (const [args, message] of bad) {
      const r = await cli(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(message);
    }
    // Refused by the console: unknown names, a precedence already taken, a group still in use.
    expect((await cli(['policy', 'assign', 'nope', 'lab', '--precedence', '3'])).stderr).toMatch(/404.*no policy named nope/);
    expect((await cli(['policy', 'assign', 'baseline', 'lab', '--precedence', '10'])).stderr).toMatch(/409.*precedence 10 is already used/);
    expect((await cli(['groups', 'delete', 'staff'])).stderr).toMatch(/409.*still used by the assignment of staff/);

    await consoleProc.api('/api/v1/users', {
      method: 'POST',
      body: JSON.stringify({ username: 'tech', password: 'a-long-password-for-tech', role: 'technician' }),
    });
    const tech = (
      await consoleProc.api('/api/v1/login', { method: 'POST', body: JSON.stringify({ username: 'tech', password: 'a-long-password-for-tech' }), token: null })
    ).body.token as string;
    expect((await cli(['policy', 'list'], tech)).code).toBe(0);
    expect((await cli(['groups', 'list'], tech)).stdout).toMatch(/staff/);
    expect((await cli(['groups', 'create', 'mine'], tech)).stderr).toMatch(/403/);
    expect((await cli(['policy', 'rules', 'add', 'staff', '--sha256', HASH('d'), '--action', 'allow', '--reason', 'please'], tech)).stderr).toMatch(/403/);

    expect(await auditCount()).toBe(before.audit + 2); // the technician's account and sign-in
    expect((await consoleProc.api('/api/v1/named-policies')).body.policies).toEqual(before.policies);
  }, 300_000);
});
