/**
 * Ranking of one query's references for the retrieval metrics, in plain JavaScript (no
 * TensorFlow.js), so that worker threads can run it on shared memory (`ranking-worker.ts`).
 */
import { selectSmallest } from './selection.js';

/**
 * One query's ranking keys: `key(j) = base[j] − scale · dots[offset + j]` increases with the
 * distance to reference j (see `RankingBlock` in knn.ts).
 */
export interface RankingRow {
  query: number;
  dots: Float32Array;
  offset: number;
  base: Float64Array;
  scale: number;
}

/** The rows of a block of ranking keys (`firstRow`, `dots`, `base`, `scale`, as `RankingBlock`). */
export interface RowSource {
  firstRow: number;
  dots: Float32Array;
  base: Float64Array;
  scale: number;
}

/** Visits rows `from .. to − 1` of `block` (each `columns` keys wide) with one reused {@link RankingRow}. */
export function forEachRow(block: RowSource, from: number, to: number, columns: number, visit: (row: RankingRow) => void): void {
  const row: RankingRow = { query: 0, dots: block.dots, offset: 0, base: block.base, scale: block.scale };
  for (let r = from; r < to; r++) {
    row.query = block.firstRow + r;
    row.offset = r * columns;
    visit(row);
  }
}

/** What ranking a query for the retrieval metrics needs besides its keys. */
export interface RetrievalTask {
  readonly queryLabels: Int32Array;
  readonly referenceLabels: Int32Array;
  /** R of each query: the references with its label (itself excluded in leave-one-out). */
  readonly relevantCounts: Int32Array;
  /** Rank no deeper than this (the largest R, or the largest recall K if more, at most the candidates). */
  readonly k: number;
  /** The largest recall K. */
  readonly maxK: number;
  readonly leaveOneOut: boolean;
}

/** Numbers per query in a scores array: hits within R, Σ P(i)·rel(i) within R, first hit's rank. */
export const SCORE_FIELDS = 3;

/**
 * Ranks query `row.query` and writes its scores (hits within R, Σ_{i ≤ R} P(i)·rel(i), and the
 * 0-based rank of the first same-label reference or −1) at `scores[query · SCORE_FIELDS ..]`.
 * A query with R = 0 is left untouched.
 */
export function scoreQuery(task: RetrievalTask, ranker: RelevanceRanker, row: RankingRow, scores: Float64Array): void {
  const r = task.relevantCounts[row.query]!;
  if (r === 0) return;
  const depth = Math.min(task.k, Math.max(r, task.maxK));
  const relevant = ranker.rank(row, task.queryLabels[row.query]!, task.leaveOneOut ? row.query : -1, depth);
  let hits = 0;
  let precisionSum = 0;
  let firstHit = -1;
  for (let i = 0; i < depth; i++) {
    if (relevant[i] === 0) continue;
    if (firstHit < 0) firstHit = i;
    if (i < r) {
      hits++;
      precisionSum += hits / (i + 1);
    }
  }
  const at = row.query * SCORE_FIELDS;
  scores[at] = hits;
  scores[at + 1] = precisionSum;
  scores[at + 2] = firstHit;
}

/** Keys sampled per query to estimate the distance below which its first `depth` references lie. */
const SAMPLE = 2048;

/**
 * Tells, for one query, which of its first `depth` references in (distance, index) order share
 * its label: rel(1..depth), all the retrieval metrics need. Neither the indices nor a sort of the
 * R nearest by (key, index) are needed for that, which is where the time went (MNIST test →
 * train: 10,000 quickselects over 60,000 keys and sorts of up to 6,742 pairs, BENCHMARKS.md):
 *
 * 1. a threshold that about `depth` keys lie under, from a strided sample of the keys (3 standard
 *    deviations of the sample quantile above `depth`: it falls short about once in 700 queries,
 *    which costs one more pass, where each further deviation would sort ~3 % more keys every time);
 * 2. one pass that keeps the keys under it, the query's label's in one array and the others'
 *    in another (if fewer than `depth` are kept, the pass is redone with every key);
 * 3. a sort of each (keys only, no indices: {@link sortKeys}), and a merge of the two up to
 *    `depth`: rel(i) is which array the i-th key came from.
 *
 * Exact: the order among equal keys only matters between the two arrays (within one, equal keys
 * have the same relevance), so the merge checks for a key present in both; then, and only then,
 * the kept candidates are ranked by (key, index) with the quickselect of `selection.ts`.
 */
export class RelevanceRanker {
  private readonly relevantKeys: Float64Array;
  private readonly otherKeys: Float64Array;
  private readonly sample: Float64Array;
  private readonly relevance: Uint8Array;
  /** Scratch of {@link sortKeys}: one output per array to sort, and bucket counts. */
  private readonly sortedRelevant: Float64Array;
  private readonly sortedOther: Float64Array;
  private readonly buckets: Int32Array;
  /** Scratch of the tie-breaking path, allocated the first time a tie needs it. */
  private exact?: { keys: Float64Array; ids: Int32Array };

  constructor(
    private readonly referenceLabels: Int32Array,
    maxDepth: number,
  ) {
    this.relevantKeys = new Float64Array(referenceLabels.length);
    this.otherKeys = new Float64Array(referenceLabels.length);
    this.sample = new Float64Array(Math.min(SAMPLE, referenceLabels.length));
    this.relevance = new Uint8Array(maxDepth);
    this.sortedRelevant = new Float64Array(referenceLabels.length);
    this.sortedOther = new Float64Array(referenceLabels.length);
    this.buckets = new Int32Array((referenceLabels.length >> 1) + 1);
  }

  /**
   * rel(i) for the first `depth` references of `row` (1: the reference has `label`), leaving out
   * reference `skip` (the query itself in leave-one-out, else −1). The array is reused by the next call.
   */
  rank(row: RankingRow, label: number, skip: number, depth: number): Uint8Array {
    const { dots, offset, base, scale } = row;
    const labels = this.referenceLabels;
    let threshold = this.threshold(row, depth, labels.length - (skip >= 0 ? 1 : 0));
    let relevantCount = 0;
    let otherCount = 0;
    for (;;) {
      relevantCount = 0;
      otherCount = 0;
      for (let j = 0; j < labels.length; j++) {
        const key = base[j]! - scale * dots[offset + j]!;
        if (key > threshold || j === skip) continue;
        if (labels[j] === label) this.relevantKeys[relevantCount++] = key;
        else this.otherKeys[otherCount++] = key;
      }
      if (relevantCount + otherCount >= depth) break;
      threshold = Infinity;
    }
    const relevantKeys = sortKeys(this.relevantKeys, relevantCount, this.sortedRelevant, this.buckets);
    const otherKeys = sortKeys(this.otherKeys, otherCount, this.sortedOther, this.buckets);
    const relevance = this.relevance;
    for (let i = 0, a = 0, b = 0; i < depth; i++) {
      if (a < relevantCount && (b === otherCount || relevantKeys[a]! < otherKeys[b]!)) {
        relevance[i] = 1;
        a++;
      } else if (a < relevantCount && relevantKeys[a] === otherKeys[b]) {
        return this.rankByIndex(row, label, skip, depth, threshold);
      } else {
        relevance[i] = 0;
        b++;
      }
    }
    return relevance;
  }

  /** A key about `depth` of the `candidates` keys lie under (Infinity: keep them all). */
  private threshold({ dots, offset, base, scale }: RankingRow, depth: number, candidates: number): number {
    const size = this.sample.length;
    const fraction = depth / candidates;
    const position = Math.ceil(size * fraction + 3 * Math.sqrt(size * fraction * (1 - fraction))) + 1;
    if (position >= size) return Infinity;
    const n = this.referenceLabels.length;
    for (let s = 0; s < size; s++) {
      const j = Math.floor((s * n) / size);
      this.sample[s] = base[j]! - scale * dots[offset + j]!;
    }
    return sortKeys(this.sample, size, this.sortedOther, this.buckets)[position]!;
  }

  /** The slow exact path, for a key shared across labels: the candidates under `threshold` ranked by (key, index). */
  private rankByIndex({ dots, offset, base, scale }: RankingRow, label: number, skip: number, depth: number, threshold: number): Uint8Array {
    const labels = this.referenceLabels;
    this.exact ??= { keys: new Float64Array(labels.length), ids: new Int32Array(labels.length) };
    const { keys, ids } = this.exact;
    let count = 0;
    for (let j = 0; j < labels.length; j++) {
      const key = base[j]! - scale * dots[offset + j]!;
      if (key > threshold || j === skip) continue;
      keys[count] = key;
      ids[count++] = j;
    }
    selectSmallest(keys, ids, count, depth);
    for (let i = 0; i < depth; i++) this.relevance[i] = labels[ids[i]!] === label ? 1 : 0;
    return this.relevance;
  }
}

/** Below this many keys, and for a crowded bucket, {@link sortKeys} uses the typed array's own sort. */
const NATIVE_SORT = 64;

/**
 * The first `count` keys in increasing order: in `keys` itself or in `out` (the one returned).
 *
 * A bucket sort: keys spread over count/2 buckets by linear interpolation between their minimum
 * and maximum, then each bucket sorted by insertion (the native sort if it is crowded). Sorting
 * random keys by comparisons is bound by branch mispredictions: `Float64Array.prototype.sort`
 * took 540 µs for 7,000 keys here, this 95 µs, and the ranking sorts about R keys per query
 * (up to 6,742 on MNIST).
 */
export function sortKeys(keys: Float64Array, count: number, out: Float64Array, buckets: Int32Array): Float64Array {
  if (count < NATIVE_SORT) {
    keys.subarray(0, count).sort();
    return keys;
  }
  let lo = keys[0]!;
  let hi = lo;
  for (let i = 1; i < count; i++) {
    const key = keys[i]!;
    if (key < lo) lo = key;
    else if (key > hi) hi = key;
  }
  const last = (count >> 1) - 1;
  const spread = (last + 1) / (hi - lo);
  // All keys equal (Infinity), or a range so narrow that it has no finite scale.
  if (!(spread < Infinity)) {
    keys.subarray(0, count).sort();
    return keys;
  }
  buckets.fill(0, 0, last + 2);
  for (let i = 0; i < count; i++) buckets[Math.min(last, Math.floor((keys[i]! - lo) * spread)) + 1]!++;
  for (let b = 1; b <= last + 1; b++) buckets[b]! += buckets[b - 1]!;
  // buckets[b] is where bucket b's next key goes; afterwards, where bucket b ends.
  for (let i = 0; i < count; i++) {
    const key = keys[i]!;
    out[buckets[Math.min(last, Math.floor((key - lo) * spread))]!++] = key;
  }
  for (let b = 0, start = 0; b <= last; b++) {
    const end = buckets[b]!;
    if (end - start > NATIVE_SORT) out.subarray(start, end).sort();
    else {
      for (let i = start + 1; i < end; i++) {
        const key = out[i]!;
        let j = i - 1;
        for (; j >= start && out[j]! > key; j--) out[j + 1] = out[j]!;
        out[j + 1] = key;
      }
    }
    start = end;
  }
  return out;
}
