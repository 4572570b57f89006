import { AupBridgeResultSchema, AupPageDataSchema, type AupBridge, type AupPageData } from '../../src/shared/aup-bridge.js';
import { renderMarkdown } from '../shared/markdown.js';

/**
 * The AUP gate's page. The pupil can accept only after reaching the end of the text, typing
 * their name and ticking the box; declining asks for confirmation and then signs them out.
 * All data comes through the bridge and is validated with the shared schemas.
 */
declare global {
  interface Window {
    vigilAup?: AupBridge;
  }
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const state = { reachedEnd: false, data: null as AupPageData | null, busy: false };

function bridge(): AupBridge {
  if (!window.vigilAup) throw new Error('This page must be opened by the Vigil app.');
  return window.vigilAup;
}

function showError(message: string): void {
  $('error').textContent = message;
}

function update(): void {
  const name = $<HTMLInputElement>('typed-name').value.trim();
  const ticked = $<HTMLInputElement>('agree-tick').checked;
  const missing: string[] = [];
  if (!state.reachedEnd) missing.push('read to the end of the rules');
  if (name.length < 2) missing.push('type your name');
  if (!ticked) missing.push('tick the box');
  const ready = missing.length === 0 && !!state.data && !state.busy;
  $<HTMLButtonElement>('accept').disabled = !ready;
  $('still-needed').textContent = ready ? 'Thank you. You can now press “I agree”.' : state.data ? `To continue, please ${joinWords(missing)}.` : '';
}

function joinWords(parts: string[]): string {
  return parts.length <= 1 ? (parts[0] ?? '') : `${parts.slice(0, -1).join(', ')} and ${parts.at(-1)}`;
}

function watchEnd(container: HTMLElement): void {
  const marker = document.createElement('div');
  marker.className = 'end-marker';
  marker.setAttribute('aria-hidden', 'true');
  container.append(marker);
  const reached = () => {
    if (state.reachedEnd) return;
    state.reachedEnd = true;
    container.setAttribute('aria-label', 'The rules. You have reached the end.');
    update();
  };
  new IntersectionObserver((entries) => entries.some((e) => e.isIntersecting) && reached(), { root: container, threshold: 1 }).observe(marker);
  // Belt and braces for engines that report intersection late: check the scroll position too.
  container.addEventListener('scroll', () => {
    if (container.scrollTop + container.clientHeight >= container.scrollHeight - 4) reached();
  });
}

async function load(): Promise<void> {
  let raw: unknown;
  try {
    raw = await bridge().load();
  } catch (error) {
    $('aup-title').textContent = 'The rules could not be loaded';
    return showError(`${(error as Error).message} Please tell your teacher.`);
  }
  const parsed = AupPageDataSchema.safeParse(raw);
  if (!parsed.success) {
    $('aup-title').textContent = 'The rules could not be loaded';
    return showError('The rules sent to this page are not valid. Please tell your teacher.');
  }
  const data = parsed.data;
  state.data = data;
  document.documentElement.dataset.variant = data.variant;
  $('school').textContent = data.school;
  $('aup-title').textContent = data.title;
  document.title = data.title;
  $('intro').textContent =
    data.variant === 'primary'
      ? 'Please read these rules. When you get to the end, type your name and tick the box.'
      : `Please read the rules for using this computer (version ${data.version}). When you reach the end, type your name and tick the box to agree.`;
  $('offline').hidden = !data.offline;
  const container = $('document');
  container.replaceChildren(renderMarkdown(data.markdown));
  watchEnd(container);
  $('aup').setAttribute('aria-busy', 'false');
  update();
  container.focus();
}

$('typed-name').addEventListener('input', update);
$('agree-tick').addEventListener('change', update);
$('bigger-text').addEventListener('click', () => {
  const on = document.documentElement.classList.toggle('bigger');
  $('bigger-text').setAttribute('aria-pressed', String(on));
});

$<HTMLFormElement>('agree').addEventListener('submit', async (event) => {
  event.preventDefault();
  if ($<HTMLButtonElement>('accept').disabled || !state.data) return;
  state.busy = true;
  update();
  showError('');
  try {
    const result = AupBridgeResultSchema.safeParse(
      await bridge().accept({
        typedName: $<HTMLInputElement>('typed-name').value.trim(),
        variant: state.data.variant,
        version: state.data.version,
        aupHash: state.data.aupHash,
      }),
    );
    if (!result.success) showError('Something went wrong saving your agreement. Please try again or tell your teacher.');
    else if (!result.data.ok) showError(result.data.message);
    else {
      $('still-needed').textContent = 'Thank you. You can now use this computer.';
      return;
    }
  } catch (error) {
    showError(`Your agreement could not be saved: ${(error as Error).message}`);
  }
  state.busy = false;
  update();
});

$('decline').addEventListener('click', () => $<HTMLDialogElement>('confirm-decline').showModal());
$('decline-cancel').addEventListener('click', () => $<HTMLDialogElement>('confirm-decline').close());
$('decline-confirm').addEventListener('click', async () => {
  $<HTMLDialogElement>('confirm-decline').close();
  try {
    await bridge().decline();
    $('still-needed').textContent = 'Signing you out…';
  } catch (error) {
    showError(`Could not sign you out: ${(error as Error).message}`);
  }
});

void load();
