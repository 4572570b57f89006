import { el } from '../shared/console-api.js';
import { checkbox } from '../shared/forms.js';

/** A console group as a checkbox offers it: its name (the box's value) and the words shown. */
export interface GroupChoice {
  name: string;
  label: string;
}

/**
 * One checkbox per console group in `box` (a token's default groups, when it is made and when
 * they are changed), `ticked` ticked; `null` groups: they could not be read, and `unavailable`
 * says what that means here.
 */
export function groupChecks(
  box: HTMLElement,
  groups: GroupChoice[] | null,
  ticked: ReadonlySet<string>,
  unavailable = 'The groups could not be loaded.',
): void {
  box.replaceChildren(
    ...(groups === null
      ? [el('p', unavailable, 'empty')]
      : groups.length === 0
        ? [el('p', 'No group yet: create groups on the Groups page to give tokens default groups.', 'empty')]
        : groups.map((g) => checkbox(g.name, g.label, { checked: ticked.has(g.name) }))),
  );
}

/** The names of the groups ticked in `box`. */
export function tickedIn(box: HTMLElement): string[] {
  return [...box.querySelectorAll<HTMLInputElement>('input:checked')].map((input) => input.value);
}
