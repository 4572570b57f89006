import type { AgentEvent } from '../../shared/events.js';
import type { Logger } from '../../shared/node/log.js';
import { PROTOCOL_VERSION } from '../../shared/protocol.js';
import type { AppRequestService } from '../app-requests.js';
import type { AupService } from '../aups.js';
import type { CommandService } from '../commands.js';
import { isConcernEvent, type ConcernService } from '../concerns.js';
import type { DeviceViews } from '../device-views.js';
import type { EventWriter } from '../event-writer.js';
import type { FeedHub } from '../feed.js';
import type { DeviceSync } from './device-sync.js';
import { eventLogConsumer } from './event-log.js';
import type { EventRouter } from './event-router.js';
import type { AgentLinkStats } from './stats.js';

export interface AgentConsumers {
  sync: DeviceSync;
  events: EventWriter;
  concerns: ConcernService;
  aups: AupService;
  views: DeviceViews;
  appRequests: AppRequestService;
  commands: CommandService;
  feed: FeedHub;
  stats: AgentLinkStats;
  log: Logger;
}

/**
 * Who takes what an agent sends: the console's one dispatch table. Before-ack consumers run in
 * the order registered here (a pupil's concern first, then the events table, then AUP receipts).
 */
export function registerAgentConsumers(router: EventRouter, c: AgentConsumers): void {
  c.sync.register(router);
  router
    // A pupil's concern goes to the safeguarding queue only: never the events table or the feed.
    .consume({
      name: 'safeguarding queue',
      phase: 'before-ack',
      takes: ['concern.reported'],
      handle: async (deviceId, events, receivedAt) => void (await c.concerns.record(deviceId, events.filter(isConcernEvent), receivedAt)),
    })
    .consume(eventLogConsumer(c.events, c.stats, c.log))
    // Receipts are recorded before the ack, for every copy (recording is idempotent): a console
    // that failed after storing the event but before recording the receipt gets another go.
    .consume({
      name: 'AUP receipts',
      phase: 'before-ack',
      takes: ['aup.accepted'],
      handle: async (deviceId, events) => {
        for (const event of events) if (event.type === 'aup.accepted') await c.aups.recordReceipt(deviceId, event.data.receipt);
      },
    })
    .consume({
      name: 'device views',
      phase: 'after-ack',
      takes: ['app.blocked', 'aup.accepted'],
      handle: (deviceId, events) => c.views.events(deviceId, events),
    })
    .consume({
      name: 'application requests',
      phase: 'after-ack',
      takes: ['app.permission-requested'],
      handle: async (deviceId, events) => queueAppRequests(c, deviceId, events),
    })
    .onFrame('activity', ({ deviceId }, { now }) => c.views.activity(deviceId, now))
    .onFrame('power', ({ deviceId, receivedAt }, { state }) => c.views.power(deviceId, state, receivedAt))
    .onFrame('command.result', ({ deviceId }, result) => c.commands.onResult(deviceId, result))
    .onFrame('aup.query', async ({ deviceId, reply }, { user, aupHash }) => {
      reply({ v: PROTOCOL_VERSION, type: 'aup.status', user, aupHash, ...(await c.aups.acceptance(deviceId, user, aupHash)) });
    });
}

function queueAppRequests(c: AgentConsumers, deviceId: string, events: AgentEvent[]): void {
  for (const event of events) {
    if (event.type !== 'app.permission-requested') continue;
    c.appRequests
      .record(deviceId, event.id, event.at, event.data)
      .then(() => c.feed.publish({ kind: 'app-requests' }))
      .catch((error: unknown) => c.log.error('could not queue an application request', { deviceId, error }));
  }
}
