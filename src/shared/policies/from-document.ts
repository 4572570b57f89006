import type { AppRule } from '../app-rules.js';
import type { PolicyDocument } from '../policy.js';
import type { DeviceGroup, PolicyContent, RuleRecord } from './model.js';
import { recordKey } from './rule-keys.js';

/**
 * A `vigil-policy/1` document as the console's model (browser-safe, pure): what `vigil policy
 * push FILE` stores on a named policy, and what the upgrade from the single-policy console turns
 * the current document into.
 */

export interface Provenance {
  author: string;
  at: string;
  origin: RuleRecord['origin'];
}

export interface ConvertedDocument {
  content: PolicyContent;
  /** Rules the document held twice (same program, scope and kind); each note says what was kept. */
  notes: string[];
}

export function contentFromDocument(doc: PolicyDocument, provenance: Provenance): ConvertedDocument {
  const notes: string[] = [];
  const records = new Map<string, RuleRecord>();
  const add = (rule: AppRule, exception: { reason: string; expiresAt: string } | null) => {
    const record: RuleRecord = {
      rule,
      exception: exception !== null,
      author: provenance.author,
      addedAt: provenance.at,
      origin: provenance.origin,
      ...(exception ? { reason: exception.reason, expiresAt: exception.expiresAt } : {}),
    };
    const key = recordKey(record);
    const held = records.get(key);
    if (!held) {
      records.set(key, record);
      return;
    }
    // Keep what the device enforced with both: a block over an allow of the same rule (the rule
    // model fails safe), and of two equal exceptions the one that lasts longer.
    const keep =
      held.rule.action !== rule.action
        ? held.rule.action === 'block'
          ? held
          : record
        : record.expiresAt && held.expiresAt && Date.parse(record.expiresAt) > Date.parse(held.expiresAt)
          ? record
          : held;
    notes.push(`rule ${key} appears more than once; kept the ${keep.rule.action} rule${keep.expiresAt ? ` expiring ${keep.expiresAt}` : ''}`);
    records.set(key, keep);
  };
  for (const rule of doc.applications?.rules ?? []) add(rule, null);
  for (const e of doc.applications?.exceptions ?? []) add(e.rule, { reason: e.reason, expiresAt: e.expiresAt });

  const settings: PolicyContent['settings'] = { agent: doc.agent };
  if (doc.aup) settings.aup = doc.aup;
  if (doc.session) settings.session = doc.session;
  if (doc.usb) settings.usb = doc.usb;
  if (doc.activity) settings.activity = doc.activity;
  if (doc.tray) settings.tray = doc.tray;
  if (doc.applications) {
    // Present even without rules: an `applications` section turns the exec gate on.
    settings.applications = {
      mode: doc.applications.mode,
      defaultAction: doc.applications.defaultAction,
      ...(doc.applications.linuxMarks ? { linuxMarks: doc.applications.linuxMarks } : {}),
    };
  }
  return { content: { settings, rules: [...records.values()] }, notes };
}

export interface MigratedConsole {
  baseline: { name: string; displayName: string; description?: string; content: PolicyContent };
  groups: DeviceGroup[];
  notes: string[];
}

export const BASELINE_POLICY = 'baseline';

/**
 * The upgrade from one fleet-wide document: the document becomes the baseline policy and its
 * `groups` (name -> device ids) become console groups with those devices listed explicitly, so
 * every rule scoped to a group applies to exactly the devices it applied to before.
 */
export function migrateSinglePolicy(doc: PolicyDocument, at: string): MigratedConsole {
  const { content, notes } = contentFromDocument(doc, { author: 'system:migration', at, origin: 'migration' });
  const groups: DeviceGroup[] = Object.entries(doc.groups ?? {}).map(([name, devices]) => ({
    name,
    displayName: name,
    description: 'Created from the single policy document when the console was upgraded.',
    devices: [...new Set(devices)],
    rules: [],
  }));
  return {
    baseline: { name: BASELINE_POLICY, displayName: doc.name, ...(doc.description ? { description: doc.description } : {}), content },
    groups,
    notes,
  };
}
