import { randomUUID } from 'node:crypto';
import type { CommandPayload, CommandRequest, SignedCommand } from '../shared/command.js';
import { randomToken } from '../shared/node/crypto.js';
import type { Logger } from '../shared/node/log.js';
import type { AgentMessage } from '../shared/protocol.js';
import { signPayload } from '../shared/node/signing.js';
import type { CommandRelay } from './cluster/command-relay.js';
import type { ConsoleIdentity } from './identity.js';
import type { ConsoleStore } from './store/store.js';

type CommandResult = Extract<AgentMessage, { type: 'command.result' }>;

export interface IssuedCommand {
  id: string;
  delivered: boolean;
  /** The device's answer, if it came within the wait; later answers still reach the audit log. */
  result: Pick<CommandResult, 'outcome' | 'detail' | 'backend'> | null;
}

interface Pending {
  deviceId: string;
  action: string;
  expiresAt: number;
  waiters: ((result: CommandResult) => void)[];
}

/**
 * Lock / log off / message commands: signed by the console (purpose `command`) for one device,
 * with a unique id, a nonce and a short expiry; sent only to a device online now (on this
 * console process or another); issue and result both go to the audit log. A result is accepted only from the device the command was
 * for, and only once.
 */
export class CommandService {
  private readonly pending = new Map<string, Pending>();

  constructor(
    private readonly store: ConsoleStore,
    private readonly identity: ConsoleIdentity,
    /** Sends to the device here or through the console process that holds it (cluster/command-relay.ts). */
    private readonly relay: Pick<CommandRelay, 'send' | 'forwardResult' | 'receiveResults'>,
    private readonly log: Logger,
  ) {
    relay.receiveResults((deviceId, result) => this.onResult(deviceId, result));
  }

  async issue(deviceId: string, request: CommandRequest, actor: string, waitMs = 10_000): Promise<IssuedCommand> {
    const now = Date.now();
    const payload: CommandPayload = {
      kind: 'vigil.command',
      id: randomUUID(),
      deviceId,
      action: request.action,
      ...(request.text !== undefined ? { text: request.text } : {}),
      issuedBy: actor,
      issuedAt: new Date(now).toISOString(),
      expiresAt: new Date(now + request.expiresInSeconds * 1000).toISOString(),
      nonce: randomToken(16),
    };
    const signed: SignedCommand = { payload, signature: signPayload('command', payload, this.identity.privateKey, this.identity.publicKey) };
    this.forgetExpired(now);
    const entry: Pending = { deviceId, action: request.action, expiresAt: now + request.expiresInSeconds * 1000 + 600_000, waiters: [] };
    this.pending.set(payload.id, entry);
    const answer = new Promise<CommandResult | null>((resolve) => {
      const timer = setTimeout(() => resolve(null), waitMs);
      entry.waiters.push((r) => (clearTimeout(timer), resolve(r)));
    });
    const delivered = await this.relay.send(deviceId, signed);
    await this.audit(actor, 'device.command', deviceId, {
      id: payload.id,
      action: request.action,
      delivered,
      ...(request.text !== undefined ? { text: request.text } : {}),
    });
    if (!delivered) {
      this.pending.delete(payload.id);
      return { id: payload.id, delivered, result: null };
    }
    const result = await answer;
    return { id: payload.id, delivered, result: result && { outcome: result.outcome, detail: result.detail, backend: result.backend } };
  }

  /** A device's answer (the event router hands every `command.result` frame here). */
  async onResult(deviceId: string, result: CommandResult): Promise<void> {
    const entry = result.id ? this.pending.get(result.id) : undefined;
    if (!entry || entry.deviceId !== deviceId) {
      // A command this process carried for another console process: its result goes there.
      if (this.relay.forwardResult(deviceId, result)) return;
      // Refusals of commands we never sent (or sent to someone else) are worth a log line, no more.
      this.log.warn('command result for no command this console sent to that device', {
        deviceId,
        id: result.id,
        outcome: result.outcome,
        detail: result.detail,
      });
      return;
    }
    this.pending.delete(result.id!);
    await this.audit(`device:${deviceId}`, 'device.command-result', deviceId, {
      id: result.id,
      action: entry.action,
      outcome: result.outcome,
      detail: result.detail,
      backend: result.backend,
    });
    entry.waiters.forEach((w) => w(result));
  }

  private forgetExpired(now: number): void {
    for (const [id, entry] of this.pending) if (entry.expiresAt < now) this.pending.delete(id);
  }

  private audit(actor: string, action: string, target: string, detail: Record<string, unknown>): Promise<void> {
    return this.store.appendAudit({ at: new Date().toISOString(), actor, action, target, detail });
  }
}
