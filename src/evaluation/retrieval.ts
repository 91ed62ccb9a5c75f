import { require, requireNumber } from '../common/errors.js';
import { readLabels, type LabelsInput } from '../common/batch.js';
import { forEachNearestNeighbors } from './knn.js';
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
 * The neighbour lists (k = the largest R, or the largest K if more) are streamed, one query at a
 * time: memory stays at one 64 MB distance block however large R is.
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

  let counted = 0;
  let precisionAt1 = 0;
  let rPrecision = 0;
  let mapAtR = 0;
  const recallHits = new Float64Array(recallAt.length);
  forEachNearestNeighbors(
    queries,
    references,
    dims,
    k,
    { metric, excludeSelf: leaveOneOut, chunkRows: options.chunkRows },
    (query, indices) => {
      const label = queryLabels[query]!;
      const r = relevantCount(label);
      if (r === 0) return;
      counted++;
      let hits = 0;
      let precisionSum = 0;
      let firstHit = -1;
      const depth = Math.min(k, Math.max(r, maxK));
      for (let i = 0; i < depth; i++) {
        if (referenceLabels[indices[i]!] !== label) continue;
        if (firstHit < 0) firstHit = i;
        if (i < r) {
          hits++;
          precisionSum += hits / (i + 1);
        }
      }
      if (firstHit === 0) precisionAt1++;
      rPrecision += hits / r;
      mapAtR += precisionSum / r;
      for (let j = 0; j < recallAt.length; j++) if (firstHit >= 0 && firstHit < recallAt[j]!) recallHits[j] = recallHits[j]! + 1;
    },
  );
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
