import { describe, expect, it } from 'vitest';
import { component, ComponentGroup } from '../../src/agent/lifecycle.js';
import { linkDispatcher, type LinkHandlers } from '../../src/agent/link-dispatch.js';
import { PolicyBus } from '../../src/agent/policy-bus.js';
import type { Logger } from '../../src/shared/node/log.js';
import type { PolicyBundle } from '../../src/shared/policy.js';

/** A logger that keeps what it was told, so a test can see a drop was logged. */
function recordingLog(): Logger & { lines: { level: string; message: string; fields?: Record<string, unknown> }[] } {
  const lines: { level: string; message: string; fields?: Record<string, unknown> }[] = [];
  const log = {
    lines,
    debug: (message: string, fields?: Record<string, unknown>) => void lines.push({ level: 'debug', message, fields }),
    info: (message: string, fields?: Record<string, unknown>) => void lines.push({ level: 'info', message, fields }),
    warn: (message: string, fields?: Record<string, unknown>) => void lines.push({ level: 'warn', message, fields }),
    error: (message: string, fields?: Record<string, unknown>) => void lines.push({ level: 'error', message, fields }),
    child: () => log,
  };
  return log;
}

function parts(names: string[], calls: string[], failing: string | null = null) {
  return names.map((name) =>
    component(
      name,
      async () => {
        calls.push(`start ${name}`);
        if (name === failing) throw new Error(`${name} cannot start`);
      },
      async () => void calls.push(`stop ${name}`),
    ),
  );
}

describe('the agent component group', () => {
  it('starts in the order given and stops in reverse', async () => {
    const calls: string[] = [];
    const group = new ComponentGroup(parts(['pump', 'seat', 'tray', 'link'], calls), recordingLog());
    await group.start();
    await group.stop();
    expect(calls).toEqual(['start pump', 'start seat', 'start tray', 'start link', 'stop link', 'stop tray', 'stop seat', 'stop pump']);
  });

  it('stops what had started, in reverse, when one part fails to start, and passes the failure on', async () => {
    const calls: string[] = [];
    const log = recordingLog();
    const group = new ComponentGroup(parts(['pump', 'seat', 'tray', 'link'], calls, 'tray'), log);
    await expect(group.start()).rejects.toThrow('tray cannot start');
    expect(calls).toEqual(['start pump', 'start seat', 'start tray', 'stop seat', 'stop pump']);
    expect(log.lines).toContainEqual(expect.objectContaining({ level: 'error', fields: expect.objectContaining({ component: 'tray' }) }));
    // Nothing is left to stop a second time.
    await group.stop();
    expect(calls).toHaveLength(5);
  });

  it('goes on stopping the others when one fails to stop', async () => {
    const calls: string[] = [];
    const broken = component(
      'seat',
      () => void calls.push('start seat'),
      () => {
        calls.push('stop seat');
        throw new Error('stuck');
      },
    );
    const [pump, , link] = parts(['pump', 'unused', 'link'], calls);
    const group = new ComponentGroup([pump!, broken, link!], recordingLog());
    await group.start();
    await group.stop();
    expect(calls).toEqual(['start pump', 'start seat', 'start link', 'stop link', 'stop seat', 'stop pump']);
  });
});

describe('the link dispatch table', () => {
  const received: string[] = [];
  const handlers: LinkHandlers = {
    policy: (m) => void received.push(`policy ${String((m.bundle as { v?: unknown }).v)}`),
    'events.ack': (m) => void received.push(`ack ${m.seqs.join(',')}`),
    aup: () => void received.push('aup'),
    command: () => void received.push('command'),
    'aup.status': () => void received.push('aup.status'),
    'policy.available': (m) => void received.push(`policy.available ${m.version}`),
    error: (m) => void received.push(`error ${m.code}`),
    'auth.error': (m) => void received.push(`auth.error ${m.code}`),
  };

  it('hands each message type to its own handler', () => {
    received.length = 0;
    const dispatch = linkDispatcher(handlers, recordingLog());
    dispatch({ type: 'policy', bundle: { v: 7 } } as never);
    dispatch({ type: 'events.ack', seqs: [1, 2] } as never);
    dispatch({ type: 'aup', aup: {} } as never);
    dispatch({ type: 'command', command: {} } as never);
    dispatch({ type: 'aup.status' } as never);
    dispatch({ type: 'error', code: 'internal', message: 'x' } as never);
    dispatch({ type: 'auth.error', code: 'revoked', message: 'x' } as never);
    expect(received).toEqual(['policy 7', 'ack 1,2', 'aup', 'command', 'aup.status', 'error internal', 'auth.error revoked']);
  });

  it('logs and drops a type it does not know, reaching no handler (also not an inherited property)', () => {
    received.length = 0;
    const log = recordingLog();
    const dispatch = linkDispatcher(handlers, log);
    dispatch({ type: 'screen.share' });
    dispatch({ type: 'toString' });
    expect(received).toEqual([]);
    expect(log.lines.filter((l) => l.level === 'warn').map((l) => l.fields?.type)).toEqual(['screen.share', 'toString']);
  });

  it('keeps a failing handler (thrown or rejected) from reaching the link', async () => {
    const log = recordingLog();
    const dispatch = linkDispatcher(
      {
        ...handlers,
        aup: () => {
          throw new Error('bad aup');
        },
        command: async () => {
          throw new Error('bad command');
        },
      },
      log,
    );
    expect(() => dispatch({ type: 'aup' })).not.toThrow();
    dispatch({ type: 'command' });
    await new Promise((resolve) => setImmediate(resolve));
    expect(log.lines.filter((l) => l.level === 'error').map((l) => l.fields?.type)).toEqual(['aup', 'command']);
  });
});

describe('the policy bus', () => {
  it('gives each bundle to every subscriber, in order, even when one throws; unsubscribed ones hear no more', () => {
    const bus = new PolicyBus(recordingLog());
    const heard: string[] = [];
    const bundle = (version: number) => ({ payload: { version } }) as unknown as PolicyBundle;
    bus.subscribe((b) => void heard.push(`a${b.payload.version}`));
    bus.subscribe(() => {
      throw new Error('broken enforcer');
    });
    const off = bus.subscribe((b) => void heard.push(`c${b.payload.version}`));
    bus.publish(bundle(1));
    off();
    bus.publish(bundle(2));
    expect(heard).toEqual(['a1', 'c1', 'a2']);
  });
});
