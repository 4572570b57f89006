import { createPrivateKey, randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { receiptForAcceptance, ReceiptRefused } from '../../src/agent/aup/receipts.js';
import type { AupDocument } from '../../src/shared/aup.js';
import { coverageCsv } from '../../src/console/aups.js';
import { aupHash, checkReceipt, checkSignedAup, signAup } from '../../src/shared/node/aup-verify.js';
import { generateEd25519KeyPair } from '../../src/shared/node/crypto.js';

const consoleKey = generateEd25519KeyPair();
const pair = generateEd25519KeyPair();
const device = { privateKey: createPrivateKey(pair.privateKeyPem), publicKey: pair.publicKey };
const doc: AupDocument = {
  kind: 'vigil.aup',
  variant: 'secondary',
  version: 2,
  title: 'Rules',
  markdown: '# Rules\n\nBe kind.',
  publishedAt: '2026-11-20T09:00:00.000Z',
};

describe('signed AUP documents', () => {
  it('accepts the document the console signed and refuses a tampered one', () => {
    const signed = signAup(doc, consoleKey.privateKeyPem, consoleKey.publicKey);
    expect(checkSignedAup(signed, consoleKey.publicKey)).toMatchObject({ ok: true });
    const tampered = structuredClone(signed);
    tampered.payload.markdown = '# Rules\n\nAnything goes.';
    expect(checkSignedAup(tampered, consoleKey.publicKey)).toMatchObject({ ok: false, reason: 'bad-signature' });
    const other = generateEd25519KeyPair();
    expect(checkSignedAup(signAup(doc, other.privateKeyPem, other.publicKey), consoleKey.publicKey)).toMatchObject({ ok: false });
    expect(checkSignedAup({ payload: { ...doc, variant: 'Bad Variant!' }, signature: signed.signature }, consoleKey.publicKey)).toMatchObject({
      ok: false,
      reason: 'malformed',
    });
  });
});

describe('acceptance receipts', () => {
  const shown = { variant: 'secondary', version: 2, aupHash: aupHash(doc) };
  const base = { aup: doc, deviceId: randomUUID(), user: 'jsmith', key: device };

  it('are issued only for the exact text the device holds, with a real name', () => {
    expect(() => receiptForAcceptance({ ...base, request: { ...shown, typedName: 'Jamie', version: 1 } })).toThrow(ReceiptRefused);
    expect(() => receiptForAcceptance({ ...base, request: { ...shown, typedName: 'Jamie', variant: 'primary' } })).toThrow(/rules changed/);
    expect(() => receiptForAcceptance({ ...base, request: { ...shown, typedName: 'Jamie', aupHash: '0'.repeat(64) } })).toThrow(/rules changed/);
    expect(() => receiptForAcceptance({ ...base, request: { ...shown, typedName: ' ' } })).toThrow(/cannot be saved/);
    expect(() => receiptForAcceptance({ ...base, request: { ...shown, typedName: 'Jamie', extra: true } })).toThrow(/cannot be saved/);
    const receipt = receiptForAcceptance({ ...base, request: { ...shown, typedName: '  Jamie Smith ' } });
    expect(receipt.payload.typedName).toBe('Jamie Smith');
  });

  it('refuses names with control or separator characters instead of signing a name the console would rewrite', () => {
    for (const name of ['Jamie\u2028Smith', 'Jamie\u0085Smith', 'Jamie\u001bSmith', 'Jamie\ud800']) {
      expect(() => receiptForAcceptance({ ...base, request: { ...shown, typedName: name } })).toThrow(/letters, spaces and punctuation/);
    }
    const accented = receiptForAcceptance({ ...base, request: { ...shown, typedName: "Zoë O'Brien-Łukasz" } });
    expect(checkReceipt(accented, device.publicKey, doc).ok).toBe(true);
  });
});

describe('coverage CSV', () => {
  it('quotes every cell and defuses formulas, also for semicolon-separated spreadsheets', () => {
    const csv = coverageCsv([
      {
        variant: 'secondary',
        version: 2,
        current: true,
        user: 'jsmith',
        typedName: "Jo;=cmd|' /C calc'!A0",
        deviceId: randomUUID(),
        hostname: 'lab-1',
        acceptedAt: '2026-11-22T09:00:00.000Z',
      },
    ]);
    const [header, row] = csv.trim().split('\r\n');
    expect(header).toBe('"variant","version","current","user","typed_name","device_id","hostname","accepted_at"');
    expect(row).toContain(`"Jo;=cmd|' /C calc'!A0"`);
    const injected = coverageCsv([
      {
        variant: 'secondary',
        version: 2,
        current: true,
        user: '=1+1',
        typedName: '@SUM(A1)',
        deviceId: randomUUID(),
        hostname: '-x',
        acceptedAt: '2026-11-22T09:00:00.000Z',
      },
    ]);
    expect(injected).toContain(`"'=1+1"`);
    expect(injected).toContain(`"'@SUM(A1)"`);
    expect(injected).toContain(`"'-x"`);
  });
});
