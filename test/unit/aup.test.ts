import { createPrivateKey, randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { receiptForAcceptance, ReceiptRefused } from '../../src/agent/aup/receipts.js';
import type { AupDocument } from '../../src/shared/aup.js';
import { checkSignedAup, signAup } from '../../src/shared/aup-verify.js';
import { generateEd25519KeyPair } from '../../src/shared/crypto.js';

const consoleKey = generateEd25519KeyPair();
const pair = generateEd25519KeyPair();
const device = { privateKey: createPrivateKey(pair.privateKeyPem), publicKey: pair.publicKey };
const doc: AupDocument = { kind: 'vigil.aup', variant: 'secondary', version: 2, title: 'Rules', markdown: '# Rules\n\nBe kind.', publishedAt: '2026-11-20T09:00:00.000Z' };

describe('signed AUP documents', () => {
  it('accepts the document the console signed and refuses a tampered one', () => {
    const signed = signAup(doc, consoleKey.privateKeyPem, consoleKey.publicKey);
    expect(checkSignedAup(signed, consoleKey.publicKey)).toMatchObject({ ok: true });
    const tampered = structuredClone(signed);
    tampered.payload.markdown = '# Rules\n\nAnything goes.';
    expect(checkSignedAup(tampered, consoleKey.publicKey)).toMatchObject({ ok: false, reason: 'bad-signature' });
    const other = generateEd25519KeyPair();
    expect(checkSignedAup(signAup(doc, other.privateKeyPem, other.publicKey), consoleKey.publicKey)).toMatchObject({ ok: false });
    expect(checkSignedAup({ payload: { ...doc, variant: 'Bad Variant!' }, signature: signed.signature }, consoleKey.publicKey)).toMatchObject({ ok: false, reason: 'malformed' });
  });
});

describe('acceptance receipts', () => {
  it('are issued only for the version the device holds, with a real name', () => {
    const base = { aup: doc, deviceId: randomUUID(), user: 'jsmith', key: device };
    expect(() => receiptForAcceptance({ ...base, request: { typedName: 'Jamie', version: 1 } })).toThrow(ReceiptRefused);
    expect(() => receiptForAcceptance({ ...base, request: { typedName: ' ', version: 2 } })).toThrow(/incomplete/);
    expect(() => receiptForAcceptance({ ...base, request: { typedName: 'Jamie', version: 2, extra: true } })).toThrow(/incomplete/);
    const receipt = receiptForAcceptance({ ...base, request: { typedName: '  Jamie Smith ', version: 2 } });
    expect(receipt.payload.typedName).toBe('Jamie Smith');
  });
});
