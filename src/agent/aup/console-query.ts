import type { AgentMessageInput, ConsoleMessage } from '../../shared/protocol.js';
import { PROTOCOL_VERSION } from '../../shared/protocol.js';
import type { ConsoleAcceptance } from './gate.js';

type StatusMessage = Extract<ConsoleMessage, { type: 'aup.status' }>;

/** A sign-in waits at most this long for the console before the page is shown anyway. */
export const QUERY_TIMEOUT_MS = 5000;
/** Questions waiting at once; more are answered "unanswered" rather than queued without end. */
const MAX_WAITING = 64;

/**
 * Asks the console, over the agent link, whether a user accepted the AUP text this device
 * holds, and matches the `aup.status` answers to the questions (by user and hash; the console
 * answers in order, and a late or unasked-for answer is ignored).
 */
export class AupAcceptanceQueries {
  private readonly waiting = new Map<string, ((answer: ConsoleAcceptance) => void)[]>();
  private count = 0;

  constructor(
    private readonly link: { readonly isReady: boolean; send(message: AgentMessageInput): boolean },
    private readonly timeoutMs = QUERY_TIMEOUT_MS,
  ) {}

  ask(user: string, aupHash: string): Promise<ConsoleAcceptance> {
    if (!this.link.isReady) return Promise.resolve({ kind: 'offline' });
    if (this.count >= MAX_WAITING) return Promise.resolve({ kind: 'unanswered', detail: 'too many questions waiting for the console' });
    const key = keyOf(user, aupHash);
    return new Promise<ConsoleAcceptance>((resolve) => {
      const settle = (answer: ConsoleAcceptance) => {
        clearTimeout(timer);
        const list = this.waiting.get(key)?.filter((r) => r !== settle) ?? [];
        if (list.length) this.waiting.set(key, list);
        else this.waiting.delete(key);
        this.count--;
        resolve(answer);
      };
      const timer = setTimeout(() => settle({ kind: 'unanswered', detail: `no answer from the console within ${this.timeoutMs} ms` }), this.timeoutMs);
      this.waiting.set(key, [...(this.waiting.get(key) ?? []), settle]);
      this.count++;
      if (!this.link.send({ v: PROTOCOL_VERSION, type: 'aup.query', user, aupHash })) settle({ kind: 'offline' });
    });
  }

  /** An `aup.status` frame from the console. */
  answer(message: StatusMessage): void {
    const first = this.waiting.get(keyOf(message.user, message.aupHash))?.[0];
    if (!first) return;
    first(
      message.refused
        ? {
            kind: 'unanswered',
            detail:
              message.refused === 'rate-limited' ? 'the console asked this device to slow down' : 'the console has a different current AUP for this device',
          }
        : { kind: 'answered', accepted: message.accepted, acceptedAt: message.acceptedAt },
    );
  }

  /** The link went down: nobody will answer the questions in flight. */
  linkDown(): void {
    for (const list of [...this.waiting.values()]) for (const settle of [...list]) settle({ kind: 'offline' });
  }
}

const keyOf = (user: string, aupHash: string) => `${aupHash}\n${user}`;
