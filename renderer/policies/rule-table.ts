import type { RuleRecord } from '../../src/shared/policies/model.js';
import { visible } from '../shared/console-api.js';
import { button } from '../shared/forms.js';
import { VirtualRows, type DrawnRow } from '../shared/virtual-rows.js';
import { ruleCells, type RuleCells } from './rule-words.js';

/**
 * A policy's rules as a table that stays fast at the policy limit (200,000 rules): only the rows
 * in view exist in the DOM (shared/virtual-rows.ts); rows are keyed by rule key and reused while
 * they stay in view, so a focused button survives scrolling. Search and sort work on a plain
 * array of precomputed texts. All text goes in through textContent.
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
  private readonly rows: VirtualRows<DrawnRow>;
  private query = '';
  private sortKey: RuleSortKey | null = null;
  private sortAsc = true;
  private editable = false;
  onEdit: (rule: ListedRule) => void = () => undefined;
  onRemove: (rule: ListedRule) => void = () => undefined;
  onChange: (shown: number, total: number) => void = () => undefined;

  constructor(
    private readonly scroller: HTMLElement,
    private readonly body: HTMLTableSectionElement,
    private readonly head: HTMLTableRowElement,
  ) {
    this.rows = new VirtualRows(
      { scroller, body, rowHeight: RULE_ROW_HEIGHT, overscan: OVERSCAN, columns: 7, headerRows: 1 },
      { count: () => this.view.length, key: (i) => this.view[i]!.key, create: (i) => ({ tr: this.rowFor(this.view[i]!) }) },
    );
    for (const th of this.head.querySelectorAll<HTMLTableCellElement>('th[data-sort]')) {
      th.querySelector('button')!.addEventListener('click', () => this.sortBy(th.dataset.sort as RuleSortKey));
    }
  }

  allowEditing(editable: boolean): void {
    this.editable = editable;
    this.rows.dropRows();
  }

  reset(rules: readonly ListedRule[]): void {
    this.entries = rules.map((r) => {
      const cells = ruleCells(r.record);
      return { ...r, cells, haystack: Object.values(cells).join('\u0000').toLowerCase() };
    });
    this.rows.dropRows();
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
    return [...this.rows.drawn()].length;
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
    this.rows.schedule();
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
}
