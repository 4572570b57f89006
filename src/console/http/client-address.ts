import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';

/**
 * The address a request came from, as rate limits, enrollment and the audit log record it. Behind a
 * load balancer every connection comes from the balancer, so — only when the peer is one of the
 * balancers named with --trust-proxy — the address it appended to X-Forwarded-For is taken instead
 * (the last entry: anything before it was written by the client and proves nothing).
 */
export function clientAddress(req: IncomingMessage, trustedProxies: ReadonlySet<string>): string {
  const peer = normalise(req.socket.remoteAddress ?? 'unknown');
  if (!trustedProxies.has(peer)) return peer;
  const header = req.headers['x-forwarded-for'];
  const joined = Array.isArray(header) ? header.join(',') : header;
  const last = joined?.split(',').at(-1)?.trim();
  return last && isIP(normalise(last)) ? normalise(last) : peer;
}

/** `::ffff:10.0.0.5` (an IPv4 client of a dual-stack socket) is `10.0.0.5`. */
function normalise(address: string): string {
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

/** The --trust-proxy values, each an IP address; anything else is refused. */
export function parseTrustedProxies(values: readonly string[]): Set<string> | string {
  const out = new Set<string>();
  for (const value of values.flatMap((v) => v.split(',')).map((v) => v.trim())) {
    if (!isIP(value)) return `--trust-proxy takes IP addresses, not "${value}"`;
    out.add(normalise(value));
  }
  return out;
}
