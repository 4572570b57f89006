import { PolicySettingsSchema, type PolicySettings } from '../../src/shared/policies/model.js';
import { setFieldError } from '../shared/forms.js';

/**
 * The settings sections of a named policy as a form: the AUP variant and the tray as fields,
 * sessions, USB and activity (with BYOD school hours) as JSON in the policy file's own format.
 * The whole object is checked in the browser with the console's PolicySettingsSchema; each
 * problem is written next to the section it belongs to. Sections the form does not show
 * (agent, applications) are kept as they are.
 */
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const FIELDS = ['set-aup-variant', 'set-aup-school', 'set-tray-stopped', 'set-tray-grace', 'set-session', 'set-usb', 'set-activity'];
const JSON_SECTIONS = { session: 'set-session', usb: 'set-usb', activity: 'set-activity' } as const;

function fieldOf(path: readonly PropertyKey[]): string {
  const [section, field] = path.map(String);
  if (section === 'aup') return field === 'schoolName' ? 'set-aup-school' : 'set-aup-variant';
  if (section === 'tray') return field === 'graceSeconds' ? 'set-tray-grace' : 'set-tray-stopped';
  return JSON_SECTIONS[section as keyof typeof JSON_SECTIONS] ?? 'set-session';
}

export function fillSettings(settings: PolicySettings, editable: boolean): void {
  for (const id of FIELDS) setFieldError(id, '');
  $<HTMLInputElement>('set-aup-variant').value = settings.aup?.variant ?? '';
  $<HTMLInputElement>('set-aup-school').value = settings.aup?.schoolName ?? '';
  $<HTMLSelectElement>('set-tray-stopped').value = settings.tray?.onStopped ?? '';
  $<HTMLInputElement>('set-tray-grace').value = settings.tray ? String(settings.tray.graceSeconds) : '';
  for (const [section, id] of Object.entries(JSON_SECTIONS)) {
    const value = settings[section as keyof typeof JSON_SECTIONS];
    $<HTMLTextAreaElement>(id).value = value ? JSON.stringify(value, null, 2) : '';
  }
  $<HTMLFieldSetElement>('settings-fields').disabled = !editable;
  $('settings-review').hidden = !editable;
}

/** The settings the form describes (checked), or null with each problem next to its field. */
export function readSettings(current: PolicySettings): PolicySettings | null {
  for (const id of FIELDS) setFieldError(id, '');
  const problems = new Map<string, string>();
  const text = (id: string) => $<HTMLInputElement>(id).value.trim();
  const candidate: Record<string, unknown> = { ...current, aup: undefined, tray: undefined, session: undefined, usb: undefined, activity: undefined };
  if (text('set-aup-variant') || text('set-aup-school'))
    candidate.aup = { variant: text('set-aup-variant'), ...(text('set-aup-school') ? { schoolName: text('set-aup-school') } : {}) };
  if (text('set-tray-stopped') || text('set-tray-grace'))
    candidate.tray = { onStopped: text('set-tray-stopped') || 'restart', ...(text('set-tray-grace') ? { graceSeconds: Number(text('set-tray-grace')) } : {}) };
  for (const [section, id] of Object.entries(JSON_SECTIONS)) {
    if (!text(id)) continue;
    try {
      candidate[section] = JSON.parse(text(id));
    } catch (error) {
      problems.set(id, `not JSON: ${(error as Error).message}`);
    }
  }
  for (const key of Object.keys(candidate)) if (candidate[key] === undefined) delete candidate[key];
  const parsed = PolicySettingsSchema.safeParse(candidate);
  if (!parsed.success)
    for (const issue of parsed.error.issues) {
      const id = fieldOf(issue.path);
      const where = issue.path.slice(1).join('.');
      if (!problems.has(id)) problems.set(id, where && id.startsWith('set-') && Object.values(JSON_SECTIONS).includes(id as never) ? `${where}: ${issue.message}` : issue.message);
    }
  for (const [id, message] of problems) setFieldError(id, message);
  const first = FIELDS.find((id) => problems.has(id));
  if (first) $(first).focus();
  return problems.size === 0 && parsed.success ? parsed.data : null;
}
