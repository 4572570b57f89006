import type { Verdict, VerdictReason } from './verify-flag.js';

/**
 * What a pupil is told when a drive is not opened: which drive, why in plain words, and what to
 * do. No key ids or hashes here; those go to the event for IT staff.
 */
export interface PupilMessage {
  title: string;
  why: string;
  whatToDo: string;
}

const TAKE_IT = 'Take the drive to the school scan station (ask IT staff where it is) and scan it again.';

const WHY: Record<Exclude<VerdictReason, 'ok'>, { why: string; whatToDo: string }> = {
  'not-scanned': { why: 'it has not been checked for viruses at the school scan station.', whatToDo: TAKE_IT },
  'changed-since-scan': { why: 'files on it have changed since it was checked for viruses.', whatToDo: TAKE_IT },
  expired: { why: 'its virus check is too old.', whatToDo: TAKE_IT },
  'not-yet-valid': {
    why: 'its virus check has a date in the future, so this laptop cannot trust it.',
    whatToDo: `${TAKE_IT} If it happens again, tell IT staff.`,
  },
  'unknown-station': { why: 'it was checked somewhere this laptop does not recognise.', whatToDo: TAKE_IT },
  'revoked-station': { why: 'it was checked by a scan station the school no longer uses.', whatToDo: TAKE_IT },
  'wrong-volume': { why: 'its virus check belongs to a different drive.', whatToDo: TAKE_IT },
  'bad-signature': { why: 'its virus check record has been altered.', whatToDo: `${TAKE_IT} If you did not change it, tell IT staff.` },
  malformed: { why: 'its virus check record is damaged.', whatToDo: TAKE_IT },
  unreadable: {
    why: 'the laptop could not read it properly. It may be damaged or was removed too early.',
    whatToDo: 'Unplug it, plug it in again, and if it still fails take it to IT staff.',
  },
};

/** `driveName` is what the pupil sees in the file manager, e.g. the label "HOMEWORK" or "USB drive". */
export function pupilMessage(verdict: Pick<Verdict, 'ok' | 'reason' | 'changes'>, driveName: string): PupilMessage | null {
  if (verdict.ok || verdict.reason === 'ok') return null;
  const text = WHY[verdict.reason];
  const name = driveName.trim() || 'USB drive';
  let why = `The drive "${name}" was not opened because ${text.why}`;
  const changed = verdict.changes;
  if (verdict.reason === 'changed-since-scan' && changed) {
    const names = [...changed.added, ...changed.modified, ...changed.removed].slice(0, 3);
    if (names.length) why += ` For example: ${names.join(', ')}.`;
  }
  return { title: `"${name}" was not opened`, why, whatToDo: text.whatToDo };
}
