import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchAnnouncedPolicy, type PolicyFetchDeps } from '../../src/agent/policy-fetch.js';
import { generateEd25519KeyPair } from '../../src/shared/node/crypto.js';
import { encodeBundle, encodeDelta, noticeFor } from '../../src/shared/node/policy-bundle-codec.js';
import { checkPolicyFetchHeader, policyFetchHeader } from '../../src/shared/node/policy-fetch-auth.js';
import { bundlePath, deltaPath, type PolicyAvailableMessage } from '../../src/shared/policies/delivery.js';
import { makeDelta } from '../../src/shared/policies/delta.js';
import { consoleKey, hashRules, NOW, payloadWith, signed } from '../helpers/policy-bundles.js';

/**
 * Notify-then-fetch over real HTTP on loopback: a server that authenticates devices exactly as the
 * console's route will (checkPolicyFetchHeader) and serves encoded bundles and deltas by path.
 */
const DEVICE = '3f1c2a9e-8a55-4a8e-9b1e-0d6f3a1c2b7d';
const deviceKey = generateEd25519KeyPair();
const served = new Map<string, Buffer>();
const requests: { path: string; status: number; bytes: number }[] = [];
let server: Server;
let deps: PolicyFetchDeps;

beforeAll(async () => {
  server = createServer((req, res) => {
    const path = req.url ?? '/';
    void checkPolicyFetchHeader(req.headers.authorization, path, (id) => (id === DEVICE ? deviceKey.publicKey : null)).then((auth) => {
      const body = served.get(path);
      const status = !auth.ok ? 401 : body ? 200 : 404;
      requests.push({ path, status, bytes: status === 200 ? body!.length : 0 });
      res.writeHead(status, { 'content-type': 'application/octet-stream' });
      res.end(status === 200 ? body : undefined);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  deps = {
    consoleUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    deviceId: DEVICE,
    key: { privateKey: deviceKey.privateKeyPem, publicKey: deviceKey.publicKey },
  };
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** The notice as announced for a delta too big to carry: the agent fetches it. */
function withoutInline(notice: PolicyAvailableMessage): PolicyAvailableMessage {
  const { inline: _carried, ...announced } = notice.delta!;
  return { ...notice, delta: announced };
}
const trust = (heldVersion: number | null) => ({ trustedKey: consoleKey.publicKey, heldVersion, now: NOW });

describe('notify-then-fetch', () => {
  const v1 = signed(payloadWith(1, hashRules(20_000)));
  const v2 = signed(
    payloadWith(
      2,
      hashRules(20_000).map((r, i) => (i === 19_999 ? { ...r, action: 'block' as const } : r)),
    ),
  );
  const full1 = encodeBundle(v1);
  const full2 = encodeBundle(v2);
  const delta = makeDelta({ payload: v1.payload, digest: v1.digest }, { payload: v2.payload, digest: v2.digest, signature: v2.signature })!;
  const wire = encodeDelta(delta);

  it('a device with no policy fetches the full bundle, authenticated, compressed', async () => {
    served.set(bundlePath(full1.digest), full1.bytes);
    requests.length = 0;
    const outcome = await fetchAnnouncedPolicy(noticeFor(full1), null, trust(null), deps);
    expect(outcome).toMatchObject({ ok: true, via: 'full', problems: [] });
    expect(requests).toEqual([{ path: bundlePath(full1.digest), status: 200, bytes: full1.bytes.length }]);
    expect(full1.bytes.length).toBeLessThan(full1.size / 2);
  });

  it('a device holding the previous version takes a one-rule change as a small delta', async () => {
    served.set(bundlePath(full2.digest), full2.bytes);
    served.set(deltaPath(v1.digest, v2.digest), wire.bytes);
    requests.length = 0;
    // Small enough to come inside the notice: no request at all.
    const notice = noticeFor(full2, wire);
    expect(notice.delta?.inline).toBeDefined();
    const inline = await fetchAnnouncedPolicy(notice, v1, trust(1), deps);
    expect(inline).toMatchObject({ ok: true, via: 'delta', problems: [] });
    expect(inline.ok && inline.bundle.payload).toEqual(v2.payload);
    expect(requests).toEqual([]);
    // Announced without it (a bigger delta): fetched, authenticated.
    const fetched = await fetchAnnouncedPolicy(withoutInline(notice), v1, trust(1), deps);
    expect(fetched).toMatchObject({ ok: true, via: 'delta', problems: [] });
    expect(fetched.ok && fetched.bundle.payload).toEqual(v2.payload);
    expect(requests).toEqual([{ path: deltaPath(v1.digest, v2.digest), status: 200, bytes: wire.bytes.length }]);
    expect(wire.bytes.length).toBeLessThan(2048);
  });

  it('a tampered delta is refused and the device recovers with the full bundle', async () => {
    const tampered = encodeDelta({ ...delta, rules: { ...delta.rules, add: [{ ...delta.rules.add[0]!, action: 'allow' }] } });
    served.set(deltaPath(v1.digest, v2.digest), tampered.bytes);
    // The notice announces the tampered bytes, so only the signature over the result can tell:
    // carried inside the notice, and fetched.
    for (const notice of [noticeFor(full2, tampered), withoutInline(noticeFor(full2, tampered))]) {
      requests.length = 0;
      const outcome = await fetchAnnouncedPolicy(notice, v1, trust(1), deps);
      expect(outcome).toMatchObject({ ok: true, via: 'full', problems: [{ via: 'delta', problem: 'delta-mismatch' }] });
      expect(outcome.ok && outcome.bundle.payload).toEqual(v2.payload);
      expect(requests.map((r) => r.path)).toEqual([...(notice.delta?.inline ? [] : [deltaPath(v1.digest, v2.digest)]), bundlePath(full2.digest)]);
    }
    served.set(deltaPath(v1.digest, v2.digest), wire.bytes);
  });

  it('more bytes than announced are not read to the end', async () => {
    const notice = noticeFor(full2);
    const outcome = await fetchAnnouncedPolicy({ ...notice, compressed: { ...notice.compressed, size: 100 } }, null, trust(1), deps);
    expect(outcome).toMatchObject({ ok: false, problems: [{ via: 'full', problem: 'compressed-digest-mismatch' }] });
  });

  it('an older bundle replayed over HTTP is refused as a rollback', async () => {
    const outcome = await fetchAnnouncedPolicy(noticeFor(full1), v2, trust(2), deps);
    expect(outcome).toMatchObject({ ok: false, problems: [{ via: 'full', problem: 'rollback' }] });
  });

  it('the console refuses a device it cannot authenticate, and a header for another path', async () => {
    const stranger = generateEd25519KeyPair();
    const outcome = await fetchAnnouncedPolicy(noticeFor(full1), null, trust(null), {
      ...deps,
      key: { privateKey: stranger.privateKeyPem, publicKey: stranger.publicKey },
    });
    expect(outcome).toMatchObject({ ok: false, problems: [{ problem: 'fetch-failed', detail: 'the console answered 401' }] });
    const header = policyFetchHeader(DEVICE, bundlePath(full1.digest), deps.key);
    expect(await checkPolicyFetchHeader(header, bundlePath(full2.digest), () => deviceKey.publicKey)).toEqual({
      ok: false,
      detail: 'authorization is for another path',
    });
    const stale = policyFetchHeader(DEVICE, '/x', deps.key, new Date(Date.now() - 10 * 60_000));
    expect(await checkPolicyFetchHeader(stale, '/x', () => deviceKey.publicKey)).toMatchObject({ ok: false, detail: expect.stringContaining('too old') });
    expect(await checkPolicyFetchHeader(header, bundlePath(full1.digest), () => null)).toEqual({ ok: false, detail: 'unknown or revoked device' });
  });
});
