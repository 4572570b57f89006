import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchAnnouncedPolicy, type PolicyFetchDeps } from '../../src/agent/policy-fetch.js';
import { PolicyNoticeTracker } from '../../src/agent/policy-notices.js';
import { answerPolicyFetch } from '../../src/console/policies/agent-fetch.js';
import type { PolicyModel } from '../../src/console/policies/publisher.js';
import { generateEd25519KeyPair } from '../../src/shared/node/crypto.js';
import type { PolicyBundle } from '../../src/shared/policy.js';
import { policyDigest } from '../../src/shared/node/policy-verify.js';
import { policyFetchHeader } from '../../src/shared/node/policy-fetch-auth.js';
import { bundlePath } from '../../src/shared/policies/delivery.js';
import { groupSetKey, groupsThatMatter } from '../../src/shared/policies/merge.js';
import type { RuleRecord } from '../../src/shared/policies/model.js';
import { consoleKey, testPublisher } from '../helpers/policy-bundles.js';
import { hashRecord, hex } from '../helpers/policy-model.js';

/**
 * The console's publisher and fetch handler behind a real HTTP server on loopback, and two agents'
 * fetch clients: different groups get different policies, a change travels as a delta, a device
 * gets only its own group set's bundle, and moving a device changes what it gets.
 */
const devices = {
  a: { id: '00000000-0000-4000-8000-00000000000a', key: generateEd25519KeyPair(), groups: [] as string[] },
  b: { id: '00000000-0000-4000-8000-00000000000b', key: generateEd25519KeyPair(), groups: ['lab'] as string[] },
};
const publisher = testPublisher();
const rule = hashRecord;
const baseRules = Array.from({ length: 20_000 }, (_, i) => rule(i));
const model = (rules: RuleRecord[]): PolicyModel => ({
  policies: new Map([
    ['base', { settings: { aup: { variant: 'secondary' }, applications: { mode: 'enforce', defaultAction: 'block' } }, rules }],
    ['lab', { settings: { aup: { variant: 'lab' } }, rules: [rule(1, 'block')] }],
  ]),
  assignments: { baseline: 'base', assignments: [{ policy: 'lab', group: 'lab', precedence: 10 }] },
});
const matter = groupsThatMatter(model([]).policies, model([]).assignments);
const keyOf = (d: { groups: string[] }) => groupSetKey(d.groups, matter);
const allSets = () => new Map(Object.values(devices).map((d) => [keyOf(d), d.groups]));
const served: { path: string; status: number; bytes: number }[] = [];
let server: Server;
let url: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    void answerPolicyFetch(req.url ?? '/', req.headers.authorization, {
      publisher,
      publicKeyOf: (id) => Object.values(devices).find((d) => d.id === id)?.key.publicKey ?? null,
      groupSetOf: (id) => {
        const device = Object.values(devices).find((d) => d.id === id);
        return device ? keyOf(device) : null;
      },
    }).then((answer) => {
      served.push({ path: req.url ?? '/', status: answer.status, bytes: typeof answer.body === 'string' ? 0 : answer.body.length });
      res.writeHead(answer.status, answer.headers);
      res.end(answer.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  await publisher.update(model(baseRules), allSets());
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const held: Record<'a' | 'b', PolicyBundle | null> = { a: null, b: null };
const trackers = { a: new PolicyNoticeTracker(), b: new PolicyNoticeTracker() };
async function deliver(name: 'a' | 'b') {
  const device = devices[name];
  const holding = held[name];
  const state = { version: holding?.payload.version ?? null, digest: holding ? policyDigest(holding.payload) : null };
  const notice = await publisher.noticeFor(keyOf(device), state);
  if (!notice) return { notice: null, outcome: null };
  expect(trackers[name].decide(notice, state)).toEqual({ action: 'fetch' });
  const deps: PolicyFetchDeps = { consoleUrl: url, deviceId: device.id, key: { privateKey: device.key.privateKeyPem, publicKey: device.key.publicKey } };
  const outcome = await fetchAnnouncedPolicy(notice, holding, { trustedKey: consoleKey.publicKey, heldVersion: state.version }, deps);
  trackers[name].settle(notice, outcome);
  if (outcome.ok) held[name] = outcome.bundle;
  return { notice, outcome };
}

describe('policy plane delivery over HTTP', () => {
  it('two devices in different groups receive different effective policies and AUP variants', async () => {
    const a = await deliver('a');
    const b = await deliver('b');
    expect(a.outcome).toMatchObject({ ok: true, via: 'full' });
    expect(b.outcome).toMatchObject({ ok: true, via: 'full' });
    expect(held.a!.payload.policy.aup?.variant).toBe('secondary');
    expect(held.b!.payload.policy.aup?.variant).toBe('lab');
    const blocked = (bundle: PolicyBundle) => bundle.payload.policy.applications!.rules.find((r) => r.kind === 'sha256' && r.sha256 === hex(1))?.action;
    expect(blocked(held.a!)).toBe('allow');
    expect(blocked(held.b!)).toBe('block');
  });

  it("a device cannot fetch another group set's bundle", async () => {
    const path = bundlePath(policyDigest(held.b!.payload));
    const response = await fetch(new URL(path, url), {
      headers: { authorization: policyFetchHeader(devices.a.id, path, { privateKey: devices.a.key.privateKeyPem, publicKey: devices.a.key.publicKey }) },
    });
    expect(response.status).toBe(403);
  });

  it('a one-rule change reaches both as a delta of a few hundred bytes', async () => {
    const changed = baseRules.map((r, i) => (i === 19_999 ? rule(19_999, 'block') : r));
    expect(await publisher.update(model(changed), allSets())).toHaveLength(2);
    served.length = 0;
    const a = await deliver('a');
    const b = await deliver('b');
    expect(a.outcome).toMatchObject({ ok: true, via: 'delta' });
    expect(b.outcome).toMatchObject({ ok: true, via: 'delta' });
    expect(served.every((s) => s.path.includes('/delta/') && s.bytes < 2048)).toBe(true);
    expect(held.a!.payload.policy.applications!.rules.find((r) => r.kind === 'sha256' && r.sha256 === hex(19_999))?.action).toBe('block');
    expect(await deliver('a')).toEqual({ notice: null, outcome: null });
  });

  it('moving a device to another group changes its policy at the next notice, at a higher version', async () => {
    devices.b.groups = [];
    const was = held.b!.payload.version;
    // Both sets were signed at the same version: the agent keeps what it holds when offered the
    // same version, so a's set is signed again, higher, for b (and a takes it too).
    expect(was).toBe(held.a!.payload.version);
    const b = await deliver('b');
    expect(b.outcome).toMatchObject({ ok: true });
    expect(held.b!.payload.policy.aup?.variant).toBe('secondary');
    expect(held.b!.payload.version).toBeGreaterThan(was);
    expect(held.b!.payload.policy).toEqual(held.a!.payload.policy);
  });
});
