/**
 * Runs tasks one at a time, in the order they were queued; a task that fails does not stop the
 * ones after it. For read-modify-write sequences (a policy change, a signing, a registry edit)
 * where each must see what the previous one left.
 */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const run = this.tail.then(task, task);
    this.tail = run.catch(() => undefined);
    return run;
  }
}
