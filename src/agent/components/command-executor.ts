import type { CommandOutcome } from '../../shared/command.js';
import type { Logger } from '../../shared/node/log.js';
import { PROTOCOL_VERSION } from '../../shared/protocol.js';
import type { CommandGate } from '../commands.js';
import type { AgentLink } from '../link.js';
import type { SessionRunner } from '../session/runner.js';
import type { EventSink } from './event-pump.js';

/** A console command: verified (signature, replay, device), recorded, carried out, answered with its result. */
export class CommandExecutor {
  constructor(
    private readonly deps: {
      gate: CommandGate;
      session: () => SessionRunner | null;
      sink: EventSink;
      link: Pick<AgentLink, 'send'>;
      log: Logger;
    },
  ) {}

  async execute(raw: unknown): Promise<void> {
    const { gate, sink, link, log } = this.deps;
    const check = gate.check(raw);
    const session = this.deps.session();
    let result: { id: string | null; action: string | null; outcome: CommandOutcome; detail: string; backend: string | null };
    if (!check.ok) {
      log.warn('refused a console command', { id: check.id, outcome: check.outcome, detail: check.detail });
      result = { id: check.id, action: check.action, outcome: check.outcome, detail: check.detail, backend: null };
    } else if (!session) {
      result = {
        id: check.command.id,
        action: check.command.action,
        outcome: 'unsupported',
        detail: 'session control is not running on this device',
        backend: null,
      };
    } else {
      const { id, action, text } = check.command;
      log.info('carrying out console command', { id, action, by: check.command.issuedBy });
      const done = await session.command(action, text);
      result = { id, action, outcome: done.ok ? 'done' : 'failed', detail: done.detail, backend: done.backend };
    }
    sink.emit({ type: 'command.received', data: { id: result.id, action: result.action, outcome: result.outcome, detail: result.detail } });
    link.send({ v: PROTOCOL_VERSION, type: 'command.result', id: result.id, outcome: result.outcome, detail: result.detail, backend: result.backend });
  }
}
