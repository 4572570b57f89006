import { z } from 'zod';

/**
 * Whether a parsed JSON value nests no deeper than `limit` arrays/objects. Counted with a stack,
 * not recursion: JSON.parse reads a frame nested 100,000 deep, but JSON.stringify (and any
 * recursive walk) overflows the call stack on it, so such a value must not get past a parser.
 */
export function jsonDepthWithin(value: unknown, limit: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length) {
    const [item, depth] = stack.pop()!;
    if (item === null || typeof item !== 'object') continue;
    if (depth >= limit) return false;
    for (const child of Array.isArray(item) ? item : Object.values(item)) stack.push([child, depth + 1]);
  }
  return true;
}

/** Any JSON value, checked later by its own schema, but never deeper than `maxDepth`. */
export const boundedJson = (maxDepth = 64) => z.unknown().refine((value) => jsonDepthWithin(value, maxDepth), `nested deeper than ${maxDepth} levels`);
