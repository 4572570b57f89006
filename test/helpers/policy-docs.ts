/** A SHA-256 made of one repeated hex digit: easy to tell apart in assertions. */
export const HASH = (c: string) => c.repeat(64);

/** A policy file in monitor mode with an AUP variant and one hash rule per [digit, action]. */
export function monitorDoc(name: string, variant: string, rules: [digit: string, action: 'allow' | 'block'][]) {
  return {
    format: 'vigil-policy/1',
    name,
    aup: { variant },
    applications: { mode: 'monitor', defaultAction: 'allow', rules: rules.map(([d, action]) => ({ kind: 'sha256', sha256: HASH(d), action })), exceptions: [] },
  };
}
