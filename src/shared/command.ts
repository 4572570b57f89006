import { z } from 'zod';
import { SignatureSchema } from './signed.js';
import { boundedText, IsoDateTime, UuidSchema } from './text.js';

/**
 * Commands a technician sends to one device (lock now, log off now, show a message). The
 * console signs each one (purpose `command`); the agent carries them out only if the signature
 * is by its pinned console key, the command names this device, has not expired, and its id has
 * not been seen before. Browser-safe.
 */
export const COMMAND_ACTIONS = ['lock', 'logoff', 'message'] as const;
export const CommandActionSchema = z.enum(COMMAND_ACTIONS);
export type CommandAction = z.infer<typeof CommandActionSchema>;

/** A command is short-lived: a lock that arrives an hour late is a surprise, not a control. */
export const MAX_COMMAND_LIFETIME_SECONDS = 600;

export const CommandPayloadSchema = z
  .strictObject({
    kind: z.literal('vigil.command'),
    /** Unique per command; the agent remembers it until expiry to refuse replays. */
    id: UuidSchema,
    deviceId: UuidSchema,
    action: CommandActionSchema,
    /** Text of a message (required for `message`, absent otherwise). */
    text: z.string().min(1).max(500).optional(),
    issuedBy: boundedText(64),
    issuedAt: IsoDateTime,
    expiresAt: IsoDateTime,
    /** 16 random bytes: two commands never sign the same bytes, even with equal fields. */
    nonce: z.string().regex(/^[A-Za-z0-9_-]{22}$/, 'not a 16-byte base64url nonce'),
  })
  .refine((c) => (c.action === 'message') === (c.text !== undefined), { message: 'text is required for message and only for message', path: ['text'] })
  .refine((c) => Date.parse(c.expiresAt) > Date.parse(c.issuedAt), { message: 'expiresAt must be after issuedAt', path: ['expiresAt'] })
  .refine((c) => Date.parse(c.expiresAt) - Date.parse(c.issuedAt) <= MAX_COMMAND_LIFETIME_SECONDS * 1000, {
    message: `a command may live at most ${MAX_COMMAND_LIFETIME_SECONDS} s`,
    path: ['expiresAt'],
  });
export type CommandPayload = z.infer<typeof CommandPayloadSchema>;

export const SignedCommandSchema = z.strictObject({ payload: CommandPayloadSchema, signature: SignatureSchema });
export type SignedCommand = z.infer<typeof SignedCommandSchema>;

/** Why an agent refused a command; `done` / `failed` say whether it ran. */
export const CommandOutcomeSchema = z.enum([
  'done',
  'failed',
  'malformed',
  'bad-signature',
  'wrong-device',
  'expired',
  'not-yet-valid',
  'replayed',
  'unsupported',
]);
export type CommandOutcome = z.infer<typeof CommandOutcomeSchema>;

/** `POST /api/v1/devices/:id/commands`. */
export const CommandRequestSchema = z
  .strictObject({
    action: CommandActionSchema,
    text: z.string().min(1).max(500).optional(),
    expiresInSeconds: z.number().int().min(5).max(MAX_COMMAND_LIFETIME_SECONDS).default(60),
  })
  .refine((c) => (c.action === 'message') === (c.text !== undefined), { message: 'text is required for message and only for message', path: ['text'] });
export type CommandRequest = z.infer<typeof CommandRequestSchema>;

/** The agent's `commands-seen.json`: ids of commands already carried out, kept until they expire. */
export const SeenCommandsFileSchema = z.strictObject({
  seen: z.array(z.strictObject({ id: UuidSchema, expiresAt: IsoDateTime })).max(10_000),
});
