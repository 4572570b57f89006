/**
 * IPv4/IPv6 addresses and ranges as numbers, for "is this device on the school network".
 * Browser-safe (no node:net): the console validates ranges with the same code the agent runs.
 */
export interface Cidr {
  family: 4 | 6;
  base: bigint;
  bits: number;
}

function parseV4(text: string): bigint | null {
  const parts = text.split('.');
  if (parts.length !== 4 || !parts.every((p) => /^(0|[1-9]\d{0,2})$/.test(p) && Number(p) <= 255)) return null;
  return parts.reduce((n, p) => (n << 8n) | BigInt(p), 0n);
}

function parseV6(text: string): bigint | null {
  const zoneless = text.split('%')[0]!;
  // A trailing dotted quad (::ffff:10.0.0.1) stands for the last two groups.
  let groupsText = zoneless;
  let tail: bigint | null = null;
  const quad = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(zoneless);
  if (quad) {
    tail = parseV4(quad[2]!);
    if (tail === null) return null;
    groupsText = `${quad[1]}0:0`;
  }
  const halves = groupsText.split('::');
  if (halves.length > 2) return null;
  const split = (s: string) => (s === '' ? [] : s.split(':'));
  const head = split(halves[0]!);
  const rest = halves.length === 2 ? split(halves[1]!) : [];
  const missing = 8 - head.length - rest.length;
  if ((halves.length === 1 && missing !== 0) || (halves.length === 2 && missing < 1)) return null;
  const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...rest];
  if (!groups.every((g) => /^[0-9a-fA-F]{1,4}$/.test(g))) return null;
  let n = groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
  if (tail !== null) n = (n & ~0xffffffffn) | tail;
  return n;
}

export function parseAddress(text: string): { family: 4 | 6; value: bigint } | null {
  const v4 = parseV4(text);
  if (v4 !== null) return { family: 4, value: v4 };
  const v6 = text.includes(':') ? parseV6(text) : null;
  return v6 === null ? null : { family: 6, value: v6 };
}

export function parseCidr(text: string): Cidr | null {
  const [address, bits, extra] = text.split('/');
  if (extra !== undefined || bits === undefined || !/^\d{1,3}$/.test(bits)) return null;
  const parsed = parseAddress(address!);
  if (!parsed || Number(bits) > (parsed.family === 4 ? 32 : 128)) return null;
  return { family: parsed.family, base: parsed.value, bits: Number(bits) };
}

export function cidrContains(cidr: Cidr, address: string): boolean {
  const parsed = parseAddress(address);
  if (!parsed || parsed.family !== cidr.family) return false;
  const width = BigInt(cidr.family === 4 ? 32 : 128);
  const shift = width - BigInt(cidr.bits);
  return parsed.value >> shift === cidr.base >> shift;
}
