import type { ServerResponse } from 'node:http';
import { setImmediate as nextTurn } from 'node:timers/promises';

/** Bytes handed to a socket at a time when a response body is large (a policy bundle is 3.7 MB). */
export const BODY_CHUNK_BYTES = 256 * 1024;

/**
 * Ends a response with a large body handed to the socket a chunk at a time, each chunk in a turn
 * of the event loop of its own, and the next only once the socket has taken the last.
 * `res.end(body)` copies the whole body into the kernel at once: during a rollout a hundred
 * devices fetching a 3.7 MB bundle in one turn of the event loop held it for 0.2-0.4 s, while
 * dashboards waited. Waiting only when the socket is full was not enough: a reader as fast as
 * loopback takes every chunk at once, and sixty such fetches held the loop for most of a second.
 * Resolves when the body is written or the client has gone (nothing more is written then).
 */
export async function endWithBody(res: ServerResponse, body: Buffer): Promise<void> {
  let at = 0;
  for (; body.length - at > BODY_CHUNK_BYTES; at += BODY_CHUNK_BYTES) {
    if (res.destroyed) return;
    if (!res.write(body.subarray(at, at + BODY_CHUNK_BYTES))) {
      if (!(await drained(res))) return;
    } else await nextTurn();
  }
  if (!res.destroyed) res.end(body.subarray(at));
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
