import type { DrawnRow, VirtualRows } from './virtual-rows.js';

/**
 * One tab stop for a whole virtual table (the device grid): the active row has tabindex 0 and
 * the others -1, and the arrow keys, Page Up/Down, Home and End move the focus by row. The row
 * a key moves to may lie outside the drawn window, where it does not exist yet, so a move
 * scrolls it into view and draws before focusing it. When the list is re-sorted or filtered the
 * focus stays on the same row (by key), not on the same position.
 */

export interface FocusList {
  count(): number;
  key(index: number): string;
  /** The row's position in the list, or -1 when the list no longer has it. */
  indexOf(key: string): number;
}

/** A page's own keys on the active row (Enter opens, Space picks); true when handled. */
export type RowKeyHandler = (e: KeyboardEvent, key: string | null) => boolean;

export class RowFocus {
  private active = 0;
  private activeKey: string | null = null;
  private hadFocus = false;

  constructor(
    private readonly rows: VirtualRows<DrawnRow>,
    private readonly list: FocusList,
    private readonly body: HTMLElement,
    private readonly onKey: RowKeyHandler,
  ) {
    rows.hook({
      before: () => (this.hadFocus = body.contains(document.activeElement)),
      after: () => this.drawn(),
    });
    body.addEventListener('keydown', (e) => this.key(e));
  }

  /** The key of the row that holds the tab stop. */
  get current(): string | null {
    return this.activeKey;
  }

  /** The tab stop goes back to the first row (a new filter). */
  reset(): void {
    this.active = 0;
    this.activeKey = null;
  }

  /** The list changed: the tab stop stays on its row if the list still has it, else near its old place. */
  relocate(): void {
    const total = this.list.count();
    const kept = this.activeKey === null ? -1 : this.list.indexOf(this.activeKey);
    this.active = kept >= 0 ? kept : Math.min(this.active, Math.max(0, total - 1));
    this.activeKey = total ? this.list.key(this.active) : null;
  }

  /** Focuses the active row, if it is drawn. */
  focus(): void {
    const row = this.activeKey === null ? undefined : this.rows.row(this.activeKey);
    row?.tr.focus({ preventScroll: true });
  }

  private drawn(): void {
    // A list that had no rows (or a reset tab stop) has no active key yet: the first row takes it.
    if (this.activeKey === null) this.relocate();
    for (const [key, row] of this.rows.drawn()) row.tr.tabIndex = key === this.activeKey ? 0 : -1;
    // A redraw that moved the focused row (a re-sort) drops the focus: give it back.
    if (this.hadFocus && !this.body.contains(document.activeElement)) this.focus();
  }

  private key(e: KeyboardEvent): void {
    if (this.onKey(e, this.activeKey)) return e.preventDefault();
    const page = this.rows.pageRows();
    const moves: Record<string, number> = { ArrowDown: 1, ArrowUp: -1, PageDown: page, PageUp: -page, Home: -Infinity, End: Infinity };
    const move = moves[e.key];
    const total = this.list.count();
    if (move === undefined || !total) return;
    e.preventDefault();
    this.active = Math.max(0, Math.min(total - 1, this.active + move));
    this.activeKey = this.list.key(this.active);
    // Bring the row into view, then draw and focus it.
    this.rows.reveal(this.active);
    this.rows.flush();
    this.focus();
  }
}
