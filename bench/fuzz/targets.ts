import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { encodeLine } from '../../src/agent/local-ipc/framing.js';
import { exportAppLocker, importAppLocker } from '../../src/shared/node/appcontrol/applocker.js';
import { exportRulesCsv, importRulesCsv } from '../../src/shared/appcontrol/csv-rules.js';
import { exportSanta, importSanta } from '../../src/shared/appcontrol/santa.js';
import { encodeUtf16le } from '../../src/shared/node/appcontrol/xml.js';
import { checkSignedAup, signAup } from '../../src/shared/node/aup-verify.js';
import { IPC_LIMITS, type TrayOp } from '../../src/shared/local-ipc.js';
import { checkPolicyBundle } from '../../src/shared/node/policy-verify.js';
import { parseAgentMessage, parseConsoleMessage } from '../../src/shared/protocol.js';
import { parseScanFlag } from '../../src/shared/node/scan-flag.js';
import { mutatedBytes, mutatedText, nestedText, type Json } from './arbitraries.js';
import { NOW, consoleKeys, jsonThen, verdictOf, samples, pool, asText, FuzzTarget } from './common.js';
import {
  agentFrame,
  consoleFrame,
  frameTarget,
  policyFiles,
  policyDocument,
  parsePolicyText,
  bundlePayload,
  sign,
  signedThenShaped,
  scanFlag,
} from './wire.js';
import {
  appRules,
  exception,
  importVerdict,
  xmlHostile,
  appLockerXml,
  trayRequest,
  parseTrayRequestLine,
  TrayStream,
  trayStream,
  splitLines,
  trayResult,
  serviceLine,
  parseServiceLine,
  commandPayload,
  checkCommand,
  apiBodies,
  aupDocument,
} from './local.js';

/**
 * Every parser that takes input from outside Vigil, as a fuzz target. `run` calls the parser the
 * way its caller does and reports what it said; it throws only when the parser threw something
 * it does not promise to throw (that is a crash). The harness (harness.ts) checks the rest:
 * rejections carry a clear message, accepted input survives a serialise-and-parse round trip.
 */
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
