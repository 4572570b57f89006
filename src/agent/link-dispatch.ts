import type { Logger } from '../shared/node/log.js';
import type { ConsoleMessage } from '../shared/protocol.js';

/** What the link hands on after authentication (the handshake's own messages stay inside it). */
export type LinkMessage = Exclude<ConsoleMessage, { type: 'challenge' | 'auth.ok' }>;

/** One handler per console message type: the compiler refuses a table that misses one. */
export type LinkHandlers = { [T in LinkMessage['type']]: (message: Extract<LinkMessage, { type: T }>) => void | Promise<void> };

/**
 * The one place a console message meets its handler. A type the table does not know (a newer
 * console) is logged and dropped; a handler's failure is logged, never thrown into the link.
 */
export function linkDispatcher(handlers: LinkHandlers, log: Logger): (message: { type: string }) => void {
  const table = handlers as unknown as Record<string, ((message: unknown) => void | Promise<void>) | undefined>;
  return (message) => {
    const handler = Object.hasOwn(table, message.type) ? table[message.type] : undefined;
    if (!handler) {
      log.warn('console message of a type this agent does not handle', { type: message.type });
      return;
    }
    try {
      void Promise.resolve(handler(message)).catch((error: unknown) => log.error('error handling console message', { type: message.type, error }));
    } catch (error) {
      log.error('error handling console message', { type: message.type, error });
    }
  };
}
