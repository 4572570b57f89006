import type { AgentEvent } from '../../shared/events.js';
import type { Logger } from '../../shared/node/log.js';
import type { EventWriter } from '../event-writer.js';
import type { EventConsumer } from './event-router.js';
import type { AgentLinkStats } from './stats.js';

type EventLogStats = Pick<AgentLinkStats, 'eventsStored' | 'duplicateEvents'>;
/**
 * The events table's consumer: every public event type, before the ack, through the group-commit
 * writer. It takes 'every-public', so the router never hands it a private type (a concern).
 */
export function eventLogConsumer(writer: EventWriter, stats: EventLogStats, log: Logger): EventConsumer {
  return {
    name: 'event log',
    phase: 'before-ack',
    takes: 'every-public',
    async handle(deviceId: string, events: AgentEvent[], receivedAt: string): Promise<AgentEvent[]> {
      const { stored, reusedSeqs } = await writer.write(deviceId, events, receivedAt);
      stats.eventsStored += stored.length;
      stats.duplicateEvents += events.length - stored.length;
      if (reusedSeqs.length) {
        log.warn('device reused event sequence numbers (it lost recent writes or its outbox); events kept', { deviceId, seqs: reusedSeqs.slice(0, 10) });
      }
      return stored;
    },
  };
}
