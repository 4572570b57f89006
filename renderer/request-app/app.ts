import type { BlockedProgram } from '../../src/shared/local-ipc.js';
import { QueuedResultSchema, RequestContextResultSchema } from '../../src/shared/tray-bridge.js';
import { $, callBridge, showError, wireClose } from '../shared/tray-page.js';

/**
 * Ask for an app: the pupil picks one of the programs blocked recently (the one they came from
 * is already chosen) and may say why. Only the hash goes back: main sends the program's details
 * as the service reported them.
 */
let programs: BlockedProgram[] = [];
wireClose();

function selected(): BlockedProgram | undefined {
  const sha = ($('programs').querySelector('input:checked') as HTMLInputElement | null)?.value;
  return programs.find((p) => p.sha256 === sha);
}

function showDetails(): void {
  const program = selected();
  $('name').textContent = program?.name ?? '';
  $('path').textContent = program?.path ?? '';
  $('signer').textContent = program?.signer === 'unknown' ? 'Not known' : (program?.signer ?? '');
  $('sha256').textContent = program?.sha256 ?? '';
}

async function load(): Promise<void> {
  const result = await callBridge('requestContext', RequestContextResultSchema);
  document.querySelector('main')!.setAttribute('aria-busy', 'false');
  if (!result.ok) return showError(result.message);
  programs = result.value.programs.filter((p) => p.sha256);
  if (!programs.length) {
    $('none').hidden = false;
    return;
  }
  const fieldset = $('programs');
  programs.forEach((program, i) => {
    const label = document.createElement('label');
    label.className = 'choice';
    const input = document.createElement('input');
    input.type = 'radio';
    input.name = 'program';
    input.value = program.sha256!;
    input.checked = result.value.selected ? program.sha256 === result.value.selected : i === 0;
    input.addEventListener('change', showDetails);
    label.append(input, ` ${program.name}`);
    fieldset.append(label);
  });
  $('request').hidden = false;
  showDetails();
  ($('programs').querySelector('input:checked') as HTMLInputElement).focus();
}

$<HTMLFormElement>('request').addEventListener('submit', async (event) => {
  event.preventDefault();
  const program = selected();
  if (!program?.sha256) return showError('Choose a program first.');
  showError('');
  const send = $<HTMLButtonElement>('send');
  send.disabled = true;
  const reason = $<HTMLTextAreaElement>('reason').value.trim();
  const result = await callBridge('requestApp', QueuedResultSchema, { sha256: program.sha256, reason: reason || null });
  send.disabled = false;
  if (!result.ok) return showError(`Your request was not sent: ${result.message}`);
  $('request').hidden = true;
  $('done').hidden = false;
  $('done').textContent = `Your request for ${program.name} has been sent to the Systems Manager.`;
  $('done').tabIndex = -1;
  $('done').focus();
});

void load();
