import type { DeviceSummary } from '../../src/shared/api.js';
import { el, row } from '../shared/console-api.js';
import { button } from '../shared/forms.js';
import { VirtualRows, type DrawnRow } from '../shared/virtual-rows.js';
import { PRESENCE_TEXT, presenceOf } from './format.js';

/**
 * The members of the open group on the Groups page, by hostname, each with its status and why
 * it is a member. A group can hold thousands of devices (a whole trust's school-owned laptops),
 * so only the rows in view are drawn (shared/virtual-rows.ts); links and buttons stay ordinary
 * tab stops, and the list scrolls on as the focus moves down it.
 */

/** Must match `.members tbody tr` height in style.css. */
export const MEMBER_ROW_HEIGHT = 44;
const OVERSCAN = 6;

export interface Member {
  id: string;
  /** The device as the grid has it, if the grid has it. */
  device: DeviceSummary | undefined;
  /** On the group's hand-made list (so removable here), rather than there by a rule or token. */
  byHand: boolean;
}

export class GroupMembers {
  private members: Member[] = [];
  private mayEdit = false;
  private readonly rows: VirtualRows<DrawnRow>;

  constructor(
    scroller: HTMLElement,
    body: HTMLTableSectionElement,
    private readonly remove: (id: string) => void,
  ) {
    this.rows = new VirtualRows(
      { scroller, body, rowHeight: MEMBER_ROW_HEIGHT, overscan: OVERSCAN, columns: 4, headerRows: 1 },
      { count: () => this.members.length, key: (i) => this.members[i]!.id, create: (i) => ({ tr: this.rowFor(this.members[i]!) }) },
    );
    // Tabbing onto a row scrolls it into view; the rows below it are drawn before the next key,
    // not in the next animation frame: on a busy machine a quick Tab outran the frame and left
    // the list, past rows not drawn yet.
    body.addEventListener('focusin', () => queueMicrotask(() => this.rows.flush()));
  }

  /** Shows a group's members, sorted by enrolled hostname; `mayEdit` offers "remove" on those listed by hand. */
  show(members: Member[], mayEdit: boolean): void {
    this.members = [...members].sort((a, b) => (a.device?.hostname ?? a.id).localeCompare(b.device?.hostname ?? b.id));
    this.mayEdit = mayEdit;
    // Another group, or the same one changed: nothing drawn before still holds.
    this.rows.dropRows();
  }

  /** Draws now rather than in the next frame (tests). */
  flush(): void {
    this.rows.flush();
  }

  private rowFor({ id, device, byHand }: Member): HTMLTableRowElement {
    const link = el('a', nameOf({ id, device }));
    link.href = `#/device/${id}`;
    const actions = el('span', '', 'row-buttons');
    if (this.mayEdit && byHand) actions.append(button(`Remove ${link.textContent} from the group`, () => this.remove(id), 'secondary'));
    const tr = row([link, device ? PRESENCE_TEXT[presenceOf(device)] : 'Not in the device list', byHand ? 'Listed by hand' : 'By a rule or token', actions]);
    tr.className = 'row';
    tr.dataset.deviceId = id;
    return tr;
  }
}

function nameOf(m: Pick<Member, 'id' | 'device'>): string {
  return m.device ? (m.device.status?.hostname ?? m.device.hostname) : m.id;
}
