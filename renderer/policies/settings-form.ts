import { PolicySettingsSchema, type PolicySettings } from '../../src/shared/policies/model.js';
import { WEEKDAYS } from '../../src/shared/session.js';
import { setFieldError } from '../shared/forms.js';

/**
 * The settings sections of a named policy as a form. The AUP variant and the tray are fields in
 * index.html; sessions, USB and activity (with BYOD school hours) are built here from the
 * descriptions below: numbers, selects, checkboxes, time inputs and lists for the schema's
 * arrays, each section with an explicit "Not set by this policy" choice. The whole object is
 * checked in the browser with the console's PolicySettingsSchema (imported, not copied); each
 * problem is written next to the field its path names (or the nearest enclosing group). Every
 * control's id is `set-` + its path joined by `-`. Sections the form does not show (agent,
 * applications) are kept as they are.
 */
type Field =
  | { kind: 'number'; key: string; label: string; min: number; max: number }
  | { kind: 'select'; key: string; label: string; options: readonly (readonly [string, string])[] }
  | { kind: 'check' | 'text' | 'time' | 'days'; key: string; label: string }
  | { kind: 'group'; key: string; label: string; fields: readonly Field[]; toggle?: string }
  | { kind: 'list'; key: string; label: string; item: readonly Field[] | 'text'; add: string };

// Descriptions are written with these, so each field is one line and the shape of a kind of
// field (a list's rows and add button, a select's options) is spelled out once.
const num = (key: string, label: string, min: number, max: number): Field => ({ kind: 'number', key, label, min, max });
const plain = (kind: 'check' | 'text' | 'time' | 'days', key: string, label: string): Field => ({ kind, key, label });
const choice = (key: string, label: string, ...options: (readonly [string, string])[]): Field => ({ kind: 'select', key, label, options });
/** A list of values (`'text'`: one text box each) or of records (one row of `item`'s fields each). */
const listOf = (key: string, label: string, add: string, item: readonly Field[] | 'text'): Field => ({ kind: 'list', key, label, item, add });
/** Fields under a heading; with `toggle`, a checkbox says whether the group is set at all. */
const group = (key: string, label: string, fields: readonly Field[], toggle?: string): Field & { kind: 'group' } => ({
  kind: 'group',
  key,
  label,
  fields,
  ...(toggle === undefined ? {} : { toggle }),
});

const DAY_NAMES: Record<string, string> = { sun: 'Sun', mon: 'Mon', tue: 'Tue', wed: 'Wed', thu: 'Thu', fri: 'Fri', sat: 'Sat' };
const SCHOOL_DAYS = ['mon', 'tue', 'wed', 'thu', 'fri'];
const LOGOFF: readonly Field[] = [plain('time', 'time', 'Log off at'), plain('days', 'days', 'On')];
const SECTIONS: readonly (Field & { kind: 'group' })[] = [
  group('session', 'Sessions', [
    num('lockAfterIdleSeconds', 'Lock after idle (seconds, 0 = never; default 300)', 0, 86_400),
    num('logoffAfterIdleSeconds', 'Log off after idle (seconds, 0 = never; default 0)', 0, 86_400),
    num('logoffAfterLockedSeconds', 'Log off after locked (seconds, 0 = never; default 1800)', 0, 86_400),
    num('warningSeconds', 'Warning before any logoff (seconds; default 60)', 5, 900),
    group('scheduledLogoff', 'Timetabled logoff', [
      listOf('school', 'School-owned devices', 'Add a school-device logoff', LOGOFF),
      listOf('byod', 'BYOD devices', 'Add a BYOD logoff', LOGOFF),
    ]),
    group('postpone', 'Postponing a logoff', [
      plain('check', 'allowed', 'The pupil may postpone a logoff'),
      num('maxTimes', 'Times (default 1)', 1, 10),
      num('seconds', 'By (seconds; default 600)', 30, 3600),
    ]),
  ]),
  group('usb', 'USB drives', [
    choice('verification', 'Checking a drive’s flag', ['fast', 'Fast: sizes and times, re-hash what changed'], ['strict', 'Strict: re-hash every file']),
    choice('response', 'A drive whose flag does not verify', ['block', 'Block it'], ['read-only', 'Read-only'], ['allow-and-audit', 'Allow and audit']),
    num('maxFlagAgeDays', 'Oldest flag accepted (days, empty: as the station gave)', 1, 365),
    listOf('allowSerials', 'School drives allowed without a flag', 'Add a drive', [plain('text', 'serial', 'USB serial'), plain('text', 'note', 'Note (optional)')]),
    listOf('treatAsRemovable', 'Mounts treated as removable', 'Add a mount', [
      plain('text', 'mountPoint', 'Mount point pattern'),
      plain('text', 'source', 'Device pattern'),
      plain('text', 'note', 'Note (optional)'),
    ]),
  ]),
  group('activity', 'Activity and BYOD school hours', [
    choice('mode', 'What is collected', ['off', 'Nothing'], ['app-only', 'Applications only'], ['full', 'Applications and window titles']),
    num('idleAfterSeconds', 'Idle after (seconds; default 180)', 10, 3600),
    num('batchSeconds', 'Send every (seconds; default 60)', 1, 3600),
    listOf('redactTitles', 'Hide parts of titles matching', 'Add a pattern', 'text'),
    group(
      'byod',
      'BYOD devices',
      [
        listOf('schoolHours', 'School hours', 'Add school hours', [plain('days', 'days', 'Days'), plain('time', 'start', 'From'), plain('time', 'end', 'Until')]),
        group(
          'schoolNetwork',
          'School network',
          [
            listOf('cidrs', 'Address ranges (like 10.20.0.0/16)', 'Add a range', 'text'),
            group('probe', 'Reachable host', [plain('text', 'host', 'Host'), num('port', 'Port', 1, 65_535)], 'A host must answer'),
          ],
          'Only on the school network',
        ),
      ],
      'BYOD devices collect inside school hours on the school network (otherwise they collect nothing)',
    ),
  ]),
];
type SectionKey = 'session' | 'usb' | 'activity';

const idOf = (path: readonly PropertyKey[]) => ['set', ...path.map(String)].join('-');
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
function make<K extends keyof HTMLElementTagNameMap>(tag: K, props: Partial<HTMLElementTagNameMap[K]> = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}
const errorOf = (id: string) => make('p', { id: `${id}-error`, className: 'error' });
const described = <T extends HTMLElement>(node: T, id: string) => (node.setAttribute('aria-describedby', `${id}-error`), node);
const record = (value: unknown) => (value && typeof value === 'object' ? (value as Record<string, unknown>) : {});

/** The controls for `fields` at `path`, showing `value`. */
function build(fields: readonly Field[], value: Record<string, unknown>, path: readonly (string | number)[]): Node[] {
  return fields.flatMap((f) => buildOne(f, value[f.key], [...path, f.key]));
}

function buildOne(f: Field, value: unknown, path: readonly (string | number)[]): Node[] {
  const id = idOf(path);
  switch (f.kind) {
    case 'number': {
      const input = described(make('input', { id, type: 'number', min: String(f.min), max: String(f.max), value: value === undefined ? '' : String(value) }), id);
      return [make('label', { className: 'field' }, f.label, input), errorOf(id)];
    }
    case 'text':
    case 'time': {
      const input = described(make('input', { id, type: f.kind, autocomplete: 'off', value: typeof value === 'string' ? value : '' }), id);
      return [make('label', { className: 'field' }, f.label, input), errorOf(id)];
    }
    case 'select': {
      const select = described(make('select', { id }, ...f.options.map(([v, text]) => make('option', { value: v }, text))), id);
      select.value = typeof value === 'string' ? value : f.options[0]![0];
      return [make('label', { className: 'field' }, f.label, select), errorOf(id)];
    }
    case 'check': {
      const input = described(make('input', { id, type: 'checkbox', checked: value === true }), id);
      return [make('label', { className: 'check' }, input, ` ${f.label}`), errorOf(id)];
    }
    case 'days': {
      const days = Array.isArray(value) ? value : SCHOOL_DAYS;
      const boxes = WEEKDAYS.map((d) => make('label', { className: 'check' }, make('input', { type: 'checkbox', value: d, checked: days.includes(d) }), ` ${DAY_NAMES[d]}`));
      return [described(make('fieldset', { id, className: 'days' }, make('legend', {}, f.label), ...boxes), id), errorOf(id)];
    }
    case 'group': {
      const body = make('div', { id: `${id}-body`, className: 'sub-body' }, ...build(f.fields, record(value), path));
      const box = make('fieldset', { id, className: 'sub' }, make('legend', {}, f.label));
      if (f.toggle) {
        const on = make('input', { id: `${id}-on`, type: 'checkbox', checked: value !== undefined });
        body.hidden = !on.checked;
        on.addEventListener('change', () => (body.hidden = !on.checked));
        box.append(make('label', { className: 'check' }, on, ` ${f.toggle}`));
      }
      box.append(errorOf(id), body);
      return [box];
    }
    case 'list': {
      const box = make('fieldset', { id, className: 'sub list' }, make('legend', {}, f.label));
      fillList(box, f, Array.isArray(value) ? value : [], path);
      return [box];
    }
  }
}

function fillList(box: HTMLFieldSetElement, f: Field & { kind: 'list' }, items: readonly unknown[], path: readonly (string | number)[]): void {
  const id = idOf(path);
  const rerender = (next: unknown[], focus: string) => {
    fillList(box, f, next, path);
    const target = $(focus);
    (target?.matches('fieldset') ? target.querySelector<HTMLElement>('input, select') : target)?.focus();
  };
  const rows = items.map((item, i) => {
    const rowPath = [...path, i];
    const controls = f.item === 'text' ? buildOne({ kind: 'text', key: String(i), label: `${f.label} ${i + 1}` }, item, rowPath) : build(f.item, record(item), rowPath);
    const remove = make('button', { type: 'button', className: 'secondary' }, `Remove ${i + 1}`);
    remove.setAttribute('aria-label', `Remove ${f.label.toLowerCase()} ${i + 1}`);
    remove.addEventListener('click', () => {
      const next = readList(f, path, box);
      next.splice(i, 1);
      rerender(next, `${id}-add`);
    });
    const row = make('div', { className: 'list-row' }, ...controls, remove);
    row.setAttribute('role', 'group');
    row.setAttribute('aria-label', `${f.label} ${i + 1}`);
    return row;
  });
  const add = make('button', { type: 'button', id: `${id}-add`, className: 'secondary' }, f.add);
  add.addEventListener('click', () => {
    const next = readList(f, path, box);
    next.push(f.item === 'text' ? '' : {});
    const first = f.item === 'text' ? [...path, next.length - 1] : [...path, next.length - 1, f.item[0]!.key];
    rerender(next, idOf(first));
  });
  box.dataset.count = String(items.length);
  box.replaceChildren(box.querySelector('legend') ?? make('legend', {}, f.label), errorOf(id), ...rows, add);
}

/** What the controls at `path` say, before any check. Empty fields are left out (the schema's default applies). */
function read(fields: readonly Field[], path: readonly (string | number)[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of fields) {
    const value = readOne(f, [...path, f.key]);
    if (value !== undefined) out[f.key] = value;
  }
  return out;
}

function readOne(f: Field, path: readonly (string | number)[]): unknown {
  const id = idOf(path);
  switch (f.kind) {
    case 'number': {
      const text = $<HTMLInputElement>(id).value.trim();
      return text === '' ? undefined : Number(text);
    }
    case 'text':
    case 'time':
      return $<HTMLInputElement>(id).value.trim() || undefined;
    case 'select':
      return $<HTMLSelectElement>(id).value;
    case 'check':
      return $<HTMLInputElement>(id).checked;
    case 'days':
      return [...$(id).querySelectorAll<HTMLInputElement>('input:checked')].map((box) => box.value);
    case 'group':
      if (f.toggle && !$<HTMLInputElement>(`${id}-on`).checked) return undefined;
      return read(f.fields, path);
    case 'list': {
      const items = readList(f, path, $<HTMLFieldSetElement>(id));
      return items.length ? items : undefined;
    }
  }
}

function readList(f: Field & { kind: 'list' }, path: readonly (string | number)[], box: HTMLElement): unknown[] {
  const count = Number(box.dataset.count ?? 0);
  return Array.from({ length: count }, (_, i) => (f.item === 'text' ? ($<HTMLInputElement>(idOf([...path, i])).value.trim() ?? '') : read(f.item, [...path, i])));
}

const TOP_FIELDS = ['set-aup-variant', 'set-aup-school', 'set-tray-stopped', 'set-tray-grace'];
const clearErrors = () => {
  for (const id of TOP_FIELDS) setFieldError(id, '');
  for (const error of document.querySelectorAll<HTMLElement>('#set-sections .error')) setFieldError(error.id.slice(0, -'-error'.length), '');
};

export function fillSettings(settings: PolicySettings, editable: boolean): void {
  clearErrors();
  $<HTMLInputElement>('set-aup-variant').value = settings.aup?.variant ?? '';
  $<HTMLInputElement>('set-aup-school').value = settings.aup?.schoolName ?? '';
  $<HTMLSelectElement>('set-tray-stopped').value = settings.tray?.onStopped ?? '';
  $<HTMLInputElement>('set-tray-grace').value = settings.tray ? String(settings.tray.graceSeconds) : '';
  $('set-sections').replaceChildren(
    ...SECTIONS.map((section) => {
      const id = idOf([section.key]);
      const value = settings[section.key as SectionKey];
      const state = make(
        'select',
        { id: `${id}-state` },
        make('option', { value: '' }, 'Not set by this policy'),
        make('option', { value: 'set' }, 'Set by this policy'),
      );
      state.value = value === undefined ? '' : 'set';
      const body = make('div', { id: `${id}-body`, className: 'sub-body' }, ...build(section.fields, record(value), [section.key]));
      body.hidden = state.value === '';
      state.addEventListener('change', () => (body.hidden = state.value === ''));
      return make('fieldset', { id, className: 'sub section' }, make('legend', {}, section.label), make('label', { className: 'field' }, `${section.label}: in this policy`, state), errorOf(id), body);
    }),
  );
  $<HTMLFieldSetElement>('settings-fields').disabled = !editable;
  $('settings-review').hidden = !editable;
}

/** The element id nearest to an issue's path that has an error line next to it. */
function fieldOf(path: readonly PropertyKey[]): string {
  const [section, field] = path.map(String);
  if (section === 'aup') return field === 'schoolName' ? 'set-aup-school' : 'set-aup-variant';
  if (section === 'tray') return field === 'graceSeconds' ? 'set-tray-grace' : 'set-tray-stopped';
  for (let n = path.length; n > 0; n--) {
    const id = idOf(path.slice(0, n));
    if (document.getElementById(`${id}-error`)) return id;
  }
  return 'set-aup-variant';
}

/** The settings the form describes (checked), or null with each problem next to its field. */
export function readSettings(current: PolicySettings): PolicySettings | null {
  clearErrors();
  const text = (id: string) => $<HTMLInputElement>(id).value.trim();
  const candidate: Record<string, unknown> = { ...current, aup: undefined, tray: undefined, session: undefined, usb: undefined, activity: undefined };
  if (text('set-aup-variant') || text('set-aup-school'))
    candidate.aup = { variant: text('set-aup-variant'), ...(text('set-aup-school') ? { schoolName: text('set-aup-school') } : {}) };
  if (text('set-tray-stopped') || text('set-tray-grace'))
    candidate.tray = { onStopped: text('set-tray-stopped') || 'restart', ...(text('set-tray-grace') ? { graceSeconds: Number(text('set-tray-grace')) } : {}) };
  for (const section of SECTIONS) if ($<HTMLSelectElement>(`${idOf([section.key])}-state`).value === 'set') candidate[section.key] = read(section.fields, [section.key]);
  for (const key of Object.keys(candidate)) if (candidate[key] === undefined) delete candidate[key];
  const parsed = PolicySettingsSchema.safeParse(candidate);
  if (parsed.success) return parsed.data;
  const problems = new Map<string, string>();
  for (const issue of parsed.error.issues) {
    const id = fieldOf(issue.path);
    if (!problems.has(id)) problems.set(id, issue.message);
  }
  for (const [id, message] of problems) setFieldError(id, message);
  const first = [...document.querySelectorAll<HTMLElement>('#settings-fields [id]')].find((node) => problems.has(node.id));
  (first?.matches('fieldset') ? first.querySelector<HTMLElement>('input, select') : first)?.focus();
  return null;
}
