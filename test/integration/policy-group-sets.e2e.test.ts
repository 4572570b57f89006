import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminCli, startAgentProcess, writeJsonFile, startConsoleProcess, type ConsoleHandle } from '../helpers/fleet.js';
import { startImpostorConsole } from '../helpers/impostor-console.js';
import { monitorDoc } from '../helpers/policy-docs.js';
import { kill, stopAll, tempDir, waitUntil, type Proc } from '../helpers/processes.js';

/**
 * Per-group-set delivery end to end (issue 16): a real console process, two real agent processes
 * in different groups, the real CLI. Each agent fetches, verifies and applies the bundle of its own
 * group set; a device moved between groups gets the other set's bundle at a higher version; the
 * bundle it held before, replayed to it, is refused as a rollback.
 */
describe('per-group-set delivery to real agents', () => {
  let dir: ReturnType<typeof tempDir>;
  let consoleProc: ConsoleHandle;
  const agents: Record<'lab' | 'staff', { proc: Proc; id: string; dataDir: string }> = {} as never;

  const cli = adminCli(() => consoleProc).ok;
  const file = (name: string, doc: unknown) => writeJsonFile(dir.path, name, doc);
  /** The bundle the agent holds and enforces, as it stored it after verifying it. */
  const held = (who: 'lab' | 'staff') => JSON.parse(readFileSync(join(agents[who].dataDir, 'policy.json'), 'utf8'));
  const heldWhen = (who: 'lab' | 'staff', test: (bundle: any) => boolean) =>
    waitUntil(
      () => {
        try {
          const bundle = held(who);
          return test(bundle) ? bundle : null;
        } catch {
          return null;
        }
      },
      60_000,
      () =>
        JSON.stringify(
          (() => {
            try {
              return held(who).payload.policy;
            } catch {
              return null;
            }
          })(),
        ).slice(0, 400),
    );
  const rulesOf = (bundle: any) =>
    bundle.payload.policy.applications.rules.map((r: { sha256: string; action: string }) => `${r.sha256.slice(0, 1)}:${r.action}`).sort();

  const base = monitorDoc('School base', 'pupil', [['1', 'block']]);
  const staffDoc = monitorDoc('Staff laptops', 'staff', [['2', 'allow']]);

  beforeAll(async () => {
    dir = tempDir();
    consoleProc = await startConsoleProcess(join(dir.path, 'console'));
    for (const who of ['lab', 'staff'] as const) {
      const dataDir = join(dir.path, who);
      const proc = startAgentProcess(dataDir, consoleProc.url);
      const [, id] = (await proc.waitFor(/running as device ([0-9a-f-]{36})/)) as unknown as [string, string];
      agents[who] = { proc, id, dataDir };
    }
  });
  afterAll(async () => {
    await stopAll();
    dir?.remove();
  });

  it('two devices in different groups each receive and apply the effective policy of their own group set', async () => {
    await cli(['policy', 'push', file('base.json', base)]);
    await cli(['groups', 'create', 'lab', '--device', agents.lab.id]);
    await cli(['groups', 'create', 'staff', '--device', agents.staff.id]);
    await cli(['policy', 'push', file('staff.json', staffDoc), '--policy', 'staff']);
    const assigned = await cli(['policy', 'assign', 'staff', 'staff', '--precedence', '10']);
    expect(assigned).toMatch(/assigned staff to staff/);

    const staffBundle = await heldWhen('staff', (b) => b.payload.policy.aup?.variant === 'staff');
    const labBundle = await heldWhen('lab', (b) => b.payload.policy.name === 'School base');
    // Each agent holds its own set's signed bundle: different content, different AUP variant.
    expect(rulesOf(staffBundle)).toEqual(['1:block', '2:allow']);
    expect(staffBundle.payload.policy.name).toBe('Staff laptops');
    expect(rulesOf(labBundle)).toEqual(['1:block']);
    expect(labBundle.payload.policy.aup).toEqual({ variant: 'pupil' });
    // ...and the console knows each applied it (policy.ack), each at its set's version.
    await waitUntil(async () => (await consoleProc.api(`/api/v1/devices/${agents.staff.id}`)).body.device.policyVersion === staffBundle.payload.version);
    await waitUntil(async () => (await consoleProc.api(`/api/v1/devices/${agents.lab.id}`)).body.device.policyVersion === labBundle.payload.version);
    // The explanation the console gives agrees with what each device enforces.
    const explained = (await consoleProc.api(`/api/v1/devices/${agents.staff.id}/policy/explain`)).body;
    expect(explained.effective.applications.rules).toEqual(staffBundle.payload.policy.applications.rules);
  });

  it('a device moved between groups gets the other set’s bundle at a higher version; the bundle it held before, replayed, is refused', async () => {
    const before = held('lab');
    expect(before.payload.policy.name).toBe('School base');
    await cli(['groups', 'remove-device', 'lab', agents.lab.id]);
    await cli(['groups', 'add-device', 'staff', agents.lab.id]);
    const moved = await heldWhen('lab', (b) => b.payload.policy.name === 'Staff laptops');
    expect(rulesOf(moved)).toEqual(['1:block', '2:allow']);
    expect(moved.payload.policy.aup).toEqual({ variant: 'staff' });
    expect(moved.payload.version).toBeGreaterThan(before.payload.version);

    // A network attacker (here: a console impostor holding the real console's key, the strongest
    // case) replays the bundle the device held before the move, genuinely signed by the console.
    // Only the moved device talks to it.
    await kill(agents.staff.proc);
    await consoleProc.stop();
    const impostor = await startImpostorConsole(join(dir.path, 'console'), consoleProc.port);
    try {
      const socket = await impostor.waitForAuth();
      await waitUntil(() => impostor.received.some((m) => m.type === 'hello'), 30_000);
      const labHello = impostor.received.find((m) => m.type === 'hello' && m.policyVersion === moved.payload.version);
      expect(labHello).toBeDefined();
      socket.send(JSON.stringify({ v: 1, type: 'policy', bundle: before }));
      const rejected = await waitUntil(() =>
        impostor.received
          .filter((m) => m.type === 'events')
          .flatMap((m) => m.events)
          .find((e: any) => e.type === 'policy.rejected' && e.data.version === before.payload.version),
      );
      expect(rejected.data).toMatchObject({ reason: 'rollback', keptVersion: moved.payload.version });
      expect(held('lab').payload.version).toBe(moved.payload.version);
      expect(held('lab').payload.policy.name).toBe('Staff laptops');
    } finally {
      await impostor.close();
      await kill(agents.lab.proc);
    }
  });
});
