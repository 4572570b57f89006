/**
 * The agent's one glob over absolute paths (exec path rules, USB treatAsRemovable rules): `**`
 * any characters (across `/`), `*` any characters but `/`, `?` exactly one character but `/`;
 * everything else is literal (no classes, no braces). Anchored at both ends.
 */
export function globToRegExp(pattern: string): RegExp {
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*' && pattern[i + 1] === '*') {
      out += '.*';
      i++;
    } else if (c === '*') out += '[^/]*';
    else if (c === '?') out += '[^/]';
    else out += c.replace(/[.+^$()|\\[\]{}]/g, '\\$&');
  }
  return new RegExp(`^${out}$`, 's');
}

export function pathGlobMatches(pattern: string, path: string): boolean {
  return globToRegExp(pattern).test(path);
}
