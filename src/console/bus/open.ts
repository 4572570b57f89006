import type { Logger } from '../../shared/node/log.js';
import { InProcessBroker, type ConsoleBus } from './bus.js';
import { parseBusUrl } from './bus-url.js';
import { openNatsBus } from './nats-bus.js';

/**
 * The bus the console's processes share (--bus nats://…), or, without one, the in-process bus of
 * a lone process. A bus only makes sense over a shared store: several processes each on their
 * own embedded SQLite file would share nothing else, so that combination is refused.
 */
export async function openConsoleBus(config: { bus?: string; busCa?: string; database?: string; env?: NodeJS.ProcessEnv }, log: Logger): Promise<ConsoleBus> {
  if (config.bus === undefined) return new InProcessBroker().connect();
  const env = config.env ?? process.env;
  const target = parseBusUrl(config.bus, env, config.busCa ?? env.VIGIL_BUS_CA);
  if (typeof target === 'string') throw new Error(`${target} (docs/scaling.md)`);
  if (config.database === undefined) {
    throw new Error('--bus needs --database postgres://…: console processes share state through one PostgreSQL database, not each its own SQLite file');
  }
  return openNatsBus(target, log);
}
