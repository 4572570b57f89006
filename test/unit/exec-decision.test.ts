import { describe, expect, it } from 'vitest';
import { applyMode, builtinAllows, ruleSetDecider, type BuiltinAllow } from '../../src/agent/exec/decision.js';
import { ruleSetFromRules } from '../../src/agent/exec/rule-set.js';
import { ExecEvaluator, type PendingExec } from '../../src/agent/exec/evaluator.js';
import { HashCache } from '../../src/agent/exec/hash-cache.js';
import { ExecGateRecordSchema, ExecRulesSchema } from '../../src/shared/exec.js';

const HASH_A = 'a'.repeat(64);
const HASH_B = 'b'.repeat(64);
const file = (over: Partial<PendingExec> = {}): PendingExec => ({
  path: '/mnt/stick/tool',
  pid: 1234,
  dev: 40n,
  ino: 7n,
  size: 1000,
  ctimeSec: 1_700_000_000,
  ctimeNsec: 5,
  ...over,
});
const rules = (allow: string[] = [], mode: 'monitor' | 'enforce' = 'enforce') =>
  ruleSetFromRules(ExecRulesSchema.parse({ format: 'vigil-exec-rules/1', mode, defaultAction: 'deny', allowSha256: allow }));

describe('hash cache', () => {
  it('keys on device, inode, size and ctime: any change is a miss', () => {
    const cache = new HashCache();
    cache.set(file(), HASH_A);
    expect(cache.get(file())).toBe(HASH_A);
    for (const change of [{ dev: 41n }, { ino: 8n }, { size: 1001 }, { ctimeSec: 1_700_000_001 }, { ctimeNsec: 6 }]) {
      expect(cache.get(file(change))).toBeUndefined();
    }
    // The mount's unique id is part of it: the same image mounted again is a new identity.
    cache.set(file({ mountId: 900n }), HASH_B);
    expect(cache.get(file({ mountId: 901n }))).toBeUndefined();
    expect(cache.get(file({ mountId: 900n }))).toBe(HASH_B);
    // The path is not part of the identity: a hard link or a rename (ctime unchanged) still hits.
    expect(cache.get(file({ path: '/elsewhere' }))).toBe(HASH_A);
  });

  it('evicts the least recently used entry at capacity', () => {
    const cache = new HashCache(2);
    cache.set(file({ ino: 1n }), HASH_A);
    cache.set(file({ ino: 2n }), HASH_B);
    cache.get(file({ ino: 1n })); // now the most recent
    cache.set(file({ ino: 3n }), HASH_A);
    expect(cache.size).toBe(2);
    expect(cache.get(file({ ino: 2n }))).toBeUndefined();
    expect(cache.get(file({ ino: 1n }))).toBe(HASH_A);
  });
});

describe('rule set and built-in rules', () => {
  it('allows listed hashes and applies the default to everything else, including unreadable files', () => {
    const decide = ruleSetDecider(rules([HASH_A]));
    expect(decide({ ...file(), sha256: HASH_A })).toEqual({ action: 'allow', reason: 'hash-allow' });
    expect(decide({ ...file(), sha256: HASH_B })).toEqual({ action: 'deny', reason: 'default' });
    expect(decide({ ...file(), sha256: null })).toEqual({ action: 'deny', reason: 'default' });
  });

  it('matches built-in directories by whole path component and by device', () => {
    const builtins: BuiltinAllow[] = [
      { path: '/usr', dev: 2n },
      { path: '/usr/bin/node', dev: 2n },
    ];
    expect(builtinAllows(builtins, '/usr/bin/ls', 2n)).toBe(true);
    expect(builtinAllows(builtins, '/usr/bin/node', 2n)).toBe(true);
    expect(builtinAllows(builtins, '/usrlocal/evil', 2n)).toBe(false); // not a child of /usr
    expect(builtinAllows(builtins, '/usr/bin/ls', 99n)).toBe(false); // looks like /usr, other file system
  });

  it('monitor answers allow and reports would-be blocks; enforce answers the verdict', () => {
    expect(applyMode('enforce', { action: 'deny', reason: 'default' })).toEqual({ respond: 'deny', wouldBlock: false });
    expect(applyMode('monitor', { action: 'deny', reason: 'default' })).toEqual({ respond: 'allow', wouldBlock: true });
    expect(applyMode('monitor', { action: 'allow', reason: 'hash-allow' })).toEqual({ respond: 'allow', wouldBlock: false });
  });

  it('rejects malformed rules files with a clear reason', () => {
    const bad = ExecRulesSchema.safeParse({ format: 'vigil-exec-rules/1', mode: 'enforce', defaultAction: 'deny', allowSha256: ['ABC'] });
    expect(bad.success).toBe(false);
    expect(ExecRulesSchema.safeParse({ format: 'vigil-exec-rules/1', mode: 'lockdown', defaultAction: 'deny' }).success).toBe(false);
    expect(ExecRulesSchema.safeParse({ format: 'vigil-exec-rules/1', mode: 'enforce', defaultAction: 'deny', extra: 1 }).success).toBe(false);
    expect(ExecGateRecordSchema.safeParse({ type: 'timeout', id: 1, applied: 'maybe' }).success).toBe(false);
  });
});

describe('exec evaluator', () => {
  const setup = (allow: string[] = [], mode: 'monitor' | 'enforce' = 'enforce', hashResult: string | null = HASH_A) => {
    const calls: PendingExec[] = [];
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    const evaluator = new ExecEvaluator(
      {
        builtins: [{ path: '/usr', dev: 2n }],
        hash: async (exec) => {
          calls.push(exec);
          await gate;
          return hashResult;
        },
      },
      { decide: ruleSetDecider(rules(allow, mode)), mode },
    );
    return { evaluator, calls, release };
  };

  it('answers built-in paths without hashing', async () => {
    const { evaluator, calls } = setup();
    const result = await evaluator.evaluate(file({ path: '/usr/bin/ls', dev: 2n }));
    expect(result).toMatchObject({ respond: 'allow', verdict: { reason: 'builtin' }, sha256: null });
    expect(calls).toHaveLength(0);
  });

  it('hashes a new file once even when several execs of it arrive together, then answers from the cache', async () => {
    const { evaluator, calls, release } = setup([HASH_A]);
    const pending = [evaluator.evaluate(file()), evaluator.evaluate(file({ pid: 2 })), evaluator.evaluate(file({ path: '/mnt/stick/copy' }))];
    release();
    const results = await Promise.all(pending);
    expect(calls).toHaveLength(1);
    expect(results.map((r) => r.respond)).toEqual(['allow', 'allow', 'allow']);
    const again = await evaluator.evaluate(file());
    expect(again).toMatchObject({ cached: true, respond: 'allow', sha256: HASH_A });
    expect(calls).toHaveLength(1);
  });

  it('does not cache a failed read, and keeps hashes across a policy change', async () => {
    const failing = setup([], 'enforce', null);
    failing.release();
    expect(await failing.evaluator.evaluate(file())).toMatchObject({ respond: 'deny', sha256: null, cached: false });
    expect(failing.evaluator.cache.size).toBe(0);

    const { evaluator, calls, release } = setup();
    release();
    expect((await evaluator.evaluate(file())).respond).toBe('deny');
    evaluator.setPolicy({ decide: ruleSetDecider(rules([HASH_A])), mode: 'enforce' });
    expect(await evaluator.evaluate(file())).toMatchObject({ respond: 'allow', cached: true });
    evaluator.setPolicy({ decide: ruleSetDecider(rules([], 'monitor')), mode: 'monitor' });
    expect(await evaluator.evaluate(file())).toMatchObject({ respond: 'allow', wouldBlock: true, mode: 'monitor' });
    expect(calls).toHaveLength(1);
  });
});
