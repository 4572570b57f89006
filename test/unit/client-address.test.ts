import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { clientAddress, parseTrustedProxies } from '../../src/console/http/client-address.js';

const request = (peer: string, forwardedFor?: string | string[]) =>
  ({ socket: { remoteAddress: peer }, headers: forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor } }) as unknown as IncomingMessage;
const trusted = new Set(['10.0.0.2']);

describe('client address behind a load balancer', () => {
  it('is the peer when no balancer is trusted, whatever X-Forwarded-For claims', () => {
    expect(clientAddress(request('192.0.2.7', '10.9.9.9'), new Set())).toBe('192.0.2.7');
    expect(clientAddress(request('::ffff:192.0.2.7'), new Set())).toBe('192.0.2.7');
  });

  it('is the address a trusted balancer appended (the last), not what the client wrote before it', () => {
    expect(clientAddress(request('10.0.0.2', '192.0.2.7'), trusted)).toBe('192.0.2.7');
    expect(clientAddress(request('::ffff:10.0.0.2', '6.6.6.6, 192.0.2.8'), trusted)).toBe('192.0.2.8');
    expect(clientAddress(request('10.0.0.2', ['6.6.6.6', '192.0.2.9']), trusted)).toBe('192.0.2.9');
  });

  it('is the balancer itself when its header is missing or not an address', () => {
    expect(clientAddress(request('10.0.0.2'), trusted)).toBe('10.0.0.2');
    expect(clientAddress(request('10.0.0.2', 'not-an-ip'), trusted)).toBe('10.0.0.2');
  });

  it('--trust-proxy takes IP addresses only', () => {
    expect(parseTrustedProxies(['10.0.0.2,10.0.0.3', '::1'])).toEqual(new Set(['10.0.0.2', '10.0.0.3', '::1']));
    expect(parseTrustedProxies(['lb.example'])).toBe('--trust-proxy takes IP addresses, not "lb.example"');
  });
});
