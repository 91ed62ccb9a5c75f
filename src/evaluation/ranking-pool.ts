import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { RankingBlock } from './knn.js';
import { SCORE_FIELDS, type RetrievalTask } from './relevance.js';
import { rankClaimedRows, rankerFor, Slot, type SharedRanking } from './shared-ranking.js';

/**
 * Query–reference pairs from which ranking uses every core by default. Starting a worker takes
 * about 50 ms; MNIST test → train (6·10⁸ pairs) ranks for 10–20 s on one thread.
 */
export const PARALLEL_PAIRS = 2 ** 26;

/** How long to wait for the workers to start before ranking on this thread alone. */
const START_TIMEOUT_MS = 10_000;

/** The threads to rank with when the caller does not say: all cores for large evaluations, else 1. */
export function defaultRankingThreads(pairs: number): number {
  return pairs >= PARALLEL_PAIRS ? availableParallelism() : 1;
}

/**
 * Ranks the queries of each block of dot products on this thread and `threads − 1` worker
 * threads at once. Each block is copied into shared memory; every thread then claims rows of
 * it a few at a time and writes each query's scores (`scoreQuery`) into the shared `scores`,
 * so the result does not depend on which thread ranked which query.
 *
 * Synchronous, like the rest of the evaluation: this thread waits on `Atomics.wait`, which Node
 * allows on its main thread. The threads alternate with the products rather than overlap them:
 * the native product already uses both cores of this machine (ARCHITECTURE.md).
 */
export class RankingPool {
  private readonly workers: Worker[] = [];
  private generation = 0;

  private constructor(private readonly shared: SharedRanking) {}

  /**
   * Starts `threads − 1` workers for the task; undefined when they do not start in time (the
   * caller then ranks alone: same results, one core).
   */
  static start(task: RetrievalTask, queryCount: number, block: { rows: number; columns: number; base: Float64Array; scale: number }, threads: number): RankingPool | undefined {
    const shared: SharedRanking = {
      queryLabels: sharedCopy(task.queryLabels),
      referenceLabels: sharedCopy(task.referenceLabels),
      relevantCounts: sharedCopy(task.relevantCounts),
      k: task.k,
      maxK: task.maxK,
      leaveOneOut: task.leaveOneOut,
      control: new Int32Array(new SharedArrayBuffer(8 * Int32Array.BYTES_PER_ELEMENT)),
      dots: new Float32Array(new SharedArrayBuffer(block.rows * block.columns * Float32Array.BYTES_PER_ELEMENT)),
      base: sharedCopy(block.base),
      scale: block.scale,
      columns: block.columns,
      scores: new Float64Array(new SharedArrayBuffer(queryCount * SCORE_FIELDS * Float64Array.BYTES_PER_ELEMENT)),
      error: new Uint8Array(new SharedArrayBuffer(4096)),
    };
    const pool = new RankingPool(shared);
    const { control } = shared;
    for (let i = 1; i < threads; i++) {
      const worker = new Worker(new URL('./ranking-worker.js', import.meta.url), { workerData: shared });
      // Failures are reported through `control`; this keeps an uncaught one from ending the process.
      worker.on('error', () => Atomics.store(control, Slot.Failed, 1));
      worker.unref();
      pool.workers.push(worker);
    }
    const deadline = performance.now() + START_TIMEOUT_MS;
    for (let ready = 0; (ready = Atomics.load(control, Slot.Ready)) < pool.workers.length; ) {
      const left = deadline - performance.now();
      if (left <= 0 || Atomics.load(control, Slot.Failed) !== 0) {
        pool.close();
        return undefined;
      }
      Atomics.wait(control, Slot.Ready, ready, left);
    }
    return pool;
  }

  /** Per query, the scores of `scoreQuery` (shared memory; valid until the next call). */
  get scores(): Float64Array {
    return this.shared.scores;
  }

  /** Ranks every query of `block` on all the pool's threads; returns when all are done. */
  rank(block: RankingBlock, ranker: ReturnType<typeof rankerFor>): void {
    const { control, dots, columns } = this.shared;
    dots.set(block.dots.subarray(0, block.rows * columns));
    Atomics.store(control, Slot.FirstRow, block.firstRow);
    Atomics.store(control, Slot.Rows, block.rows);
    Atomics.store(control, Slot.NextRow, 0);
    Atomics.store(control, Slot.Done, 0);
    Atomics.store(control, Slot.Generation, ++this.generation);
    Atomics.notify(control, Slot.Generation);
    rankClaimedRows(this.shared, ranker);
    for (let done = 0; (done = Atomics.load(control, Slot.Done)) < this.workers.length && Atomics.load(control, Slot.Failed) === 0; ) {
      Atomics.wait(control, Slot.Done, done, 1000);
    }
    if (Atomics.load(control, Slot.Failed) !== 0) {
      const message = new TextDecoder().decode(this.shared.error).replace(/\0+$/, '');
      throw new Error(`tripletjs: a ranking worker failed: ${message || 'unknown error'}`);
    }
  }

  /** Tells the workers to exit. */
  close(): void {
    Atomics.store(this.shared.control, Slot.Generation, -1);
    Atomics.notify(this.shared.control, Slot.Generation);
  }
}

function sharedCopy<T extends Int32Array | Float64Array>(values: T): T {
  const Constructor = values.constructor as new (buffer: SharedArrayBuffer) => T;
  const copy = new Constructor(new SharedArrayBuffer(values.byteLength));
  copy.set(values);
  return copy;
}
