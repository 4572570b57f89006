import { z } from 'zod';
import { AppRequestSchema, type AppRequest } from '../../src/shared/api.js';
import { GroupNameSchema } from '../../src/shared/app-rules.js';
import { apiJson, el, row, visible } from '../shared/console-api.js';
import { confirmAction, field } from '../shared/confirm.js';
import { clock } from './format.js';

/**
 * The Systems Manager's queue of pupils' requests to run a program. Approve adds an allow rule
 * (by hash, or by signer when the device reported one; optionally time-boxed and limited to
 * groups) and publishes a new policy; decline records the decision. Both ask first.
 */
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const ListSchema = z.object({ requests: z.array(AppRequestSchema) });
const DecisionSchema = z.object({}).passthrough();

export class RequestsPage {
  constructor() {
    $('requests-reload').addEventListener('click', () => void this.load());
  }

  async load(): Promise<void> {
    const answer = await apiJson(ListSchema, '/api/v1/app-requests?status=pending&limit=500');
    if (!answer.ok) {
      $('requests-summary').textContent = `Could not load requests: ${answer.message}`;
      return;
    }
    const requests = answer.data.requests;
    $('requests-summary').textContent = `${requests.length} waiting`;
    $('requests-empty').hidden = requests.length > 0;
    $('request-rows').replaceChildren(...requests.map((r) => this.requestRow(r)));
  }

  private requestRow(r: AppRequest): HTMLTableRowElement {
    const program = el('span');
    program.append(el('strong', r.name), el('span', r.path, 'sub'), el('span', `sha256 ${r.sha256.slice(0, 16)}…`, 'sub'));
    const approve = el('button', 'Approve…');
    approve.type = 'button';
    approve.addEventListener('click', () => void this.approve(r));
    const decline = el('button', 'Decline…', 'secondary');
    decline.type = 'button';
    decline.addEventListener('click', () => void this.decline(r));
    const buttons = el('span', '', 'row-buttons');
    buttons.append(approve, decline);
    const tr = row([clock(r.requestedAt), r.hostname, r.user ?? '—', program, r.signer, r.reason ?? '—', buttons]);
    tr.dataset.requestId = r.id;
    return tr;
  }

  private async approve(r: AppRequest): Promise<void> {
    const by = document.createElement('select');
    by.id = 'approve-by';
    by.add(new Option('This exact file (by hash)', 'hash'));
    const signerKnown = r.signer !== 'unknown' && r.signer !== '';
    by.add(new Option(signerKnown ? `Everything signed by ${r.signer}` : 'By signer (the device reported no signer)', 'signer'));
    by.options[1]!.disabled = !signerKnown;
    const expires = document.createElement('input');
    expires.type = 'datetime-local';
    expires.id = 'approve-expires';
    const groups = document.createElement('input');
    groups.id = 'approve-groups';
    groups.placeholder = 'e.g. year-9, art-lab (empty: every device)';
    const note = document.createElement('input');
    note.id = 'approve-note';
    note.maxLength = 500;
    const ok = await confirmAction({
      title: `Allow ${r.name}?`,
      text: `Requested by ${r.user ?? 'an unknown user'} on ${r.hostname}. Approving publishes a new policy to every device.`,
      ok: 'Approve',
      fields: [field('Allow', by), field('Until (optional)', expires), field('Only for groups (optional)', groups), field('Note (optional)', note)],
    });
    if (!ok) return;
    const groupList = groups.value
      .split(',')
      .map((g) => g.trim())
      .filter(Boolean);
    const badGroup = groupList.find((g) => !GroupNameSchema.safeParse(g).success);
    if (badGroup !== undefined) return this.say(`Not approved: "${badGroup}" is not a group name (lower-case letters, digits, ".", "_" or "-").`);
    const body = {
      by: by.value,
      ...(expires.value ? { expiresAt: new Date(expires.value).toISOString() } : {}),
      ...(groupList.length ? { groups: groupList } : {}),
      ...(note.value.trim() ? { note: note.value.trim() } : {}),
    };
    const answer = await apiJson(DecisionSchema, `/api/v1/app-requests/${r.id}/approve`, { method: 'POST', body: JSON.stringify(body) });
    this.say(
      answer.ok ? `Approved ${r.name} for ${r.user ?? 'the pupil'}; the new policy is on its way to the devices.` : `Approval failed: ${answer.message}`,
    );
    await this.load();
  }

  private async decline(r: AppRequest): Promise<void> {
    const note = document.createElement('input');
    note.id = 'decline-note';
    note.maxLength = 500;
    const ok = await confirmAction({
      title: `Decline ${r.name}?`,
      text: `Requested by ${r.user ?? 'an unknown user'} on ${r.hostname}.`,
      ok: 'Decline',
      fields: [field('Note (optional)', note)],
      danger: true,
    });
    if (!ok) return;
    const body = note.value.trim() ? { note: note.value.trim() } : {};
    const answer = await apiJson(DecisionSchema, `/api/v1/app-requests/${r.id}/decline`, { method: 'POST', body: JSON.stringify(body) });
    this.say(answer.ok ? `Declined ${r.name}.` : `Decline failed: ${answer.message}`);
    await this.load();
  }

  private say(text: string): void {
    $('requests-result').textContent = visible(text);
  }
}
