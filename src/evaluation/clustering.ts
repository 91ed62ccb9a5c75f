import { require } from '../common/errors.js';
import { readLabels, type LabelsInput } from '../common/batch.js';
import { normalizeRows } from './dot-blocks.js';
import { checkDims, checkEmbeddingRows, checkMetric, type EvaluationMetric } from './inputs.js';
import { kMeans, type KMeansOptions } from './kmeans.js';
import { normalizedMutualInformation } from './nmi.js';

/** Options of {@link clusteringMetrics}. */
export interface ClusteringOptions extends KMeansOptions {
  /** Embeddings, row-major, `dims` wide. */
  embeddings: Float32Array;
  /** One integer label per embedding. */
  labels: LabelsInput;
  dims: number;
  /** `'cosine'` clusters the L2-normalised rows; default `'euclidean'` clusters them as they are. */
  metric?: EvaluationMetric;
}

/** How well the embeddings cluster into the classes. */
export interface ClusteringMetrics {
  /** NMI (arithmetic normalisation) between the k-means clusters, k = number of classes, and the labels. */
  nmi: number;
}

/**
 * Clusters the embeddings with k-means (k = number of distinct labels, k-means++ starts, seeded
 * restarts keeping the lowest inertia; see {@link kMeans}) and scores the clusters against the
 * labels with {@link normalizedMutualInformation}, as PML's AccuracyCalculator does.
 */
export function clusteringMetrics(options: ClusteringOptions): ClusteringMetrics {
  require(options !== null && typeof options === 'object', 'clusteringMetrics needs an options object { embeddings, labels, dims }');
  const dims = checkDims(options.dims);
  const metric = checkMetric(options.metric);
  const rows = checkEmbeddingRows(options.embeddings, dims, 'embeddings');
  const labels = readLabels(options.labels, rows, 'embeddings');
  const classes = new Set(labels).size;
  const values = metric === 'cosine' ? normalizeRows(options.embeddings, dims) : options.embeddings;
  const { assignments } = kMeans(values, dims, classes, options);
  return { nmi: normalizedMutualInformation(labels, assignments) };
}
