import { z } from 'zod';
import { SignedCommandSchema, type SignedCommand } from '../../shared/command.js';
import type { Logger } from '../../shared/node/log.js';
import { CommandResultMessage } from '../../shared/protocol.js';
import type { AgentHub } from '../agent-hub.js';
import type { EventRouter } from '../agent-link/event-router.js';
import { deviceSubject, type ConsoleBus } from '../bus/bus.js';

type CommandResult = z.infer<typeof CommandResultMessage>;

/** How long a process that carried a command for another one remembers where its result goes. */
const CARRIED_FOR_MS = 15 * 60_000;
/** How long the issuing process waits for the holder's "sent" (then: not delivered). */
export const CARRY_TIMEOUT_MS = 5_000;

const CarryRequest = z.strictObject({ command: SignedCommandSchema });
const CarryAnswer = z.strictObject({ delivered: z.boolean() });
const ForwardedResult = z.strictObject({ deviceId: z.string().max(128), result: CommandResultMessage });

/**
 * Gets a signed command to its device, whichever console process holds it, and its result back
 * to the process that issued it. Each process answers on `vigil.device.<id>.command` for the
 * devices it holds; a command for a device held elsewhere is a bus request there, and a device
 * held by nobody (no process answers, or none in time) is reported not delivered, never queued.
 * The holder remembers whom it carried each command for and passes the device's result on to
 * `vigil.command-results.<process>`, where CommandService takes it as if its own device answered.
 */
export class CommandRelay {
  private readonly carried = new Map<string, { origin: string; deviceId: string; until: number }>();
  private readonly answering = new Map<string, () => void>();

  constructor(
    private readonly bus: ConsoleBus,
    private readonly hub: Pick<AgentHub, 'sendCommand'>,
    private readonly log: Logger,
  ) {}

  /** Answers for this process's devices (after DeviceSync, so presence is recorded first). */
  register(router: EventRouter): void {
    router.onPresence('connected', async (deviceId) => this.hold(deviceId)).onPresence('disconnected', async (deviceId) => this.release(deviceId));
  }

  /** Where results forwarded to this process go (CommandService.onResult). */
  receiveResults(handler: (deviceId: string, result: CommandResult) => Promise<void>): () => void {
    return this.bus.subscribe(`vigil.command-results.${this.bus.processId}`, ForwardedResult, ({ deviceId, result }) => handler(deviceId, result));
  }

  /** Sends a command to its device here, or through the process that holds it; false when none does. */
  async send(deviceId: string, command: SignedCommand): Promise<boolean> {
    if (this.hub.sendCommand(deviceId, command)) return true;
    const subject = deviceSubject('vigil.device', deviceId);
    if (!subject) return false;
    const answer = await this.bus.request(`${subject}.command`, { command }, CarryAnswer, CARRY_TIMEOUT_MS);
    return answer?.delivered === true;
  }

  /**
   * A device's result for a command this process carried for another: passed on to the issuer.
   * False when this process carried no such command to that device.
   */
  forwardResult(deviceId: string, result: CommandResult): boolean {
    const entry = result.id ? this.carried.get(result.id) : undefined;
    if (!entry || entry.deviceId !== deviceId) return false;
    this.carried.delete(result.id!);
    this.bus.publish(`vigil.command-results.${entry.origin}`, { deviceId, result });
    return true;
  }

  private hold(deviceId: string): void {
    const subject = deviceSubject('vigil.device', deviceId);
    if (!subject || this.answering.has(deviceId)) return;
    const stop = this.bus.subscribe(`${subject}.command`, CarryRequest, ({ command }, from) => {
      if (command.payload.deviceId !== deviceId) return { delivered: false };
      const delivered = this.hub.sendCommand(deviceId, command);
      if (delivered) this.remember(command.payload.id, from, deviceId);
      this.log.info('carried a command for another console process', { deviceId, id: command.payload.id, from, delivered });
      return { delivered };
    });
    this.answering.set(deviceId, stop);
  }

  /** Stops answering for a device this process no longer holds. */
  release(deviceId: string): void {
    this.answering.get(deviceId)?.();
    this.answering.delete(deviceId);
  }

  private remember(id: string, origin: string, deviceId: string): void {
    const now = Date.now();
    for (const [key, entry] of this.carried) if (entry.until < now) this.carried.delete(key);
    this.carried.set(id, { origin, deviceId, until: now + CARRIED_FOR_MS });
  }

  close(): void {
    for (const stop of this.answering.values()) stop();
    this.answering.clear();
  }
}
