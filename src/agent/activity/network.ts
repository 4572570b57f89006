import { connect } from 'node:net';
import { networkInterfaces } from 'node:os';
import { cidrContains, parseCidr } from '../../shared/cidr.js';
import type { SchoolNetwork } from '../../shared/activity-policy.js';

/** Addresses of this device's interfaces (loopback included: a test may name 127.0.0.0/8). */
export function interfaceAddresses(): string[] {
  return Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((a) => a.address));
}

export function addressInRanges(addresses: readonly string[], cidrs: readonly string[]): boolean {
  const ranges = cidrs.map(parseCidr).filter((c) => c !== null);
  return addresses.some((a) => ranges.some((r) => cidrContains(r, a)));
}

/** One TCP connection attempt: true when something accepts it within the time. */
export function tcpReachable(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => (socket.destroy(), clearTimeout(timer), resolve(ok));
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

export interface NetworkProbes {
  addresses(): string[];
  reachable(host: string, port: number, timeoutMs: number): Promise<boolean>;
  monoNow(): number;
}

const realProbes: NetworkProbes = { addresses: interfaceAddresses, reachable: tcpReachable, monoNow: () => performance.now() };

/**
 * "Is this device on the school network?", answered from a cached result so a sample never
 * waits for the network. The address test is instant; the probe runs in the background at most
 * every `refreshMs` and only while someone asks (inside school hours on a BYOD device).
 */
export class SchoolNetworkCheck {
  private probeResult: { key: string; ok: boolean; atMono: number } | null = null;
  private probing = false;

  constructor(
    private readonly probes: NetworkProbes = realProbes,
    private readonly refreshMs = 30_000,
    private readonly timeoutMs = 3_000,
  ) {}

  /** True or false once known; null while the first probe is still out. */
  status(network: SchoolNetwork): boolean | null {
    if (network.cidrs && !addressInRanges(this.probes.addresses(), network.cidrs)) return false;
    if (!network.probe) return true;
    const { host, port } = network.probe;
    const key = `${host}:${port}`;
    const cached = this.probeResult?.key === key ? this.probeResult : null;
    if (!this.probing && (!cached || this.probes.monoNow() - cached.atMono >= this.refreshMs)) {
      this.probing = true;
      void this.probes
        .reachable(host, port, this.timeoutMs)
        .then((ok) => (this.probeResult = { key, ok, atMono: this.probes.monoNow() }))
        .finally(() => (this.probing = false));
    }
    return cached ? cached.ok : null;
  }
}
