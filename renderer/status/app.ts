import { LockResultSchema, StatusResultSchema } from '../../src/shared/tray-bridge.js';
import { $, callBridge, showError, wireClose } from '../shared/tray-page.js';

/** The status page: connection, what is monitored now in plain words, the AUP, diagnostics. */
wireClose();

async function load(): Promise<void> {
  showError('');
  const result = await callBridge('status', StatusResultSchema);
  document.querySelector('main')!.setAttribute('aria-busy', 'false');
  if (!result.ok) {
    $('connection').dataset.state = 'offline';
    $('connection').textContent = 'Status not available';
    return showError(result.message);
  }
  const view = result.value;
  const service = view.service;
  const state = !service ? 'offline' : service.aupNeeded ? 'action-needed' : service.consoleConnected ? 'connected' : 'offline';
  $('connection').dataset.state = state;
  $('connection').textContent =
    state === 'connected'
      ? 'Connected to school.'
      : state === 'action-needed'
        ? 'Action needed: please read and accept the computer rules.'
        : service
          ? 'Offline: school cannot be reached. The school’s rules still apply.'
          : 'The Vigil service on this computer cannot be reached.';
  const list = $('monitored');
  list.replaceChildren(
    ...(view.monitored.length ? view.monitored : ['Not known while the Vigil service cannot be reached.']).map((line) => {
      const li = document.createElement('li');
      li.textContent = line;
      return li;
    }),
  );
  $('aup-state').textContent = !service
    ? 'Not known.'
    : service.aupNeeded
      ? 'New rules are waiting for you to read and accept.'
      : 'You have accepted the school’s current rules for this computer (or none are set).';
  $('user').textContent = service?.user ?? 'Not known';
  $('mode').textContent = view.userMode ? 'Your own device (Vigil runs with your rights only)' : service?.mode === 'service' ? 'School device' : 'Not known';
  $('policy').textContent = service?.policyVersion ? String(service.policyVersion) : 'None yet';
  $('service').textContent = view.serviceProblem ?? 'Running';
  $('version').textContent = view.trayVersion;
  $<HTMLButtonElement>('lock').disabled = !service;
}

$('refresh').addEventListener('click', () => void load());
$('lock').addEventListener('click', async () => {
  showError('');
  $('done').textContent = '';
  const result = await callBridge('lockNow', LockResultSchema);
  if (!result.ok) return showError(`Could not lock the screen. ${result.message}`);
  if (result.value.locked) $('done').textContent = 'The screen is locking.';
  else showError(`Could not lock the screen: ${result.value.detail}`);
});

void load();
