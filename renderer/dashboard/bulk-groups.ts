import { GroupNameSchema } from '../../src/shared/app-rules.js';
import { visible } from '../shared/console-api.js';
import { setFieldError } from '../shared/forms.js';
import type { DeviceGrid } from './grid.js';
import { updateGroup } from './groups-api.js';

/**
 * The grid's selection bar (Systems Managers and admins): pick devices with the checkboxes or
 * Space, or "Select all matching" the search and filters, then add them to a group or remove
 * them from it in one change. Removing takes a device off the group's hand-made list only; a
 * device a membership rule or its enrollment token puts in stays a member, and the result says so.
 */
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

export class BulkGroups {
  constructor(
    private readonly grid: DeviceGrid,
    private readonly reload: () => Promise<Record<string, string[]>>,
  ) {
    grid.onSelect = (n) => ($('bulk-count').textContent = n === 0 ? 'No device selected' : `${n} device${n === 1 ? '' : 's'} selected`);
    $('select-matching').addEventListener('click', () => grid.selectShown());
    $('select-none').addEventListener('click', () => grid.clearSelection());
    $('bulk-add').addEventListener('click', () => void this.apply('add'));
    $('bulk-remove').addEventListener('click', () => void this.apply('remove'));
  }

  allow(edit: boolean): void {
    $('bulk').hidden = !edit;
    this.grid.setSelectable(edit);
  }

  /** The group list (name -> members), as the device list gives it. */
  setGroups(groups: Record<string, string[]>): void {
    const select = $<HTMLSelectElement>('bulk-group');
    const chosen = select.value;
    const names = Object.keys(groups).sort();
    select.replaceChildren(new Option(names.length ? 'Choose a group' : 'No group yet', ''), ...names.map((name) => new Option(name, name)));
    select.value = groups[chosen] ? chosen : '';
  }

  private async apply(how: 'add' | 'remove'): Promise<void> {
    const ids = this.grid.selection();
    const name = $<HTMLSelectElement>('bulk-group').value;
    const problem = ids.length === 0 ? 'select one or more devices first' : !GroupNameSchema.safeParse(name).success ? 'choose a group' : '';
    setFieldError('bulk-group', problem);
    $('bulk-result').textContent = '';
    if (problem) return $('bulk-group').focus();
    const answer = await updateGroup(name, how === 'add' ? { addDevices: ids } : { removeDevices: ids });
    if (!answer.ok) return setFieldError('bulk-group', `Not changed: ${answer.message}`);
    const members = new Set((await this.reload())[name] ?? []);
    const n = `${ids.length} device${ids.length === 1 ? '' : 's'}`;
    const stay = ids.filter((id) => members.has(id)).length;
    $('bulk-result').textContent = visible(
      how === 'add'
        ? `Added ${n} to ${name}; it has ${members.size} member${members.size === 1 ? '' : 's'}.`
        : `Removed ${n} from ${name}.${stay ? ` ${stay} stay${stay === 1 ? 's' : ''} in it by a membership rule or enrollment token.` : ''}`,
    );
  }
}
