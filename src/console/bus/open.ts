import type { Logger } from '../../shared/node/log.js';
import { InProcessBroker, type ConsoleBus } from './bus.js';
import { openNatsBus } from './nats-bus.js';

export const isBusUrl = (url: string): boolean => /^nats:\/\/[^\s]+$/i.test(url);

/**
 * The bus the console's processes share (--bus nats://…), or, without one, the in-process bus of
 * a lone process. A bus only makes sense over a shared store: several processes each on their
 * own embedded SQLite file would share nothing else, so that combination is refused.
 */
export async function openConsoleBus(config: { bus?: string; database?: string }, log: Logger): Promise<ConsoleBus> {
  if (config.bus === undefined) return new InProcessBroker().connect();
  if (!isBusUrl(config.bus)) throw new Error('--bus must be a nats:// URL (docs/scaling.md)');
  if (config.database === undefined) {
    throw new Error('--bus needs --database postgres://…: console processes share state through one PostgreSQL database, not each its own SQLite file');
  }
  return openNatsBus(config.bus, log);
}
