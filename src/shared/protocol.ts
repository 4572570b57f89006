import { z } from 'zod';
import { ActivityNowSchema, PowerStateSchema } from './activity.js';
import { AupUserSchema } from './aup.js';
import { CommandOutcomeSchema } from './command.js';
import { EventEnvelopeSchema } from './events.js';
import { boundedJson } from './json-depth.js';
import { LIMITS } from './limits.js';
import { summariseZodError } from './policy.js';
import { PolicyAvailableMessageSchema } from './policies/delivery.js';
import { Base64Signature, KeyIdSchema } from './signed.js';
import { DeviceStatusSchema } from './status.js';
import { boundedText, cleanText, IsoDateTime, UuidSchema } from './text.js';

/**
 * The agent <-> console WebSocket protocol. Every frame is one JSON object with the protocol
 * version `v` and a `type`. Both ends parse with these schemas and nothing else.
 */
export const PROTOCOL_VERSION = 1 as const;
export const AGENT_WS_PATH = '/api/v1/agent';

const v = z.literal(PROTOCOL_VERSION);
const Nonce = z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'not a 32-byte base64url nonce');

// ---- console -> agent -------------------------------------------------------------------
export const ChallengeMessage = z.strictObject({
  v,
  type: z.literal('challenge'),
  nonce: Nonce,
  consoleKeyId: KeyIdSchema,
  serverTime: IsoDateTime,
});
export const AuthOkMessage = z.strictObject({
  v,
  type: z.literal('auth.ok'),
  deviceId: UuidSchema,
  /** Console's signature over the same challenge, proving the agent reached the real console. */
  signature: Base64Signature,
  heartbeatSeconds: z.number().int().min(1).max(3600),
  /** How often the console pings; the agent treats a console silent for much longer as gone. */
  pingSeconds: z.number().int().min(1).max(3600),
});
export const AuthErrorMessage = z.strictObject({
  v,
  type: z.literal('auth.error'),
  code: z.enum(['unknown-device', 'revoked', 'bad-signature', 'bad-nonce', 'timeout', 'rate-limited', 'protocol']),
  message: boundedText(512),
});
export const EventsAckMessage = z.strictObject({
  v,
  type: z.literal('events.ack'),
  seqs: z.array(z.number().int().positive()).max(LIMITS.eventsPerBatch),
});
/**
 * The bundle is checked by the agent with checkPolicyBundle (schema, signature, version,
 * expiry) rather than here, so that a bad bundle is reported as a policy rejection with its
 * reason instead of being dropped as a malformed frame.
 */
export const PolicyMessage = z.strictObject({ v, type: z.literal('policy'), bundle: boundedJson() });
/** The AUP for this device's variant; checked by the agent (signature) like a policy bundle. */
export const AupMessage = z.strictObject({ v, type: z.literal('aup'), aup: boundedJson() });
/**
 * A console-signed command (SignedCommandSchema in command.ts). Checked by the agent rather than
 * here, so a forged or tampered command is answered with a refusal instead of dropped silently.
 */
export const CommandMessage = z.strictObject({ v, type: z.literal('command'), command: boundedJson() });
/**
 * The answer to `aup.query`: whether this user accepted exactly this AUP text on any device.
 * A yes/no about one user and the version the device holds — never who else accepted, or where.
 * `refused`: not answered (the hash is not the current version for this device, or the device
 * asked too often); `accepted` is then false and means "not known".
 */
export const AupStatusMessage = z.strictObject({
  v,
  type: z.literal('aup.status'),
  user: AupUserSchema,
  aupHash: z.string().regex(/^[0-9a-f]{64}$/),
  accepted: z.boolean(),
  acceptedAt: IsoDateTime.nullable(),
  refused: z.enum(['not-current', 'rate-limited']).nullable(),
});
export const ErrorMessage = z.strictObject({
  v,
  type: z.literal('error'),
  code: z.enum(['malformed', 'unknown-type', 'invalid', 'too-large', 'rate-limited', 'not-authenticated', 'internal']),
  message: boundedText(512),
});

export const ConsoleMessageSchema = z.discriminatedUnion('type', [
  ChallengeMessage,
  AuthOkMessage,
  AuthErrorMessage,
  EventsAckMessage,
  PolicyMessage,
  PolicyAvailableMessageSchema,
  AupMessage,
  CommandMessage,
  ErrorMessage,
  AupStatusMessage,
]);
export type ConsoleMessage = z.infer<typeof ConsoleMessageSchema>;

// ---- agent -> console -------------------------------------------------------------------
export const AuthMessage = z.strictObject({
  v,
  type: z.literal('auth'),
  deviceId: UuidSchema,
  nonce: Nonce,
  clientNonce: Nonce,
  signature: Base64Signature,
});
export const HelloMessage = z.strictObject({
  v,
  type: z.literal('hello'),
  agentVersion: boundedText(64),
  policyVersion: z.number().int().positive().nullable(),
  /** sha256 of the held bundle's canonical payload, so the console can spot a same-numbered conflict. */
  policyDigest: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .nullable(),
  mode: z.enum(['service', 'user']),
  capabilities: z.array(boundedText(64)).max(32),
});
export const HeartbeatMessage = z.strictObject({ v, type: z.literal('heartbeat'), sentAt: IsoDateTime });
export const StatusMessage = z.strictObject({ v, type: z.literal('status'), status: DeviceStatusSchema });
export const EventsMessage = z.strictObject({
  v,
  type: z.literal('events'),
  events: z.array(EventEnvelopeSchema).min(1).max(LIMITS.eventsPerBatch),
});
export const PolicyAckMessage = z.strictObject({ v, type: z.literal('policy.ack'), version: z.number().int().positive() });
/** The agent's answer to a `command`: null id when the command was too broken to name one. */
export const CommandResultMessage = z.strictObject({
  v,
  type: z.literal('command.result'),
  id: UuidSchema.nullable(),
  outcome: CommandOutcomeSchema,
  detail: boundedText(512),
  /** The OS mechanism that carried it out (e.g. `i3lock`), when it ran. */
  backend: boundedText(64).nullable(),
});
/** The session's live state (activity.ts); latest wins, not stored as an event. */
export const ActivityMessage = z.strictObject({ v, type: z.literal('activity'), now: ActivityNowSchema });
/** Sent just before the device sleeps and after it wakes, so a sleeping laptop is not shown as lost. */
export const PowerMessage = z.strictObject({ v, type: z.literal('power'), state: PowerStateSchema });

/** Has this user accepted the AUP this device holds (by hash), on any device? Answered by `aup.status`. */
export const AupQueryMessage = z.strictObject({ v, type: z.literal('aup.query'), user: AupUserSchema, aupHash: z.string().regex(/^[0-9a-f]{64}$/) });

export const AgentMessageSchema = z.discriminatedUnion('type', [
  AuthMessage,
  HelloMessage,
  HeartbeatMessage,
  StatusMessage,
  EventsMessage,
  PolicyAckMessage,
  CommandResultMessage,
  ActivityMessage,
  PowerMessage,
  AupQueryMessage,
]);
export type AgentMessage = z.infer<typeof AgentMessageSchema>;
export type AgentMessageInput = z.input<typeof AgentMessageSchema>;
export type ConsoleMessageInput = z.input<typeof ConsoleMessageSchema>;

/** What the device signs to answer a challenge, and what the console signs back. */
export function deviceAuthPayload(deviceId: string, nonce: string, clientNonce: string) {
  return { deviceId, nonce, clientNonce };
}

export type ParseFailure = { ok: false; code: 'malformed' | 'unknown-type' | 'invalid'; message: string };
export type ParseResult<T> = { ok: true; message: T } | ParseFailure;

/**
 * Parses one frame. Never throws: the caller gets a code it can report back and count
 * against the sender.
 */
function parseFrame<S extends z.ZodType>(schema: S, knownTypes: ReadonlySet<string>, raw: string | Buffer): ParseResult<z.infer<S>> {
  let data: unknown;
  try {
    data = JSON.parse(typeof raw === 'string' ? raw : raw.toString('utf8'));
  } catch (error) {
    // V8's message quotes the input, control characters included: cleaned, so the message stays one plain line.
    return { ok: false, code: 'malformed', message: `not JSON: ${cleanText((error as Error).message, 120)}` };
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    return { ok: false, code: 'malformed', message: 'frame is not a JSON object' };
  }
  const { type, v: version } = data as { type?: unknown; v?: unknown };
  if (version !== PROTOCOL_VERSION) {
    return { ok: false, code: 'invalid', message: `unsupported protocol version ${describeScalar(version)}; expected ${PROTOCOL_VERSION}` };
  }
  if (typeof type !== 'string' || !knownTypes.has(type)) {
    return { ok: false, code: 'unknown-type', message: `unknown message type ${describeScalar(type)}` };
  }
  const parsed = schema.safeParse(data);
  if (!parsed.success) return { ok: false, code: 'invalid', message: `${type}: ${summariseZodError(parsed.error)}` };
  return { ok: true, message: parsed.data };
}

/** Names a value from a frame without serialising it: a hostile value may be nested 100k deep. */
function describeScalar(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.slice(0, 60));
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined) return String(value);
  return `(${Array.isArray(value) ? 'array' : typeof value})`;
}

const agentTypes = new Set(AgentMessageSchema.options.map((o) => o.shape.type.value));
const consoleTypes = new Set(ConsoleMessageSchema.options.map((o) => o.shape.type.value));

export const parseAgentMessage = (raw: string | Buffer) => parseFrame(AgentMessageSchema, agentTypes, raw);
export const parseConsoleMessage = (raw: string | Buffer) => parseFrame(ConsoleMessageSchema, consoleTypes, raw);
