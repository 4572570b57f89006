import { QueuedResultSchema } from '../../src/shared/tray-bridge.js';
import { $, callBridge, showError, wireClose } from '../shared/tray-page.js';

/** Report a concern: category, the pupil's words, and whether they want to be contacted. */
const form = $<HTMLFormElement>('concern');
wireClose();

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  const text = $<HTMLTextAreaElement>('text').value;
  showError('');
  if (!text.trim()) {
    showError('Please say a little about what happened.');
    $('text').focus();
    return;
  }
  const category = (form.querySelector('input[name="category"]:checked') as HTMLInputElement).value;
  const send = $<HTMLButtonElement>('send');
  send.disabled = true;
  const result = await callBridge('reportConcern', QueuedResultSchema, { category, text, wantsContact: $<HTMLInputElement>('wants-contact').checked });
  send.disabled = false;
  if (!result.ok) return showError(`Your report was not sent: ${result.message}`);
  form.hidden = true;
  $('done').hidden = false;
  $('done').textContent = 'Thank you. Your report has been sent to the safeguarding lead.';
  $('done').tabIndex = -1;
  $('done').focus();
});
