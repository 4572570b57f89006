import { visible } from './console-api.js';

/**
 * Asks before an action that changes something on a device or in the policy. A modal <dialog>:
 * focus moves into it, Escape cancels, and focus returns to the button that opened it.
 * `fields` are extra form controls (a message text, an expiry) read by the caller afterwards.
 */
export function confirmAction(opts: { title: string; text: string; ok: string; fields?: HTMLElement[]; danger?: boolean }): Promise<boolean> {
  const dialog = document.getElementById('confirm') as HTMLDialogElement;
  const answers = answersOf(dialog);
  // A confirmation still open (a close this page did not see) counts as cancelled.
  answers.settle(false);
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
    answers.pending = (confirmed) => {
      opener?.focus();
      resolve(confirmed);
    };
  });
}

interface Answers {
  pending: ((confirmed: boolean) => void) | null;
  settle(confirmed: boolean): void;
}

const answersByDialog = new WeakMap<HTMLDialogElement, Answers>();

/**
 * How the dialog was answered, taken from the events that close it (Escape's `cancel`, the
 * form's `submit` and its submitter), which come at once. The `close` event comes a task later:
 * on a busy machine the previous confirmation's `close` arrived after the next one had opened the
 * dialog again, and answered it "cancelled" (a flaky e2e test found it). A `close` is only taken
 * for a dialog that is closed when it arrives (closed some other way).
 */
function answersOf(dialog: HTMLDialogElement): Answers {
  const known = answersByDialog.get(dialog);
  if (known) return known;
  const answers: Answers = {
    pending: null,
    settle(confirmed) {
      const pending = answers.pending;
      answers.pending = null;
      pending?.(confirmed);
    },
  };
  dialog.addEventListener('cancel', () => answers.settle(false));
  dialog.querySelector('form')?.addEventListener('submit', (event) => answers.settle((event.submitter as HTMLButtonElement | null)?.value === 'ok'));
  dialog.addEventListener('close', () => {
    if (!dialog.open) answers.settle(dialog.returnValue === 'ok');
  });
  answersByDialog.set(dialog, answers);
  return answers;
}

/** A labelled form control for a confirmation dialog. */
export function field(label: string, control: HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement): HTMLLabelElement {
  const wrapper = document.createElement('label');
  wrapper.className = 'field';
  wrapper.append(document.createTextNode(label), control);
  return wrapper;
}
