import { DoneResultSchema, ProgramResultSchema } from '../../src/shared/tray-bridge.js';
import { $, callBridge, showError, wireClose } from '../shared/tray-page.js';

/** The blocked-program notice: what was blocked, that it is the school's rule, and "Ask for permission". */
wireClose();

async function load(): Promise<void> {
  const result = await callBridge('blocked', ProgramResultSchema);
  document.querySelector('main')!.setAttribute('aria-busy', 'false');
  if (!result.ok) {
    $<HTMLButtonElement>('ask').disabled = true;
    return showError(result.message);
  }
  const program = result.value;
  if (!program) {
    $('title').textContent = 'Nothing has been blocked';
    $<HTMLButtonElement>('ask').disabled = true;
    return;
  }
  $('title').textContent = program.mode === 'enforce' ? `${program.name} was blocked` : `${program.name} is not approved`;
  document.title = $('title').textContent!;
  $('monitor-note').hidden = program.mode === 'enforce';
  $('name').textContent = program.name;
  $('path').textContent = program.path;
  $('signer').textContent = program.signer === 'unknown' ? 'Not known' : program.signer;
  $('sha256').textContent = program.sha256 ?? 'Not known';
  $('no-ask').hidden = !!program.sha256;
  $<HTMLButtonElement>('ask').disabled = !program.sha256;
  $('ask').focus();
}

$('ask').addEventListener('click', async () => {
  showError('');
  const result = await callBridge('askPermission', DoneResultSchema);
  if (!result.ok) showError(`Could not open the request form. ${result.message}`);
});

void load();
