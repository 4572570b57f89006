import { visible } from './console-api.js';

/**
 * Asks before an action that changes something on a device or in the policy. A modal <dialog>:
 * focus moves into it, Escape cancels, and focus returns to the button that opened it.
 * `fields` are extra form controls (a message text, an expiry) read by the caller afterwards.
 */
export function confirmAction(opts: { title: string; text: string; ok: string; fields?: HTMLElement[]; danger?: boolean }): Promise<boolean> {
  const dialog = document.getElementById('confirm') as HTMLDialogElement;
  const opener = document.activeElement as HTMLElement | null;
  document.getElementById('confirm-title')!.textContent = visible(opts.title);
  document.getElementById('confirm-text')!.textContent = visible(opts.text);
  document.getElementById('confirm-fields')!.replaceChildren(...(opts.fields ?? []));
  const ok = document.getElementById('confirm-ok') as HTMLButtonElement;
  ok.textContent = opts.ok;
  ok.classList.toggle('danger', !!opts.danger);
  dialog.returnValue = '';
  dialog.showModal();
  const first = (opts.fields ?? []).map((f) => (f.matches('input, textarea, select') ? f : f.querySelector('input, textarea, select'))).find(Boolean) as
    HTMLElement | undefined;
  (first ?? ok).focus();
  return new Promise((resolve) => {
    dialog.addEventListener(
      'close',
      () => {
        opener?.focus();
        resolve(dialog.returnValue === 'ok');
      },
      { once: true },
    );
  });
}

/** A labelled form control for a confirmation dialog. */
export function field(label: string, control: HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement): HTMLLabelElement {
  const wrapper = document.createElement('label');
  wrapper.className = 'field';
  wrapper.append(document.createTextNode(label), control);
  return wrapper;
}
