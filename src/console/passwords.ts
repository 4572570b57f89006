import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/** scrypt with OWASP's minimum work factor (N=2^17, r=8, p=1); parameters are stored with the hash. */
const DEFAULTS = { N: 2 ** 17, r: 8, p: 1, keyLength: 32 };

/**
 * Each scrypt run takes ~128 MiB and a libuv thread for a few hundred milliseconds. At most two
 * run at once and at most 32 wait, so a flood of sign-ins can neither exhaust memory nor starve
 * the thread pool that file and DNS work also need.
 */
const MAX_RUNNING = 2;
const MAX_WAITING = 32;
let running = 0;
const waiting: (() => void)[] = [];

export class PasswordHashingBusy extends Error {
  constructor() {
    super('the console is busy checking other sign-ins; try again in a moment');
  }
}

async function withSlot<T>(work: () => Promise<T>): Promise<T> {
  if (running >= MAX_RUNNING) {
    if (waiting.length >= MAX_WAITING) throw new PasswordHashingBusy();
    await new Promise<void>((resolve) => waiting.push(resolve));
  }
  running++;
  try {
    return await work();
  } finally {
    running--;
    waiting.shift()?.();
  }
}

function scryptAsync(password: string, salt: Buffer, keyLength: number, options: ScryptOptions): Promise<Buffer> {
  return withSlot(
    () =>
      new Promise<Buffer>((resolve, reject) =>
        scrypt(password, salt, keyLength, { ...options, maxmem: 256 * 1024 * 1024 }, (err, key) => (err ? reject(err) : resolve(key))),
      ),
  );
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const { N, r, p, keyLength } = DEFAULTS;
  const key = await scryptAsync(password, salt, keyLength, { N, r, p });
  return `scrypt$${N}$${r}$${p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [N, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  const salt = Buffer.from(parts[4]!, 'base64');
  const expected = Buffer.from(parts[5]!, 'base64');
  const actual = await scryptAsync(password, salt, expected.length, { N, r, p });
  return timingSafeEqual(actual, expected);
}

/** A dummy hash so that unknown usernames cost as much time as wrong passwords. */
export const DUMMY_PASSWORD_HASH = `scrypt$${DEFAULTS.N}$8$1$${Buffer.alloc(16).toString('base64')}$${Buffer.alloc(32).toString('base64')}`;
