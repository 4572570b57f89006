import { AuditListResponseSchema, AuditQuerySchema, type AuditEntry } from '../../src/shared/admin-api.js';
import { apiJson, el, row } from '../shared/console-api.js';
import { localToIso } from '../shared/forms.js';
import { clock } from './format.js';

/**
 * The audit log (admin): who did what to what, when; filtered by actor, action, target and time.
 * "Export CSV" downloads exactly the filtered list (the same query with format=csv).
 */
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

export class AuditPage {
  constructor() {
    $('audit-filter').addEventListener('submit', (e) => (e.preventDefault(), void this.load()));
  }

  private query(): URLSearchParams | null {
    const raw = {
      actor: $<HTMLInputElement>('audit-actor').value.trim() || undefined,
      action: $<HTMLInputElement>('audit-action').value.trim() || undefined,
      target: $<HTMLInputElement>('audit-target').value.trim() || undefined,
      from: localToIso($<HTMLInputElement>('audit-from').value),
      to: localToIso($<HTMLInputElement>('audit-to').value),
      limit: 1000,
    };
    const parsed = AuditQuerySchema.safeParse(raw);
    if (!parsed.success) {
      $('audit-error').textContent = `Check the filter: ${parsed.error.issues.map((i) => i.message).join('; ')}`;
      return null;
    }
    return new URLSearchParams(Object.entries(parsed.data).flatMap(([k, v]) => (v === undefined ? [] : [[k, String(v)]])));
  }

  async load(): Promise<void> {
    const q = this.query();
    if (!q) return;
    $<HTMLAnchorElement>('audit-csv').href = `/api/v1/audit?${q}&format=csv`;
    const answer = await apiJson(AuditListResponseSchema, `/api/v1/audit?${q}`);
    $('audit-error').textContent = answer.ok ? '' : `Could not load the audit log: ${answer.message}`;
    if (!answer.ok) return;
    const entries = answer.data.audit;
    const filtered = [...q.keys()].some((k) => k !== 'limit');
    $('audit-summary').textContent = `${entries.length}${entries.length === 1000 ? '+' : ''} entries${filtered ? ' match' : ''}`;
    const empty = $('audit-empty');
    empty.hidden = entries.length > 0;
    empty.textContent = filtered ? 'No entry matches this filter.' : 'Nothing has been recorded yet.';
    $('audit-rows').replaceChildren(...entries.map(auditRow));
  }
}

function auditRow(e: AuditEntry): HTMLTableRowElement {
  const detail = Object.keys(e.detail).length ? el('details') : el('span', '—');
  if (detail instanceof HTMLDetailsElement) detail.append(el('summary', 'Details'), el('pre', JSON.stringify(e.detail, null, 2)));
  return row([clock(e.at), e.actor, e.action, e.target ?? '—', detail]);
}
