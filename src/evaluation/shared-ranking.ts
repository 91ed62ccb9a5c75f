/**
 * The shared-memory side of ranking queries on several threads (`ranking-pool.ts` starts the
 * workers, `ranking-worker.ts` is their entry point): the buffers every thread sees and the loop
 * in which each claims rows of the current block. Plain JavaScript, no TensorFlow.js: a worker
 * loads only this and `relevance.ts`.
 */
import { forEachRow, RelevanceRanker, scoreQuery, type RetrievalTask } from './relevance.js';

/** Slots of {@link SharedRanking.control}. */
export const enum Slot {
  /** Incremented by the main thread for each new block; −1 tells the workers to exit. */
  Generation = 0,
  /** The next unclaimed row of the block. */
  NextRow = 1,
  Rows = 2,
  FirstRow = 3,
  /** Workers done with the block. */
  Done = 4,
  /** Workers started and waiting. */
  Ready = 5,
  /** Set by a worker that failed; its message is in `error`. */
  Failed = 6,
}

/** Rows a thread claims at once: few enough to balance, enough to keep the atomics cheap. */
const CLAIM = 4;

/** Everything the ranking threads share (SharedArrayBuffer-backed arrays) or copy once (numbers). */
export interface SharedRanking extends RetrievalTask {
  readonly control: Int32Array;
  /** One block of dot products, `blockRows × columns`. */
  readonly dots: Float32Array;
  readonly base: Float64Array;
  readonly scale: number;
  /** References per row. */
  readonly columns: number;
  /** `queries × SCORE_FIELDS`, see `scoreQuery`. */
  readonly scores: Float64Array;
  /** A failed worker's message, UTF-8, zero-padded. */
  readonly error: Uint8Array;
}

/** Ranks rows of the current block, claimed a few at a time, until none is left. */
export function rankClaimedRows(shared: SharedRanking, ranker: RelevanceRanker): void {
  const { control, columns, scores } = shared;
  const rows = Atomics.load(control, Slot.Rows);
  const block = { firstRow: Atomics.load(control, Slot.FirstRow), dots: shared.dots, base: shared.base, scale: shared.scale };
  for (let from = Atomics.add(control, Slot.NextRow, CLAIM); from < rows; from = Atomics.add(control, Slot.NextRow, CLAIM)) {
    forEachRow(block, from, Math.min(rows, from + CLAIM), columns, (row) => scoreQuery(shared, ranker, row, scores));
  }
}

/** A ranker sized for the task. */
export function rankerFor(task: RetrievalTask): RelevanceRanker {
  return new RelevanceRanker(task.referenceLabels, task.k);
}
