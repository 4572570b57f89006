import type { z } from 'zod';
import { visible } from './console-api.js';

/**
 * Form checks in the browser with the console's own zod schemas: each problem is written next to
 * its field (the element `<id>-error`, linked by aria-describedby), the field is marked
 * aria-invalid, and focus moves to the first one. `fields` maps a schema key to its control's id.
 */
export function checkForm<S extends z.ZodType>(schema: S, value: unknown, fields: Record<string, string>): z.infer<S> | null {
  for (const id of Object.values(fields)) setFieldError(id, '');
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  let first: string | null = null;
  for (const issue of parsed.error.issues) {
    const id = fields[String(issue.path[0] ?? '')];
    if (!id) continue;
    setFieldError(id, issue.message);
    first ??= id;
  }
  if (first) document.getElementById(first)?.focus();
  return null;
}

export function setFieldError(id: string, message: string): void {
  const control = document.getElementById(id);
  const error = document.getElementById(`${id}-error`);
  if (error) error.textContent = message;
  if (message) control?.setAttribute('aria-invalid', 'true');
  else control?.removeAttribute('aria-invalid');
}

/** A button that calls `onClick`; text only. */
export function button(text: string, onClick: () => void, className = ''): HTMLButtonElement {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = text;
  if (className) b.className = className;
  b.addEventListener('click', onClick);
  return b;
}

/** Saves text as a file (a CSV export made in the page). */
export function downloadText(filename: string, text: string, type = 'text/csv;charset=utf-8'): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** The local date-time an <input type="datetime-local"> holds, as an ISO instant (or undefined when empty). */
export function localToIso(value: string): string | undefined {
  if (!value) return undefined;
  const t = new Date(value).getTime();
  return Number.isNaN(t) ? undefined : new Date(t).toISOString();
}

/** A labelled checkbox (class "check"), its label text only; the box's value names what it stands for. */
export function checkbox(value: string, text: string, opts: { checked?: boolean; disabled?: boolean } = {}): HTMLLabelElement {
  const box = document.createElement('input');
  box.type = 'checkbox';
  box.value = value;
  box.checked = opts.checked ?? false;
  box.disabled = opts.disabled ?? false;
  const label = document.createElement('label');
  label.className = 'check';
  label.append(box, ` ${visible(text)}`);
  return label;
}
