import { existsSync, readFileSync } from 'node:fs';
import { SeenCommandsFileSchema, SignedCommandSchema, type CommandOutcome, type CommandPayload } from '../shared/command.js';
import { writeFileAtomic } from '../shared/node/files.js';
import { verifyPayload } from '../shared/node/signing.js';
import { summariseZodError } from '../shared/zod-errors.js';

/** A device clock may run a little behind the console's; a command "from the future" beyond this is refused. */
const CLOCK_SKEW_MS = 60_000;
/** Most commands the agent remembers; more than this in one lifetime window means something is wrong. */
const MAX_SEEN = 10_000;

export type CommandCheck =
  | { ok: true; command: CommandPayload }
  | { ok: false; id: string | null; action: string | null; outcome: Exclude<CommandOutcome, 'done' | 'failed' | 'unsupported'>; detail: string };

/**
 * Accepts a console command only if: it parses; it is signed (purpose `command`) by the console
 * key pinned at enrollment; it names this device; it is within its validity window; and its id
 * has never been accepted before. Accepted ids are written to disk *before* the command runs
 * and kept until the command expires, so replaying a captured frame — even across an agent
 * restart — does nothing. After expiry the time window refuses it anyway.
 */
export class CommandGate {
  private readonly seen = new Map<string, number>(); // id -> expires at (ms)

  constructor(
    private readonly file: string,
    private readonly deviceId: string,
    private readonly consolePublicKey: string,
    private readonly now: () => number = Date.now,
  ) {
    if (!existsSync(file)) return;
    try {
      const parsed = SeenCommandsFileSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
      for (const entry of parsed.seen) this.seen.set(entry.id, Date.parse(entry.expiresAt));
    } catch {
      // Unreadable: start empty. Commands still can't be replayed beyond their short lifetime.
    }
  }

  check(raw: unknown): CommandCheck {
    const id = idOf(raw);
    const parsed = SignedCommandSchema.safeParse(raw);
    if (!parsed.success) return { ok: false, id, action: null, outcome: 'malformed', detail: summariseZodError(parsed.error) };
    const { payload, signature } = parsed.data;
    const refuse = (outcome: Extract<CommandCheck, { ok: false }>['outcome'], detail: string): CommandCheck => ({
      ok: false,
      id: payload.id,
      action: payload.action,
      outcome,
      detail,
    });
    if (!verifyPayload('command', payload, signature, this.consolePublicKey))
      return refuse('bad-signature', 'not signed by the console this device is enrolled with');
    if (payload.deviceId !== this.deviceId) return refuse('wrong-device', 'the command is for another device');
    const now = this.now();
    if (Date.parse(payload.expiresAt) <= now) return refuse('expired', `expired at ${payload.expiresAt}`);
    if (Date.parse(payload.issuedAt) > now + CLOCK_SKEW_MS) return refuse('not-yet-valid', `issued at ${payload.issuedAt}, in this device's future`);
    this.forgetExpired(now);
    if (this.seen.has(payload.id)) return refuse('replayed', 'this command was already carried out');
    if (this.seen.size >= MAX_SEEN) return refuse('replayed', 'too many recent commands remembered; refusing until some expire');
    this.seen.set(payload.id, Date.parse(payload.expiresAt));
    this.save();
    return { ok: true, command: payload };
  }

  private forgetExpired(now: number): void {
    for (const [id, expires] of this.seen) if (expires <= now) this.seen.delete(id);
  }

  private save(): void {
    const seen = [...this.seen].map(([id, expires]) => ({ id, expiresAt: new Date(expires).toISOString() }));
    writeFileAtomic(this.file, JSON.stringify({ seen }));
  }
}

/** The id of a command too broken to accept, if it has a readable one (for the refusal). */
function idOf(raw: unknown): string | null {
  const id = (raw as { payload?: { id?: unknown } } | null)?.payload?.id;
  return typeof id === 'string' && /^[0-9a-f-]{36}$/i.test(id) ? id : null;
}
