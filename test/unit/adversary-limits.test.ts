import { connect } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FrameBudgets } from '../../src/console/agent-link/frame-budget.js';
import { socketPeerCredentials } from '../../src/agent/local-ipc/peercred.js';
import { TrayIpcServer } from '../../src/agent/local-ipc/server.js';
import { trayExecutableCheck } from '../../src/agent/local-ipc/tray-identity.js';
import { createLogger } from '../../src/shared/node/log.js';
import { newLocalIpcDrops } from '../../src/shared/status.js';
import { tempDirsPerTest, waitUntil } from '../helpers/processes.js';

const tempDir = tempDirsPerTest();

describe('per-device frame budgets (issue 15, point 7)', () => {
  it('lets the burst through, then one per refill; drops and counts the rest per device and type, and tells at most every 10 s', () => {
    let now = 0;
    const budgets = new FrameBudgets(
      {
        ...Object.fromEntries(
          ['hello', 'heartbeat', 'events', 'policy.ack', 'command.result', 'activity', 'power', 'aup.query'].map((t) => [t, { burst: 100, refillMs: 1 }]),
        ),
        status: { burst: 3, refillMs: 1000 },
      } as never,
      () => now,
    );
    const taken = Array.from({ length: 5 }, () => budgets.take('a', 'status'));
    expect(taken.slice(0, 3)).toEqual([null, null, null]);
    expect(taken[3]).toEqual({ dropped: 1, tell: true });
    expect(taken[4]).toEqual({ dropped: 2, tell: false });
    // Another device and another type have budgets of their own.
    expect(budgets.take('b', 'status')).toBeNull();
    expect(budgets.take('a', 'heartbeat')).toBeNull();
    now += 1000;
    expect(budgets.take('a', 'status')).toBeNull(); // one refilled
    expect(budgets.take('a', 'status')).toEqual({ dropped: 3, tell: false });
    now += 10_000;
    // Ten seconds later the refill has come back (3 at most) and the next drop is told again.
    for (let i = 0; i < 3; i++) expect(budgets.take('a', 'status')).toBeNull();
    expect(budgets.take('a', 'status')).toEqual({ dropped: 4, tell: true });
    expect(budgets.report()).toEqual({ total: 4, devices: [{ deviceId: 'a', dropped: 4, byType: { status: 4 } }] });
    expect(budgets.droppedFrom('a')).toBe(4);
    budgets.forget('a');
    expect(budgets.droppedFrom('a')).toBe(0);
    expect(budgets.take('a', 'status')).toBeNull(); // a fresh budget
  });
});

describe('tray socket slots (issue 15, point 4)', () => {
  it('gives each account its share, closes connections that send nothing by the deadline, and counts both', async () => {
    const path = join(tempDir(), 'tray.sock');
    const drops = newLocalIpcDrops();
    const server = new TrayIpcServer({
      path,
      handler: { handle: async () => ({}) },
      credentialsOf: socketPeerCredentials,
      userName: (uid) => String(uid),
      drops,
      limits: { maxPerUser: 3, handshakeMs: 300, idleMs: 60_000 },
      log: createLogger('test', 'error'),
    });
    await server.listen();
    try {
      const sockets = Array.from({ length: 5 }, () => connect(path));
      let closed = 0;
      for (const s of sockets) (s.on('error', () => undefined), s.on('close', () => closed++));
      await waitUntil(() => drops.refusedPerUser === 2);
      // The three within the share are closed at the handshake deadline: nothing arrived.
      await waitUntil(() => closed === 5);
      expect(drops).toMatchObject({ refusedPerUser: 2, handshakeTimeouts: 3, idleTimeouts: 0 });
      expect(server.connectionCount).toBe(0);
      // One that sends a request in time stays: a silent one opened after it is closed first.
      const talker = connect(path);
      talker.on('error', () => undefined);
      const answered = new Promise((resolve) => talker.once('data', resolve));
      talker.write('{"id":1,"op":"status"}\n');
      await answered;
      const silent = connect(path);
      silent.on('error', () => undefined);
      // The count falls when the socket's close event has run, a turn after the timeout counted.
      await waitUntil(() => drops.handshakeTimeouts === 4 && server.connectionCount === 1);
      expect(talker.destroyed).toBe(false);
      expect(server.connectionCount).toBe(1);
      talker.destroy();
    } finally {
      await server.close();
    }
  });
});

describe('identifying the installed tray (issue 15, point 5)', () => {
  it('compares the executable the kernel reports for the peer with the installed one, never its own word', () => {
    const check = trayExecutableCheck([process.execPath], 'linux', (pid) => (pid === 10 ? process.execPath : '/usr/bin/python3'))!;
    expect(check({ pid: 10, uid: 1000, gid: 1000 })).toBe(true);
    expect(check({ pid: 11, uid: 1000, gid: 1000 })).toBe(false);
    const gone = trayExecutableCheck([process.execPath], 'linux', () => {
      throw new Error('ENOENT');
    })!;
    expect(gone({ pid: 12, uid: 1000, gid: 1000 })).toBe(false);
    // Nothing configured, or no /proc: not checked (null for every peer).
    expect(trayExecutableCheck([], 'linux')).toBeUndefined();
    expect(trayExecutableCheck([process.execPath], 'darwin')).toBeUndefined();
  });
});
