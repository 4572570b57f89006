import { createHash } from 'node:crypto';
import type { AppAction, AppRule, Applications, ExecMode } from '../../app-rules.js';
import { findPlaceholders } from './applocker-placeholders.js';
import { addRule, ImportError, type ImportNote, type RuleImport } from '../../appcontrol/import.js';
import { decodeXmlBytes, parseXml, XmlError, xmlEscape, type XmlElement } from './xml.js';

/**
 * AppLocker policy XML (Get-AppLockerPolicy -Xml, the Group Policy export) <-> Vigil rules.
 * Only the `Exe` rule collection is imported: Vigil controls programs, not DLLs, installers,
 * scripts or packaged apps. AppLocker's file hashes are Authenticode hashes, so they become
 * `authenticode-sha256` rules (evaluated only by the Windows backend), never plain SHA-256.
 */

const EVERYONE = 'S-1-1-0';

function toImportError(error: unknown): never {
  if (error instanceof XmlError) throw new ImportError(error.detail, error.line, error.column);
  throw error;
}

/** Reads AppLocker XML from bytes (UTF-8 or UTF-16 LE/BE, with or without a BOM). */
export function importAppLocker(bytes: Uint8Array): RuleImport {
  let root: XmlElement;
  try {
    root = parseXml(decodeXmlBytes(bytes));
  } catch (error) {
    toImportError(error);
  }
  if (root.name !== 'AppLockerPolicy') throw new ImportError(`the root element is <${root.name}>, not <AppLockerPolicy>`, root.line);
  refuseTemplate(root);
  const result: RuleImport = { rules: [], exceptions: [], notes: [] };
  const note = (line: number, message: string) => result.notes.push({ line, message });
  let exeSeen = false;
  for (const collection of root.children) {
    if (collection.name !== 'RuleCollection') {
      note(collection.line, `<${collection.name}> is not an AppLocker rule collection; not imported`);
      continue;
    }
    const type = collection.attributes.get('Type');
    if (type !== 'Exe') {
      note(collection.line, `rule collection Type="${type ?? ''}" (${collection.children.length} rules) not imported: Vigil controls executables only`);
      continue;
    }
    if (exeSeen) throw new ImportError('a second Exe rule collection', collection.line);
    exeSeen = true;
    const enforcement = collection.attributes.get('EnforcementMode') ?? 'NotConfigured';
    if (enforcement === 'Enabled') result.mode = 'enforce';
    else if (enforcement === 'AuditOnly') result.mode = 'monitor';
    else note(collection.line, `EnforcementMode="${enforcement}": the mode is left to the policy`);
    // AppLocker denies whatever no allow rule names, once a collection has rules.
    result.defaultAction = 'block';
    for (const element of collection.children) importRule(element, result, note);
  }
  if (!exeSeen) note(root.line, 'no Exe rule collection: nothing to import');
  return result;
}

/** A template (values still to be filled in) is refused, naming every line that holds a placeholder. */
function refuseTemplate(root: XmlElement): void {
  const found = findPlaceholders(root);
  if (!found.length) return;
  const shown = found.slice(0, 50).map((p) => `line ${p.line}: <${p.element}> ${p.attribute}="${p.value.slice(0, 80)}" ${p.why}`);
  const more = found.length > shown.length ? `; and ${found.length - shown.length} more` : '';
  throw new ImportError(
    `a template, not a policy: ${found.length} value(s) are placeholders, not SIDs, hashes or paths (fill them in first): ${shown.join('; ')}${more}`,
    found[0]!.line,
  );
}

function importRule(element: XmlElement, result: RuleImport, note: (line: number, message: string) => void): void {
  const kinds = ['FilePathRule', 'FilePublisherRule', 'FileHashRule'];
  if (!kinds.includes(element.name)) {
    note(element.line, `<${element.name}> is not supported; not imported`);
    return;
  }
  const attr = (name: string) => element.attributes.get(name);
  // Quoted as JSON and cut: the name is the file's text and lands in error messages and notes.
  const label = `${element.name} ${JSON.stringify((attr('Name') ?? attr('Id') ?? '?').slice(0, 80))}`;
  const actionText = attr('Action');
  if (actionText !== 'Allow' && actionText !== 'Deny') throw new ImportError(`${label}: Action must be Allow or Deny`, element.line);
  const action: AppAction = actionText === 'Allow' ? 'allow' : 'block';
  const sid = attr('UserOrGroupSid') ?? EVERYONE;
  if (sid !== EVERYONE) {
    // Vigil's rules apply to every user of a device; importing a per-user rule would widen it.
    note(element.line, `${label} applies to ${sid}, not Everyone; Vigil does not scope rules by user, so it is not imported`);
    return;
  }
  const exceptions = element.children.find((c) => c.name === 'Exceptions');
  if (exceptions && exceptions.children.length) {
    note(exceptions.line, `${label} has AppLocker exceptions, which Vigil cannot express inside a rule; the rule is not imported`);
    return;
  }
  const conditions = element.children.find((c) => c.name === 'Conditions');
  if (!conditions || !conditions.children.length) throw new ImportError(`${label} has no <Conditions>`, element.line);
  const id = attr('Id');
  const description = (attr('Description') || attr('Name') || '').slice(0, 500) || undefined;
  const common = { action, ...(id ? { id } : {}), ...(description ? { description } : {}) };
  const expected = { FilePathRule: 'FilePathCondition', FilePublisherRule: 'FilePublisherCondition', FileHashRule: 'FileHashCondition' }[element.name]!;
  for (const condition of conditions.children) {
    if (condition.name !== expected) throw new ImportError(`${label}: <${condition.name}> where <${expected}> was expected`, condition.line);
  }
  if (element.name === 'FilePathRule') {
    for (const condition of conditions.children) {
      const path = condition.attributes.get('Path');
      if (!path) throw new ImportError(`${label}: FilePathCondition has no Path`, condition.line);
      addRule(result, { ...common, kind: 'path', platform: 'windows', pattern: path }, condition.line);
    }
  } else if (element.name === 'FilePublisherRule') {
    for (const condition of conditions.children) {
      const get = (name: string) => condition.attributes.get(name);
      const publisher = get('PublisherName');
      if (!publisher) throw new ImportError(`${label}: FilePublisherCondition has no PublisherName`, condition.line);
      if (publisher === '*') {
        note(condition.line, `${label}: PublisherName="*" (any signed file) is not supported; not imported`);
        continue;
      }
      const range = condition.children.find((c) => c.name === 'BinaryVersionRange');
      const low = range?.attributes.get('LowSection') ?? '*';
      const high = range?.attributes.get('HighSection') ?? '*';
      if (low !== '*' || high !== '*') {
        note(range!.line, `${label}: BinaryVersionRange ${low}-${high} is not supported, and dropping it would widen the rule; not imported`);
        continue;
      }
      const product = get('ProductName');
      const binaryName = get('BinaryName');
      addRule(
        result,
        {
          ...common,
          kind: 'signer',
          publisher,
          ...(product && product !== '*' ? { product } : {}),
          ...(binaryName && binaryName !== '*' ? { binaryName } : {}),
        },
        condition.line,
      );
    }
  } else {
    const hashes = conditions.children.flatMap((c) => c.children.filter((h) => h.name === 'FileHash'));
    if (!hashes.length) throw new ImportError(`${label}: FileHashCondition has no <FileHash>`, conditions.line);
    hashes.forEach((hash, n) => {
      const type = hash.attributes.get('Type');
      if (type !== 'SHA256') {
        note(hash.line, `${label}: FileHash Type="${type ?? ''}" is not supported (only SHA256); not imported`);
        return;
      }
      const data = /^0x([0-9A-Fa-f]{64})$/.exec(hash.attributes.get('Data') ?? '');
      if (!data) throw new ImportError(`${label}: FileHash Data must be 0x followed by 64 hex digits`, hash.line);
      const fileName = hash.attributes.get('SourceFileName');
      const ruleId = id && hashes.length > 1 ? `${id}:${n + 1}` : id;
      addRule(
        result,
        { ...common, ...(ruleId ? { id: ruleId } : {}), kind: 'authenticode-sha256', hash: data[1]!.toLowerCase(), ...(fileName ? { fileName } : {}) },
        hash.line,
      );
    });
  }
}

/** AppLocker wants GUID rule ids; derive one from the rule so exports are stable. */
function ruleGuid(rule: AppRule): string {
  if (rule.id && /^\{?[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}\}?$/.test(rule.id)) return rule.id.replace(/^\{|\}$/g, '').toLowerCase();
  const h = createHash('sha256').update(JSON.stringify(rule)).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export interface AppLockerExport {
  xml: string;
  /** Rules AppLocker cannot express; the Windows backend must enforce or report them itself. */
  notes: { ruleId: string | null; message: string }[];
}

/**
 * The Exe rule collection for a device's rules (already scoped to its groups). Plain SHA-256
 * rules cannot be written (AppLocker hashes are Authenticode hashes) and macOS signers and
 * POSIX paths mean nothing to Windows: they are listed in `notes`. A default of allow is written
 * as an allow-everything path rule, since AppLocker itself always denies what no rule allows.
 */
export function exportAppLocker(apps: Pick<Applications, 'mode' | 'defaultAction'> & { rules: readonly AppRule[] }): AppLockerExport {
  const notes: AppLockerExport['notes'] = [];
  const lines: string[] = [];
  const rules: AppRule[] = [...apps.rules];
  if (apps.defaultAction === 'allow')
    rules.push({ kind: 'path', platform: 'windows', pattern: '*', action: 'allow', id: 'vigil-default-allow', description: 'Vigil default action: allow' });
  for (const rule of rules) {
    const head = (element: string) => {
      const name = rule.description ?? rule.id ?? `${rule.kind} rule`;
      return `    <${element} Id="${ruleGuid(rule)}" Name="${xmlEscape(name.slice(0, 200))}" Description="${xmlEscape(rule.description ?? '')}" UserOrGroupSid="${EVERYONE}" Action="${rule.action === 'allow' ? 'Allow' : 'Deny'}">`;
    };
    const skip = (message: string) => notes.push({ ruleId: rule.id ?? null, message });
    if (rule.groups) {
      skip('group-scoped rule: export the rules of one device (scoped already), not the policy');
      continue;
    }
    switch (rule.kind) {
      case 'sha256':
        skip('a plain SHA-256 rule: AppLocker file hashes are Authenticode hashes, so it cannot be written as one');
        continue;
      case 'authenticode-sha256':
        lines.push(
          head('FileHashRule'),
          '      <Conditions>',
          '        <FileHashCondition>',
          `          <FileHash Type="SHA256" Data="0x${rule.hash.toUpperCase()}" SourceFileName="${xmlEscape(rule.fileName ?? '')}" SourceFileLength="0" />`,
          '        </FileHashCondition>',
          '      </Conditions>',
          '    </FileHashRule>',
        );
        break;
      case 'signer':
        if (!rule.publisher) {
          skip('a macOS signer (Team ID) has no meaning on Windows');
          continue;
        }
        lines.push(
          head('FilePublisherRule'),
          '      <Conditions>',
          `        <FilePublisherCondition PublisherName="${xmlEscape(rule.publisher)}" ProductName="${xmlEscape(rule.product ?? '*')}" BinaryName="${xmlEscape(rule.binaryName ?? '*')}">`,
          '          <BinaryVersionRange LowSection="*" HighSection="*" />',
          '        </FilePublisherCondition>',
          '      </Conditions>',
          '    </FilePublisherRule>',
        );
        break;
      case 'path':
        if (rule.platform !== 'windows') {
          skip('a POSIX path pattern has no meaning on Windows');
          continue;
        }
        lines.push(
          head('FilePathRule'),
          '      <Conditions>',
          `        <FilePathCondition Path="${xmlEscape(rule.pattern)}" />`,
          '      </Conditions>',
          '    </FilePathRule>',
        );
        break;
    }
  }
  const mode = (m: ExecMode) => (m === 'enforce' ? 'Enabled' : 'AuditOnly');
  const xml = [
    '<?xml version="1.0" encoding="utf-16"?>',
    '<AppLockerPolicy Version="1">',
    `  <RuleCollection Type="Exe" EnforcementMode="${mode(apps.mode)}">`,
    ...lines,
    '  </RuleCollection>',
    '</AppLockerPolicy>',
    '',
  ].join('\r\n');
  return { xml, notes };
}

export type { ImportNote };
