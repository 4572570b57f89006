import type { ServerResponse } from 'node:http';

/** Bytes handed to a socket at a time when a response body is large (a policy bundle is 3.7 MB). */
export const BODY_CHUNK_BYTES = 256 * 1024;

/**
 * Bytes all large bodies together may hand to sockets in one turn of the event loop. Writing to
 * loopback costs the console about 0.35 ms per MB here (the kernel copies, and delivers to the
 * reader, inside the write), so 4 MB is a millisecond or two; a rollout writes on average well
 * under 1 GB/s, which this allows in a few hundred turns a second.
 */
export const BODY_BYTES_PER_TURN = 4 * 1024 * 1024;

/**
 * Shares the bytes one turn of the event loop may write among every large response in flight, in
 * the order they asked, so that what a turn writes does not grow with the number of responses.
 * A chunk a turn per response was not enough: right after a rollout's notices, a thousand devices
 * fetching a 3.5 MB bundle at once had a thousand chunks written in one turn (and their first
 * chunks in the turn their requests arrived), and the console's loop stalled for up to a second
 * while dashboards waited. One pump per console process: the event loop is the process's.
 */
export class BodyPump {
  private left: number;
  private readonly waiting: { bytes: number; go: () => void }[] = [];
  private refillPending = false;

  constructor(readonly bytesPerTurn = BODY_BYTES_PER_TURN) {
    this.left = bytesPerTurn;
  }

  /**
   * Null when `bytes` may be written now (in this turn), else a promise that resolves in the turn
   * that may write them. A chunk larger than a whole turn's bytes is written alone in a turn.
   */
  take(bytes: number): Promise<void> | null {
    this.refillNextTurn();
    if (this.waiting.length === 0 && this.fits(bytes)) {
      this.left -= bytes;
      return null;
    }
    return new Promise((go) => this.waiting.push({ bytes, go }));
  }

  private fits(bytes: number): boolean {
    return bytes <= this.left || this.left === this.bytesPerTurn;
  }

  private refillNextTurn(): void {
    if (this.refillPending) return;
    this.refillPending = true;
    setImmediate(() => this.refill());
  }

  private refill(): void {
    this.refillPending = false;
    this.left = this.bytesPerTurn;
    // The writers released here resume in this turn's microtasks, before the next turn's refill.
    while (this.waiting.length > 0 && this.fits(this.waiting[0]!.bytes)) {
      const next = this.waiting.shift()!;
      this.left -= next.bytes;
      next.go();
    }
    if (this.waiting.length > 0 || this.left < this.bytesPerTurn) this.refillNextTurn();
  }
}

/**
 * Ends a response with a large body handed to the socket a chunk at a time, each chunk when the
 * pump gives it room in a turn, and the next only once the socket has taken the last.
 * `res.end(body)` copies the whole body into the kernel at once, and a reader as fast as loopback
 * takes every chunk at once, so neither the socket nor the reader paces a burst of fetches.
 * Resolves when the body is written or the client has gone (nothing more is written then).
 */
export async function endWithBody(res: ServerResponse, body: Buffer, pump: BodyPump): Promise<void> {
  for (let at = 0; ; at += BODY_CHUNK_BYTES) {
    const chunk = body.subarray(at, at + BODY_CHUNK_BYTES);
    await pump.take(chunk.length);
    if (res.destroyed) return;
    if (at + BODY_CHUNK_BYTES >= body.length) {
      res.end(chunk);
      return;
    }
    if (!res.write(chunk) && !(await drained(res))) return;
  }
}

/** True once the response can take more; false if it closed first. */
function drained(res: ServerResponse): Promise<boolean> {
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      res.off('drain', onDrain);
      res.off('close', onClose);
      resolve(ok);
    };
    const onDrain = () => done(true);
    const onClose = () => done(false);
    res.on('drain', onDrain);
    res.on('close', onClose);
  });
}
