import type { Logger } from '../../shared/node/log.js';
import type { AupStore } from '../aup/aup-store.js';
import type { AupGate } from '../aup/gate.js';
import type { EventSink } from './event-pump.js';
import type { SeatView } from './seat-controller.js';

/** What the AUP side needs of the tray: whether a user's tray can show the page, and telling trays of a new AUP. */
export interface TrayPresence {
  hasTrayFor(user: string): boolean;
  aupChanged(): void;
}

/** No tray IPC on this device: nothing can show the AUP window. */
export const NO_TRAY: TrayPresence = { hasTrayFor: () => false, aupChanged: () => undefined };

/**
 * The AUP at sign-in: each user the seat announces is decided by the gate, and reported as
 * `aup.pending` while no tray of theirs can show the page. A new AUP from the console is stored
 * (signature checked) and asks again, also whoever is signed in now.
 */
export class AupController {
  constructor(
    private readonly deps: {
      gate: Pick<AupGate, 'decide'>;
      store: AupStore;
      seat: Pick<SeatView, 'user' | 'onUser'>;
      tray: TrayPresence;
      sink: EventSink;
      log: Logger;
    },
  ) {
    deps.seat.onUser((user) => this.check(user));
  }

  /** An `aup` message from the console. */
  offer(candidate: unknown): void {
    const { store, seat, tray, sink, log } = this.deps;
    const result = store.offer(candidate);
    if (result.outcome === 'rejected') {
      log.warn('refused an AUP document', { reason: result.rejection.reason, detail: result.rejection.detail });
      sink.emit({ type: 'aup.rejected', data: { reason: result.rejection.reason, detail: result.rejection.detail } });
    } else if (result.outcome === 'stored') {
      log.info('stored AUP', { variant: result.aup.payload.variant, version: result.aup.payload.version });
      // A new version asks again, also whoever is signed in right now.
      if (seat.user) void this.check(seat.user);
      tray.aupChanged();
    }
  }

  /** A user is now at the seat: decide the AUP gate, and report it if nothing can show the page. */
  async check(user: string): Promise<void> {
    const { gate, tray, sink, log } = this.deps;
    try {
      const decision = await gate.decide(user);
      log.info('AUP gate decided', { user, needed: decision.needed, reason: decision.reason });
      if (!decision.needed || tray.hasTrayFor(user)) return;
      const { variant, version, offline } = decision.page;
      sink.emit({ type: 'aup.pending', data: { user, variant, version, reason: decision.reason, offline } });
    } catch (error) {
      log.warn('could not decide the AUP gate', { user, error });
    }
  }
}
