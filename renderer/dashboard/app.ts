import { z } from 'zod';
import { DeviceSummarySchema, FeedMessageSchema, type DeviceSummary } from '../../src/shared/api.js';

/**
 * The IT technician's live device list. Everything from the server is validated with the
 * shared schemas and written with textContent, never as HTML: a device cannot inject markup.
 */
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const devices = new Map<string, DeviceSummary>();
let feed: EventSource | null = null;

const MeSchema = z.object({ username: z.string(), role: z.string() });
const DeviceListSchema = z.object({ devices: z.array(DeviceSummarySchema) });
const FeedBatchSchema = z.array(FeedMessageSchema);

async function api(path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(path, { credentials: 'same-origin', ...init, headers: { 'content-type': 'application/json', ...(init.headers ?? {}) } });
}

function showSignIn(message = ''): void {
  feed?.close();
  feed = null;
  $('sign-in').hidden = false;
  $('devices').hidden = true;
  $('whoami').hidden = true;
  $('sign-in-error').textContent = message;
  $<HTMLInputElement>('username').focus();
}

async function showDashboard(me: z.infer<typeof MeSchema>): Promise<void> {
  $('sign-in').hidden = true;
  $('devices').hidden = false;
  $('whoami').hidden = false;
  $('whoami-name').textContent = `${me.username} (${me.role.replace('_', ' ')})`;
  subscribe();
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
    for (const message of parsed.data) {
      if (message.kind === 'device') devices.set(message.device.id, message.device);
    }
    render();
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
  const parsed = DeviceListSchema.safeParse(await res.json());
  if (!parsed.success) return;
  devices.clear();
  for (const d of parsed.data.devices) devices.set(d.id, d);
  render();
}

function relative(iso: string | null): string {
  if (!iso) return 'never';
  const seconds = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.round(seconds / 3600)} h ago`;
  return new Date(iso).toLocaleString();
}

function cell(row: HTMLTableRowElement, text: string, className?: string, sub?: string): void {
  const td = row.insertCell();
  const main = document.createElement('span');
  main.textContent = text;
  if (className) main.className = className;
  td.append(main);
  if (sub) {
    const small = document.createElement('span');
    small.className = 'sub';
    small.textContent = sub;
    td.append(small);
  }
}

function render(): void {
  const body = $<HTMLTableSectionElement>('device-rows');
  const sorted = [...devices.values()].sort((a, b) => Number(b.online) - Number(a.online) || a.hostname.localeCompare(b.hostname));
  const rows = sorted.map((d) => {
    const row = document.createElement('tr');
    row.dataset.deviceId = d.id;
    row.dataset.state = d.revoked ? 'revoked' : d.online ? 'online' : 'offline';
    const state = d.revoked ? 'revoked' : d.online ? 'online' : 'offline';
    cell(row, state === 'online' ? 'Online' : state === 'offline' ? 'Offline' : 'Revoked', `state ${state}`);
    cell(row, d.status?.hostname ?? d.hostname, 'host', d.id + (d.cloneSuspect ? ' · possible cloned image' : ''));
    cell(row, d.status?.user ?? '—', 'user');
    cell(row, d.status ? `${d.status.os.distro ?? d.status.os.platform}` : d.platform, 'os', d.status ? `${d.status.os.release} ${d.status.os.arch}` : undefined);
    cell(row, d.agentVersion ?? '—', 'agent');
    // Application control: whether programs are checked before they start here, and how.
    const apps = d.status?.appControl;
    const appsNote = apps && apps.enforcement !== 'none' ? `apps: ${apps.enforcement}${apps.mode ? ` · ${apps.mode}` : ''}` : undefined;
    cell(row, d.policyVersion === null ? '—' : `v${d.policyVersion}`, 'policy', appsNote);
    cell(row, relative(d.lastSeenAt), 'seen');
    return row;
  });
  body.replaceChildren(...rows);
  const online = sorted.filter((d) => d.online).length;
  $('summary').textContent = `${online} of ${sorted.length} online`;
  $('empty').hidden = sorted.length > 0;
}

async function checkSession(): Promise<void> {
  const res = await api('/api/v1/me');
  if (!res.ok) return showSignIn();
  const me = MeSchema.safeParse(await res.json());
  if (me.success) await showDashboard(me.data);
  else showSignIn();
}

$<HTMLFormElement>('sign-in-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const username = $<HTMLInputElement>('username').value.trim();
  const password = $<HTMLInputElement>('password').value;
  const res = await api('/api/v1/login', { method: 'POST', body: JSON.stringify({ username, password }) });
  if (!res.ok) {
    const body = (await res.json().catch(() => ({}))) as { message?: string };
    $('sign-in-error').textContent = body.message ?? 'Sign-in failed.';
    return;
  }
  $<HTMLInputElement>('password').value = '';
  await checkSession();
});

$('sign-out').addEventListener('click', async () => {
  await api('/api/v1/logout', { method: 'POST', body: '{}' });
  showSignIn();
});

setInterval(() => devices.size && render(), 5000);
void checkSession();
