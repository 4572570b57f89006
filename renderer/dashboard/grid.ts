import type { DeviceSummary } from '../../src/shared/api.js';
import { visible } from '../shared/console-api.js';
import { RowFocus } from '../shared/row-focus.js';
import { VirtualRows } from '../shared/virtual-rows.js';
import {
  activityText,
  AUP_TEXT,
  blocksText,
  enforcementText,
  lostShort,
  idleText,
  lockText,
  policyText,
  presenceOf,
  PRESENCE_TEXT,
  relative,
} from './format.js';

/**
 * The live device grid. Built for thousands of devices: only the rows in view exist in the DOM
 * (shared/virtual-rows.ts), rows are keyed by device id and reused, a cell is written only when
 * its text changed, and all work for a burst of updates happens once, in the next animation
 * frame. The grid is one tab stop moved by row (shared/row-focus.ts). Every device string goes
 * in through textContent.
 */

export type SortKey = 'presence' | 'hostname' | 'user' | 'app' | 'idle' | 'lock' | 'aup' | 'policy' | 'enforcement' | 'blocks' | 'agent' | 'seen';

export interface GridFilter {
  text: string;
  presence: string;
  /** Device ids of the chosen group, or null for any. */
  group: ReadonlySet<string> | null;
  user: string;
}

/** Must match `.grid tbody tr.row` height in style.css. */
export const ROW_HEIGHT = 52;
const OVERSCAN = 8;
const PRESENCE_ORDER = { online: 0, asleep: 1, offline: 2, revoked: 3 } as const;

/** One cell: a main line and an optional detail line, each a span we keep to update in place. */
interface Cell {
  main: HTMLSpanElement;
  sub: HTMLSpanElement;
}
interface Row {
  tr: HTMLTableRowElement;
  /** The row's selection checkbox (first column; shown to roles that change groups). */
  pick: HTMLInputElement;
  cells: Cell[];
  /** The summary object last drawn; summaries are replaced, never mutated, so identity = freshness. */
  drawn: DeviceSummary | null;
  seenText: string;
}

const CELL_CLASSES = ['state', 'host', 'user', 'activity-app', 'idle', 'lock', 'aup', 'policy', 'enforcement', 'blocks', 'agent', 'seen'];

interface Entry {
  device: DeviceSummary;
  /** Lower-cased text searched by the free-text box. */
  haystack: string;
}

export class DeviceGrid {
  private readonly entries = new Map<string, Entry>();
  private view: string[] = [];
  private viewDirty = true;
  private sortKey: SortKey = 'presence';
  private sortAsc = true;
  private filter: GridFilter = { text: '', presence: '', group: null, user: '' };
  private currentPolicy: number | null = null;
  private readonly rows: VirtualRows<Row>;
  private readonly focus: RowFocus;
  onChange: (shown: number, total: number, online: number) => void = () => undefined;
  onOpen: (deviceId: string) => void = () => undefined;
  /** The selection changed (devices picked for "add to group"). */
  onSelect: (selected: number) => void = () => undefined;
  private readonly selected = new Set<string>();
  private selectable = false;

  constructor(
    scroller: HTMLElement,
    private readonly body: HTMLTableSectionElement,
    private readonly head: HTMLTableRowElement,
  ) {
    const rows = (this.rows = new VirtualRows<Row>(
      // One header row: the first device is row 2 for aria-rowindex.
      { scroller, body, rowHeight: ROW_HEIGHT, overscan: OVERSCAN, columns: CELL_CLASSES.length + 1, headerRows: 1 },
      {
        count: () => this.currentView().length,
        key: (i) => this.view[i]!,
        create: (_, id) => this.createRow(id),
        update: (row, i) => {
          const device = this.entries.get(this.view[i]!)!.device;
          if (row.drawn !== device) this.draw(row, device);
        },
      },
    ));
    this.focus = new RowFocus(
      rows,
      { count: () => this.currentView().length, key: (i) => this.view[i]!, indexOf: (id) => this.view.indexOf(id) },
      body,
      (e, id) => this.onKey(e, id),
    );
    rows.hook({ after: () => this.counted() });
    body.addEventListener('click', (e) => {
      const pick = (e.target as HTMLElement).closest('input.pick') as HTMLInputElement | null;
      if (pick) return this.setPicked(pick.closest('tr')!.dataset.deviceId!, pick.checked);
      const tr = (e.target as HTMLElement).closest('tr.row') as HTMLTableRowElement | null;
      if (tr?.dataset.deviceId) this.onOpen(tr.dataset.deviceId);
    });
    for (const th of head.querySelectorAll<HTMLTableCellElement>('th[data-sort]')) {
      th.querySelector('button')!.addEventListener('click', () => this.sortBy(th.dataset.sort as SortKey));
    }
    this.drawSortState();
  }

  /** Replaces every device (first load, reconnect). */
  reset(devices: DeviceSummary[], currentPolicy: number | null): void {
    this.entries.clear();
    this.currentPolicy = currentPolicy;
    this.upsert(devices);
  }

  upsert(devices: DeviceSummary[]): void {
    for (const d of devices) this.entries.set(d.id, { device: d, haystack: haystack(d) });
    this.viewDirty = true;
    this.schedule();
  }

  setCurrentPolicy(version: number | null): void {
    this.currentPolicy = version;
    for (const [, row] of this.rows.drawn()) row.drawn = null;
    this.viewDirty = true;
    this.schedule();
  }

  setFilter(filter: GridFilter): void {
    this.filter = filter;
    this.viewDirty = true;
    this.focus.reset();
    this.schedule();
  }

  /** Roles that change groups get the selection column (style.css hides it otherwise). */
  setSelectable(on: boolean): void {
    this.selectable = on;
    this.body.closest('table')!.classList.toggle('selectable', on);
    if (!on) this.clearSelection();
  }

  /** The devices picked, in no particular order; revoked devices stay pickable (groups outlive them). */
  selection(): string[] {
    return [...this.selected].filter((id) => this.entries.has(id));
  }

  /** "Select all matching the filter": every device the filter lets through, not only the rows drawn. */
  selectShown(): void {
    for (const d of this.shown()) this.selected.add(d.id);
    this.redrawPicks();
  }

  clearSelection(): void {
    this.selected.clear();
    this.redrawPicks();
  }

  private setPicked(id: string, on: boolean): void {
    if (on) this.selected.add(id);
    else this.selected.delete(id);
    this.redrawPicks();
  }

  private redrawPicks(): void {
    for (const [id, row] of this.rows.drawn()) row.pick.checked = this.selected.has(id);
    this.onSelect(this.selection().length);
  }

  get(deviceId: string): DeviceSummary | undefined {
    return this.entries.get(deviceId)?.device;
  }

  /** The devices the filter lets through, in the grid's order (what "Export CSV" writes). */
  shown(): DeviceSummary[] {
    return this.currentView().map((id) => this.entries.get(id)!.device);
  }

  get policyVersion(): number | null {
    return this.currentPolicy;
  }

  all(): DeviceSummary[] {
    return [...this.entries.values()].map((e) => e.device);
  }

  /** Relative times ("20 s ago") age without any update arriving. */
  tick(): void {
    for (const [, row] of this.rows.drawn()) if (row.drawn) this.setSeen(row, row.drawn);
  }

  sortBy(key: SortKey): void {
    if (this.sortKey === key) this.sortAsc = !this.sortAsc;
    else ((this.sortKey = key), (this.sortAsc = true));
    this.drawSortState();
    this.viewDirty = true;
    this.schedule();
  }

  /** Runs pending work now (tests and the benchmark measure with this). */
  flush(): void {
    this.rows.flush();
  }

  focusGrid(): void {
    this.schedule();
    this.focus.focus();
  }

  private schedule(): void {
    this.rows.schedule();
  }

  /** The filtered, sorted device ids, rebuilt first if anything changed since. */
  private currentView(): string[] {
    if (this.viewDirty) this.rebuildView();
    return this.view;
  }

  private rebuildView(): void {
    const f = this.filter;
    const text = f.text.trim().toLowerCase();
    const user = f.user.trim().toLowerCase();
    const matches: Entry[] = [];
    for (const entry of this.entries.values()) {
      const d = entry.device;
      if (f.presence && presenceOf(d) !== f.presence) continue;
      if (f.group && !f.group.has(d.id)) continue;
      if (user && !(d.status?.user ?? '').toLowerCase().includes(user)) continue;
      if (text && !entry.haystack.includes(text)) continue;
      matches.push(entry);
    }
    const key = this.sortKey;
    const sign = this.sortAsc ? 1 : -1;
    const keyed = matches.map((e) => ({ id: e.device.id, k: sortValue(e.device, key, this.currentPolicy), h: e.device.hostname }));
    keyed.sort((a, b) => sign * compare(a.k, b.k) || a.h.localeCompare(b.h) || (a.id < b.id ? -1 : 1));
    this.view = keyed.map((k) => k.id);
    this.viewDirty = false;
    // Updates re-sort the grid; the focus stays on the same device, not the same position.
    this.focus.relocate();
  }

  private counted(): void {
    let online = 0;
    for (const e of this.entries.values()) if (e.device.presence === 'online' && !e.device.revoked) online++;
    this.onChange(this.view.length, this.entries.size, online);
  }

  private createRow(id: string): Row {
    const tr = document.createElement('tr');
    tr.className = 'row';
    tr.dataset.deviceId = id;
    const pickCell = tr.insertCell();
    pickCell.className = 'pick-cell';
    const pick = document.createElement('input');
    pick.type = 'checkbox';
    pick.className = 'pick';
    // One tab stop for the whole grid: Space on the focused row picks it.
    pick.tabIndex = -1;
    pickCell.append(pick);
    const cells = CELL_CLASSES.map((cls) => {
      const td = tr.insertCell();
      const main = document.createElement('span');
      main.className = cls;
      const sub = document.createElement('span');
      sub.className = 'sub';
      td.append(main, sub);
      return { main, sub };
    });
    return { tr, pick, cells, drawn: null, seenText: '' };
  }

  private draw(row: Row, d: DeviceSummary): void {
    const presence = presenceOf(d);
    row.tr.dataset.state = presence;
    const values = cellValues(d, this.currentPolicy);
    const lostNote = values[10]![1];
    values.forEach(([main, sub], i) => setCell(row.cells[i]!, main, sub));
    row.cells[0]!.main.className = `state ${presence}`;
    row.cells[7]!.sub.className = values[7]![1].startsWith('behind') ? 'sub warn' : 'sub';
    row.cells[10]!.sub.className = lostNote ? 'sub warn lost' : 'sub';
    this.setSeen(row, d);
    row.pick.checked = this.selected.has(d.id);
    row.pick.setAttribute('aria-label', `Select ${visible(values[1]![0])}`);
    row.drawn = d;
  }

  private setSeen(row: Row, d: DeviceSummary): void {
    const text = d.presence === 'online' && !d.revoked ? 'now' : relative(d.lastSeenAt);
    if (text !== row.seenText) setCell(row.cells[11]!, (row.seenText = text), '');
  }

  private drawSortState(): void {
    for (const th of this.head.querySelectorAll<HTMLTableCellElement>('th[data-sort]')) {
      if (th.dataset.sort === this.sortKey) th.setAttribute('aria-sort', this.sortAsc ? 'ascending' : 'descending');
      else th.removeAttribute('aria-sort');
    }
  }

  /** Enter opens the focused device; Space picks it where the selection column is shown. */
  private onKey(e: KeyboardEvent, id: string | null): boolean {
    if (e.key === 'Enter') {
      if (id) this.onOpen(id);
      return true;
    }
    if (e.key === ' ' && this.selectable) {
      if (id) this.setPicked(id, !this.selected.has(id));
      return true;
    }
    return false;
  }
}

function setCell(cell: Cell, rawMain: string, rawSub: string): void {
  const [main, sub] = [visible(rawMain), visible(rawSub)];
  if (cell.main.textContent !== main) cell.main.textContent = main;
  if (cell.sub.textContent !== sub) cell.sub.textContent = sub;
  // Long titles are cut visually; the full text stays available on hover.
  const full = sub ? `${main} — ${sub}` : main;
  if (cell.main.parentElement!.title !== full) cell.main.parentElement!.title = full;
}

function haystack(d: DeviceSummary): string {
  const a = d.activity;
  return [d.hostname, d.status?.hostname, d.status?.user, a?.window?.app, a?.window?.title, d.id, d.agentVersion].filter(Boolean).join('\n').toLowerCase();
}

type SortValue = string | number;
function sortValue(d: DeviceSummary, key: SortKey, currentPolicy: number | null): SortValue {
  switch (key) {
    case 'presence':
      return PRESENCE_ORDER[presenceOf(d)];
    case 'hostname':
      return (d.status?.hostname ?? d.hostname).toLowerCase();
    case 'user':
      return (d.status?.user ?? '\uffff').toLowerCase();
    case 'app':
      return (d.activity?.window?.app ?? '\uffff').toLowerCase();
    case 'idle':
      return d.activity?.idleSeconds ?? -1;
    case 'lock':
      return d.activity?.locked === true ? 0 : d.activity?.locked === false ? 1 : 2;
    case 'aup':
      return d.aup ?? '\uffff';
    case 'policy':
      return d.policyVersion === null ? -1 : d.policyVersion - (currentPolicy ?? 0);
    case 'enforcement':
      return d.status?.appControl?.enforcement ?? '\uffff';
    case 'blocks':
      return -(d.blocks?.count24h ?? 0);
    case 'agent':
      return d.agentVersion ?? '\uffff';
    case 'seen':
      return d.presence === 'online' ? -Infinity : -(d.lastSeenAt ? Date.parse(d.lastSeenAt) : -Infinity);
  }
}

function compare(a: SortValue, b: SortValue): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a).localeCompare(String(b));
}

/** The grid's cells for one device, [main line, detail line] each, but "Last seen" (it ages on screen). */
export function cellValues(d: DeviceSummary, currentPolicy: number | null): [string, string][] {
  const [app, title] = activityText(d.activity);
  const [enforcement, mode] = enforcementText(d);
  const [blocks, lastBlock] = blocksText(d);
  return [
    [PRESENCE_TEXT[presenceOf(d)], ''],
    [d.status?.hostname ?? d.hostname, d.cloneSuspect ? 'possible cloned image' : (d.status?.os.distro ?? d.platform)],
    [d.status?.user ?? '—', ''],
    [app, title],
    [idleText(d.activity), ''],
    [lockText(d.activity), ''],
    [d.aup ? AUP_TEXT[d.aup] : '—', ''],
    policyText(d, currentPolicy),
    [enforcement, mode],
    [blocks, lastBlock],
    // Events the device had to drop unsent show under its agent version, in the warning colour.
    [d.agentVersion ?? '—', lostShort(d)],
  ];
}
