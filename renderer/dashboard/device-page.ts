import { z } from 'zod';
import { DeviceActivityResponseSchema, type ActivitySpan } from '../../src/shared/activity.js';
import {
  DeviceHistoryResponseSchema,
  DeviceSummarySchema,
  PolicyRefreshResponseSchema,
  type DeviceHistoryEntry,
  type DeviceSummary,
} from '../../src/shared/api.js';
import { CommandOutcomeSchema } from '../../src/shared/command.js';
import { apiJson, el, row, visible } from '../shared/console-api.js';
import { confirmAction, field } from '../shared/confirm.js';
import { eventSentence } from './event-words.js';
import {
  activityText,
  AUP_TEXT,
  blocksText,
  droppedText,
  refusedText,
  clock,
  duration,
  enforcementText,
  idleText,
  lockText,
  policyText,
  presenceOf,
  PRESENCE_TEXT,
  relative,
} from './format.js';

/**
 * One device: live facts (from the feed), the actions a technician may take (each confirmed
 * first; the console records each in the audit trail), the activity timeline, status history
 * and recent events. History, activity and events load when the page opens or on request.
 */
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const ACTIVITY_WINDOW_MS = 8 * 3600_000;
const MAX_SPAN_ROWS = 300;

const CommandAnswerSchema = z.object({
  id: z.string(),
  delivered: z.boolean(),
  result: z.object({ outcome: CommandOutcomeSchema, detail: z.string(), backend: z.string().nullable() }).nullable(),
});
const EventsSchema = z.object({
  events: z.array(z.object({ receivedAt: z.string(), event: z.object({ type: z.string(), at: z.string(), data: z.unknown() }) })),
});

const ACTION_WORDS = {
  lock: { title: 'Lock this device?', ok: 'Lock now', text: 'The screen locks at once; the pupil can unlock it with their password.' },
  logoff: { title: 'Log off the signed-in user?', ok: 'Log off now', text: 'Unsaved work on the device may be lost.' },
  message: { title: 'Send a message', ok: 'Send', text: 'The message appears on the device screen.' },
  'policy-refresh': { title: 'Send the current policy again?', ok: 'Refresh policy', text: 'The device re-checks and applies the latest signed policy.' },
} as const;
type Action = keyof typeof ACTION_WORDS;

const RevokeAnswerSchema = z.object({ revoked: z.boolean(), changed: z.boolean() });
const OneDeviceSchema = z.object({ device: DeviceSummarySchema });
/** Commands that need the agent's session control (it names "commands" in its hello). */
const SESSION_ACTIONS: readonly Action[] = ['lock', 'logoff', 'message'];

export class DevicePage {
  private deviceId: string | null = null;
  private currentPolicy: number | null = null;
  /** Console groups (name -> member ids), as the dashboard's Group filter has them. */
  private groups: Record<string, string[]> = {};
  private mayCommand = false;
  private mayRevoke = false;

  constructor() {
    for (const button of $('device-actions').querySelectorAll<HTMLButtonElement>('button[data-action]')) {
      button.addEventListener('click', () => void this.act(button.dataset.action as Action));
    }
    $('device-reload').addEventListener('click', () => void this.loadDetails());
    $('revoke-device').addEventListener('click', () => void this.revoke());
  }

  /** Only roles that may command or revoke devices see those buttons (the API checks again). */
  allowActions(command: boolean, revoke: boolean): void {
    this.mayCommand = command;
    this.mayRevoke = revoke;
  }

  /** Offers a command only where the device can run it now: connected, not revoked, and able to. */
  private drawActions(d: DeviceSummary): void {
    const online = d.presence === 'online' && !d.revoked;
    const canSession = online && (d.capabilities ?? []).includes('commands');
    $('device-actions').hidden = !this.mayCommand || !online;
    for (const button of $('device-actions').querySelectorAll<HTMLButtonElement>('button[data-action]')) {
      button.hidden = SESSION_ACTIONS.includes(button.dataset.action as Action) && !canSession;
    }
    const note = $('actions-note');
    note.hidden = !this.mayCommand || (online && canSession);
    note.textContent = d.revoked
      ? 'This device is revoked: it can no longer connect.'
      : !online
        ? 'Commands are live only: they are offered while the device is online.'
        : 'This device does not run session control, so lock, log off and messages are not offered.';
    $('revoke-area').hidden = !this.mayRevoke || d.revoked;
  }

  get openId(): string | null {
    return this.deviceId;
  }

  open(deviceId: string, device: DeviceSummary | undefined, currentPolicy: number | null): void {
    this.deviceId = deviceId;
    this.currentPolicy = currentPolicy;
    $('action-result').textContent = '';
    if (device) this.update(device);
    else $('device-title').textContent = 'Device';
    void this.loadDetails();
  }

  close(): void {
    this.deviceId = null;
  }

  setGroups(groups: Record<string, string[]>): void {
    this.groups = groups;
  }

  setCurrentPolicy(version: number | null): void {
    this.currentPolicy = version;
  }

  /** Live facts, redrawn on every feed update for this device. */
  update(d: DeviceSummary): void {
    if (d.id !== this.deviceId) return;
    const presence = presenceOf(d);
    this.drawActions(d);
    $('device-title').textContent = visible(d.status?.hostname ?? d.hostname);
    const state = $('device-presence');
    state.textContent = PRESENCE_TEXT[presence];
    state.className = `summary state ${presence}`;
    const [app, title] = activityText(d.activity);
    const [policy, policyNote] = policyText(d, this.currentPolicy);
    const [enforcement, mode] = enforcementText(d);
    const [blocks, lastBlock] = blocksText(d);
    const [lost, lostWhen] = droppedText(d);
    const facts: [string, string, string][] = [
      ['Signed-in user', d.status?.user ?? '—', 'fact-user'],
      ['Active window', title ? `${app} — ${title}` : app, 'fact-activity'],
      ['Idle', idleText(d.activity), 'fact-idle'],
      ['Screen', lockText(d.activity), 'fact-lock'],
      ['AUP', d.aup ? AUP_TEXT[d.aup] : '—', 'fact-aup'],
      ['Policy', policyNote ? `${policy} (${policyNote})` : policy, 'fact-policy'],
      ['Groups', groupsText(this.groups, d.id), 'fact-groups'],
      ['Application control', mode ? `${enforcement} (${mode})` : enforcement, 'fact-enforcement'],
      ['Blocks in 24 h', lastBlock ? `${blocks} (${lastBlock})` : blocks, 'fact-blocks'],
      ['Agent', d.agentVersion ?? '—', 'fact-agent'],
      ['Events lost on the device', lostWhen ? `${lost} (${lostWhen})` : lost, 'fact-dropped'],
      ['Refused from this device', refusedText(d), 'fact-refused'],
      ['System', d.status ? `${d.status.os.distro ?? d.status.os.platform} ${d.status.os.release} (${d.status.os.arch})` : d.platform, 'fact-os'],
      ['Last seen', presence === 'online' ? 'now' : relative(d.lastSeenAt), 'fact-seen'],
      ['Device id', d.id, 'fact-id'],
    ];
    $('device-facts').replaceChildren(...facts.flatMap(([name, value, cls]) => [el('dt', name), el('dd', value, cls)]));
  }

  private async loadDetails(): Promise<void> {
    const id = this.deviceId;
    if (!id) return;
    const to = new Date();
    const from = new Date(to.getTime() - ACTIVITY_WINDOW_MS);
    const q = `from=${encodeURIComponent(from.toISOString())}&to=${encodeURIComponent(to.toISOString())}`;
    const [history, activity, events] = await Promise.all([
      apiJson(DeviceHistoryResponseSchema, `/api/v1/devices/${id}/history?limit=100`),
      apiJson(DeviceActivityResponseSchema, `/api/v1/devices/${id}/activity?${q}`),
      apiJson(EventsSchema, `/api/v1/events?device=${id}&limit=50`),
    ]);
    if (id !== this.deviceId) return;
    $('history-rows').replaceChildren(...(history.ok ? history.data.history.map(historyRow) : [row(['', history.message])]));
    if (activity.ok) this.drawActivity(activity.data.spans, from.getTime(), to.getTime());
    const note = $('events-note');
    note.hidden = events.ok;
    if (!events.ok)
      note.textContent = events.status === 403 ? 'Your role does not include reading device events.' : `Events could not be loaded: ${events.message}`;
    $('event-rows').replaceChildren(...(events.ok ? events.data.events.map((e) => row([clock(e.event.at), eventCell(e.event)])) : []));
    if (events.ok && events.data.events.length === 0) ((note.hidden = false), (note.textContent = 'No events from this device yet.'));
  }

  private drawActivity(spans: ActivitySpan[], from: number, to: number): void {
    $('activity-empty').hidden = spans.length > 0;
    const bar = $('timeline');
    const blocks = spans.map((s) => {
      const start = Math.max(from, Date.parse(s.start));
      const end = Math.min(to, Date.parse(s.start) + s.durationMs);
      const block = el('span', '', `span ${s.kind}`);
      // CSSOM writes are allowed by the page's CSP (no inline style attributes are).
      block.style.left = `${((start - from) / (to - from)) * 100}%`;
      block.style.width = `${Math.max(0.1, ((end - start) / (to - from)) * 100)}%`;
      return block;
    });
    bar.replaceChildren(...blocks);
    const rows = spans
      .slice(-MAX_SPAN_ROWS)
      .reverse()
      .map((s) => {
        const what = s.kind === 'window' ? (s.window?.app ?? '—') : s.kind === 'idle' ? 'Idle / away' : 'Locked';
        return row([clock(s.start), duration(s.durationMs / 1000), what, s.window?.title ?? '']);
      });
    $('activity-rows').replaceChildren(...rows);
  }

  private async revoke(): Promise<void> {
    const id = this.deviceId;
    if (!id) return;
    const name = $('device-title').textContent ?? 'this device';
    const ok = await confirmAction({
      title: `Revoke ${name}?`,
      text: 'The device is disconnected now and can never connect again with its key. To use it again, enroll it afresh with a new token.',
      ok: 'Revoke device',
      danger: true,
    });
    if (!ok || id !== this.deviceId) return;
    const result = $('action-result');
    const answer = await apiJson(RevokeAnswerSchema, `/api/v1/devices/${id}/revoke`, { method: 'POST', body: '{}' });
    result.textContent = answer.ok ? `Revoked ${name}.` : `Revoke failed: ${answer.message}`;
    // The feed brings the change too; asking once makes the page right even if the feed is slow.
    const fresh = await apiJson(OneDeviceSchema, `/api/v1/devices/${id}`);
    if (fresh.ok) this.update(fresh.data.device);
    void this.loadDetails();
  }

  private async act(action: Action): Promise<void> {
    const id = this.deviceId;
    if (!id) return;
    const words = ACTION_WORDS[action];
    const text = document.createElement('textarea');
    text.id = 'message-text';
    text.maxLength = 500;
    text.required = true;
    text.rows = 3;
    const ok = await confirmAction({ ...words, fields: action === 'message' ? [field('Message', text)] : [], danger: action === 'logoff' });
    if (!ok || id !== this.deviceId) return;
    const result = $('action-result');
    result.textContent = 'Sending…';
    if (action === 'policy-refresh') {
      const answer = await apiJson(PolicyRefreshResponseSchema, `/api/v1/devices/${id}/policy-refresh`, { method: 'POST', body: '{}' });
      result.textContent = answer.ok ? `Refresh policy: sent policy v${answer.data.version}.` : `Refresh policy failed: ${answer.message}`;
      return;
    }
    const body = JSON.stringify(action === 'message' ? { action, text: text.value } : { action });
    const answer = await apiJson(CommandAnswerSchema, `/api/v1/devices/${id}/commands`, { method: 'POST', body });
    const name = action === 'logoff' ? 'Log off' : action === 'lock' ? 'Lock' : 'Message';
    if (!answer.ok) result.textContent = `${name} failed: ${answer.message}`;
    else if (!answer.data.result) result.textContent = `${name}: sent; the device has not answered yet (the audit trail will record its answer).`;
    else {
      const r = answer.data.result;
      result.textContent = visible(`${name}: ${r.outcome}${r.backend ? ` (${r.backend})` : ''}${r.detail ? ` — ${r.detail}` : ''}`);
    }
  }
}

function historyRow(h: DeviceHistoryEntry): HTMLTableRowElement {
  if (h.kind === 'presence') return row([clock(h.at), `Became ${PRESENCE_TEXT[h.presence].toLowerCase()}`]);
  const s = h.status;
  const parts = [
    `user ${s.user ?? 'none'}`,
    `agent ${s.agentVersion}`,
    `policy ${s.policyVersion === null ? 'none' : `v${s.policyVersion}`}`,
    s.appControl ? `app control ${s.appControl.enforcement}` : '',
    s.outbox?.dropped ? `${s.outbox.dropped.toLocaleString('en-GB')} events lost` : '',
  ].filter(Boolean);
  return row([clock(h.at), `Status: ${parts.join(', ')}`]);
}

/** The sentence, with the raw fields behind a "Details" disclosure (text only). */
function eventCell(event: { type: string; at: string; data: unknown }): HTMLElement {
  const cell = el('div', '', 'event');
  const details = el('details');
  details.append(el('summary', 'Details'), el('pre', JSON.stringify({ type: event.type, ...((event.data ?? {}) as object) }, null, 2)));
  cell.append(el('span', eventSentence(event)), details);
  return cell;
}

function groupsText(groups: Record<string, string[]>, id: string): string {
  const names = Object.keys(groups)
    .filter((name) => groups[name]!.includes(id))
    .sort();
  return names.length > 0 ? names.join(', ') : '—';
}
