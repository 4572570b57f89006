import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type Database from 'better-sqlite3';
import type { Logger } from '../../../shared/node/log.js';

/**
 * Copies the write-ahead log into the database file on a worker thread, with a connection of its
 * own, instead of on the console's event loop.
 *
 * SQLite checkpoints automatically in the commit that takes the log past 1,000 pages: a policy
 * publication writes tens of megabytes (signed sets, a revision), and copying them again into the
 * database file held the event loop for 0.2-0.35 s, in that commit or in whichever small commit
 * came next (a batch of acks in the middle of a rollout), while dashboards waited. With the
 * automatic checkpoint off, the worker runs a passive checkpoint every `everyMs`: it never waits
 * for the console's reads or writes, and what it cannot copy yet it copies next time. Should the
 * worker fail, the connection checkpoints by itself again, as before.
 */
export interface CheckpointerOptions {
  everyMs?: number;
  log?: Pick<Logger, 'warn'>;
}

export interface Checkpointer {
  /** Checkpoints at once (tests; the worker otherwise waits for its next turn). Resolves with the pages in the log and those copied. */
  now(): Promise<{ log: number; checkpointed: number }>;
  stop(): Promise<void>;
}

const DEFAULT_EVERY_MS = 1000;

/** SQLite's own default: the commit that takes the log past this many pages checkpoints it. */
const AUTOMATIC_PAGES = 1000;

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file, { fileMustExist: true });
db.pragma('busy_timeout = 200');
const checkpoint = () => {
  const [result] = db.pragma('wal_checkpoint(PASSIVE)');
  return { log: result.log, checkpointed: result.checkpointed };
};
const attempt = (reply) => {
  try { const done = checkpoint(); if (reply) parentPort.postMessage({ done }); }
  catch (error) { parentPort.postMessage({ error: String(error && error.message || error) }); }
};
const timer = setInterval(() => attempt(false), workerData.everyMs);
parentPort.on('message', (message) => {
  if (message === 'stop') {
    clearInterval(timer);
    db.close();
    parentPort.close();
    return;
  }
  attempt(true);
});
`;

export function startCheckpointer(connection: Database.Database, file: string, options: CheckpointerOptions = {}): Checkpointer {
  const driver = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { driver, file, everyMs: options.everyMs ?? DEFAULT_EVERY_MS } });
  // The console's process ends when its work does, whatever this thread is doing.
  worker.unref();
  connection.pragma('wal_autocheckpoint = 0');
  const waiting: ((result: { log: number; checkpointed: number }) => void)[] = [];
  let failed = false;
  let stopping = false;
  const fallBack = (why: string) => {
    // A store closed before its thread opened the file (a short-lived one) needs no checkpoint.
    if (failed || stopping) return;
    failed = true;
    options.log?.warn('the database is checkpointed on the event loop again: its checkpoint thread failed', { why });
    if (connection.open) connection.pragma(`wal_autocheckpoint = ${AUTOMATIC_PAGES}`);
  };
  worker.on('message', (message: { done?: { log: number; checkpointed: number }; error?: string }) => {
    if (message.done) waiting.shift()?.(message.done);
    // A busy database is passed over until the next turn; anything else is a failure.
    else if (message.error && !/busy|locked/i.test(message.error)) fallBack(message.error);
  });
  worker.on('error', (error) => fallBack(error.message));
  const exited = new Promise<void>((resolve) =>
    worker.once('exit', (code) => {
      fallBack(`the thread exited (${code})`);
      resolve();
    }),
  );
  return {
    now: () =>
      new Promise((resolve) => {
        waiting.push(resolve);
        worker.postMessage('now');
      }),
    async stop() {
      if (stopping) return exited;
      stopping = true;
      worker.postMessage('stop');
      await exited;
    },
  };
}
