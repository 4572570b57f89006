import { z } from 'zod';
import { ConcernSchema, ConcernStatusSchema, type Concern } from '../../src/shared/concern.js';
import { apiJson, el, visible } from '../shared/console-api.js';
import { confirmAction } from '../shared/confirm.js';
import { CATEGORY_TEXT, contactText, lastUpdateText, STATUS_TEXT, userText, when } from './words.js';

/**
 * One concern: who, where, when, what kind, the pupil's words, and the lead's follow-up (status
 * and note). Saving asks first; the console audits the change (not the note's words).
 */
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const OneSchema = z.object({ concern: ConcernSchema });

export class ConcernPage {
  onRefused: (status: number) => void = () => undefined;
  private concern: Concern | null = null;

  constructor() {
    $<HTMLFormElement>('concern-update').addEventListener('submit', (event) => {
      event.preventDefault();
      void this.save();
    });
  }

  async open(id: string): Promise<void> {
    this.concern = null;
    $('update-result').textContent = '';
    $('concern-title').textContent = 'Loading…';
    $('concern-facts').replaceChildren();
    $('concern-text').textContent = '';
    $('concern-update').hidden = true;
    const answer = await apiJson(OneSchema, `/api/v1/concerns/${id}`);
    if (!answer.ok) {
      if (answer.status === 401 || answer.status === 403) return this.onRefused(answer.status);
      $('concern-title').textContent = answer.status === 404 ? 'This concern no longer exists' : `Could not load the concern: ${answer.message}`;
      return;
    }
    this.show(answer.data.concern);
    $('concern-title').focus();
  }

  private show(c: Concern): void {
    this.concern = c;
    $('concern-title').textContent = visible(`${CATEGORY_TEXT[c.category]} · ${c.hostname}`);
    const facts: [string, string][] = [
      ['Reported', when(c.reportedAt)],
      ['Device', c.hostname],
      ['User', userText(c)],
      ['About', CATEGORY_TEXT[c.category]],
      ['Wants contact', contactText(c)],
      ['Status', STATUS_TEXT[c.status]],
      ['Last updated', lastUpdateText(c)],
      ['Note', c.note ?? 'None'],
    ];
    $('concern-facts').replaceChildren(...facts.flatMap(([term, value]) => [el('dt', term), el('dd', value)]));
    $('concern-text').textContent = visible(c.text);
    $<HTMLSelectElement>('update-status').value = c.status;
    $<HTMLTextAreaElement>('update-note').value = c.note ?? '';
    $('concern-update').hidden = false;
  }

  private async save(): Promise<void> {
    const c = this.concern;
    if (!c) return;
    const status = ConcernStatusSchema.parse($<HTMLSelectElement>('update-status').value);
    const note = $<HTMLTextAreaElement>('update-note').value.trim();
    const noteChanged = note !== (c.note ?? '');
    if (status === c.status && !noteChanged) return this.say('Nothing has changed: choose a status or write a note first.');
    const ok = await confirmAction({
      title: status === c.status ? 'Save your note?' : `Mark this concern as ${STATUS_TEXT[status].toLowerCase()}?`,
      text:
        status === 'closed'
          ? 'A closed concern is deleted automatically after the retention period set on the console. The change is recorded in the audit log (the status, not your note).'
          : 'The change is recorded in the audit log (the status, not your note).',
      ok: 'Save',
    });
    if (!ok) return;
    const body = { status, ...(noteChanged ? { note } : {}) };
    const answer = await apiJson(OneSchema, `/api/v1/concerns/${c.id}`, { method: 'POST', body: JSON.stringify(body) });
    if (!answer.ok) {
      if (answer.status === 401 || answer.status === 403) return this.onRefused(answer.status);
      return this.say(`Not saved: ${answer.message}`);
    }
    this.show(answer.data.concern);
    this.say(`Saved. The concern is ${STATUS_TEXT[answer.data.concern.status].toLowerCase()}.`);
  }

  private say(text: string): void {
    $('update-result').textContent = visible(text);
  }
}
