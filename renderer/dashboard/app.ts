import { z } from 'zod';
import { DeviceListResponseSchema, FeedMessageSchema, type DeviceSummary } from '../../src/shared/api.js';
import { roleAllows } from '../../src/shared/roles.js';
import { api } from '../shared/console-api.js';
import { wireSession, type Me } from '../shared/sign-in.js';
import { DevicePage } from './device-page.js';
import { DeviceGrid } from './grid.js';
import { RequestsPage } from './requests-page.js';

/**
 * The IT technician's console: a live device grid, a page per device, and (for roles that may
 * decide them) the queue of application requests. Everything from the server is validated with
 * the shared schemas and written with textContent, never as HTML: a device cannot inject markup.
 * Updates arrive over one server-sent event stream; the page never polls.
 */
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const FeedBatchSchema = z.array(FeedMessageSchema);

let feed: EventSource | null = null;
let grid: DeviceGrid | null = null;
let devicePage: DevicePage | null = null;
let requestsPage: RequestsPage | null = null;
let canManageRequests = false;
let groups: Record<string, string[]> = {};
let currentPolicy: number | null = null;

function showSignIn(message = ''): void {
  feed?.close();
  feed = null;
  for (const id of ['devices', 'device-page', 'requests', 'whoami', 'nav']) $(id).hidden = true;
  $('sign-in').hidden = false;
  $('sign-in-error').textContent = message;
  $<HTMLInputElement>('username').focus();
}

function showApp(me: Me): void {
  $('sign-in').hidden = true;
  $('whoami').hidden = false;
  $('nav').hidden = false;
  $('whoami-name').textContent = `${me.username} (${me.role.replace('_', ' ')})`;
  $('nav-requests').hidden = !roleAllows(me.role, 'app-requests:manage');
  $('nav-concerns').hidden = !roleAllows(me.role, 'concerns:manage');
  grid ??= createGrid();
  devicePage ??= new DevicePage();
  devicePage.allowActions(roleAllows(me.role, 'devices:command'));
  canManageRequests = roleAllows(me.role, 'app-requests:manage');
  requestsPage ??= new RequestsPage();
  subscribe();
  route();
}

function createGrid(): DeviceGrid {
  const g = new DeviceGrid($('grid-scroll'), $<HTMLTableSectionElement>('device-rows'), $<HTMLTableRowElement>('grid-head'));
  g.onChange = (shown, total, online) => {
    $('summary').textContent = shown === total ? `${online} of ${total} online` : `${online} of ${total} online · ${shown} shown`;
    $('empty').hidden = total > 0;
  };
  g.onOpen = (id) => (location.hash = `#/device/${id}`);
  const applyFilter = () =>
    g.setFilter({
      text: $<HTMLInputElement>('search').value,
      presence: $<HTMLSelectElement>('filter-presence').value,
      group: $<HTMLSelectElement>('filter-group').value ? new Set(groups[$<HTMLSelectElement>('filter-group').value] ?? []) : null,
      user: $<HTMLInputElement>('filter-user').value,
    });
  for (const id of ['search', 'filter-user']) $(id).addEventListener('input', applyFilter);
  for (const id of ['filter-presence', 'filter-group']) $(id).addEventListener('change', applyFilter);
  // Relative times age on screen; this redraws text only, it does not ask the console anything.
  setInterval(() => g.tick(), 15_000);
  return g;
}

function setGroups(next: Record<string, string[]>): void {
  groups = next;
  devicePage?.setGroups(next);
  const select = $<HTMLSelectElement>('filter-group');
  const chosen = select.value;
  select.replaceChildren(
    new Option('Any', ''),
    ...Object.keys(groups)
      .sort()
      .map((name) => new Option(name, name)),
  );
  select.value = groups[chosen] ? chosen : '';
}

function subscribe(): void {
  feed?.close();
  feed = new EventSource('/api/v1/feed');
  feed.addEventListener('open', () => {
    $('feed-state').textContent = 'Live';
    void reloadDevices();
  });
  feed.addEventListener('batch', (event) => {
    const parsed = FeedBatchSchema.safeParse(JSON.parse((event as MessageEvent<string>).data));
    if (!parsed.success) return console.warn('ignored a feed message that does not match the schema', parsed.error);
    const changed: DeviceSummary[] = [];
    let requestsChanged = false;
    for (const message of parsed.data) {
      if (message.kind === 'device') changed.push(message.device);
      // A new policy may change groups and which devices are current: one reload per push.
      else if (message.kind === 'policy') void reloadDevices();
      else if (message.kind === 'app-requests') requestsChanged = true;
    }
    if (requestsChanged && !$('requests').hidden) void requestsPage?.load();
    grid!.upsert(changed);
    for (const d of changed) devicePage?.update(d);
  });
  feed.addEventListener('session-expired', () => showSignIn('Your session has ended. Please sign in again.'));
  feed.addEventListener('error', () => {
    $('feed-state').textContent = 'Reconnecting…';
    if (feed?.readyState === EventSource.CLOSED) void checkSession();
  });
}

async function reloadDevices(): Promise<void> {
  const res = await api('/api/v1/devices');
  if (res.status === 401) return showSignIn();
  const parsed = DeviceListResponseSchema.safeParse(await res.json());
  if (!parsed.success) return;
  currentPolicy = parsed.data.currentPolicyVersion ?? null;
  setGroups(parsed.data.groups ?? {});
  grid!.reset(parsed.data.devices, currentPolicy);
  devicePage?.setCurrentPolicy(currentPolicy);
  const open = devicePage?.openId;
  if (open) {
    const d = grid!.get(open);
    if (d) devicePage!.update(d);
  }
}

/** #/devices, #/device/<id>, #/requests. */
function route(): void {
  if ($('sign-in').hidden === false) return;
  const hash = location.hash;
  const device = /^#\/device\/([0-9a-f-]{36})$/.exec(hash);
  const requests = hash === '#/requests' && canManageRequests;
  $('devices').hidden = !!device || requests;
  $('device-page').hidden = !device;
  $('requests').hidden = !requests;
  for (const [id, active] of [
    ['nav-devices', !requests],
    ['nav-requests', requests],
  ] as const) {
    if (active) $(id).setAttribute('aria-current', 'page');
    else $(id).removeAttribute('aria-current');
  }
  if (device) {
    devicePage!.open(device[1]!, grid!.get(device[1]!), currentPolicy);
    $('back-to-devices').focus();
  } else {
    devicePage?.close();
    if (requests) void requestsPage!.load();
    else grid!.focusGrid();
  }
}

const checkSession = wireSession(showApp, showSignIn);

window.addEventListener('hashchange', route);
void checkSession();
