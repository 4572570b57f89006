import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkCase, messageProblem } from '../../bench/fuzz/harness.js';
import { TARGETS } from '../../bench/fuzz/targets.js';
import { exportAppLocker, importAppLocker } from '../../src/shared/node/appcontrol/applocker.js';
import { importRulesCsv } from '../../src/shared/appcontrol/csv-rules.js';
import { encodeUtf16le } from '../../src/shared/node/appcontrol/xml.js';
import { EventEnvelopeSchema } from '../../src/shared/events.js';
import { parseAgentMessage, parseConsoleMessage } from '../../src/shared/protocol.js';
import { parseScanFlag } from '../../src/shared/node/scan-flag.js';
import { boundedText, cleanText } from '../../src/shared/text.js';
import { LoginRequestSchema } from '../../src/shared/api.js';
import { summariseZodError } from '../../src/shared/zod-errors.js';

/**
 * The fuzz targets of `npm run fuzz` (bench/fuzz/targets.ts), a few hundred cases each: no
 * crash, every rejection a clear message, accepted input survives its round trip. The full run
 * (100,000 cases each, timed) is the benchmark; this keeps the properties in every test run.
 */
const CASES = Number(process.env.VIGIL_FUZZ_CASES ?? 400);

describe('fuzz targets', () => {
  for (const target of TARGETS) {
    it(`${target.name}: its valid seeds are accepted`, () => {
      for (const seed of target.seeds) {
        const result = checkCase(target, seed);
        expect(result.problem).toBeNull();
        expect(result.accepted, 'a seed the parser refuses would make the fuzzing start from the wrong shape').toBeGreaterThan(0);
      }
    });
    it(`${target.name}: ${CASES} generated inputs, no crash, clear rejections, round trips hold`, () => {
      fc.assert(
        fc.property(target.input, (input) => {
          const { problem } = checkCase(target, input);
          if (problem) throw new Error(problem);
        }),
        { numRuns: CASES, seed: 20261204 },
      );
    });
  }
});

describe('the clear-error check itself', () => {
  it('refuses empty, useless, raw-control and huge messages', () => {
    expect(messageProblem('')).not.toBeNull();
    expect(messageProblem('undefined')).not.toBeNull();
    expect(messageProblem('x: [object Object]')).not.toBeNull();
    expect(messageProblem('not JSON: \u001b[31mred')).not.toBeNull();
    expect(messageProblem('x'.repeat(5000))).not.toBeNull();
    expect(messageProblem('heartbeat: sentAt: Invalid ISO datetime')).toBeNull();
  });
});

/** Bugs the fuzzer found, kept as examples (each failed before its fix). */
describe('fuzz regressions', () => {
  const deep = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;
  const event = (data: string) => `{"id":"7b6f0d7e-8d4b-4d59-9a55-0b3a3a1e7c11","seq":1,"at":"2026-12-04T12:00:00Z","type":"diagnostic.test","data":${data}}`;

  it('refuses event data nested too deep for JSON.stringify (it was accepted, and re-serialising it threw RangeError)', () => {
    const frame = parseAgentMessage(`{"v":1,"type":"events","events":[${event(deep(20_000))}]}`);
    expect(frame).toMatchObject({ ok: false, code: 'invalid', message: expect.stringMatching(/events\.0\.data: nested deeper than 64 levels/) });
    expect(parseAgentMessage(`{"v":1,"type":"events","events":[${event(deep(60))}]}`)).toMatchObject({ ok: true });
    expect(parseConsoleMessage(`{"v":1,"type":"policy","bundle":${deep(20_000)}}`)).toMatchObject({
      ok: false,
      code: 'invalid',
      message: expect.stringMatching(/bundle: nested deeper/),
    });
    expect(EventEnvelopeSchema.safeParse(JSON.parse(event('{"a":{"b":[1,2,{"c":null}]}}'))).success).toBe(true);
  });

  it('keeps control characters of the input out of "not JSON" messages (they were quoted raw by V8)', () => {
    const frame = parseAgentMessage('\u001b[2J\u0000{');
    expect(frame.ok).toBe(false);
    if (!frame.ok) expect(frame.message).not.toMatch(/[\u0000-\u0008\u000a-\u001f]/);
    const flag = parseScanFlag(Buffer.from([0x7b, 0x00, 0x1b, 0x5b, 0x32, 0x4a]));
    expect(flag.ok).toBe(false);
    if (!flag.ok) expect(flag.detail).not.toMatch(/[\u0000-\u0008\u000a-\u001f]/);
  });

  it('bounds and cleans zod summaries that quote hostile keys (an unknown key of 30,000 characters was echoed whole)', () => {
    const hostileKey = `evil\n\u001b[31m${'['.repeat(30_000)}`;
    const parsed = LoginRequestSchema.safeParse({ username: 'a', password: 'b', [hostileKey]: 1 });
    expect(parsed.success).toBe(false);
    if (!parsed.success) {
      const summary = summariseZodError(parsed.error);
      expect(summary.length).toBeLessThanOrEqual(300);
      expect(summary).not.toMatch(/[\u0000-\u0008\u000a-\u001f]/);
      expect(summary).toMatch(/Unrecognized key/);
    }
  });

  it('names a bad CSV column or kind escaped and shortened (the cell was quoted raw, newlines and all)', () => {
    expect(() => importRulesCsv(`"kind","action","value","x\ny${'z'.repeat(5000)}"\r\n`)).toThrow(/^line 1: unknown column "x\\ny(z){57}…"/);
    expect(() => importRulesCsv('kind,action,value\r\n"\u001b[2Jsha",allow,x\r\n')).toThrow(/unknown kind "\\u001b\[2Jsha"/);
  });

  it('cuts long text without leaving half a surrogate pair (the cut text was changed by a second pass)', () => {
    const text = `${'a'.repeat(118)}\u{1F600}tail`;
    const once = cleanText(text, 120);
    expect(once.isWellFormed()).toBe(true);
    expect(cleanText(once, 120)).toBe(once);
    expect(boundedText(120).parse(once)).toBe(once);
  });

  it('names a bad AppLocker entity or rule escaped (control characters in the file were quoted raw)', () => {
    const policy = (rule: string) =>
      Buffer.from(`<AppLockerPolicy Version="1"><RuleCollection Type="Exe" EnforcementMode="Enabled">${rule}</RuleCollection></AppLockerPolicy>`);
    expect(() => importAppLocker(policy('<FilePathRule Name="a&\u0000\u001b[2J;" Action="Allow"/>'))).toThrow(/entity &\\u0000\\u001b\[2J; is not one/);
    expect(() => importAppLocker(policy('<FilePathRule Name="x\u0007y" Action="Run"/>'))).toThrow(/FilePathRule "x\\u0007y": Action must be Allow or Deny/);
  });

  it('exports AppLocker XML that it can read back whatever a description holds (lone surrogates made invalid UTF-16)', () => {
    const { xml } = exportAppLocker({
      mode: 'enforce',
      defaultAction: 'block',
      rules: [{ kind: 'path', platform: 'windows', pattern: 'C:\\Tools\\*', action: 'allow', description: 'bad \udf1c\uda36 \u000e\b end' }],
    });
    const back = importAppLocker(encodeUtf16le(xml));
    expect(back.rules).toHaveLength(1);
    expect(back.rules[0]!.description).toBe('bad \ufffd\ufffd \ufffd\ufffd end');
  });
});
