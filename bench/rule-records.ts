import { randomBytes } from 'node:crypto';
import type { RuleRecord } from '../src/shared/policies/model.js';

/**
 * Stored hash-rule records `record(i)` for i below `count`, from one draw of random bytes: making
 * them is not what a benchmark measures.
 */
export function hashRecords(count: number, origin: RuleRecord['origin'], addedAt: string): (i: number) => RuleRecord {
  const hex = randomBytes(32 * count).toString('hex');
  return (i) => ({
    rule: { kind: 'sha256', sha256: hex.slice(64 * i, 64 * i + 64), action: 'allow' },
    exception: false,
    author: 'bench',
    addedAt,
    origin,
  });
}
