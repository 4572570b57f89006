import { z } from 'zod';
import { DeviceListResponseSchema, FeedMessageSchema, type DeviceSummary } from '../../src/shared/api.js';
import { csvRows } from '../../src/shared/csv.js';
import { roleAllows, type Permission } from '../../src/shared/roles.js';
import { api } from '../shared/console-api.js';
import { downloadText } from '../shared/forms.js';
import { watchScrollRegions } from '../shared/scroll-regions.js';
import { wireSession, type Me } from '../shared/sign-in.js';
import { AuditPage } from './audit-page.js';
import { AupPage } from './aup-page.js';
import { BulkGroups } from './bulk-groups.js';
import { DeviceGroups } from './device-groups.js';
import { DevicePage } from './device-page.js';
import { countFleet, drawFleet } from './fleet-summary.js';
import { cellValues, DeviceGrid } from './grid.js';
import { GroupsPage } from './groups-page.js';
import { RequestsPage } from './requests-page.js';
import { StationsPage } from './stations-page.js';
import { TokensPage } from './tokens-page.js';

/**
 * The staff console: a live device grid, a page per device, and the pages each role may use
 * (application requests, AUP, scan stations, enrollment tokens, audit log; see docs/console.md). Everything from the server is validated with
 * the shared schemas and written with textContent, never as HTML: a device cannot inject markup.
 * Updates arrive over one server-sent event stream; the page never polls.
 */
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const FeedBatchSchema = z.array(FeedMessageSchema);

let feed: EventSource | null = null;
let grid: DeviceGrid | null = null;
let bulk: BulkGroups | null = null;
let deviceGroups: DeviceGroups | null = null;
let devicePage: DevicePage | null = null;
let requestsPage: RequestsPage | null = null;
let me: Me | null = null;

/** The pages behind the navigation: hash, section and the permission the role needs (nav links carry the same). */
interface PageEntry {
  section: string;
  nav: string;
  permission: Permission;
  load?: () => Promise<void>;
}
const lazy = <T>(make: () => T) => {
  let made: T | null = null;
  return () => (made ??= make());
};
const aupPage = lazy(() => new AupPage());
const stationsPage = lazy(() => new StationsPage());
const tokensPage = lazy(() => new TokensPage());
const auditPage = lazy(() => new AuditPage());
const groupsPage = lazy(() => new GroupsPage({ device: (id) => grid?.get(id), changed: () => reloadDevices() }));
const PAGES: Record<string, PageEntry> = {
  '#/devices': { section: 'devices', nav: 'nav-devices', permission: 'devices:read' },
  '#/requests': { section: 'requests', nav: 'nav-requests', permission: 'app-requests:manage', load: () => requestsPage!.load() },
  '#/aup': { section: 'aup', nav: 'nav-aup', permission: 'aup:read', load: () => aupPage().load() },
  '#/groups': { section: 'groups', nav: 'nav-groups', permission: 'policy:read', load: () => groupsPage().load() },
  '#/stations': { section: 'stations', nav: 'nav-stations', permission: 'stations:manage', load: () => stationsPage().load() },
  '#/tokens': { section: 'tokens', nav: 'nav-tokens', permission: 'enroll-tokens:manage', load: () => tokensPage().load() },
  '#/audit': { section: 'audit', nav: 'nav-audit', permission: 'audit:read', load: () => auditPage().load() },
};
const SECTIONS = ['devices', 'device-page', 'not-allowed', ...new Set(Object.values(PAGES).map((p) => p.section))];
let groups: Record<string, string[]> = {};
let currentPolicy: number | null = null;

function showSignIn(message = ''): void {
  feed?.close();
  feed = null;
  me = null;
  for (const id of [...SECTIONS, 'whoami', 'nav']) $(id).hidden = true;
  $('sign-in').hidden = false;
  $('sign-in-error').textContent = message;
  $<HTMLInputElement>('username').focus();
}

function showApp(signedIn: Me): void {
  me = signedIn;
  $('sign-in').hidden = true;
  $('whoami').hidden = false;
  $('nav').hidden = false;
  $('whoami-name').textContent = `${me.username} (${me.role.replace('_', ' ')})`;
  // Each role sees only the pages it may use; the console refuses the rest anyway.
  for (const link of $('nav').querySelectorAll<HTMLAnchorElement>('a[data-permission]')) {
    link.hidden = !roleAllows(me.role, link.dataset.permission as Permission);
  }
  grid ??= createGrid();
  bulk ??= new BulkGroups(grid, async () => (await reloadDevices(), groups));
  bulk.allow(roleAllows(me.role, 'policy:push'));
  deviceGroups ??= new DeviceGroups(() => reloadDevices());
  deviceGroups.allow(roleAllows(me.role, 'policy:push'));
  devicePage ??= new DevicePage();
  devicePage.allowActions(roleAllows(me.role, 'devices:command'), roleAllows(me.role, 'devices:revoke'));
  requestsPage ??= new RequestsPage();
  if (roleAllows(me.role, 'aup:read')) aupPage().allowPublish(roleAllows(me.role, 'aup:publish'));
  if (roleAllows(me.role, 'policy:read')) groupsPage().allowEdit(roleAllows(me.role, 'policy:push'), roleAllows(me.role, 'enroll-tokens:manage'));
  subscribe();
  route();
}

function createGrid(): DeviceGrid {
  const g = new DeviceGrid($('grid-scroll'), $<HTMLTableSectionElement>('device-rows'), $<HTMLTableRowElement>('grid-head'));
  g.onChange = (shown, total, online) => {
    $('summary').textContent = shown === total ? `${online} of ${total} online` : `${online} of ${total} online · ${shown} shown`;
    $('empty').hidden = total > 0;
    $('no-matches').hidden = total === 0 || shown > 0;
    drawFleet($('fleet-chart'), $('fleet-facts'), countFleet(g.all(), g.policyVersion));
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
  $('clear-filters').addEventListener('click', () => {
    for (const id of ['search', 'filter-user', 'filter-presence', 'filter-group']) $<HTMLInputElement>(id).value = '';
    applyFilter();
    $('search').focus();
  });
  $('devices-csv').addEventListener('click', () => exportDevices(g));
  // Relative times age on screen; this redraws text only, it does not ask the console anything.
  setInterval(() => g.tick(), 15_000);
  return g;
}

/** The grid as filtered and sorted, as CSV: each column's main line and detail line, as on screen, then when last seen and the id. */
const CSV_COLUMNS = ['status', 'device', 'user', 'active_window', 'idle', 'lock', 'aup', 'policy', 'app_control', 'blocks_24h', 'agent'];
function exportDevices(g: DeviceGrid): void {
  const header = [...CSV_COLUMNS.flatMap((c) => [c, `${c}_detail`]), 'last_seen_at', 'device_id'];
  const rows = g.shown().map((d) => [...cellValues(d, g.policyVersion).flat(), d.lastSeenAt ?? '', d.id]);
  downloadText(`devices-${new Date().toISOString().slice(0, 10)}.csv`, csvRows(header, rows));
}

function setGroups(next: Record<string, string[]>): void {
  groups = next;
  devicePage?.setGroups(next);
  bulk?.setGroups(next);
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
  const res = await api('/api/v1/devices').catch(() => null);
  if (res?.status === 401) return showSignIn();
  const parsed = DeviceListResponseSchema.safeParse(res?.ok ? await res.json().catch(() => null) : null);
  $('devices-error').textContent = parsed.success
    ? ''
    : res?.ok
      ? 'The console sent a device list this page does not understand.'
      : `The devices could not be loaded (${res ? `the console answered ${res.status}` : 'the console could not be reached'}). The page retries when the live feed reconnects.`;
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

/** #/devices, #/device/<id> and the hashes in PAGES; a page outside the role shows a refusal. */
function route(): void {
  if ($('sign-in').hidden === false || !me) return;
  const hash = location.hash || '#/devices';
  const device = /^#\/device\/([0-9a-f-]{36})$/.exec(hash);
  const page = device ? PAGES['#/devices']! : (PAGES[hash] ?? PAGES['#/devices']!);
  const allowed = roleAllows(me.role, page.permission);
  const section = !allowed ? 'not-allowed' : device ? 'device-page' : page.section;
  for (const id of SECTIONS) $(id).hidden = id !== section;
  for (const link of $('nav').querySelectorAll<HTMLAnchorElement>('a[data-permission]')) {
    if (link.id === page.nav) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  if (!allowed) return $('not-allowed-title').focus();
  if (device) {
    devicePage!.open(device[1]!, grid!.get(device[1]!), currentPolicy);
    void deviceGroups!.open(device[1]!);
    $('back-to-devices').focus();
    return;
  }
  devicePage?.close();
  if (page.section === 'devices') grid!.focusGrid();
  else {
    void page.load?.();
    $(section).querySelector<HTMLElement>('h2')?.focus();
  }
}

watchScrollRegions();
const checkSession = wireSession(showApp, showSignIn);

window.addEventListener('hashchange', route);
// Choosing the page already open reloads it (hashchange does not fire for the same hash).
$('nav').addEventListener('click', (event) => {
  const link = (event.target as HTMLElement).closest('a');
  if (link && link.hash && link.hash === location.hash) setTimeout(route);
});
void checkSession();
