import { describe, expect, it, vi } from 'vitest';
import { AppControl, type CreateFallback, type ExecFallback, type ExecGate } from '../../src/agent/app-control.js';
import type { LinuxExecGateOptions } from '../../src/agent/platform/linux/exec-gate.js';
import { createLogger } from '../../src/shared/node/log.js';
import { AgentEventSchema, type NewAgentEvent } from '../../src/shared/events.js';
import { PolicyDocumentSchema } from '../../src/shared/policy.js';

const DEVICE = '3f1c2a9e-8a55-4a8e-9b1e-0d6f3a1c2b7d';
const HASH = 'c'.repeat(64);
const policy = (applications?: unknown) => PolicyDocumentSchema.parse({ format: 'vigil-policy/1', name: 'p', ...(applications ? { applications } : {}) });

function host(overrides: { unavailable?: string | null; failStart?: boolean } = {}) {
  const gates: (ExecGate & { options: LinuxExecGateOptions; stopped: boolean; policies: unknown[] })[] = [];
  const events: NewAgentEvent[] = [];
  const control = new AppControl({
    deviceId: DEVICE,
    configMarks: ['/mnt/x'],
    onTimeout: 'allow',
    unavailable: overrides.unavailable ?? null,
    createGate: (options) => {
      const gate = {
        options,
        stopped: false,
        policies: [] as unknown[],
        start() {
          if (overrides.failStart) throw new Error('fanotify_init: Operation not permitted');
        },
        setPolicy(p: unknown) {
          gate.policies.push(p);
        },
        stop() {
          gate.stopped = true;
        },
      };
      gates.push(gate);
      return gate;
    },
    userOf: () => 'pupil1',
    emit: (event) => events.push(event),
    log: createLogger('test', 'error'),
    foldMs: 50,
  });
  return { control, gates, events };
}

const deny = (over: Record<string, unknown> = {}) =>
  ({
    type: 'exec',
    id: 1,
    pid: 99,
    path: '/mnt/x/game',
    sha256: HASH,
    verdict: 'deny',
    reason: 'default',
    mode: 'enforce',
    wouldBlock: false,
    answered: true,
    cached: false,
    decideMs: 1,
    ...over,
  }) as const;

describe('the agent hosts the gate from the policy', () => {
  it('starts on a policy with applications, swaps rules live, stops when the section goes', () => {
    const { control, gates } = host();
    control.apply(policy());
    expect(control.status.enforcement).toBe('none');
    expect(gates).toHaveLength(0);
    control.apply(policy({ mode: 'monitor' }));
    expect(control.status).toEqual({ enforcement: 'pre-exec', mode: 'monitor', detail: null, marks: ['/mnt/x'] });
    expect(gates).toHaveLength(1);
    control.apply(policy({ mode: 'enforce', defaultAction: 'block' }));
    expect(gates).toHaveLength(1); // same marks: the running gate gets the new rules
    expect(gates[0]!.policies).toHaveLength(1);
    control.apply(policy({ mode: 'enforce', linuxMarks: ['/mnt/y'] }));
    expect(gates[0]!.stopped).toBe(true);
    expect(gates[1]!.options.marks).toEqual([{ path: '/mnt/y', kind: 'filesystem' }]);
    control.apply(policy());
    expect(gates[1]!.stopped).toBe(true);
    expect(control.status.enforcement).toBe('none');
  });

  it('reports fallback with the reason when no gate can run', () => {
    const notRoot = host({ unavailable: 'the agent is not running as root' });
    notRoot.control.apply(policy({ mode: 'enforce' }));
    expect(notRoot.control.status).toMatchObject({ enforcement: 'fallback', mode: 'enforce', detail: 'the agent is not running as root' });
    const failing = host({ failStart: true });
    failing.control.apply(policy({ mode: 'enforce' }));
    expect(failing.control.status).toMatchObject({ enforcement: 'fallback', detail: expect.stringMatching(/Operation not permitted/) });
  });

  it('turns blocks and would-be blocks into events, folding repeats', async () => {
    const { control, gates, events } = host();
    control.apply(policy({ mode: 'enforce' }));
    const record = gates[0]!.options.onRecord;
    record(deny());
    record(deny());
    record(deny());
    record(deny({ wouldBlock: true, mode: 'monitor' }));
    record(deny({ verdict: 'allow', reason: 'hash-allow' }));
    record(deny({ answered: false, path: '/mnt/x/late' }));
    expect(events).toEqual([
      {
        type: 'app.blocked',
        data: {
          name: 'game',
          path: '/mnt/x/game',
          sha256: HASH,
          signer: 'unknown',
          user: 'pupil1',
          mode: 'enforce',
          reason: 'default',
          ruleId: null,
          repeats: 0,
        },
      },
      { type: 'app.would-block', data: expect.objectContaining({ mode: 'monitor', repeats: 0 }) },
    ]);
    await vi.waitFor(() => expect(events).toHaveLength(3));
    expect(events[2]).toMatchObject({ type: 'app.blocked', data: { repeats: 2 } });
    control.stop();
  });

  it('runs the fallback watcher where no gate can run, reports which watcher, and turns kills into app.killed', async () => {
    const events: NewAgentEvent[] = [];
    const created: { options: Parameters<CreateFallback>[0]; started: number; stopped: boolean; policies: unknown[] }[] = [];
    const preLaunch: unknown[][] = [];
    const control = new AppControl({
      deviceId: DEVICE,
      configMarks: [],
      onTimeout: 'allow',
      unavailable: 'the agent is not running as root',
      createGate: () => {
        throw new Error('no gate here');
      },
      createFallback: (options) => {
        const entry = { options, started: 0, stopped: false, policies: [] as unknown[] };
        created.push(entry);
        const watcher: ExecFallback = {
          kind: 'proc-poll',
          start: async () => void entry.started++,
          setPolicy: (p) => void entry.policies.push(p),
          stop: () => void (entry.stopped = true),
        };
        return { watcher, detail: 'proc-poll watcher: /proc listed every 25 ms' };
      },
      preLaunch: (apps, rules) => void preLaunch.push([apps.mode, rules]),
      userOf: () => 'pupil1',
      emit: (event) => events.push(event),
      log: createLogger('test', 'error'),
      foldMs: 50,
    });
    control.apply(policy({ mode: 'enforce', defaultAction: 'block', rules: [{ kind: 'sha256', sha256: HASH, action: 'allow', groups: ['elsewhere'] }] }));
    expect(control.status).toEqual({
      enforcement: 'fallback',
      mode: 'enforce',
      detail: 'proc-poll watcher: /proc listed every 25 ms. No pre-exec gate: the agent is not running as root',
      marks: [],
    });
    expect(created).toHaveLength(1);
    expect(created[0]!.started).toBe(1);
    expect(preLaunch).toEqual([['enforce', []]]); // the group-scoped rule does not apply to this device

    control.apply(policy({ mode: 'monitor' }));
    expect(created).toHaveLength(1); // the running watcher gets the new rules
    expect(created[0]!.policies).toHaveLength(1);

    const base = {
      type: 'exec',
      watcher: 'proc-poll',
      pid: 77,
      path: '/home/p/game',
      sha256: HASH,
      verdict: 'deny',
      reason: 'default',
      mode: 'enforce',
      user: 'pupil1',
      signer: 'unknown',
      decideMs: 1,
    } as const;
    created[0]!.options.onRecord({ ...base, wouldBlock: false, action: 'killed', livedMs: 31.5 });
    created[0]!.options.onRecord({ ...base, path: '/home/p/other', wouldBlock: false, action: 'gone', livedMs: null });
    created[0]!.options.onRecord({ ...base, path: '/home/p/watch', mode: 'monitor', wouldBlock: true, action: 'none', livedMs: null });
    expect(events).toEqual([
      {
        type: 'app.killed',
        data: {
          name: 'game',
          path: '/home/p/game',
          sha256: HASH,
          signer: 'unknown',
          user: 'pupil1',
          mode: 'enforce',
          reason: 'default',
          ruleId: null,
          repeats: 0,
          livedMs: 31.5,
          watcher: 'proc-poll',
        },
      },
      { type: 'app.would-block', data: expect.objectContaining({ path: '/home/p/watch', mode: 'monitor' }) },
    ]);
    for (const event of events)
      expect(AgentEventSchema.safeParse({ ...event, id: '3f1c2a9e-8a55-4a8e-9b1e-0d6f3a1c2b7d', seq: 1, at: new Date().toISOString() }).success).toBe(true);

    control.apply(policy());
    expect(created[0]!.stopped).toBe(true);
    expect(control.status.enforcement).toBe('none');
    control.stop();
  });

  it('beside a running gate, starts the backstop watcher, gives it each policy, and stops it with the gate', () => {
    const backstops: { started: number; stopped: boolean; policies: unknown[] }[] = [];
    const control = new AppControl({
      deviceId: DEVICE,
      configMarks: ['/mnt/x'],
      onTimeout: 'allow',
      unavailable: null,
      createGate: () => ({ start() {}, setPolicy() {}, stop() {} }),
      createBackstop: () => {
        const entry = { started: 0, stopped: false, policies: [] as unknown[] };
        backstops.push(entry);
        return {
          watcher: {
            kind: 'proc-connector',
            start: async () => void entry.started++,
            setPolicy: (p) => void entry.policies.push(p),
            stop: () => void (entry.stopped = true),
          },
          detail: 'backstop',
        };
      },
      userOf: () => null,
      emit: () => {},
      log: createLogger('test', 'error'),
    });
    control.apply(policy({ mode: 'enforce' }));
    expect(control.status.enforcement).toBe('pre-exec');
    expect(backstops).toHaveLength(1);
    expect(backstops[0]!.started).toBe(1);
    control.apply(policy({ mode: 'monitor' }));
    expect(backstops).toHaveLength(1);
    expect(backstops[0]!.policies).toHaveLength(1);
    control.apply(policy());
    expect(backstops[0]!.stopped).toBe(true);
    control.stop();
  });
});
