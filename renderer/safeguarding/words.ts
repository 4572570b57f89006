import type { Concern, ConcernCategory, ConcernStatus } from '../../src/shared/concern.js';
import type { Role } from '../../src/shared/roles.js';

/** Words the safeguarding lead reads for each concern field. Pure: no DOM. */

/** The pupil chose these in the first person on the tray's page; the lead reads them about the pupil. */
export const CATEGORY_TEXT: Record<ConcernCategory, string> = {
  'about-me': 'Something happening to the pupil',
  'about-someone-else': 'Something happening to someone else',
  'something-online': 'Something the pupil saw online',
  other: 'Something else',
};

export const STATUS_TEXT: Record<ConcernStatus, string> = { new: 'New', 'in-progress': 'In progress', closed: 'Closed' };

export const ROLE_TEXT: Record<Role, string> = {
  admin: 'administrator',
  systems_manager: 'systems manager',
  technician: 'IT technician',
  safeguarding_lead: 'safeguarding lead',
};

/** Concerns can be months old, so the date always carries the year. */
export function when(iso: string): string {
  return new Date(iso).toLocaleString('en-GB', { day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit' });
}

export function contactText(c: Concern): string {
  return c.wantsContact ? 'Yes: the pupil asked to talk to someone' : 'No';
}

export function userText(c: Concern): string {
  return c.user ?? 'not known (nobody was signed in to the tray)';
}

export function lastUpdateText(c: Concern): string {
  if (!c.updatedAt) return 'Not yet';
  return c.updatedBy ? `${when(c.updatedAt)} by ${c.updatedBy}` : when(c.updatedAt);
}
