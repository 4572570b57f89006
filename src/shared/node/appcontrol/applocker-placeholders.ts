import type { XmlElement } from './xml.js';

/**
 * Template values in an AppLocker policy. Some published AppLocker toolkits ship their policies
 * as templates ("%SID%", "{{HASH}}", "<path>", "REPLACE_ME") to be filled in per site; imported
 * as they are, every per-user rule would be skipped as "not Everyone" and the result would be an
 * empty rule set that looks like success. A policy holding any is refused, naming each line.
 */

/** The path variables AppLocker itself expands; any other %NAME% in a path is not a value. */
const APPLOCKER_PATH_VARIABLES = new Set(['WINDIR', 'SYSTEM32', 'OSDRIVE', 'PROGRAMFILES', 'REMOVABLE', 'HOT']);

const TEMPLATE_MARKS = [/\{\{[^}]*\}\}/, /\$\{[^}]*\}/, /\$\([^)]*\)/, /<[^>]*>/, /\[[A-Z][A-Z0-9 _-]*\]/, /__[A-Z][A-Z0-9_]*__/, /@[A-Z][A-Z0-9_]*@/];
const TEMPLATE_WORDS = /^(?:x{3,}|\.{3}|…|placeholder|replace[\s_-]*me|change[\s_-]*me|todo|tbd|fixme|(?:your|insert|enter)[\s_-].*)$/i;
const SID = /^S-1-\d+(?:-\d+)+$/i;

/** Why `value` is a template placeholder rather than a value, or null if it is a value. */
function placeholderIn(value: string): string | null {
  const trimmed = value.trim();
  if (TEMPLATE_WORDS.test(trimmed)) return `"${trimmed}"`;
  for (const mark of TEMPLATE_MARKS) {
    const found = mark.exec(trimmed);
    if (found) return found[0];
  }
  for (const found of trimmed.matchAll(/%([^%\\/\s]+)%/g)) {
    if (!APPLOCKER_PATH_VARIABLES.has(found[1]!.toUpperCase())) return found[0];
  }
  return null;
}

/** The attributes that hold a rule's values, and what each must be. */
const CHECKED: Record<string, 'sid' | 'value'> = {
  UserOrGroupSid: 'sid',
  Path: 'value',
  Data: 'value',
  PublisherName: 'value',
  ProductName: 'value',
  BinaryName: 'value',
  LowSection: 'value',
  HighSection: 'value',
  SourceFileName: 'value',
  Id: 'value',
};

export interface Placeholder {
  line: number;
  element: string;
  attribute: string;
  value: string;
  why: string;
}

/** Every attribute in the document whose value is a placeholder, in document order. */
export function findPlaceholders(root: XmlElement): Placeholder[] {
  const found: Placeholder[] = [];
  const visit = (element: XmlElement) => {
    for (const [attribute, value] of element.attributes) {
      const kind = CHECKED[attribute];
      if (!kind) continue;
      const mark = placeholderIn(value);
      if (mark) found.push({ line: element.line, element: element.name, attribute, value, why: `holds the placeholder ${mark}` });
      else if (kind === 'sid' && !SID.test(value.trim()))
        found.push({ line: element.line, element: element.name, attribute, value, why: 'is not a SID (S-1-...)' });
    }
    element.children.forEach(visit);
  };
  visit(root);
  return found;
}
