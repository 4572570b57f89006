import { z } from 'zod';
import { ConcernSchema, type Concern } from '../../src/shared/concern.js';
import { apiJson, el, row } from '../shared/console-api.js';
import { CATEGORY_TEXT, STATUS_TEXT, when } from './words.js';

/**
 * The list of concerns, newest first (the console sorts them), filtered by status. The list
 * names device, user, time and kind only; the pupil's words are shown on the concern's own
 * page, so a glance at the list over a shoulder does not show them.
 */
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const ListSchema = z.object({ concerns: z.array(ConcernSchema) });
const EMPTY_TEXT: Record<string, string> = {
  '': 'No concerns have been reported.',
  new: 'No new concerns.',
  'in-progress': 'No concerns in progress.',
  closed: 'No closed concerns.',
};

export class ConcernQueue {
  /** Called with the HTTP status when the console refuses (401: signed out, 403: not allowed). */
  onRefused: (status: number) => void = () => undefined;

  constructor() {
    $('filter-status').addEventListener('change', () => void this.load());
    $('queue-reload').addEventListener('click', () => void this.load());
  }

  async load(): Promise<void> {
    const status = $<HTMLSelectElement>('filter-status').value;
    const answer = await apiJson(ListSchema, `/api/v1/concerns?limit=1000${status ? `&status=${status}` : ''}`);
    if (!answer.ok) {
      if (answer.status === 401 || answer.status === 403) return this.onRefused(answer.status);
      $('queue-summary').textContent = `Could not load concerns: ${answer.message}`;
      return;
    }
    const concerns = answer.data.concerns;
    const waiting = concerns.filter((c) => c.status === 'new').length;
    $('queue-summary').textContent = status ? `${concerns.length} shown` : `${concerns.length} in all · ${waiting} new`;
    $('queue-empty').textContent = EMPTY_TEXT[status] ?? '';
    $('queue-empty').hidden = concerns.length > 0;
    $('concern-rows').replaceChildren(...concerns.map((c) => this.concernRow(c)));
  }

  private concernRow(c: Concern): HTMLTableRowElement {
    const open = el('a', 'Open');
    open.href = `#/concern/${c.id}`;
    open.setAttribute('aria-label', `Open the concern from ${c.hostname} reported ${when(c.reportedAt)}`);
    const state = el('span', STATUS_TEXT[c.status], `concern-status ${c.status}`);
    const tr = row([when(c.reportedAt), c.hostname, c.user ?? '—', CATEGORY_TEXT[c.category], c.wantsContact ? 'Yes' : 'No', state, open]);
    tr.dataset.concernId = c.id;
    tr.dataset.status = c.status;
    return tr;
  }
}
