/**
 * Table rows for lists of any length (the device grid, a policy's rules, a group's members):
 * only the rows in view, plus a margin, exist in the DOM, between two spacer rows whose height
 * stands for the rest, so the scroll bar and the scroll position mean what they would for the
 * whole list. Rows are keyed and reused while they stay in the window, and are moved only when
 * the order changed: moving a node is what costs, and it drops the focus of anything inside it.
 * All drawing for a burst of changes happens once, in the next animation frame.
 *
 * A screen reader sees the whole list's size through aria-rowcount on the table and each drawn
 * row's place through aria-rowindex (the header rows count, as the reader counts them).
 */

/** A drawn row: its element, and whatever else the page keeps to update it in place. */
export interface DrawnRow {
  readonly tr: HTMLTableRowElement;
}

export interface RowSource<R extends DrawnRow> {
  /** How many rows the whole list has now. Called first on every draw, so a page may sort and filter lazily here. */
  count(): number;
  /** The key of the row at `index` (a device id, a rule key): rows are reused by key. */
  key(index: number): string;
  /** A new row for the list's row `index`. */
  create(index: number, key: string): R;
  /** Brings a row in the window up to date; called for every row in the window on every draw. */
  update?(row: R, index: number): void;
}

export interface VirtualRowsOptions {
  scroller: HTMLElement;
  body: HTMLTableSectionElement;
  /** Must match the row height in CSS: the spacers and the window are worked out from it. */
  rowHeight: number;
  /** Rows drawn beyond each edge of the view, so a quick scroll does not show blank space. */
  overscan: number;
  /** Columns of the table (the spacer's one cell spans them all). */
  columns: number;
  /** Rows the table has above the body (aria-rowindex of the first body row is this + 1). */
  headerRows: number;
}

/** Which rows of a list of `total` to draw for a view `height` px tall scrolled `scrollTop` px down. */
export function rowWindow(scrollTop: number, height: number, total: number, rowHeight: number, overscan: number): { first: number; last: number } {
  const first = Math.max(0, Math.min(total, Math.floor(scrollTop / rowHeight) - overscan));
  const last = Math.max(first, Math.min(total, Math.ceil((scrollTop + height) / rowHeight) + overscan));
  return { first, last };
}

/** Work a page or a helper (row-focus.ts) does around every draw. */
export interface DrawHooks {
  before?(): void;
  after?(): void;
}

export class VirtualRows<R extends DrawnRow> {
  private rows = new Map<string, R>();
  private frame = 0;
  private readonly top: HTMLTableRowElement;
  private readonly bottom: HTMLTableRowElement;
  private readonly hooks: DrawHooks[] = [];

  constructor(
    private readonly options: VirtualRowsOptions,
    private readonly source: RowSource<R>,
  ) {
    this.top = this.spacer();
    this.bottom = this.spacer();
    options.body.replaceChildren();
    options.scroller.addEventListener('scroll', () => this.schedule(), { passive: true });
    // The view's height changes with the window and with what sits above it, not only on resize.
    new ResizeObserver(() => this.schedule()).observe(options.scroller);
  }

  /** Adds work to do around every draw, in the order added. */
  hook(hooks: DrawHooks): void {
    this.hooks.push(hooks);
  }

  /** Draws in the next animation frame (once, however many changes arrive before it). */
  schedule(): void {
    if (!this.frame) this.frame = requestAnimationFrame(() => ((this.frame = 0), this.draw()));
  }

  /** Draws now (keyboard moves, tests). */
  flush(): void {
    if (this.frame) cancelAnimationFrame(this.frame);
    this.frame = 0;
    this.draw();
  }

  /** The rows in the DOM now, by key. */
  drawn(): IterableIterator<[string, R]> {
    return this.rows.entries();
  }

  /** The drawn row of a key, if it is in the window. */
  row(key: string): R | undefined {
    return this.rows.get(key);
  }

  /** Forgets every drawn row, so the next draw creates them all again (e.g. buttons shown or not). */
  dropRows(): void {
    for (const row of this.rows.values()) row.tr.remove();
    this.rows.clear();
    this.schedule();
  }

  /**
   * Scrolls as little as needed to bring row `index` fully into view. What sits above the body
   * (a caption, the header row) and a sticky header covering the top of the view are measured,
   * not assumed: with them left out, a row reached by moving down stayed half under the edge.
   */
  reveal(index: number): void {
    const { scroller, body, rowHeight } = this.options;
    const view = scroller.getBoundingClientRect().top + scroller.clientTop;
    const bodyTop = body.getBoundingClientRect().top - view + scroller.scrollTop;
    // A header cell, not the thead: pages make the cells sticky, and the thead's box stays in the flow.
    const head = body.closest('table')!.tHead?.querySelector('th, td')?.getBoundingClientRect().bottom ?? view;
    const covered = Math.max(0, head - view);
    const top = bodyTop + index * rowHeight;
    if (top < scroller.scrollTop + covered) scroller.scrollTop = top - covered;
    else if (top + rowHeight > scroller.scrollTop + scroller.clientHeight) scroller.scrollTop = top + rowHeight - scroller.clientHeight;
  }

  /** Rows a Page Up or Page Down moves: a view's worth less one, so one row stays in sight. */
  pageRows(): number {
    return Math.max(1, Math.floor(this.options.scroller.clientHeight / this.options.rowHeight) - 1);
  }

  private draw(): void {
    const { scroller, body, rowHeight, overscan, headerRows } = this.options;
    for (const h of this.hooks) h.before?.();
    const total = this.source.count();
    const { first, last } = rowWindow(scroller.scrollTop, scroller.clientHeight || 600, total, rowHeight, overscan);
    const next = new Map<string, R>();
    const wanted: HTMLTableRowElement[] = [];
    for (let i = first; i < last; i++) {
      const key = this.source.key(i);
      const row = this.rows.get(key) ?? this.source.create(i, key);
      this.source.update?.(row, i);
      row.tr.setAttribute('aria-rowindex', String(i + headerRows + 1));
      next.set(key, row);
      wanted.push(row.tr);
    }
    for (const [key, row] of this.rows) if (!next.has(key)) row.tr.remove();
    this.rows = next;
    this.setSpacer(this.top, first * rowHeight);
    this.setSpacer(this.bottom, (total - last) * rowHeight);
    if (this.top.isConnected && body.firstElementChild !== this.top) body.prepend(this.top);
    let before: Element | null = this.top.isConnected ? this.top : null;
    for (const tr of wanted) {
      if ((before ? before.nextElementSibling : body.firstElementChild) !== tr) {
        if (before) before.after(tr);
        else body.prepend(tr);
      }
      before = tr;
    }
    if (this.bottom.isConnected && body.lastElementChild !== this.bottom) body.append(this.bottom);
    body.closest('table')!.setAttribute('aria-rowcount', String(total + headerRows));
    for (const h of this.hooks) h.after?.();
  }

  private spacer(): HTMLTableRowElement {
    const tr = document.createElement('tr');
    tr.className = 'spacer';
    tr.setAttribute('aria-hidden', 'true');
    tr.insertCell().colSpan = this.options.columns;
    return tr;
  }

  /** A spacer is in the body only while it stands for rows, so a short list's body holds just its rows. */
  private setSpacer(tr: HTMLTableRowElement, px: number): void {
    (tr.firstElementChild as HTMLElement).style.height = `${px}px`;
    if (px === 0) tr.remove();
    else if (!tr.isConnected) this.options.body.append(tr);
  }
}
