import { createPrivateKey } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import fc from 'fast-check';
import { keyId as keyIdOf } from '../../src/shared/node/crypto.js';
import { PolicyBundlePayloadSchema, PolicyDocumentSchema } from '../../src/shared/policy.js';
import { signScanFlag, type FlagFileEntry } from '../../src/shared/node/scan-flag.js';
import { signPayload } from '../../src/shared/node/signing.js';
import { mutated, shaped, type Json } from './arbitraries.js';
import { hex64, uuid, isoDate, consoleKeys, deviceKeys, stationKeys, nonce43, sig, keyId, text, sameAfter, jsonThen, asFrame, FuzzTarget } from './common.js';

// ---- protocol frames ----------------------------------------------------------------------
export const status = fc.record({
  hostname: text(40),
  os: fc.record({
    platform: fc.constantFrom('linux', 'win32', 'darwin', 'other'),
    release: text(20),
    distro: fc.option(text(20)),
    arch: fc.constantFrom('x64', 'arm64'),
  }),
  user: fc.option(text(20)),
  users: fc.array(text(20), { maxLength: 5 }),
  uptimeSeconds: fc.nat(),
  agentVersion: fc.constant('0.1.0'),
  policyVersion: fc.option(fc.integer({ min: 1, max: 1e6 })),
  collectedAt: isoDate,
});
export const window = fc.record({ app: text(30), title: fc.option(text(60)), url: fc.option(text(60)), path: fc.option(text(60)) });
export const activityNow = fc.record({
  collecting: fc.boolean(),
  mode: fc.constantFrom('full', 'app-only', 'off'),
  pausedReason: fc.option(fc.constantFrom('policy-off', 'wayland', 'no-session', 'error')),
  window: fc.option(window),
  since: fc.option(isoDate),
  idleSeconds: fc.option(fc.nat()),
  locked: fc.option(fc.boolean()),
});
export const eventEnvelope = fc.record({
  id: uuid,
  seq: fc.integer({ min: 1, max: 2 ** 40 }),
  at: isoDate,
  type: fc.constantFrom('diagnostic.test', 'app.blocked', 'policy.applied', 'from.the.future'),
  data: fc.oneof(fc.record({ note: text(40), n: fc.nat() }), fc.jsonValue({ maxDepth: 4 })),
});
export const agentFrame: fc.Arbitrary<Json> = fc.oneof(
  fc.record({ v: fc.constant(1), type: fc.constant('auth'), deviceId: uuid, nonce: nonce43, clientNonce: nonce43, signature: sig }),
  fc.record({
    v: fc.constant(1),
    type: fc.constant('hello'),
    agentVersion: text(20),
    policyVersion: fc.option(fc.integer({ min: 1, max: 1e6 })),
    policyDigest: fc.option(hex64),
    mode: fc.constantFrom('service', 'user'),
    capabilities: fc.array(text(20), { maxLength: 6 }),
  }),
  fc.record({ v: fc.constant(1), type: fc.constant('heartbeat'), sentAt: isoDate }),
  fc.record({ v: fc.constant(1), type: fc.constant('status'), status }),
  fc.record({ v: fc.constant(1), type: fc.constant('events'), events: fc.array(eventEnvelope, { minLength: 1, maxLength: 8 }) }),
  fc.record({ v: fc.constant(1), type: fc.constant('policy.ack'), version: fc.integer({ min: 1, max: 1e9 }) }),
  fc.record({
    v: fc.constant(1),
    type: fc.constant('command.result'),
    id: fc.option(uuid),
    outcome: fc.constantFrom('done', 'failed', 'malformed', 'replayed'),
    detail: text(60),
    backend: fc.option(text(10)),
  }),
  fc.record({ v: fc.constant(1), type: fc.constant('activity'), now: activityNow }),
  fc.record({ v: fc.constant(1), type: fc.constant('power'), state: fc.constantFrom('awake', 'suspending') }),
  fc.record({ v: fc.constant(1), type: fc.constant('aup.query'), user: fc.string({ minLength: 1, maxLength: 20 }), aupHash: hex64 }),
) as fc.Arbitrary<Json>;
export const consoleFrame: fc.Arbitrary<Json> = fc.oneof(
  fc.record({ v: fc.constant(1), type: fc.constant('challenge'), nonce: nonce43, consoleKeyId: keyId, serverTime: isoDate }),
  fc.record({
    v: fc.constant(1),
    type: fc.constant('auth.ok'),
    deviceId: uuid,
    signature: sig,
    heartbeatSeconds: fc.integer({ min: 1, max: 3600 }),
    pingSeconds: fc.integer({ min: 1, max: 3600 }),
  }),
  fc.record({
    v: fc.constant(1),
    type: fc.constant('auth.error'),
    code: fc.constantFrom('unknown-device', 'revoked', 'timeout', 'rate-limited'),
    message: text(60),
  }),
  fc.record({ v: fc.constant(1), type: fc.constant('events.ack'), seqs: fc.array(fc.integer({ min: 1, max: 2 ** 40 }), { maxLength: 20 }) }),
  fc.record({ v: fc.constant(1), type: fc.constant('policy'), bundle: fc.jsonValue({ maxDepth: 3 }) }),
  fc.record({ v: fc.constant(1), type: fc.constant('aup'), aup: fc.jsonValue({ maxDepth: 3 }) }),
  fc.record({ v: fc.constant(1), type: fc.constant('command'), command: fc.jsonValue({ maxDepth: 3 }) }),
  fc.record({ v: fc.constant(1), type: fc.constant('error'), code: fc.constantFrom('malformed', 'invalid', 'too-large', 'rate-limited'), message: text(60) }),
  fc.record({
    v: fc.constant(1),
    type: fc.constant('aup.status'),
    user: fc.string({ minLength: 1, maxLength: 20 }),
    aupHash: hex64,
    accepted: fc.boolean(),
    acceptedAt: fc.option(isoDate),
    refused: fc.option(fc.constantFrom('not-current', 'rate-limited')),
  }),
) as fc.Arbitrary<Json>;

export type FrameParser = (raw: string | Buffer) => { ok: true; message: unknown } | { ok: false; code: string; message: string };

export function frameTarget(name: string, source: string, frame: fc.Arbitrary<Json>, parse: FrameParser): FuzzTarget<string | Buffer> {
  const reparse = (t: string) => {
    const r = parse(t);
    return r.ok ? { ok: true as const, value: r.message } : { ok: false as const, message: `${r.code}: ${r.message}` };
  };
  return {
    name,
    source,
    input: asFrame(frame),
    seeds: fc.sample(frame, { numRuns: 40, seed: 1 }).map((f) => JSON.stringify(f)),
    run(raw) {
      const result = parse(raw);
      if (!result.ok) return { accepted: false, message: `${result.code}: ${result.message}` };
      return { accepted: true, roundTrip: sameAfter(result.message, reparse) };
    },
  };
}

// ---- policy documents and signed bundles ---------------------------------------------------
// bench/fuzz when run by vitest, dist/bench/fuzz when run compiled.
export const twoUp = join(import.meta.dirname, '..', '..');
export const repoRoot = basename(twoUp) === 'dist' ? join(twoUp, '..') : twoUp;
export const policyFiles = readdirSync(join(repoRoot, 'policies'))
  .filter((f) => f.endsWith('.json'))
  .map((f) => JSON.parse(readFileSync(join(repoRoot, 'policies', f), 'utf8')) as Json);
export const policyDocument = fc.constantFrom(...policyFiles);
export const parsePolicyText = (t: string) => jsonThen(PolicyDocumentSchema, t);

export const bundlePayload = fc
  .record({
    kind: fc.constant('vigil.policy-bundle'),
    version: fc.integer({ min: 1, max: 1e9 }),
    issuedAt: fc.constant('2026-12-01T00:00:00.000Z'),
    expiresAt: fc.constantFrom('2027-03-01T00:00:00.000Z', '2026-12-02T00:00:00.000Z'),
    policy: policyDocument,
  })
  .map((p) => PolicyBundlePayloadSchema.parse(p) as Json); // the console signs the document with its defaults filled in
export const privateKeys = new Map([consoleKeys, deviceKeys].map((k) => [k, createPrivateKey(k.privateKeyPem)]));
export const sign = (purpose: 'policy' | 'command' | 'aup', payload: Json, keys = consoleKeys) =>
  ({ payload, signature: signPayload(purpose, payload, privateKeys.get(keys)!, keys.publicKey) }) as unknown as Json;
/** Signed by the right key, over a payload that may be wrong: the check after the signature must hold too. */
export const signedThenShaped = (payload: fc.Arbitrary<Json>, purpose: 'policy' | 'command' | 'aup') =>
  fc.oneof(
    shaped(payload.map((p) => sign(purpose, p))),
    mutated(payload).map((p) => sign(purpose, p)),
    payload.map((p) => sign(purpose, p, deviceKeys)),
  );

// ---- scan flags ----------------------------------------------------------------------------
export const segment = fc.stringMatching(/^[A-Za-z0-9 ._\u00e9\u4e2d-]{1,20}$/).filter((s) => s !== '.' && s !== '..');
export const flagEntry: fc.Arbitrary<FlagFileEntry> = fc.record({
  path: fc.array(segment, { minLength: 1, maxLength: 4 }).map((s) => s.join('/')),
  size: fc.nat({ max: 2 ** 40 }),
  mtimeMs: fc.nat({ max: 2 ** 42 }),
  sha256: hex64,
});
export const scanFlag = fc
  .tuple(fc.uniqueArray(flagEntry, { selector: (e) => e.path, maxLength: 12 }), fc.option(fc.stringMatching(/^[0-9A-F]{4}-[0-9A-F]{4}$/), { nil: null }))
  .filter(([entries]) => !entries.some((e) => e.path === '.vigil-clean-scan.json'))
  .map(
    ([entries, fsUuid]) =>
      signScanFlag(
        {
          station: { id: 'station-1', keyId: keyIdOf(stationKeys.publicKey) },
          scannedAt: '2026-12-01T09:00:00Z',
          expiresAt: '2026-12-08T09:00:00Z',
          volume: { fsUuid: fsUuid ?? '1234-ABCD', fsType: 'vfat', label: 'HOMEWORK', usbSerial: null },
          engine: { name: 'clamav', version: '1.0.7', databaseVersion: '27480', databaseDigest: null },
        },
        entries,
        stationKeys.privateKeyPem,
        stationKeys.publicKey,
      ) as unknown as Json,
  );
