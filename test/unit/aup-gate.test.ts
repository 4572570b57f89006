import { createPrivateKey, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AcceptanceRecords } from '../../src/agent/aup/acceptances.js';
import { AupStore } from '../../src/agent/aup/aup-store.js';
import { AupAcceptanceQueries } from '../../src/agent/aup/console-query.js';
import { AupGate, aupToShow, type ConsoleAcceptance } from '../../src/agent/aup/gate.js';
import { TokenBucket } from '../../src/shared/token-bucket.js';
import type { AupDocument, SignedAup } from '../../src/shared/aup.js';
import { aupHash, checkReceipt, signAup, signReceipt } from '../../src/shared/node/aup-verify.js';
import { generateEd25519KeyPair } from '../../src/shared/node/crypto.js';
import type { NewAgentEvent } from '../../src/shared/events.js';
import { createLogger } from '../../src/shared/node/log.js';
import type { PolicyBundle } from '../../src/shared/policy.js';
import { parseAgentMessage, parseConsoleMessage, type AgentMessageInput } from '../../src/shared/protocol.js';
import { tempDir } from '../helpers/processes.js';

/**
 * The AUP gate's decisions with real local records (SQLite) and a real AUP store, and a fake
 * console: a function that answers (or doesn't) "has this user accepted this text elsewhere?".
 */
const consoleKey = generateEd25519KeyPair();
const pair = generateEd25519KeyPair();
const key = { privateKey: createPrivateKey(pair.privateKeyPem), publicKey: pair.publicKey };
const deviceId = randomUUID();
const doc = (version: number, markdown = '# Rules\n\nBe kind.'): AupDocument => ({
  kind: 'vigil.aup',
  variant: 'secondary',
  version,
  title: `Rules v${version}`,
  markdown,
  publishedAt: '2026-11-20T09:00:00.000Z',
});
const signed = (d: AupDocument): SignedAup => signAup(d, consoleKey.privateKeyPem, consoleKey.publicKey);
const policyNaming = (variant: string) => ({ payload: { policy: { aup: { variant } } } }) as unknown as PolicyBundle;

const dirs: { remove(): void }[] = [];
afterEach(() => dirs.splice(0).forEach((d) => d.remove()));

function setup(
  opts: { console?: (user: string, hash: string) => Promise<ConsoleAcceptance>; logoff?: (user: string) => Promise<{ ok: boolean; detail: string }> } = {},
) {
  const dir = tempDir();
  dirs.push(dir);
  const store = new AupStore(join(dir.path, 'aup.json'), consoleKey.publicKey);
  store.offer(signed(doc(1)));
  const events: NewAgentEvent[] = [];
  const asked: string[] = [];
  const loggedOff: string[] = [];
  let policy = policyNaming('secondary');
  let records = new AcceptanceRecords(join(dir.path, 'acceptances.db'));
  const make = () =>
    new AupGate({
      deviceId,
      key,
      aup: () => aupToShow(policy, store.aup),
      school: () => 'Hillside School',
      records,
      askConsole: async (user, hash) => {
        asked.push(user);
        return (opts.console ?? (async () => ({ kind: 'answered', accepted: false, acceptedAt: null })))(user, hash);
      },
      emit: (e) => events.push(e),
      logoff: async (user) => {
        loggedOff.push(user);
        return (opts.logoff ?? (async () => ({ ok: true, detail: 'ended 3 processes' })))(user);
      },
      log: createLogger('test', 'error'),
    });
  const env = {
    store,
    events,
    asked,
    loggedOff,
    gate: make(),
    records: () => records,
    setPolicy: (variant: string) => (policy = policyNaming(variant)),
    /** A new process on the same data directory. */
    restart() {
      records.close();
      records = new AcceptanceRecords(join(dir.path, 'acceptances.db'));
      env.gate = make();
    },
    shown: (version = 1) => ({ variant: 'secondary', version, aupHash: aupHash(store.aup!.payload) }),
  };
  return env;
}

describe('AupGate.decide', () => {
  it('needs no gate when the policy names no AUP or another variant than the one held', async () => {
    const t = setup();
    t.setPolicy('primary');
    expect(await t.gate.decide('jsmith')).toEqual({ needed: false, reason: 'no-aup' });
    expect(aupToShow(null, t.store.aup)).toBeNull();
    expect(t.asked).toEqual([]);
  });

  it('shows the held, signed text to a user who has not accepted it, online and offline', async () => {
    let online = true;
    const t = setup({ console: async () => (online ? { kind: 'answered', accepted: false, acceptedAt: null } : { kind: 'offline' }) });
    const decision = await t.gate.decide('jsmith');
    expect(decision).toMatchObject({ needed: true, reason: 'not-accepted' });
    if (!decision.needed) throw new Error('unreachable');
    expect(decision.page).toEqual({
      variant: 'secondary',
      version: 1,
      aupHash: aupHash(doc(1)),
      title: 'Rules v1',
      markdown: '# Rules\n\nBe kind.',
      school: 'Hillside School',
      user: 'jsmith',
      offline: false,
    });
    online = false;
    expect(await t.gate.decide('jsmith')).toMatchObject({ needed: true, page: { offline: true, version: 1 } });
  });

  it('treats a console that does not answer (or throws) as out of reach, never as "accepted"', async () => {
    const t = setup({ console: async () => ({ kind: 'unanswered', detail: 'rate-limited' }) });
    expect(await t.gate.decide('jsmith')).toMatchObject({ needed: true, page: { offline: true } });
    const broken = setup({ console: async () => Promise.reject(new Error('link exploded')) });
    expect(await broken.gate.decide('jsmith')).toMatchObject({ needed: true, page: { offline: true } });
  });

  it('accepting signs a receipt for the held text, queues it, and the gate is then not needed here (after a restart too, without asking the console)', async () => {
    const t = setup();
    expect(await t.gate.accept('jsmith', { typedName: 'Jamie Smith', ...t.shown() })).toEqual({ ok: true });
    const accepted = t.events.filter((e) => e.type === 'aup.accepted');
    expect(accepted).toHaveLength(1);
    const receipt = (accepted[0]!.data as { receipt: unknown }).receipt;
    expect(checkReceipt(receipt, key.publicKey, doc(1))).toMatchObject({
      ok: true,
      receipt: { payload: { user: 'jsmith', deviceId, typedName: 'Jamie Smith', version: 1 } },
    });
    t.restart();
    t.asked.length = 0;
    expect(await t.gate.decide('jsmith')).toEqual({ needed: false, reason: 'accepted-here' });
    expect(t.asked).toEqual([]);
    // Per user: someone else on the same device is still asked.
    expect(await t.gate.decide('akhan')).toMatchObject({ needed: true, reason: 'not-accepted' });
  });

  it('refuses a stale, variant-mismatched or altered acceptance and records nothing', async () => {
    const t = setup();
    const shown = t.shown();
    for (const request of [
      { ...shown, version: 2 },
      { ...shown, variant: 'primary' },
      { ...shown, aupHash: '0'.repeat(64) },
    ]) {
      const result = await t.gate.accept('jsmith', { typedName: 'Jamie Smith', ...request });
      expect(result).toMatchObject({ ok: false, message: expect.stringMatching(/rules changed/) });
    }
    expect(await t.gate.accept('jsmith', { typedName: 'J', ...shown })).toMatchObject({ ok: false, message: expect.stringMatching(/cannot be saved/) });
    expect(await t.gate.accept('', { typedName: 'Jamie Smith', ...shown })).toMatchObject({ ok: false });
    expect(t.events).toEqual([]);
    expect(await t.gate.decide('jsmith')).toMatchObject({ needed: true });
  });

  it('a page left open across an update cannot accept the new text', async () => {
    const t = setup();
    const oldPage = t.shown();
    t.store.offer(signed(doc(2, '# Rules\n\nNew rules.')));
    expect(await t.gate.accept('jsmith', { typedName: 'Jamie Smith', ...oldPage })).toMatchObject({ ok: false });
    expect(t.events).toEqual([]);
  });

  it('"accepted on another device" from the console is remembered across restarts and while offline', async () => {
    let online = true;
    const t = setup({ console: async () => (online ? { kind: 'answered', accepted: true, acceptedAt: '2026-11-21T08:00:00.000Z' } : { kind: 'offline' }) });
    expect(await t.gate.decide('jsmith')).toEqual({ needed: false, reason: 'accepted-elsewhere' });
    online = false;
    t.restart();
    expect(await t.gate.decide('jsmith')).toEqual({ needed: false, reason: 'accepted-elsewhere' });
    expect(t.asked).toEqual(['jsmith']);
    // Not remembered for anyone else.
    expect(await t.gate.decide('akhan')).toMatchObject({ needed: true, page: { offline: true } });
  });

  it('a new version makes the gate needed again, for receipts here and acceptances elsewhere', async () => {
    const t = setup({ console: async (user) => ({ kind: 'answered', accepted: user === 'elsewhere-user', acceptedAt: null }) });
    await t.gate.accept('here-user', { typedName: 'Here User', ...t.shown() });
    expect(await t.gate.decide('elsewhere-user')).toMatchObject({ needed: false, reason: 'accepted-elsewhere' });
    expect(t.store.offer(signed(doc(2, '# Rules\n\nRevised.'))).outcome).toBe('stored');
    const here = await t.gate.decide('here-user');
    expect(here).toMatchObject({ needed: true, reason: 'new-version', page: { version: 2, markdown: '# Rules\n\nRevised.' } });
    // The console is asked about the new text (by its hash), not the old one.
    const asked: string[] = [];
    const t3 = setup({
      console: async (_user, hash) => {
        asked.push(hash);
        return { kind: 'answered', accepted: false, acceptedAt: null };
      },
    });
    t3.store.offer(signed(doc(2)));
    await t3.gate.decide('x');
    expect(asked).toEqual([aupHash(doc(2))]);
  });

  it('a tampered AUP document is refused: the gate keeps showing the text the school signed', async () => {
    const t = setup();
    const tampered = structuredClone(signed(doc(2)));
    tampered.payload.markdown = '# Rules\n\nAnything goes.';
    expect(t.store.offer(tampered)).toMatchObject({ outcome: 'rejected', rejection: { reason: 'bad-signature' } });
    const decision = await t.gate.decide('jsmith');
    expect(decision).toMatchObject({ needed: true, page: { version: 1, markdown: '# Rules\n\nBe kind.' } });
  });

  it('a stored receipt that does not verify does not count', async () => {
    const t = setup();
    const forger = generateEd25519KeyPair();
    const payload = {
      kind: 'vigil.aup-receipt' as const,
      deviceId,
      user: 'jsmith',
      variant: 'secondary',
      version: 1,
      aupHash: aupHash(doc(1)),
      typedName: 'Jamie Smith',
      acceptedAt: '2026-11-22T09:00:00.000Z',
    };
    // Written straight into the records (as someone with access to the file could): the gate re-checks the signature.
    t.records().addReceipt(signReceipt(payload, forger.privateKeyPem, forger.publicKey));
    expect(await t.gate.decide('jsmith')).toMatchObject({ needed: true, reason: 'not-accepted' });
  });

  it('rejects an unusable user name instead of deciding for nobody', async () => {
    const t = setup();
    await expect(t.gate.decide('')).rejects.toThrow(/user name/);
    await expect(t.gate.decide('x'.repeat(129))).rejects.toThrow(/user name/);
  });
});

describe('AupGate.decline', () => {
  it('logs the user off and says why in an event', async () => {
    const t = setup();
    expect(await t.gate.decline('jsmith')).toEqual({ ok: true });
    expect(t.loggedOff).toEqual(['jsmith']);
    expect(t.events).toEqual([{ type: 'aup.declined', data: { user: 'jsmith', variant: 'secondary', version: 1, logoff: true, detail: 'ended 3 processes' } }]);
  });

  it('reports a logoff that could not happen, to the page and in the event', async () => {
    const t = setup({ logoff: async () => ({ ok: false, detail: 'session control is not running on this device' }) });
    expect(await t.gate.decline('jsmith')).toEqual({ ok: false, message: 'could not sign you out: session control is not running on this device' });
    expect(t.events[0]).toMatchObject({ type: 'aup.declined', data: { logoff: false } });
  });
});

describe('AcceptanceRecords', () => {
  it('stays bounded: past the limit the oldest records go', () => {
    const dir = tempDir();
    dirs.push(dir);
    const records = new AcceptanceRecords(join(dir.path, 'a.db'), 3);
    for (let i = 0; i < 5; i++) records.addElsewhere(`user${i}`, { variant: 'secondary', version: 1, hash: aupHash(doc(1)) }, null);
    expect(records.count()).toBe(3);
    expect(records.get('user0', aupHash(doc(1)))).toBeNull();
    expect(records.get('user4', aupHash(doc(1)))).toEqual({ source: 'elsewhere', acceptedAt: null });
    records.close();
  });
});

describe('asking the console (aup.query / aup.status)', () => {
  const hash = 'a'.repeat(64);
  function fakeLink(ready = true) {
    const sent: AgentMessageInput[] = [];
    return { sent, isReady: ready, send: (m: AgentMessageInput) => (sent.push(m), ready) };
  }

  it('matches answers to questions by user and hash, and ignores answers nobody asked for', async () => {
    const link = fakeLink();
    const queries = new AupAcceptanceQueries(link, 5000);
    const a = queries.ask('jsmith', hash);
    const b = queries.ask('akhan', hash);
    expect(link.sent).toEqual([
      { v: 1, type: 'aup.query', user: 'jsmith', aupHash: hash },
      { v: 1, type: 'aup.query', user: 'akhan', aupHash: hash },
    ]);
    queries.answer({ v: 1, type: 'aup.status', user: 'mallory', aupHash: hash, accepted: true, acceptedAt: null, refused: null });
    queries.answer({ v: 1, type: 'aup.status', user: 'akhan', aupHash: hash, accepted: false, acceptedAt: null, refused: null });
    queries.answer({ v: 1, type: 'aup.status', user: 'jsmith', aupHash: hash, accepted: true, acceptedAt: '2026-11-22T09:00:00.000Z', refused: null });
    expect(await a).toEqual({ kind: 'answered', accepted: true, acceptedAt: '2026-11-22T09:00:00.000Z' });
    expect(await b).toEqual({ kind: 'answered', accepted: false, acceptedAt: null });
  });

  it('offline when the link is down, unanswered on refusal or timeout, offline when the link drops mid-question', async () => {
    expect(await new AupAcceptanceQueries(fakeLink(false)).ask('jsmith', hash)).toEqual({ kind: 'offline' });
    const queries = new AupAcceptanceQueries(fakeLink(), 50);
    const refused = queries.ask('jsmith', hash);
    queries.answer({ v: 1, type: 'aup.status', user: 'jsmith', aupHash: hash, accepted: false, acceptedAt: null, refused: 'rate-limited' });
    expect(await refused).toMatchObject({ kind: 'unanswered' });
    expect(await queries.ask('jsmith', hash)).toMatchObject({ kind: 'unanswered', detail: expect.stringMatching(/no answer/) });
    const dropped = new AupAcceptanceQueries(fakeLink(), 5000);
    const pending = dropped.ask('jsmith', hash);
    dropped.linkDown();
    expect(await pending).toEqual({ kind: 'offline' });
  });
});

describe('TokenBucket (console, per connection)', () => {
  it('allows a burst, then one per refill period', () => {
    let now = 0;
    const allowance = new TokenBucket(3, 1000, () => now);
    expect([allowance.take(), allowance.take(), allowance.take(), allowance.take()]).toEqual([true, true, true, false]);
    now += 999;
    expect(allowance.take()).toBe(false);
    now += 2;
    expect(allowance.take()).toBe(true);
    now += 60_000;
    expect([allowance.take(), allowance.take(), allowance.take(), allowance.take()]).toEqual([true, true, true, false]);
  });
});

describe('aup.query / aup.status frames', () => {
  const hash = 'b'.repeat(64);
  it('carry one user and one hash, nothing else', () => {
    expect(parseAgentMessage(JSON.stringify({ v: 1, type: 'aup.query', user: 'jsmith', aupHash: hash }))).toMatchObject({ ok: true });
    for (const bad of [
      { v: 1, type: 'aup.query', user: '', aupHash: hash },
      { v: 1, type: 'aup.query', user: 'x'.repeat(129), aupHash: hash },
      { v: 1, type: 'aup.query', user: 'jsmith', aupHash: 'B'.repeat(64) },
      { v: 1, type: 'aup.query', user: 'jsmith', aupHash: hash, users: ['*'] },
    ]) {
      expect(parseAgentMessage(JSON.stringify(bad))).toMatchObject({ ok: false, code: 'invalid' });
    }
    const status = { v: 1, type: 'aup.status', user: 'jsmith', aupHash: hash, accepted: true, acceptedAt: '2026-11-22T09:00:00.000Z', refused: null };
    expect(parseConsoleMessage(JSON.stringify(status))).toMatchObject({ ok: true });
    expect(parseConsoleMessage(JSON.stringify({ ...status, deviceId: randomUUID() }))).toMatchObject({ ok: false });
    expect(parseConsoleMessage(JSON.stringify({ ...status, refused: 'because' }))).toMatchObject({ ok: false });
  });
});
