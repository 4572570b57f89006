import { createPrivateKey } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import type { z } from 'zod';
import { LineSplitter, encodeLine } from '../../src/agent/local-ipc/framing.js';
import {
  CreateEnrollTokenRequestSchema,
  CreateUserRequestSchema,
  EnrollFileSchema,
  EnrollRequestSchema,
  LoginRequestSchema,
  PolicyPushRequestSchema,
  AppRequestApproveSchema,
  AppRequestDeclineSchema,
  UninstallNoticeSchema,
} from '../../src/shared/api.js';
import { exportAppLocker, importAppLocker } from '../../src/shared/node/appcontrol/applocker.js';
import { exportRulesCsv, importRulesCsv } from '../../src/shared/appcontrol/csv-rules.js';
import { ImportError, type RuleImport } from '../../src/shared/appcontrol/import.js';
import { exportSanta, importSanta } from '../../src/shared/appcontrol/santa.js';
import { encodeUtf16le } from '../../src/shared/node/appcontrol/xml.js';
import type { AppException, AppRule } from '../../src/shared/app-rules.js';
import { AupPublishRequestSchema } from '../../src/shared/aup.js';
import { checkSignedAup, signAup } from '../../src/shared/node/aup-verify.js';
import { CommandRequestSchema, SignedCommandSchema } from '../../src/shared/command.js';
import { ConcernUpdateSchema } from '../../src/shared/concern.js';
import { generateEd25519KeyPair, keyId as keyIdOf } from '../../src/shared/node/crypto.js';
import { IPC_LIMITS, ServiceMessageSchema, TrayRequestSchema, TrayResultSchemas, type TrayOp } from '../../src/shared/local-ipc.js';
import { PolicyBundlePayloadSchema, PolicyDocumentSchema } from '../../src/shared/policy.js';
import { checkPolicyBundle } from '../../src/shared/node/policy-verify.js';
import { parseAgentMessage, parseConsoleMessage } from '../../src/shared/protocol.js';
import { parseScanFlag, signScanFlag, type FlagFileEntry } from '../../src/shared/node/scan-flag.js';
import { signPayload, verifyPayload } from '../../src/shared/node/signing.js';
import { cleanText } from '../../src/shared/text.js';
import { summariseZodError } from '../../src/shared/zod-errors.js';
import { hostileString, mutated, mutatedBytes, mutatedText, nestedText, shaped, type Json } from './arbitraries.js';

/**
 * Every parser that takes input from outside Vigil, as a fuzz target. `run` calls the parser the
 * way its caller does and reports what it said; it throws only when the parser threw something
 * it does not promise to throw (that is a crash). The harness (harness.ts) checks the rest:
 * rejections carry a clear message, accepted input survives a serialise-and-parse round trip.
 */
export type Verdict = { accepted: true; roundTrip?: () => string | null } | { accepted: false; message: string };

export interface FuzzTarget<I = unknown> {
  name: string;
  /** Where the input comes from, for the report. */
  source: string;
  input: fc.Arbitrary<I>;
  /** Valid inputs: each must be accepted (proves the generators start from the right shape). */
  seeds: I[];
  run(input: I): Verdict | Verdict[];
}

const hex64 = fc.stringMatching(/^[0-9a-f]{64}$/);
const uuid = fc.uuid({ version: 4 });
const isoDate = fc.date({ min: new Date('2020-01-01T00:00:00Z'), max: new Date('2035-01-01T00:00:00Z'), noInvalidDate: true }).map((d) => d.toISOString());
const NOW = new Date('2026-12-04T12:00:00.000Z');
const consoleKeys = generateEd25519KeyPair();
const deviceKeys = generateEd25519KeyPair();
const stationKeys = generateEd25519KeyPair();
const nonce43 = fc.stringMatching(/^[A-Za-z0-9_-]{43}$/);
const sig = fc.stringMatching(/^[A-Za-z0-9+/]{86}==$/);
const keyId = fc.stringMatching(/^[0-9a-f]{16}$/);
const text = (max: number) => fc.string({ unit: 'grapheme', maxLength: max });

/** Round trip: what was accepted, serialised and parsed again, is accepted and unchanged. */
function sameAfter<T>(value: T, reparse: (text: string) => { ok: true; value: T } | { ok: false; message: string }): () => string | null {
  return () => {
    const again = reparse(JSON.stringify(value));
    if (!again.ok) return `accepted, but its own serialisation is refused: ${again.message}`;
    // Compared as sent on the wire: JSON has no -0 (a -0 that passed `min(0)` comes back as 0).
    return JSON.stringify(again.value) === JSON.stringify(value) ? null : 'accepted, but serialising and parsing again changed it';
  };
}

function jsonThen<S extends z.ZodType>(schema: S, raw: string): { ok: true; value: z.infer<S> } | { ok: false; message: string } {
  let data: unknown;
  try {
    data = JSON.parse(raw);
  } catch (error) {
    return { ok: false, message: `not JSON: ${cleanText((error as Error).message, 120)}` };
  }
  const parsed = schema.safeParse(data);
  return parsed.success ? { ok: true, value: parsed.data } : { ok: false, message: summariseZodError(parsed.error) };
}

function verdictOf<T>(
  result: { ok: true; value: T } | { ok: false; message: string },
  reparse?: (text: string) => { ok: true; value: T } | { ok: false; message: string },
): Verdict {
  if (!result.ok) return { accepted: false, message: result.message };
  return reparse ? { accepted: true, roundTrip: sameAfter(result.value, reparse) } : { accepted: true };
}

const samples = <T>(arb: fc.Arbitrary<T>, n = 20) => fc.sample(arb, { numRuns: n, seed: 7 });
/**
 * Valid documents that are slow to make (signed, Merkle-hashed, exported) are made once, a few
 * hundred of them, and then mutated case by case: the run spends its time parsing, not signing.
 */
const pool = <T>(arb: fc.Arbitrary<T>, n = 300) => fc.constantFrom(...fc.sample(arb, { numRuns: n, seed: 11 }));

/** Text of shaped values, then mutated as text (and as bytes where the reader takes bytes). */
const asText = (value: fc.Arbitrary<Json>) => mutatedText(shaped(value).map((v) => JSON.stringify(v) ?? 'null'));
/** Deep nesting up to a full frame (256 KiB holds about 120,000 levels): rare, it costs V8 ~100 ms each. */
const deepFrame = fc
  .integer({ min: 1_000, max: 120_000 })
  .map(
    (n) =>
      `{"v":1,"type":"events","events":[{"id":"7b6f0d7e-8d4b-4d59-9a55-0b3a3a1e7c11","seq":1,"at":"2026-12-04T12:00:00Z","type":"diagnostic.test","data":${nestedText(n)}}]}`,
  );
const asFrame = (value: fc.Arbitrary<Json>) =>
  fc.oneof(
    { weight: 100, arbitrary: asText(value) },
    { weight: 100, arbitrary: mutatedBytes(shaped(value).map((v) => JSON.stringify(v) ?? 'null')) },
    { weight: 1, arbitrary: deepFrame },
  );

// ---- protocol frames ----------------------------------------------------------------------
const status = fc.record({
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
const window = fc.record({ app: text(30), title: fc.option(text(60)), url: fc.option(text(60)), path: fc.option(text(60)) });
const activityNow = fc.record({
  collecting: fc.boolean(),
  mode: fc.constantFrom('full', 'app-only', 'off'),
  pausedReason: fc.option(fc.constantFrom('policy-off', 'wayland', 'no-session', 'error')),
  window: fc.option(window),
  since: fc.option(isoDate),
  idleSeconds: fc.option(fc.nat()),
  locked: fc.option(fc.boolean()),
});
const eventEnvelope = fc.record({
  id: uuid,
  seq: fc.integer({ min: 1, max: 2 ** 40 }),
  at: isoDate,
  type: fc.constantFrom('diagnostic.test', 'app.blocked', 'policy.applied', 'from.the.future'),
  data: fc.oneof(fc.record({ note: text(40), n: fc.nat() }), fc.jsonValue({ maxDepth: 4 })),
});
const agentFrame: fc.Arbitrary<Json> = fc.oneof(
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
const consoleFrame: fc.Arbitrary<Json> = fc.oneof(
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

type FrameParser = (raw: string | Buffer) => { ok: true; message: unknown } | { ok: false; code: string; message: string };

function frameTarget(name: string, source: string, frame: fc.Arbitrary<Json>, parse: FrameParser): FuzzTarget<string | Buffer> {
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
const twoUp = join(import.meta.dirname, '..', '..');
const repoRoot = basename(twoUp) === 'dist' ? join(twoUp, '..') : twoUp;
const policyFiles = readdirSync(join(repoRoot, 'policies'))
  .filter((f) => f.endsWith('.json'))
  .map((f) => JSON.parse(readFileSync(join(repoRoot, 'policies', f), 'utf8')) as Json);
const policyDocument = fc.constantFrom(...policyFiles);
const parsePolicyText = (t: string) => jsonThen(PolicyDocumentSchema, t);

const bundlePayload = fc
  .record({
    kind: fc.constant('vigil.policy-bundle'),
    version: fc.integer({ min: 1, max: 1e9 }),
    issuedAt: fc.constant('2026-12-01T00:00:00.000Z'),
    expiresAt: fc.constantFrom('2027-03-01T00:00:00.000Z', '2026-12-02T00:00:00.000Z'),
    policy: policyDocument,
  })
  .map((p) => PolicyBundlePayloadSchema.parse(p) as Json); // the console signs the document with its defaults filled in
const privateKeys = new Map([consoleKeys, deviceKeys].map((k) => [k, createPrivateKey(k.privateKeyPem)]));
const sign = (purpose: 'policy' | 'command' | 'aup', payload: Json, keys = consoleKeys) =>
  ({ payload, signature: signPayload(purpose, payload, privateKeys.get(keys)!, keys.publicKey) }) as unknown as Json;
/** Signed by the right key, over a payload that may be wrong: the check after the signature must hold too. */
const signedThenShaped = (payload: fc.Arbitrary<Json>, purpose: 'policy' | 'command' | 'aup') =>
  fc.oneof(
    shaped(payload.map((p) => sign(purpose, p))),
    mutated(payload).map((p) => sign(purpose, p)),
    payload.map((p) => sign(purpose, p, deviceKeys)),
  );

// ---- scan flags ----------------------------------------------------------------------------
const segment = fc.stringMatching(/^[A-Za-z0-9 ._\u00e9\u4e2d-]{1,20}$/).filter((s) => s !== '.' && s !== '..');
const flagEntry: fc.Arbitrary<FlagFileEntry> = fc.record({
  path: fc.array(segment, { minLength: 1, maxLength: 4 }).map((s) => s.join('/')),
  size: fc.nat({ max: 2 ** 40 }),
  mtimeMs: fc.nat({ max: 2 ** 42 }),
  sha256: hex64,
});
const scanFlag = fc
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

// ---- application-control imports -----------------------------------------------------------
const ruleId = fc.option(fc.stringMatching(/^[A-Za-z0-9._:-]{1,30}$/), { nil: undefined });
const description = fc.option(
  fc.oneof(
    text(60),
    hostileString.map((s) => s.slice(0, 500)),
  ),
  { nil: undefined },
);
const action = fc.constantFrom<'allow' | 'block'>('allow', 'block');
const appRule: fc.Arbitrary<AppRule> = fc
  .oneof(
    fc.record({ kind: fc.constant('sha256' as const), sha256: hex64, action, id: ruleId, description }),
    fc.record({
      kind: fc.constant('authenticode-sha256' as const),
      hash: hex64,
      fileName: fc.option(fc.stringMatching(/^[A-Za-z0-9 ._-]{1,40}$/), { nil: undefined }),
      action,
      id: ruleId,
      description,
    }),
    fc.record({
      kind: fc.constant('signer' as const),
      publisher: fc.stringMatching(/^[A-Z][A-Za-z0-9 =,.]{0,60}$/),
      product: fc.option(fc.stringMatching(/^[A-Z][A-Za-z0-9 ]{0,20}$/), { nil: undefined }),
      binaryName: fc.option(fc.stringMatching(/^[A-Z][A-Za-z0-9.]{0,20}$/), { nil: undefined }),
      action,
      id: ruleId,
      description,
    }),
    fc.record({
      kind: fc.constant('signer' as const),
      teamId: fc.stringMatching(/^[A-Z0-9]{10}$/),
      signingId: fc.option(fc.stringMatching(/^[a-z][a-z0-9.]{0,30}$/), { nil: undefined }),
      action,
      id: ruleId,
      description,
    }),
    fc.record({
      kind: fc.constant('path' as const),
      platform: fc.constant('posix' as const),
      pattern: fc.stringMatching(/^\/[A-Za-z0-9*?/._ -]{1,60}$/),
      action,
      id: ruleId,
      description,
    }),
    fc.record({
      kind: fc.constant('path' as const),
      platform: fc.constant('windows' as const),
      pattern: fc.stringMatching(/^(%PROGRAMFILES%|C:)\\[A-Za-z0-9*?\\._ -]{1,60}$/),
      action,
      id: ruleId,
      description,
    }),
  )
  .map((r) => Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined)) as unknown as AppRule);
const appRules = fc.array(appRule, { maxLength: 8 });
// CSV cells are trimmed on import, so a reason is generated without edge spaces (as people write them).
const exception: fc.Arbitrary<AppException> = fc.record({
  rule: appRule,
  reason: fc.stringMatching(/^[A-Za-z][A-Za-z ,.]{1,38}[A-Za-z.]$/),
  expiresAt: isoDate,
});

/** An importer either returns or throws ImportError (its documented refusal); anything else is a crash. */
function importVerdict(read: () => RuleImport, again: (r: RuleImport) => RuleImport): Verdict {
  let first: RuleImport;
  try {
    first = read();
  } catch (error) {
    if (error instanceof ImportError) return { accepted: false, message: error.message };
    throw error;
  }
  return {
    accepted: true,
    // Export then import reaches a fixed point after one pass (ids and descriptions settle).
    roundTrip: () => {
      try {
        const second = again(first);
        const third = again(second);
        return isDeepStrictEqual(strip(second), strip(third)) ? null : 'export then import does not settle: a second pass changed the rules';
      } catch (error) {
        return `its own export is refused: ${(error as Error).message.slice(0, 200)}`;
      }
    },
  };
}
const strip = (r: RuleImport) => ({ rules: r.rules, exceptions: r.exceptions });

const xmlHostile = fc
  .oneof(
    fc.integer({ min: 60, max: 5000 }).map((n) => `<AppLockerPolicy>${'<a>'.repeat(n)}${'</a>'.repeat(n)}</AppLockerPolicy>`),
    fc.constant('<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]><AppLockerPolicy>&b;</AppLockerPolicy>'),
    fc.constant('<!DOCTYPE r SYSTEM "file:///etc/passwd"><AppLockerPolicy/>'),
    fc.integer({ min: 1, max: 20_000 }).map((n) => `<AppLockerPolicy ${Array.from({ length: n }, (_, i) => `a${i}="x"`).join(' ')}/>`),
    fc.integer({ min: 1, max: 200_000 }).map((n) => `<AppLockerPolicy>${'&amp;'.repeat(n)}&#x110000;</AppLockerPolicy>`),
    fc
      .string({ unit: 'binary', maxLength: 100 })
      .map((s) => `<AppLockerPolicy Version="1"><RuleCollection Type="Exe" EnforcementMode="${s}"/></AppLockerPolicy>`),
  )
  .map((t) => Buffer.from(t, 'utf8'));
const appLockerXml = pool(
  fc.tuple(appRules, fc.constantFrom<'monitor' | 'enforce'>('monitor', 'enforce'), fc.boolean()).map(([rules, mode, utf16]) => {
    const { xml } = exportAppLocker({ mode, defaultAction: 'block', rules });
    return utf16 ? encodeUtf16le(xml) : Buffer.from(xml, 'utf8');
  }),
);

// ---- tray IPC ------------------------------------------------------------------------------
const aupAccept = fc.record({
  typedName: fc.stringMatching(/^[A-Z][a-z]{1,10} [A-Z][a-z]{1,10}$/),
  variant: fc.constantFrom('primary', 'secondary'),
  version: fc.integer({ min: 1, max: 100 }),
  aupHash: hex64,
});
const trayRequest: fc.Arbitrary<Json> = fc.oneof(
  fc.record({ id: fc.nat({ max: 2 ** 31 }), op: fc.constant('hello'), trayVersion: text(20) }),
  fc.record({ id: fc.nat({ max: 2 ** 31 }), op: fc.constantFrom('status', 'aup.decide', 'aup.decline', 'lock.now') }),
  fc.record({ id: fc.nat({ max: 2 ** 31 }), op: fc.constant('aup.accept'), request: aupAccept }),
  fc.record({
    id: fc.nat({ max: 2 ** 31 }),
    op: fc.constant('concern.report'),
    submission: fc.record({
      category: fc.constantFrom('about-me', 'other'),
      text: fc.stringMatching(/^[A-Za-z][A-Za-z .,]{0,80}$/),
      wantsContact: fc.boolean(),
    }),
  }),
  fc.record({
    id: fc.nat({ max: 2 ** 31 }),
    op: fc.constant('app.request'),
    ask: fc.record({ name: text(30), path: text(60), sha256: hex64, signer: text(30), reason: fc.option(text(60)) }),
  }),
  fc.record({ id: fc.nat({ max: 2 ** 31 }), op: fc.constant('power.report'), state: fc.constantFrom('awake', 'suspending') }),
  fc.record({
    id: fc.nat({ max: 2 ** 31 }),
    op: fc.constant('idle.report'),
    idleSeconds: fc.nat({ max: 366 * 86_400 }),
    state: fc.constantFrom('active', 'idle', 'locked', 'unknown'),
  }),
) as fc.Arbitrary<Json>;

/** How the service reads a request line (src/agent/local-ipc/server.ts onLine). */
function parseTrayRequestLine(line: string): { ok: true; value: unknown } | { ok: false; message: string } {
  return jsonThen(TrayRequestSchema, line);
}

type TrayStream = { lines: string[]; cuts: number[] };
const trayStream: fc.Arbitrary<TrayStream> = fc.record({
  lines: fc.array(
    fc.oneof(
      { weight: 8, arbitrary: asText(trayRequest) },
      {
        weight: 1,
        arbitrary: fc
          .integer({ min: IPC_LIMITS.requestLineBytes - 100, max: IPC_LIMITS.requestLineBytes + 100 })
          .map((n) => `{"id":1,"op":"hello","trayVersion":"${'x'.repeat(n)}"}`),
      },
      { weight: 1, arbitrary: fc.constantFrom('', '\r', '   ', '\u0000', '{"id":1,"op":"status"}\r') },
    ),
    { minLength: 1, maxLength: 6 },
  ),
  cuts: fc.array(fc.nat(), { maxLength: 8 }),
});

function splitLines(chunks: Buffer[]): { lines: string[]; oversize: number } {
  const lines: string[] = [];
  let oversize = 0;
  const splitter = new LineSplitter(
    IPC_LIMITS.requestLineBytes,
    (l) => lines.push(l),
    () => oversize++,
  );
  for (const chunk of chunks) splitter.push(chunk);
  return { lines, oversize };
}

const trayResult = fc.oneof(
  fc.record({ op: fc.constant<TrayOp>('hello'), result: fc.record({ user: text(20), sessionUser: fc.boolean() }) }),
  fc.record({ op: fc.constant<TrayOp>('lock.now'), result: fc.record({ locked: fc.boolean(), detail: text(60) }) }),
  fc.record({ op: fc.constant<TrayOp>('power.report'), result: fc.record({ sent: fc.boolean() }) }),
  fc.record({ op: fc.constant<TrayOp>('idle.report'), result: fc.constant({ recorded: true }) }),
  fc.record({ op: fc.constant<TrayOp>('aup.accept'), result: fc.oneof(fc.constant({ ok: true }), fc.record({ ok: fc.constant(false), message: text(60) })) }),
  fc.record({
    op: fc.constant<TrayOp>('status'),
    result: fc.record({
      user: text(20),
      mode: fc.constantFrom('service', 'user'),
      consoleConnected: fc.boolean(),
      policyVersion: fc.option(fc.integer({ min: 1, max: 1000 })),
      aupNeeded: fc.boolean(),
      monitoring: fc.record({ appControl: fc.constant(null), idleLockSeconds: fc.option(fc.nat()), activity: fc.constant(null), usbControl: fc.boolean() }),
    }),
  }),
);
const serviceLine = fc.oneof(
  trayResult.map(({ op, result }) => ({ op, message: { kind: 'result', id: 7, ok: true, result } as Json })),
  fc.record({
    op: fc.constant<TrayOp>('status'),
    message: fc.record({
      kind: fc.constant('result'),
      id: fc.option(fc.nat({ max: 2 ** 31 })),
      ok: fc.constant(false),
      code: fc.constantFrom('malformed', 'busy', 'failed'),
      message: text(60),
    }) as fc.Arbitrary<Json>,
  }),
  fc.record({
    op: fc.constant<TrayOp>('status'),
    message: fc.record({ kind: fc.constant('notice'), notice: fc.constant('session.warning'), text: text(60) }) as fc.Arbitrary<Json>,
  }),
);

/** How the tray reads a service line (src/agent/local-ipc/client.ts onLine), for a call of `op`. */
function parseServiceLine(op: TrayOp, line: string): { ok: true; value: unknown } | { ok: false; message: string } {
  const message = jsonThen(ServiceMessageSchema, line);
  if (!message.ok || message.value.kind !== 'result' || !message.value.ok) return message;
  const result = TrayResultSchemas[op].safeParse(message.value.result);
  return result.success
    ? { ok: true, value: { ...message.value, result: result.data } }
    : { ok: false, message: `the answer to "${op}": ${summariseZodError(result.error)}` };
}

// ---- commands ------------------------------------------------------------------------------
const DEVICE = '0b8c5f0e-3a3c-4c1e-9f43-5d7a2b1c9e11';
const commandPayload = fc
  .record({
    id: uuid,
    action: fc.constantFrom('lock', 'logoff', 'message'),
    issuedAt: fc.constant('2026-12-04T11:59:00.000Z'),
    lifetime: fc.integer({ min: 5, max: 600 }),
    text: text(80).filter((t) => t.length > 0),
    nonce: fc.stringMatching(/^[A-Za-z0-9_-]{22}$/),
  })
  .map(({ lifetime, text: t, ...c }) => ({
    kind: 'vigil.command',
    ...c,
    deviceId: DEVICE,
    issuedBy: 'tech1',
    expiresAt: new Date(Date.parse(c.issuedAt) + lifetime * 1000).toISOString(),
    ...(c.action === 'message' ? { text: t } : {}),
  })) as fc.Arbitrary<Json>;

/** The shared half of the agent's command check: the signed-command schema and the signature. */
function checkCommand(candidate: unknown): { ok: true; value: unknown } | { ok: false; message: string } {
  const parsed = SignedCommandSchema.safeParse(candidate);
  if (!parsed.success) return { ok: false, message: `malformed: ${summariseZodError(parsed.error)}` };
  if (!verifyPayload('command', parsed.data.payload, parsed.data.signature, consoleKeys.publicKey))
    return { ok: false, message: 'bad-signature: not signed by the console this device is enrolled with' };
  return { ok: true, value: parsed.data };
}

// ---- API bodies ----------------------------------------------------------------------------
const signature = fc.record({ alg: fc.constant('ed25519'), keyId, value: sig });
const apiBodies: Record<string, { schema: z.ZodType; body: fc.Arbitrary<Json> }> = {
  login: {
    schema: LoginRequestSchema,
    body: fc.record({ username: fc.stringMatching(/^[a-z][a-z0-9.]{1,20}$/), password: fc.string({ minLength: 12, maxLength: 40 }) }) as fc.Arbitrary<Json>,
  },
  'create-user': {
    schema: CreateUserRequestSchema,
    body: fc.record({
      username: fc.stringMatching(/^[a-z][a-z0-9.]{1,20}$/),
      password: fc.string({ minLength: 12, maxLength: 40 }),
      role: fc.constantFrom('admin', 'systems_manager', 'technician', 'safeguarding_lead'),
    }) as fc.Arbitrary<Json>,
  },
  enroll: {
    schema: EnrollRequestSchema,
    body: fc.record({
      token: fc.stringMatching(/^[A-Za-z0-9_-]{16,60}$/),
      payload: fc.record({
        deviceId: uuid,
        publicKey: fc.stringMatching(/^[A-Za-z0-9+/]{43}=$/),
        hostname: text(40),
        platform: fc.constantFrom('linux', 'win32', 'darwin', 'other'),
        machineIdHint: fc.option(hex64),
        requestedAt: isoDate,
      }),
      signature,
    }) as fc.Arbitrary<Json>,
  },
  'enroll-token': {
    schema: CreateEnrollTokenRequestSchema,
    body: fc.record(
      { label: text(40), expiresInHours: fc.integer({ min: 1, max: 8760 }), maxUses: fc.option(fc.integer({ min: 1, max: 100_000 })) },
      { requiredKeys: ['label'] },
    ) as fc.Arbitrary<Json>,
  },
  'policy-push': {
    schema: PolicyPushRequestSchema,
    body: fc.record({ policy: policyDocument, expiresInDays: fc.integer({ min: 1, max: 365 }) }, { requiredKeys: ['policy'] }) as fc.Arbitrary<Json>,
  },
  'app-approve': {
    schema: AppRequestApproveSchema,
    body: fc.record(
      {
        by: fc.constantFrom('hash', 'signer'),
        expiresAt: isoDate,
        groups: fc.array(fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,20}$/), { minLength: 1, maxLength: 4 }),
        note: text(60),
      },
      { requiredKeys: [] },
    ) as fc.Arbitrary<Json>,
  },
  'app-decline': { schema: AppRequestDeclineSchema, body: fc.record({ note: text(60) }, { requiredKeys: [] }) as fc.Arbitrary<Json> },
  command: {
    schema: CommandRequestSchema,
    body: fc.oneof(
      fc.record({ action: fc.constantFrom('lock', 'logoff'), expiresInSeconds: fc.integer({ min: 5, max: 600 }) }),
      fc.record({ action: fc.constant('message'), text: fc.string({ minLength: 1, maxLength: 80 }) }),
    ) as fc.Arbitrary<Json>,
  },
  'concern-update': {
    schema: ConcernUpdateSchema,
    body: fc.record({ status: fc.constantFrom('new', 'in-progress', 'closed'), note: text(80) }, { requiredKeys: ['status'] }) as fc.Arbitrary<Json>,
  },
  'aup-publish': {
    schema: AupPublishRequestSchema,
    body: fc.record({
      variant: fc.constantFrom('primary', 'secondary', 'staff'),
      title: fc.string({ minLength: 1, maxLength: 60 }),
      markdown: fc.string({ minLength: 1, maxLength: 400 }),
    }) as fc.Arbitrary<Json>,
  },
  uninstall: {
    schema: UninstallNoticeSchema,
    body: fc.record({ payload: fc.record({ deviceId: uuid, reason: fc.constant('package-removed'), sentAt: isoDate }), signature }) as fc.Arbitrary<Json>,
  },
  'enroll-file': {
    schema: EnrollFileSchema,
    body: fc.record({
      consoleUrl: fc.constantFrom('https://console.school.example', 'http://127.0.0.1:8080'),
      enrollToken: fc.stringMatching(/^[A-Za-z0-9_-]{16,60}$/),
    }) as fc.Arbitrary<Json>,
  },
};

const aupDocument = fc.record({
  kind: fc.constant('vigil.aup'),
  variant: fc.constantFrom('primary', 'secondary'),
  version: fc.integer({ min: 1, max: 100 }),
  title: fc.string({ minLength: 1, maxLength: 60 }),
  markdown: fc.string({ minLength: 1, maxLength: 400 }),
  publishedAt: isoDate,
}) as fc.Arbitrary<Json>;

export const TARGETS: FuzzTarget<any>[] = [
  frameTarget('protocol.agent-frames', 'agent -> console WebSocket frames (parseAgentMessage)', agentFrame, parseAgentMessage),
  frameTarget('protocol.console-frames', 'console -> agent WebSocket frames (parseConsoleMessage)', consoleFrame, parseConsoleMessage),
  {
    name: 'policy.document',
    source: 'policy documents (vigil policy validate / push: JSON text, PolicyDocumentSchema)',
    input: asText(policyDocument),
    seeds: policyFiles.map((p) => JSON.stringify(p)),
    run: (t: string) => verdictOf(parsePolicyText(t), parsePolicyText),
  } satisfies FuzzTarget<string>,
  (() => {
    const check = (candidate: unknown) => {
      const r = checkPolicyBundle(candidate, { trustedKey: consoleKeys.publicKey, heldVersion: 5, now: NOW });
      return r.ok ? { ok: true as const, value: r.bundle } : { ok: false as const, message: `${r.reason}: ${r.detail}` };
    };
    return {
      name: 'policy.signed-bundle',
      source: 'signed policy bundles (checkPolicyBundle: schema, signature, expiry, rollback)',
      input: signedThenShaped(pool(bundlePayload), 'policy'),
      seeds: samples(
        bundlePayload
          .filter((p) => (p as { version: number }).version >= 5 && (p as { expiresAt: string }).expiresAt > NOW.toISOString())
          .map((p) => sign('policy', p)),
      ),
      run: (b: Json) => verdictOf(check(b), (t) => check(JSON.parse(t))),
    } satisfies FuzzTarget<Json>;
  })(),
  (() => {
    const check = (candidate: unknown) => {
      const r = checkSignedAup(candidate, consoleKeys.publicKey);
      return r.ok ? { ok: true as const, value: r.aup } : { ok: false as const, message: `${r.reason}: ${r.detail}` };
    };
    return {
      name: 'aup.signed',
      source: 'signed AUP documents (checkSignedAup)',
      input: signedThenShaped(aupDocument, 'aup'),
      seeds: samples(aupDocument.map((d) => signAup(d as never, consoleKeys.privateKeyPem, consoleKeys.publicKey) as unknown as Json)),
      run: (b: Json) => verdictOf(check(b), (t) => check(JSON.parse(t))),
    } satisfies FuzzTarget<Json>;
  })(),
  {
    name: 'command.signed',
    source: 'console-signed commands (SignedCommandSchema + signature, as the agent checks them)',
    input: signedThenShaped(commandPayload, 'command'),
    seeds: samples(commandPayload.map((p) => sign('command', p))),
    run: (c: Json) => verdictOf(checkCommand(c), (t) => checkCommand(JSON.parse(t))),
  } satisfies FuzzTarget<Json>,
  (() => {
    const flagText = pool(scanFlag.map((f) => JSON.stringify(f)));
    const reparse = (t: string | Buffer) => {
      const r = parseScanFlag(t);
      return r.ok ? { ok: true as const, value: r.flag } : { ok: false as const, message: r.detail };
    };
    return {
      name: 'scan-flag',
      source: 'clean-scan flag files on a drive (parseScanFlag)',
      input: fc.oneof(
        { weight: 100, arbitrary: mutatedBytes(flagText) },
        { weight: 100, arbitrary: asText(pool(scanFlag)) },
        { weight: 1, arbitrary: fc.integer({ min: 1000, max: 100_000 }).map((n) => `{"format":"vigil-clean-scan","v":1,"files":${nestedText(n)}}`) },
      ),
      seeds: samples(flagText),
      run: (raw: string | Buffer) => verdictOf(reparse(raw), reparse),
    } satisfies FuzzTarget<string | Buffer>;
  })(),
  {
    name: 'appcontrol.applocker-xml',
    source: 'AppLocker policy XML (vigil apps import --format applocker)',
    input: fc.oneof(
      {
        weight: 100,
        arbitrary: fc.oneof(appLockerXml, mutatedBytes(appLockerXml.map((b) => (b[0] === 0xff ? b.subarray(2).toString('utf16le') : b.toString('utf8'))))),
      },
      { weight: 2, arbitrary: xmlHostile },
    ),
    seeds: samples(appLockerXml),
    run: (bytes: Buffer) =>
      importVerdict(
        () => importAppLocker(bytes),
        (r) => importAppLocker(encodeUtf16le(exportAppLocker({ mode: r.mode ?? 'monitor', defaultAction: 'block', rules: r.rules }).xml)),
      ),
  } satisfies FuzzTarget<Buffer>,
  (() => {
    const santaJson = appRules.map((rules) => exportSanta(rules).json);
    const santaShaped = fc.oneof(
      { weight: 100, arbitrary: asText(santaJson.map((j) => JSON.parse(j) as Json)) },
      { weight: 100, arbitrary: mutatedText(santaJson) },
      { weight: 1, arbitrary: fc.integer({ min: 65, max: 100_000 }).map((n) => `{"rules":[${nestedText(n)}]}`) },
    );
    return {
      name: 'appcontrol.santa-json',
      source: 'Santa rules JSON (vigil apps import --format santa)',
      input: santaShaped,
      seeds: samples(santaJson),
      run: (t: string) =>
        importVerdict(
          () => importSanta(t),
          (r) => importSanta(exportSanta(r.rules).json),
        ),
    } satisfies FuzzTarget<string>;
  })(),
  (() => {
    const csv = fc.tuple(appRules, fc.array(exception, { maxLength: 3 })).map(([rules, exceptions]) => exportRulesCsv(rules, exceptions));
    return {
      name: 'appcontrol.rules-csv',
      source: 'rules CSV (vigil apps import --format csv)',
      input: fc.oneof(mutatedText(csv), fc.string({ unit: fc.constantFrom('"', ',', '\r', '\n', 'a', "'", '=', ';'), maxLength: 200 })),
      seeds: samples(csv),
      run: (t: string) =>
        importVerdict(
          () => importRulesCsv(t),
          (r) => importRulesCsv(exportRulesCsv(r.rules, r.exceptions)),
        ),
    } satisfies FuzzTarget<string>;
  })(),
  {
    name: 'tray-ipc.requests',
    source: 'tray -> service lines on the local socket (LineSplitter + TrayRequestSchema, as the service reads them)',
    input: trayStream,
    seeds: samples(trayRequest).map((r) => ({ lines: [JSON.stringify(r)], cuts: [3] })),
    run({ lines, cuts }: TrayStream) {
      const stream = Buffer.from(lines.join('\n') + '\n', 'utf8');
      const points = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
      const chunks = [0, ...points].map((p, i, all) => stream.subarray(p, all[i + 1] ?? stream.length));
      const whole = splitLines([stream]);
      const cut = splitLines(chunks);
      // Where a chunk ends must not change what is read: a cut inside a UTF-8 character included.
      if (!isDeepStrictEqual(whole, cut)) throw new Error('the lines read depend on where the stream was cut');
      const tooLong = whole.lines.find((l) => Buffer.byteLength(l) > IPC_LIMITS.requestLineBytes);
      if (tooLong) throw new Error(`a line of ${Buffer.byteLength(tooLong)} bytes got through the ${IPC_LIMITS.requestLineBytes}-byte limit`);
      // Counted on the bytes between newlines (a generated line may itself hold a newline).
      let expectedOversize = 0;
      for (let at = 0; at < stream.length;) {
        const nl = stream.indexOf(0x0a, at);
        if ((nl === -1 ? stream.length : nl) - at > IPC_LIMITS.requestLineBytes) expectedOversize++;
        at = nl === -1 ? stream.length : nl + 1;
      }
      if (whole.oversize !== expectedOversize) throw new Error(`${expectedOversize} over-long lines sent, ${whole.oversize} reported`);
      return whole.lines.map((l) =>
        verdictOf(parseTrayRequestLine(l), (t) => {
          const again = splitLines([Buffer.from(encodeLine(JSON.parse(t)))]);
          return again.lines.length === 1 ? parseTrayRequestLine(again.lines[0]!) : { ok: false, message: `encodeLine made ${again.lines.length} lines` };
        }),
      );
    },
  } satisfies FuzzTarget<TrayStream>,
  {
    name: 'tray-ipc.service-lines',
    source: 'service -> tray lines (ServiceMessageSchema + TrayResultSchemas, as the tray reads them)',
    input: fc
      .tuple(
        fc.constantFrom<TrayOp>('hello', 'status', 'lock.now', 'aup.accept', 'power.report', 'idle.report'),
        fc.oneof(
          serviceLine.map((s) => s.message),
          trayResult.map((r) => r.result as Json),
        ),
      )
      .chain(([op, m]) => asText(fc.constant(m)).map((line) => ({ op, line }))),
    seeds: samples(serviceLine).map(({ op, message }) => ({ op, line: JSON.stringify(message) })),
    run: ({ op, line }: { op: TrayOp; line: string }) => verdictOf(parseServiceLine(op, line), (t) => parseServiceLine(op, t)),
  } satisfies FuzzTarget<{ op: TrayOp; line: string }>,
  ...Object.entries(apiBodies).map(([name, { schema, body }]): FuzzTarget<string> => ({
    name: `api.${name}`,
    source: `HTTP API request body (${name})`,
    input: fc.oneof(
      { weight: 200, arbitrary: asText(body) },
      { weight: 1, arbitrary: fc.integer({ min: 1000, max: 100_000 }).map((n) => `${'{"a":'.repeat(n)}0${'}'.repeat(n)}`) },
    ),
    seeds: samples(body).map((b) => JSON.stringify(b)),
    run: (t) => verdictOf(jsonThen(schema, t), (again) => jsonThen(schema, again)),
  })),
];
