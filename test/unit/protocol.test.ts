import { describe, expect, it } from 'vitest';
import { parseAgentMessage, parseConsoleMessage } from '../../src/shared/protocol.js';
import { cleanText } from '../../src/shared/text.js';

const status = {
  hostname: 'lab-01',
  os: { platform: 'linux', release: '6.1', distro: 'Debian 12', arch: 'x64' },
  user: 'pupil1',
  users: ['pupil1'],
  uptimeSeconds: 10,
  agentVersion: '0.1.0',
  policyVersion: null,
  collectedAt: '2026-11-22T12:00:00.000Z',
};

describe('protocol parsing', () => {
  it('accepts well-formed messages', () => {
    expect(parseAgentMessage(JSON.stringify({ v: 1, type: 'heartbeat', sentAt: '2026-11-22T12:00:00Z' }))).toMatchObject({ ok: true });
    expect(parseAgentMessage(JSON.stringify({ v: 1, type: 'status', status }))).toMatchObject({ ok: true });
  });
  it('names what is wrong with a bad frame', () => {
    expect(parseAgentMessage('{not json')).toMatchObject({ ok: false, code: 'malformed' });
    expect(parseAgentMessage('[1,2]')).toMatchObject({ ok: false, code: 'malformed' });
    expect(parseAgentMessage('{"v":1,"type":"launch-missiles"}')).toMatchObject({ ok: false, code: 'unknown-type' });
    expect(parseAgentMessage('{"v":2,"type":"heartbeat","sentAt":"2026-11-22T12:00:00Z"}')).toMatchObject({ ok: false, code: 'invalid' });
    const invalid = parseAgentMessage('{"v":1,"type":"heartbeat","sentAt":"yesterday"}');
    expect(invalid).toMatchObject({ ok: false, code: 'invalid' });
    if (!invalid.ok) expect(invalid.message).toMatch(/sentAt/);
    expect(parseAgentMessage(JSON.stringify({ v: 1, type: 'heartbeat', sentAt: '2026-11-22T12:00:00Z', extra: 1 }))).toMatchObject({
      ok: false,
      code: 'invalid',
    });
    expect(parseConsoleMessage('{"v":1,"type":"events.ack","seqs":[-1]}')).toMatchObject({ ok: false, code: 'invalid' });
  });
  it('never throws, even on a frame nested 100,000 levels deep', () => {
    const deep = `{"v":${'['.repeat(100_000)}${']'.repeat(100_000)},"type":"heartbeat"}`;
    expect(parseAgentMessage(deep)).toMatchObject({ ok: false, code: 'invalid', message: expect.stringMatching(/\(array\)/) });
    expect(parseConsoleMessage(deep)).toMatchObject({ ok: false, code: 'invalid' });
    const deepType = `{"v":1,"type":${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
    expect(parseConsoleMessage(deepType)).toMatchObject({ ok: false, code: 'unknown-type' });
  });
  it('accepts an event the receiver may not understand inside a valid envelope', () => {
    const event = { id: '7b6f0d7e-8d4b-4d59-9a55-0b3a3a1e7c11', seq: 1, at: '2026-11-22T12:00:00Z', type: 'from.the.future', data: { x: 1 } };
    expect(parseAgentMessage(JSON.stringify({ v: 1, type: 'events', events: [event] }))).toMatchObject({ ok: true });
    expect(parseAgentMessage(JSON.stringify({ v: 1, type: 'events', events: [{ ...event, seq: 0 }] }))).toMatchObject({ ok: false, code: 'invalid' });
  });
  it('caps the size of an event batch', () => {
    const event = { id: '7b6f0d7e-8d4b-4d59-9a55-0b3a3a1e7c11', seq: 1, at: '2026-11-22T12:00:00Z', type: 'diagnostic.test', data: { note: 'x', n: 0 } };
    const batch = Array.from({ length: 201 }, (_, i) => ({ ...event, seq: i + 1 }));
    expect(parseAgentMessage(JSON.stringify({ v: 1, type: 'events', events: batch }))).toMatchObject({ ok: false, code: 'invalid' });
  });
  it('stores hostile device text in a harmless, bounded form', () => {
    const parsed = parseAgentMessage(JSON.stringify({ v: 1, type: 'status', status: { ...status, hostname: `evil\u0000\u001b[31m${'x'.repeat(1000)}` } }));
    expect(parsed.ok).toBe(true);
    if (parsed.ok && parsed.message.type === 'status') {
      expect(parsed.message.status.hostname.length).toBeLessThanOrEqual(255);
      expect(parsed.message.status.hostname).not.toMatch(/[\u0000-\u001f]/);
    }
    expect(cleanText('a\ud800b', 10)).toBe('a\ufffdb');
  });
});
