import type { UsbDecisionData } from '../../shared/usb-policy.js';
import { pupilMessage } from './verdict-text.js';

/**
 * What the pupil is told about a drive the gate did not simply allow. The tray (or any other
 * front end) subscribes through the tray bridge (components/tray-bridge.ts); the agent also shows it through the
 * session's message window when it controls the session.
 */
export interface UsbNotice {
  at: string;
  kind: 'blocked' | 'read-only' | 'audited';
  mountPoint: string;
  driveName: string;
  reason: UsbDecisionData['reason'];
  title: string;
  why: string;
  whatToDo: string;
}

export function driveName(d: Pick<UsbDecisionData, 'label' | 'mountPoint'>): string {
  return d.label?.trim() || d.mountPoint.split('/').filter(Boolean).pop() || 'USB drive';
}

/** Built from verdict-text's wording, so every front end says the same thing. Null: nothing to say. */
export function usbNotice(d: UsbDecisionData, at: string): UsbNotice | null {
  if (d.reason === 'ok' || d.reason === 'allowlisted-serial' || d.response === null) return null;
  const name = driveName(d);
  const message = pupilMessage({ ok: false, reason: d.reason }, name);
  if (!message) return null;
  const kind = d.response === 'block' ? 'blocked' : d.response === 'read-only' ? 'read-only' : 'audited';
  const base = { at, kind, mountPoint: d.mountPoint, driveName: name, reason: d.reason, whatToDo: message.whatToDo } as const;
  if (kind === 'blocked') return { ...base, title: message.title, why: message.why };
  const because = message.why.slice(message.why.indexOf(' because ') + 1);
  if (kind === 'read-only') {
    return {
      ...base,
      title: `"${name}" is read-only`,
      why: `The drive "${name}" was opened read-only (you can copy files from it, but not change them or run programs from it) ${because}`,
    };
  }
  return { ...base, title: `"${name}" was opened, and its use is recorded`, why: `The drive "${name}" was opened, but the school records its use ${because}` };
}

/** One text block for a plain message window (xmessage does not wrap: lines are cut at 72). */
export function noticeText(n: UsbNotice): string {
  return [n.title, '', ...wrap(n.why, 72), '', ...wrap(n.whatToDo, 72)].join('\n');
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}
