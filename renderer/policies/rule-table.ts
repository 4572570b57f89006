import type { RuleRecord } from '../../src/shared/policies/model.js';
import { visible } from '../shared/console-api.js';
import { button } from '../shared/forms.js';
import { ruleCells, type RuleCells } from './rule-words.js';

/**
 * A policy's rules as a table that stays fast at the policy limit (200,000 rules): only the rows
 * in view exist in the DOM, between two spacer rows that stand for the rest; rows are keyed by
 * rule key and reused while they stay in view, so a focused button survives scrolling. Search
 * and sort work on a plain array of precomputed texts. All text goes in through textContent.
 */

/** Must match `.rules tbody tr.row` height in style.css. */
export const RULE_ROW_HEIGHT = 44;
const OVERSCAN = 6;

export type RuleSortKey = keyof RuleCells;
export interface ListedRule {
  key: string;
  record: RuleRecord;
}
interface Entry extends ListedRule {
  cells: RuleCells;
  haystack: string;
}

export class RuleTable {
  private entries: Entry[] = [];
  private view: Entry[] = [];
  private rows = new Map<string, HTMLTableRowElement>();
  private query = '';
  private sortKey: RuleSortKey | null = null;
  private sortAsc = true;
  private frame = 0;
  private readonly top: HTMLTableRowElement;
  private readonly bottom: HTMLTableRowElement;
  private editable = false;
  onEdit: (rule: ListedRule) => void = () => undefined;
  onRemove: (rule: ListedRule) => void = () => undefined;
  onChange: (shown: number, total: number) => void = () => undefined;

  constructor(
    private readonly scroller: HTMLElement,
    private readonly body: HTMLTableSectionElement,
    private readonly head: HTMLTableRowElement,
  ) {
    this.top = this.spacer();
    this.bottom = this.spacer();
    this.body.replaceChildren(this.top, this.bottom);
    this.scroller.addEventListener('scroll', () => this.schedule(), { passive: true });
    window.addEventListener('resize', () => this.schedule());
    for (const th of this.head.querySelectorAll<HTMLTableCellElement>('th[data-sort]')) {
      th.querySelector('button')!.addEventListener('click', () => this.sortBy(th.dataset.sort as RuleSortKey));
    }
  }

  allowEditing(editable: boolean): void {
    this.editable = editable;
    this.dropRows();
    this.schedule();
  }

  reset(rules: readonly ListedRule[]): void {
    this.entries = rules.map((r) => {
      const cells = ruleCells(r.record);
      return { ...r, cells, haystack: Object.values(cells).join('\u0000').toLowerCase() };
    });
    this.dropRows();
    this.refilter();
  }

  search(text: string): void {
    this.query = text.trim().toLowerCase();
    this.refilter();
  }

  sortBy(key: RuleSortKey): void {
    this.sortAsc = this.sortKey === key ? !this.sortAsc : true;
    this.sortKey = key;
    for (const th of this.head.querySelectorAll<HTMLTableCellElement>('th[data-sort]')) {
      if (th.dataset.sort === key) th.setAttribute('aria-sort', this.sortAsc ? 'ascending' : 'descending');
      else th.removeAttribute('aria-sort');
    }
    this.refilter();
  }

  /** Rows in the DOM now (the test checks the table stays small). */
  renderedRows(): number {
    return this.rows.size;
  }

  /** Rows are drawn again from the entries (new data, or buttons shown or not). */
  private dropRows(): void {
    for (const tr of this.rows.values()) tr.remove();
    this.rows.clear();
  }

  private refilter(): void {
    const q = this.query;
    this.view = q ? this.entries.filter((e) => e.haystack.includes(q)) : [...this.entries];
    if (this.sortKey) {
      const k = this.sortKey;
      const dir = this.sortAsc ? 1 : -1;
      this.view.sort((a, b) => dir * a.cells[k].localeCompare(b.cells[k], 'en'));
    }
    this.scroller.scrollTop = 0;
    this.onChange(this.view.length, this.entries.length);
    this.schedule();
  }

  private schedule(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.draw();
    });
  }

  private draw(): void {
    const total = this.view.length;
    const height = this.scroller.clientHeight || 600;
    const first = Math.max(0, Math.floor(this.scroller.scrollTop / RULE_ROW_HEIGHT) - OVERSCAN);
    const last = Math.min(total, Math.ceil((this.scroller.scrollTop + height) / RULE_ROW_HEIGHT) + OVERSCAN);
    const next = new Map<string, HTMLTableRowElement>();
    const wanted: HTMLTableRowElement[] = [];
    for (let i = first; i < last; i++) {
      const entry = this.view[i]!;
      const tr = this.rows.get(entry.key) ?? this.rowFor(entry);
      next.set(entry.key, tr);
      wanted.push(tr);
    }
    this.rows = next;
    this.setSpacer(this.top, first * RULE_ROW_HEIGHT);
    this.setSpacer(this.bottom, (total - last) * RULE_ROW_HEIGHT);
    // Move only what changed, so a focused button in a kept row keeps the focus.
    const current = [...this.body.children].slice(1, -1);
    if (current.length !== wanted.length || current.some((c, i) => c !== wanted[i])) {
      for (const c of current) if (!next.has((c as HTMLElement).dataset.key!)) c.remove();
      let before: Element = this.top;
      for (const tr of wanted) {
        if (before.nextElementSibling !== tr) before.after(tr);
        before = tr;
      }
    }
  }

  private rowFor(entry: Entry): HTMLTableRowElement {
    const tr = document.createElement('tr');
    tr.className = 'row';
    tr.dataset.key = entry.key;
    const c = entry.cells;
    for (const [text, cls] of [
      [c.kind, 'kind'],
      [c.what, 'what'],
      [c.action, `action ${entry.record.rule.action}`],
      [c.groups, ''],
      [c.expires, ''],
      [c.reason, ''],
    ] as const) {
      const td = tr.insertCell();
      // A 64-character hash does not fit a cell: its two ends tell hashes apart; the title holds it whole.
      td.textContent = visible(text.replace(/\b([0-9a-f]{10})[0-9a-f]{44}([0-9a-f]{10})\b/g, '$1…$2'));
      td.title = visible(text);
      if (cls) td.className = cls;
    }
    const td = tr.insertCell();
    if (this.editable) {
      const box = document.createElement('div');
      box.className = 'row-buttons';
      const edit = button('Edit', () => this.onEdit(entry), 'secondary');
      edit.setAttribute('aria-label', `Edit rule ${c.what}`);
      const remove = button('Remove', () => this.onRemove(entry), 'secondary');
      remove.setAttribute('aria-label', `Remove rule ${c.what}`);
      box.append(edit, remove);
      td.append(box);
    }
    return tr;
  }

  private spacer(): HTMLTableRowElement {
    const tr = document.createElement('tr');
    tr.className = 'spacer';
    tr.setAttribute('aria-hidden', 'true');
    tr.insertCell().colSpan = 7;
    return tr;
  }

  private setSpacer(tr: HTMLTableRowElement, px: number): void {
    tr.hidden = px === 0;
    (tr.firstElementChild as HTMLElement).style.height = `${px}px`;
  }
}
