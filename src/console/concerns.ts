import type { Concern, ConcernStatus } from '../shared/concern.js';
import type { AgentEvent } from '../shared/events.js';
import { NotFoundError } from './errors.js';
import type { ConsoleStore } from './store/store.js';

/** A closed concern is deleted a year after closing unless the console is told otherwise. */
export const DEFAULT_CONCERN_RETENTION_DAYS = 365;

type ConcernEvent = Extract<AgentEvent, { type: 'concern.reported' }>;

export const isConcernEvent = (event: AgentEvent): event is ConcernEvent => event.type === 'concern.reported';

/**
 * The safeguarding lead's queue. Concerns arrive as device events but are stored only in their
 * own table (the hub routes them here before anything else sees them), so the events API, the
 * live feed and IT staff never see a pupil's words.
 */
export class ConcernService {
  constructor(private readonly store: ConsoleStore) {}

  /** Stores every copy idempotently before the device's events are acknowledged. */
  async record(deviceId: string, events: ConcernEvent[], receivedAt: string): Promise<number> {
    let fresh = 0;
    for (const e of events) {
      const { user, category, text, wantsContact } = e.data;
      if (await this.store.insertConcern({ id: e.id, deviceId, user, reportedAt: e.at, category, text, wantsContact }, receivedAt)) fresh++;
    }
    return fresh;
  }

  list(status: ConcernStatus | undefined, limit: number): Promise<Concern[]> {
    return this.store.listConcerns({ status, limit });
  }

  async get(id: string): Promise<Concern> {
    const concern = await this.store.getConcern(id);
    if (!concern) throw new NotFoundError('no such concern');
    return concern;
  }

  /** Status and note changes are audited; the audit keeps the status, not the note's words. */
  async update(id: string, update: { status: ConcernStatus; note?: string }, actor: string): Promise<Concern> {
    const before = await this.get(id);
    const updatedAt = new Date().toISOString();
    await this.store.updateConcern(id, { status: update.status, note: update.note ?? null, updatedBy: actor, updatedAt });
    await this.store.appendAudit({
      at: updatedAt,
      actor,
      action: 'concern.updated',
      target: `concern:${id}`,
      detail: { from: before.status, to: update.status, noteChanged: update.note !== undefined },
    });
    return (await this.store.getConcern(id))!;
  }
}
