import Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROTOCOL_VERSION } from '../../src/shared/protocol.js';
import { startConsoleProcess, type ConsoleHandle } from '../helpers/fleet.js';
import { stopAll, tempDir, waitUntil } from '../helpers/processes.js';
import { connectAs, enrollRawDevice } from '../helpers/raw-device.js';

/**
 * A pupil's concern and an ordinary event in one frame, sent over a device's authenticated
 * WebSocket to a real console process: the concern reaches the safeguarding queue and nothing
 * else (not the events API, not the events table on disk), the ordinary event the events table.
 */
const TEXT = 'Someone in my class keeps sending me messages at night.';
let dir: ReturnType<typeof tempDir>;
let consoleProc: ConsoleHandle;
const DSL_PASSWORD = 'a-long-password-for-the-lead';

beforeAll(async () => {
  dir = tempDir();
  consoleProc = await startConsoleProcess(join(dir.path, 'console'));
  const created = await consoleProc.api('/api/v1/users', {
    method: 'POST',
    body: JSON.stringify({ username: 'dsl', password: DSL_PASSWORD, role: 'safeguarding_lead' }),
  });
  expect(created.status).toBe(201);
});

afterAll(async () => {
  await stopAll();
  dir?.remove();
});

describe('concern isolation', () => {
  it('keeps concern.reported out of the events table and the events API', async () => {
    const device = await enrollRawDevice(consoleProc.url, 'year7-laptop-01');
    const socket = await connectAs(consoleProc.url, device);
    const at = new Date().toISOString();
    const concernId = randomUUID();
    socket.send({
      v: PROTOCOL_VERSION,
      type: 'events',
      events: [
        { id: concernId, seq: 1, at, type: 'concern.reported', data: { category: 'about-me', text: TEXT, wantsContact: true, user: 'pupil.smith' } },
        { id: randomUUID(), seq: 2, at, type: 'diagnostic.test', data: { note: 'ordinary', n: 2 } },
      ],
    });
    expect((await socket.next('events.ack')).seqs).toEqual([1, 2]);
    socket.ws.close();

    const lead = (await consoleProc.api('/api/v1/login', { method: 'POST', body: JSON.stringify({ username: 'dsl', password: DSL_PASSWORD }), token: null }))
      .body.token as string;
    const concerns = await waitUntil(async () => {
      const r = await consoleProc.api('/api/v1/concerns', { token: lead });
      return r.status === 200 && r.body.concerns.length === 1 ? (r.body.concerns as { id: string; text: string }[]) : null;
    });
    expect(concerns.map((c) => [c.id, c.text])).toEqual([[concernId, TEXT]]);
    const events = await consoleProc.api(`/api/v1/events?device=${device.deviceId}`);
    expect(events.status).toBe(200);
    expect((events.body.events as { event: { type: string } }[]).map((e) => e.event.type)).toEqual(['diagnostic.test']);
    expect((await consoleProc.api('/api/v1/events?type=concern.reported')).body.events).toEqual([]);
    expect(JSON.stringify((await consoleProc.api('/api/v1/events')).body)).not.toContain(TEXT);

    const db = new Database(join(consoleProc.dataDir, 'console.db'), { readonly: true });
    try {
      expect(db.prepare("SELECT COUNT(*) AS n FROM events WHERE type = 'concern.reported' OR body LIKE ?").get(`%${TEXT}%`)).toEqual({ n: 0 });
      expect(db.prepare('SELECT COUNT(*) AS n FROM events').get()).toEqual({ n: 1 });
    } finally {
      db.close();
    }
  });
});
