import { AgentEventSchema, type AgentEvent } from '../../src/shared/events.js';

/**
 * A device's events as sentences a technician reads ("Blocked Steam for jsmith"), checked with
 * the shared event schema first. The raw fields stay one click away (the page shows them under
 * "Details"). Pure: no DOM; the page writes the result with textContent.
 */
export function eventSentence(raw: { type: string; at: string; data: unknown }): string {
  const parsed = AgentEventSchema.safeParse({ id: '00000000-0000-4000-8000-000000000000', seq: 1, ...raw });
  return parsed.success ? sentence(parsed.data) : `Event "${raw.type}" (this console version does not describe it; see the details)`;
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
const who = (user: string | null) => user ?? 'an unknown user';

function sentence(e: AgentEvent): string {
  switch (e.type) {
    case 'outbox.dropped':
      return `Lost ${plural(e.data.dropped, 'event')} before they could be sent (${e.data.byReason.full} over the queue's limit, ${e.data.byReason.unreadable} unreadable); ${e.data.total} in all`;
    case 'agent.started':
      return `The Vigil agent ${e.data.agentVersion} started (${e.data.mode === 'service' ? 'as a service' : 'in the user session'})`;
    case 'policy.applied':
      return `Applied policy v${e.data.version}`;
    case 'policy.rejected':
      return `Refused policy ${e.data.version === null ? '(no version)' : `v${e.data.version}`}: ${e.data.reason}${e.data.keptVersion ? `; kept v${e.data.keptVersion}` : ''}`;
    case 'policy.expired':
      return `Policy v${e.data.version} expired`;
    case 'aup.accepted':
      return `${e.data.receipt.payload.user} accepted the ${e.data.receipt.payload.variant} AUP v${e.data.receipt.payload.version}, typing "${e.data.receipt.payload.typedName}"`;
    case 'aup.rejected':
      return `Refused an AUP from the console: ${e.data.reason}`;
    case 'aup.pending':
      return `${e.data.user} must accept the ${e.data.variant} AUP v${e.data.version} and nothing on the device can show it${e.data.offline ? ' (console unreachable)' : ''}`;
    case 'aup.declined':
      return `${e.data.user} declined the AUP${e.data.logoff ? ' and was logged off' : ''}`;
    case 'app.blocked':
      return `Blocked ${e.data.name} for ${who(e.data.user)}${e.data.repeats ? ` (and ${plural(e.data.repeats, 'more time')})` : ''}`;
    case 'app.would-block':
      return `Would have blocked ${e.data.name} for ${who(e.data.user)} (monitor mode)`;
    case 'app.killed':
      return `Stopped ${e.data.name} for ${who(e.data.user)} after it started`;
    case 'app.permission-requested':
      return `${who(e.data.user)} asked to run ${e.data.name}`;
    case 'session.action':
      return `Session control: ${e.data.action}${e.data.reason ? ` (${e.data.reason})` : ''}${e.data.ok ? '' : ' failed'}`;
    case 'session.backends':
      return `Session control is using ${[e.data.idle, ...e.data.lockers, ...e.data.logoff].filter(Boolean).join(', ') || 'no backends'}`;
    case 'session.problem':
      return `Session control problem (${e.data.kind}): ${e.data.detail}`;
    case 'activity.spans': {
      const apps = [...new Set(e.data.spans.map((s) => s.window?.app ?? s.kind))];
      return `Reported ${plural(e.data.spans.length, 'activity span')}: ${apps.slice(0, 5).join(', ')}${apps.length > 5 ? '…' : ''}`;
    }
    case 'command.received':
      return `Command ${e.data.action ?? '(unreadable)'}: ${e.data.outcome}${e.data.detail ? ` (${e.data.detail})` : ''}`;
    case 'usb.allowed':
    case 'usb.blocked':
    case 'usb.read-only':
    case 'usb.audited': {
      const verb = { 'usb.allowed': 'Allowed', 'usb.blocked': 'Blocked', 'usb.read-only': 'Made read-only', 'usb.audited': 'Allowed (audit only)' }[e.type];
      return `${verb} the USB drive ${e.data.label ?? e.data.device}: ${e.data.reason}`;
    }
    case 'concern.reported':
      return 'A concern was reported (it went to the safeguarding lead)';
    case 'tray.stopped':
      return `The tray app of ${e.data.user} stopped; the service ${e.data.action} it${e.data.ok ? '' : ' (that failed)'}`;
    case 'console.protocol-error':
      return `The console sent something the agent could not read: ${e.data.detail}`;
    case 'diagnostic.test':
      return `Test event ${e.data.n}: ${e.data.note}`;
  }
}
