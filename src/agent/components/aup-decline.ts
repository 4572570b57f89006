import type { SeatView } from './seat-controller.js';

/** Declining the AUP signs out that user's session, and only theirs. */
export class AupDeclineHandler {
  constructor(private readonly seat: Pick<SeatView, 'runner' | 'user'>) {}

  async logoff(user: string): Promise<{ ok: boolean; detail: string }> {
    const runner = this.seat.runner;
    if (!runner) return { ok: false, detail: 'session control is not running on this device' };
    const current = this.seat.user;
    if (current !== null && current !== user) return { ok: false, detail: `${user} is not the user of the session this device controls` };
    const done = await runner.logoffNow('aup-declined');
    return { ok: done.ok, detail: done.detail };
  }
}
