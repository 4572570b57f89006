import { el, visible } from '../shared/console-api.js';
import { checkbox } from '../shared/forms.js';
import { listedByHand, loadGroups, updateGroup, type GroupView } from './groups-api.js';

/**
 * "Set groups" on a device's page (Systems Managers and admins): one checkbox per group. A
 * group the device is in by a membership rule or its enrollment token is ticked and cannot be
 * unticked here (change the rule on the Groups page); saving adds or removes the device from
 * each group's hand-made list, then the page's Groups fact shows the result.
 */
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

export class DeviceGroups {
  private deviceId: string | null = null;
  private groups: GroupView[] = [];
  private mayEdit = false;

  constructor(private readonly changed: () => Promise<void>) {
    $('device-groups').addEventListener('submit', (e) => (e.preventDefault(), void this.save()));
  }

  allow(edit: boolean): void {
    this.mayEdit = edit;
    $('device-groups').hidden = !edit;
  }

  async open(deviceId: string): Promise<void> {
    this.deviceId = deviceId;
    $('device-groups-result').textContent = '';
    if (!this.mayEdit) return;
    // The previous device's boxes must not stay on screen (or be saved) while this one's load.
    $('device-group-choices').replaceChildren(el('p', 'Loading the groups…', 'empty'));
    $('device-groups-save').hidden = true;
    await this.load();
  }

  private async load(): Promise<void> {
    const id = this.deviceId;
    const answer = await loadGroups();
    if (id !== this.deviceId || !id) return;
    if (!answer.ok) {
      $('device-group-choices').replaceChildren(el('p', `The groups could not be loaded: ${answer.message}`, 'error'));
      return;
    }
    this.groups = [...answer.data].sort((a, b) => a.name.localeCompare(b.name));
    $('device-groups-save').hidden = this.groups.length === 0;
    if (this.groups.length === 0) {
      $('device-group-choices').replaceChildren(el('p', 'No group yet: create one on the Groups page.', 'empty'));
      return;
    }
    $('device-group-choices').replaceChildren(
      ...this.groups.map((g) => {
        const hand = listedByHand(g, id);
        const byRule = g.members.includes(id) && !hand;
        return checkbox(g.name, `${g.displayName} (${g.name})${byRule ? ' — by a rule or enrollment token' : ''}`, {
          checked: hand || byRule,
          disabled: byRule,
        });
      }),
    );
  }

  private async save(): Promise<void> {
    const id = this.deviceId;
    if (!id) return;
    const boxes = [...$('device-group-choices').querySelectorAll<HTMLInputElement>('input[type=checkbox]:not(:disabled)')];
    const changes = boxes
      .map((box) => ({ group: this.groups.find((g) => g.name === box.value)!, on: box.checked }))
      .filter(({ group, on }) => on !== listedByHand(group, id));
    if (changes.length === 0) return void ($('device-groups-result').textContent = 'Nothing to change.');
    const failures: string[] = [];
    for (const { group, on } of changes) {
      const answer = await updateGroup(group.name, on ? { addDevices: [id] } : { removeDevices: [id] });
      if (!answer.ok) failures.push(`${group.name}: ${answer.message}`);
    }
    await Promise.all([this.changed(), this.load()]);
    $('device-groups-result').textContent = visible(
      failures.length
        ? `Not all saved. ${failures.join('; ')}`
        : `Saved: ${changes.map((c) => `${c.on ? 'added to' : 'removed from'} ${c.group.name}`).join(', ')}.`,
    );
  }
}
