import fc from 'fast-check';
import type { z } from 'zod';
import { generateEd25519KeyPair } from '../../src/shared/node/crypto.js';
import { cleanText } from '../../src/shared/text.js';
import { summariseZodError } from '../../src/shared/zod-errors.js';
import { mutatedBytes, mutatedText, nestedText, shaped, type Json } from './arbitraries.js';

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

export const hex64 = fc.stringMatching(/^[0-9a-f]{64}$/);
export const uuid = fc.uuid({ version: 4 });
export const isoDate = fc
  .date({ min: new Date('2020-01-01T00:00:00Z'), max: new Date('2035-01-01T00:00:00Z'), noInvalidDate: true })
  .map((d) => d.toISOString());
export const NOW = new Date('2026-12-04T12:00:00.000Z');
export const consoleKeys = generateEd25519KeyPair();
export const deviceKeys = generateEd25519KeyPair();
export const stationKeys = generateEd25519KeyPair();
export const nonce43 = fc.stringMatching(/^[A-Za-z0-9_-]{43}$/);
export const sig = fc.stringMatching(/^[A-Za-z0-9+/]{86}==$/);
export const keyId = fc.stringMatching(/^[0-9a-f]{16}$/);
export const text = (max: number) => fc.string({ unit: 'grapheme', maxLength: max });

/** Round trip: what was accepted, serialised and parsed again, is accepted and unchanged. */
export function sameAfter<T>(value: T, reparse: (text: string) => { ok: true; value: T } | { ok: false; message: string }): () => string | null {
  return () => {
    const again = reparse(JSON.stringify(value));
    if (!again.ok) return `accepted, but its own serialisation is refused: ${again.message}`;
    // Compared as sent on the wire: JSON has no -0 (a -0 that passed `min(0)` comes back as 0).
    return JSON.stringify(again.value) === JSON.stringify(value) ? null : 'accepted, but serialising and parsing again changed it';
  };
}

export function jsonThen<S extends z.ZodType>(schema: S, raw: string): { ok: true; value: z.infer<S> } | { ok: false; message: string } {
  let data: unknown;
  try {
    data = JSON.parse(raw);
  } catch (error) {
    return { ok: false, message: `not JSON: ${cleanText((error as Error).message, 120)}` };
  }
  const parsed = schema.safeParse(data);
  return parsed.success ? { ok: true, value: parsed.data } : { ok: false, message: summariseZodError(parsed.error) };
}

export function verdictOf<T>(
  result: { ok: true; value: T } | { ok: false; message: string },
  reparse?: (text: string) => { ok: true; value: T } | { ok: false; message: string },
): Verdict {
  if (!result.ok) return { accepted: false, message: result.message };
  return reparse ? { accepted: true, roundTrip: sameAfter(result.value, reparse) } : { accepted: true };
}

export const samples = <T>(arb: fc.Arbitrary<T>, n = 20) => fc.sample(arb, { numRuns: n, seed: 7 });
/**
 * Valid documents that are slow to make (signed, Merkle-hashed, exported) are made once, a few
 * hundred of them, and then mutated case by case: the run spends its time parsing, not signing.
 */
export const pool = <T>(arb: fc.Arbitrary<T>, n = 300) => fc.constantFrom(...fc.sample(arb, { numRuns: n, seed: 11 }));

/** Text of shaped values, then mutated as text (and as bytes where the reader takes bytes). */
export const asText = (value: fc.Arbitrary<Json>) => mutatedText(shaped(value).map((v) => JSON.stringify(v) ?? 'null'));
/** Deep nesting up to a full frame (256 KiB holds about 120,000 levels): rare, it costs V8 ~100 ms each. */
export const deepFrame = fc
  .integer({ min: 1_000, max: 120_000 })
  .map(
    (n) =>
      `{"v":1,"type":"events","events":[{"id":"7b6f0d7e-8d4b-4d59-9a55-0b3a3a1e7c11","seq":1,"at":"2026-12-04T12:00:00Z","type":"diagnostic.test","data":${nestedText(n)}}]}`,
  );
export const asFrame = (value: fc.Arbitrary<Json>) =>
  fc.oneof(
    { weight: 100, arbitrary: asText(value) },
    { weight: 100, arbitrary: mutatedBytes(shaped(value).map((v) => JSON.stringify(v) ?? 'null')) },
    { weight: 1, arbitrary: deepFrame },
  );
