import { require, requireNumber } from '../common/errors.js';
import { readLabels, type LabelsInput } from '../common/batch.js';
import { forEachRankingBlock } from './knn.js';
import { defaultRankingThreads, RankingPool } from './ranking-pool.js';
import { forEachRow, RelevanceRanker, SCORE_FIELDS, scoreQuery, type RetrievalTask } from './relevance.js';
import { checkDims, checkEmbeddingRows, checkMetric, type EvaluationMetric } from './inputs.js';

/** Options of {@link retrievalMetrics}. */
export interface RetrievalOptions {
  /** Query embeddings, row-major, `dims` wide. */
  queries: Float32Array;
  /** One integer label per query. */
  queryLabels: LabelsInput;
  /**
   * Reference embeddings. Omitted: leave-one-out, every query is ranked against all the other
   * queries (the usual protocol for unseen classes).
   */
  references?: Float32Array;
  /** One integer label per reference; required with `references`. */
  referenceLabels?: LabelsInput;
  dims: number;
  /** Default `'euclidean'` (PML's default). */
  metric?: EvaluationMetric;
  /** The K of recall@K, positive integers; default [1, 2, 4, 8]. A K above the number of references means all of them. */
  recallAt?: readonly number[];
  /** Query rows per distance block (default: blocks of at most 64 MB). */
  chunkRows?: number;
  /**
   * Threads that rank queries: this one and `threads − 1` worker threads. Default: every core
   * (`os.availableParallelism()`) from 2^26 query–reference pairs, else 1. The metrics do not
   * depend on it.
   */
  threads?: number;
}

/**
 * Retrieval accuracy as defined by PML's AccuracyCalculator. For a query, R is the number of
 * references with its label (itself excluded in leave-one-out), rel(i) ∈ {0, 1} says whether the
 * i-th nearest reference has its label, and P(i) is the precision among the first i.
 */
export interface RetrievalMetrics {
  /** Mean of rel(1). */
  precisionAt1: number;
  /** Mean of (Σ_{i ≤ R} rel(i)) / R. */
  rPrecision: number;
  /** Mean of (1/R) Σ_{i ≤ R} P(i)·rel(i). */
  mapAtR: number;
  /** For each K: the fraction of queries with at least one same-label reference among the first K. */
  recallAt: Record<number, number>;
  /** Number of queries averaged over (those with R > 0). */
  queries: number;
  /** Queries left out because no reference has their label (R = 0). */
  skippedQueries: number;
}

/** recall@K computed when none is asked for. */
const DEFAULT_RECALL_AT = [1, 2, 4, 8] as const;

/**
 * Precision@1, R-precision, MAP@R and recall@K of ranking the references by distance to each
 * query. Queries with R = 0 are excluded from every average and counted in `skippedQueries`; it
 * is an error if no query is left.
 *
 * Each query's references are ranked only as far as the metrics need (the largest R, or the
 * largest K if more), one query at a time: memory stays at one 64 MB distance block and a few
 * arrays of one key per reference, however large R is.
 */
export function retrievalMetrics(options: RetrievalOptions): RetrievalMetrics {
  require(options !== null && typeof options === 'object', 'retrievalMetrics needs an options object { queries, queryLabels, dims }');
  const { queries } = options;
  const dims = checkDims(options.dims);
  const metric = checkMetric(options.metric);
  const recallAt = [...(options.recallAt ?? DEFAULT_RECALL_AT)];
  for (const k of recallAt) requireNumber('recallAt entry', k, { integer: true, min: 1 });
  const leaveOneOut = options.references === undefined;
  const references = options.references ?? queries;
  require(
    leaveOneOut === (options.referenceLabels === undefined),
    'give references and referenceLabels together, or neither (leave-one-out on the queries)',
  );
  const queryCount = checkEmbeddingRows(queries, dims, 'queries');
  const queryLabels = readLabels(options.queryLabels, queryCount, 'queries');
  const referenceCount = leaveOneOut ? queryCount : checkEmbeddingRows(references, dims, 'references');
  const referenceLabels = leaveOneOut ? queryLabels : readLabels(options.referenceLabels!, referenceCount, 'references');

  const labelCounts = new Map<number, number>();
  for (const label of referenceLabels) labelCounts.set(label, (labelCounts.get(label) ?? 0) + 1);
  const relevantCount = (label: number): number => (labelCounts.get(label) ?? 0) - (leaveOneOut ? 1 : 0);
  let maxR = 0;
  for (const label of queryLabels) maxR = Math.max(maxR, relevantCount(label));
  require(
    maxR > 0,
    leaveOneOut
      ? 'no query shares its label with another query: retrieval metrics are undefined (every label occurs once)'
      : 'no query label occurs among the reference labels: retrieval metrics are undefined',
  );
  const candidates = referenceCount - (leaveOneOut ? 1 : 0);
  const maxK = Math.max(0, ...recallAt);
  const k = Math.min(candidates, Math.max(maxR, maxK));

  const task: RetrievalTask = {
    queryLabels,
    referenceLabels,
    relevantCounts: Int32Array.from(queryLabels, relevantCount),
    k,
    maxK,
    leaveOneOut,
  };
  const threads =
    options.threads === undefined
      ? defaultRankingThreads(queryCount * referenceCount)
      : requireNumber('threads', options.threads, { integer: true, min: 1 });
  const scores = rankAll(task, queries, references, dims, { metric, excludeSelf: leaveOneOut, chunkRows: options.chunkRows }, threads);

  // Summed in query order, whichever thread ranked which query: the result does not depend on `threads`.
  let counted = 0;
  let precisionAt1 = 0;
  let rPrecision = 0;
  let mapAtR = 0;
  const recallHits = new Float64Array(recallAt.length);
  for (let query = 0; query < queryCount; query++) {
    const r = task.relevantCounts[query]!;
    if (r === 0) continue;
    counted++;
    const at = query * SCORE_FIELDS;
    const firstHit = scores[at + 2]!;
    if (firstHit === 0) precisionAt1++;
    rPrecision += scores[at]! / r;
    mapAtR += scores[at + 1]! / r;
    for (let j = 0; j < recallAt.length; j++) if (firstHit >= 0 && firstHit < recallAt[j]!) recallHits[j] = recallHits[j]! + 1;
  }
  const recall: Record<number, number> = {};
  recallAt.forEach((kk, j) => (recall[kk] = recallHits[j]! / counted));
  return {
    precisionAt1: precisionAt1 / counted,
    rPrecision: rPrecision / counted,
    mapAtR: mapAtR / counted,
    recallAt: recall,
    queries: counted,
    skippedQueries: queryCount - counted,
  };
}

/** Ranks every query (on `threads` threads when more than one start) and returns the scores of `scoreQuery`. */
function rankAll(
  task: RetrievalTask,
  queries: Float32Array,
  references: Float32Array,
  dims: number,
  search: Parameters<typeof forEachRankingBlock>[3],
  threads: number,
): Float64Array {
  const queryCount = task.queryLabels.length;
  const columns = task.referenceLabels.length;
  const ranker = new RelevanceRanker(task.referenceLabels, task.k);
  let pool: RankingPool | undefined;
  let scores: Float64Array = new Float64Array(queryCount * SCORE_FIELDS);
  try {
    forEachRankingBlock(queries, references, dims, search, (block) => {
      if (threads > 1 && pool === undefined && block.firstRow === 0) {
        pool = RankingPool.start(task, queryCount, { rows: block.rows, columns, base: block.base, scale: block.scale }, threads);
        if (pool) scores = pool.scores;
      }
      if (pool) pool.rank(block, ranker);
      else forEachRow(block, 0, block.rows, columns, (row) => scoreQuery(task, ranker, row, scores));
    });
  } finally {
    pool?.close();
  }
  return scores;
}
