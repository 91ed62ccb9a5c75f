import { Worker } from 'node:worker_threads';
import { TripletjsInputError } from '../common/errors.js';

interface Task {
  readonly id: number;
  readonly request: unknown;
  readonly transfer: readonly ArrayBuffer[];
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
}

interface Slot {
  readonly worker: Worker;
  task: Task | undefined;
}

/**
 * A small pool of worker threads running one module (`url`), one task per worker at a time, the
 * rest queued in order. The module answers each `{ id, request }` message with `{ id, result }`
 * or `{ id, error: { message, input } }` (`input`: a {@link TripletjsInputError}, e.g. a corrupt
 * file, which is rethrown as one).
 *
 * A worker that crashes (an uncaught exception, `process.exit`, running out of memory) rejects the
 * task it was running with an error saying so, is replaced for the tasks after it, and nothing
 * waits forever. Idle workers do not keep the process alive; {@link close} ends them.
 */
export class WorkerPool<Request, Result> {
  private readonly slots: Slot[] = [];
  private readonly queue: Task[] = [];
  private nextId = 0;
  private closed = false;

  constructor(
    private readonly url: URL,
    /** At most this many workers (started when first needed). */
    readonly size: number,
    private readonly workerData: unknown = undefined,
    /** What an error calls a worker, e.g. "image decoding worker". */
    private readonly what = 'worker',
  ) {
    if (!Number.isInteger(size) || size < 1) throw new TripletjsInputError(`a worker pool needs at least one worker, got ${size}`);
  }

  /** Runs `request` on a worker; `transfer` lists buffers moved to it rather than copied. */
  run(request: Request, transfer: readonly ArrayBuffer[] = []): Promise<Result> {
    if (this.closed) return Promise.reject(new Error(`the ${this.what} pool is closed`));
    return new Promise<Result>((resolve, reject) => {
      this.queue.push({ id: this.nextId++, request, transfer, resolve: resolve as (value: unknown) => void, reject });
      this.dispatch();
    });
  }

  /** Ends every worker; queued and running tasks are rejected. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const task of this.queue.splice(0)) task.reject(new Error(`the ${this.what} pool was closed`));
    const slots = this.slots.splice(0);
    for (const slot of slots) slot.task?.reject(new Error(`the ${this.what} pool was closed`));
    await Promise.all(slots.map((slot) => slot.worker.terminate()));
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      let slot = this.slots.find((s) => s.task === undefined);
      if (slot === undefined && this.slots.length < this.size) slot = this.spawn();
      if (slot === undefined) return;
      const task = this.queue.shift()!;
      slot.task = task;
      slot.worker.ref();
      slot.worker.postMessage({ id: task.id, request: task.request }, [...task.transfer]);
    }
  }

  private spawn(): Slot {
    const worker = new Worker(this.url, { workerData: this.workerData });
    const slot: Slot = { worker, task: undefined };
    this.slots.push(slot);
    worker.unref();
    const fail = (reason: string): void => {
      const index = this.slots.indexOf(slot);
      if (index < 0) return; // closed, or already failed
      this.slots.splice(index, 1);
      slot.task?.reject(new Error(`${this.what} crashed: ${reason}`));
      slot.task = undefined;
      void worker.terminate();
      this.dispatch();
    };
    worker.on('message', (message: { id: number; result?: unknown; error?: { message: string; input: boolean } }) => {
      const task = slot.task;
      if (task === undefined || task.id !== message.id) return;
      slot.task = undefined;
      worker.unref();
      if (message.error) task.reject(message.error.input ? new TripletjsInputError(message.error.message) : new Error(`${this.what}: ${message.error.message}`));
      else task.resolve(message.result);
      this.dispatch();
    });
    worker.on('error', (error: Error) => fail(error.message.split('\n')[0]!));
    worker.on('messageerror', (error: Error) => fail(`a message could not be read (${error.message})`));
    worker.on('exit', (code) => fail(`it exited with code ${code}`));
    return slot;
  }
}
