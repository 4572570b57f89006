import { z } from 'zod';
import { DeviceActivityResponseSchema, type ActivitySpan } from '../../src/shared/activity.js';
import { DeviceHistoryResponseSchema, PolicyRefreshResponseSchema, type DeviceHistoryEntry, type DeviceSummary } from '../../src/shared/api.js';
import { CommandOutcomeSchema } from '../../src/shared/command.js';
import { apiJson, el, row, visible } from '../shared/console-api.js';
import { confirmAction, field } from '../shared/confirm.js';
import {
  activityText,
  AUP_TEXT,
  blocksText,
  droppedText,
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

export class DevicePage {
  private deviceId: string | null = null;
  private currentPolicy: number | null = null;
  /** Console groups (name -> member ids), as the dashboard's Group filter has them. */
  private groups: Record<string, string[]> = {};

  constructor() {
    for (const button of $('device-actions').querySelectorAll<HTMLButtonElement>('button[data-action]')) {
      button.addEventListener('click', () => void this.act(button.dataset.action as Action));
    }
    $('device-reload').addEventListener('click', () => void this.loadDetails());
  }

  /** Only roles that may command devices see the action buttons (the API checks again). */
  allowActions(allowed: boolean): void {
    $('device-actions').hidden = !allowed;
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
    $('event-rows').replaceChildren(
      ...(events.ok ? events.data.events.map((e) => row([clock(e.event.at), e.event.type, summariseEvent(e.event.type, e.event.data)])) : []),
    );
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

/** One line per event: the fields a technician reads for the common types, else the raw data, cut. */
function summariseEvent(type: string, data: unknown): string {
  const d = (data ?? {}) as Record<string, any>;
  if (type === 'activity.spans' && Array.isArray(d.spans)) {
    const apps = [...new Set(d.spans.map((s: any) => s?.window?.app ?? s?.kind).filter(Boolean))];
    return `${d.spans.length} span${d.spans.length === 1 ? '' : 's'}: ${apps.slice(0, 5).join(', ')}${apps.length > 5 ? '…' : ''}`;
  }
  if ((type === 'app.blocked' || type === 'app.would-block') && typeof d.name === 'string') return `${d.name} (${d.path}) for ${d.user ?? 'unknown user'}`;
  if (type === 'command.received' && typeof d.outcome === 'string') return `${d.action ?? 'command'}: ${d.outcome}`;
  const text = JSON.stringify(data) ?? '';
  return text.length > 200 ? `${text.slice(0, 199)}…` : text;
}

function groupsText(groups: Record<string, string[]>, id: string): string {
  const names = Object.keys(groups)
    .filter((name) => groups[name]!.includes(id))
    .sort();
  return names.length > 0 ? names.join(', ') : '—';
}
