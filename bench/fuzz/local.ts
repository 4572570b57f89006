import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import type { z } from 'zod';
import { LineSplitter } from '../../src/agent/local-ipc/framing.js';
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
import { exportAppLocker } from '../../src/shared/node/appcontrol/applocker.js';
import { ImportError, type RuleImport } from '../../src/shared/appcontrol/import.js';
import { encodeUtf16le } from '../../src/shared/node/appcontrol/xml.js';
import type { AppException, AppRule } from '../../src/shared/app-rules.js';
import { AupPublishRequestSchema } from '../../src/shared/aup.js';
import { CommandRequestSchema, SignedCommandSchema } from '../../src/shared/command.js';
import { ConcernUpdateSchema } from '../../src/shared/concern.js';
import { IPC_LIMITS, ServiceMessageSchema, TrayRequestSchema, TrayResultSchemas, type TrayOp } from '../../src/shared/local-ipc.js';
import { verifyPayload } from '../../src/shared/node/signing.js';
import { summariseZodError } from '../../src/shared/zod-errors.js';
import { hostileString, type Json } from './arbitraries.js';
import { hex64, uuid, isoDate, consoleKeys, sig, keyId, text, jsonThen, pool, asText, Verdict } from './common.js';
import { policyDocument } from './wire.js';

// ---- application-control imports -----------------------------------------------------------
export const ruleId = fc.option(fc.stringMatching(/^[A-Za-z0-9._:-]{1,30}$/), { nil: undefined });
export const description = fc.option(
  fc.oneof(
    text(60),
    hostileString.map((s) => s.slice(0, 500)),
  ),
  { nil: undefined },
);
export const action = fc.constantFrom<'allow' | 'block'>('allow', 'block');
export const appRule: fc.Arbitrary<AppRule> = fc
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
export const appRules = fc.array(appRule, { maxLength: 8 });
// CSV cells are trimmed on import, so a reason is generated without edge spaces (as people write them).
export const exception: fc.Arbitrary<AppException> = fc.record({
  rule: appRule,
  reason: fc.stringMatching(/^[A-Za-z][A-Za-z ,.]{1,38}[A-Za-z.]$/),
  expiresAt: isoDate,
});

/** An importer either returns or throws ImportError (its documented refusal); anything else is a crash. */
export function importVerdict(read: () => RuleImport, again: (r: RuleImport) => RuleImport): Verdict {
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
export const strip = (r: RuleImport) => ({ rules: r.rules, exceptions: r.exceptions });

export const xmlHostile = fc
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
export const appLockerXml = pool(
  fc.tuple(appRules, fc.constantFrom<'monitor' | 'enforce'>('monitor', 'enforce'), fc.boolean()).map(([rules, mode, utf16]) => {
    const { xml } = exportAppLocker({ mode, defaultAction: 'block', rules });
    return utf16 ? encodeUtf16le(xml) : Buffer.from(xml, 'utf8');
  }),
);

// ---- tray IPC ------------------------------------------------------------------------------
export const aupAccept = fc.record({
  typedName: fc.stringMatching(/^[A-Z][a-z]{1,10} [A-Z][a-z]{1,10}$/),
  variant: fc.constantFrom('primary', 'secondary'),
  version: fc.integer({ min: 1, max: 100 }),
  aupHash: hex64,
});
export const trayRequest: fc.Arbitrary<Json> = fc.oneof(
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
export function parseTrayRequestLine(line: string): { ok: true; value: unknown } | { ok: false; message: string } {
  return jsonThen(TrayRequestSchema, line);
}

export type TrayStream = { lines: string[]; cuts: number[] };
export const trayStream: fc.Arbitrary<TrayStream> = fc.record({
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

export function splitLines(chunks: Buffer[]): { lines: string[]; oversize: number } {
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

export const trayResult = fc.oneof(
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
export const serviceLine = fc.oneof(
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
export function parseServiceLine(op: TrayOp, line: string): { ok: true; value: unknown } | { ok: false; message: string } {
  const message = jsonThen(ServiceMessageSchema, line);
  if (!message.ok || message.value.kind !== 'result' || !message.value.ok) return message;
  const result = TrayResultSchemas[op].safeParse(message.value.result);
  return result.success
    ? { ok: true, value: { ...message.value, result: result.data } }
    : { ok: false, message: `the answer to "${op}": ${summariseZodError(result.error)}` };
}

// ---- commands ------------------------------------------------------------------------------
export const DEVICE = '0b8c5f0e-3a3c-4c1e-9f43-5d7a2b1c9e11';
export const commandPayload = fc
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
export function checkCommand(candidate: unknown): { ok: true; value: unknown } | { ok: false; message: string } {
  const parsed = SignedCommandSchema.safeParse(candidate);
  if (!parsed.success) return { ok: false, message: `malformed: ${summariseZodError(parsed.error)}` };
  if (!verifyPayload('command', parsed.data.payload, parsed.data.signature, consoleKeys.publicKey))
    return { ok: false, message: 'bad-signature: not signed by the console this device is enrolled with' };
  return { ok: true, value: parsed.data };
}

// ---- API bodies ----------------------------------------------------------------------------
export const signature = fc.record({ alg: fc.constant('ed25519'), keyId, value: sig });
export const apiBodies: Record<string, { schema: z.ZodType; body: fc.Arbitrary<Json> }> = {
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

export const aupDocument = fc.record({
  kind: fc.constant('vigil.aup'),
  variant: fc.constantFrom('primary', 'secondary'),
  version: fc.integer({ min: 1, max: 100 }),
  title: fc.string({ minLength: 1, maxLength: 60 }),
  markdown: fc.string({ minLength: 1, maxLength: 400 }),
  publishedAt: isoDate,
}) as fc.Arbitrary<Json>;
