import { require } from '../common/errors.js';
import { clusteringMetrics } from './clustering.js';
import { retrievalMetrics, type RetrievalOptions } from './retrieval.js';
import { verificationMetrics, type VerificationMetrics } from './verification.js';

/** What to evaluate: the retrieval inputs (queries, optional references), plus verification and clustering options. */
export interface EvaluationProtocol extends RetrievalOptions {
  /** Pair verification on the queries; by default only in leave-one-out (no `references`). */
  verification?: boolean;
  /** Seed of k-means and of the verification subset (default 0). */
  seed?: number;
  /** Cap on verification pairs (see `VerificationOptions.maxPairs`). */
  maxPairs?: number;
  /** A verification threshold chosen beforehand: adds `threshold`, `accuracyAtThreshold`, `farAtThreshold`, `frrAtThreshold`. */
  threshold?: number;
  /** Adds the ROC curve and distance histograms of the verification pairs (`curves`). */
  curves?: boolean;
}

/**
 * Every number of one evaluation, flat: retrieval (always), `nmi` of k-means on the queries
 * (always), `recallAt<K>` for each K, and the verification numbers when verification ran.
 */
export type EvaluationReport = {
  precisionAt1: number;
  rPrecision: number;
  mapAtR: number;
  /** Queries averaged over by the retrieval metrics (R > 0). */
  queries: number;
  skippedQueries: number;
  nmi: number;
} & { [recall: `recallAt${number}`]: number } & Partial<Omit<VerificationMetrics, 'atThreshold'>> & Partial<FlatThresholdMetrics>;

/** The verification figures at a threshold given in advance, as fields of a flat report. */
export interface FlatThresholdMetrics {
  /** The threshold given (chosen before, on other pairs). */
  threshold: number;
  accuracyAtThreshold: number;
  farAtThreshold: number;
  frrAtThreshold: number;
}

/**
 * Evaluates embeddings with the retrieval metrics of {@link retrievalMetrics}, the NMI of
 * {@link clusteringMetrics} on the queries, and, in leave-one-out or when asked, the pair
 * verification metrics of {@link verificationMetrics} on the queries.
 */
export function evaluateEmbeddings(protocol: EvaluationProtocol): EvaluationReport {
  require(protocol !== null && typeof protocol === 'object', 'evaluateEmbeddings needs a protocol object { queries, queryLabels, dims }');
  const { queries, queryLabels, dims, metric, seed, chunkRows } = protocol;
  const retrieval = retrievalMetrics(protocol);
  const { nmi } = clusteringMetrics({ embeddings: queries, labels: queryLabels, dims, metric, seed });
  const report: EvaluationReport = {
    precisionAt1: retrieval.precisionAt1,
    rPrecision: retrieval.rPrecision,
    mapAtR: retrieval.mapAtR,
    queries: retrieval.queries,
    skippedQueries: retrieval.skippedQueries,
    nmi,
  };
  for (const [k, value] of Object.entries(retrieval.recallAt)) report[`recallAt${Number(k)}`] = value;
  if (protocol.verification ?? protocol.references === undefined) {
    const { atThreshold, ...verification } = verificationMetrics({
      embeddings: queries,
      labels: queryLabels,
      dims,
      metric,
      seed,
      maxPairs: protocol.maxPairs,
      chunkRows,
      threshold: protocol.threshold,
      curves: protocol.curves,
    });
    Object.assign(report, verification);
    if (atThreshold) {
      Object.assign(report, {
        threshold: atThreshold.threshold,
        accuracyAtThreshold: atThreshold.accuracy,
        farAtThreshold: atThreshold.far,
        frrAtThreshold: atThreshold.frr,
      } satisfies FlatThresholdMetrics);
    }
  }
  return report;
}
