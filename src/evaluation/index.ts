/**
 * Evaluation of embeddings: exact k-nearest neighbours, retrieval metrics (precision@1,
 * R-precision, MAP@R, recall@K), pair verification (ROC AUC, EER, accuracies, TAR@FAR) and
 * k-means NMI, combined by {@link evaluateEmbeddings}.
 */
export { type EvaluationMetric } from './inputs.js';
export {
  nearestNeighbors,
  forEachNearestNeighbors,
  type NearestNeighborOptions,
  type NearestNeighbors,
} from './knn.js';
export { retrievalMetrics, type RetrievalOptions, type RetrievalMetrics } from './retrieval.js';
export { rocSummary, thresholdMetrics, verificationCurves, type RocSummary, type ThresholdMetrics, type VerificationCurves } from './roc.js';
export { verificationMetrics, type VerificationOptions, type VerificationMetrics } from './verification.js';
export { kMeans, type KMeansOptions, type KMeansResult } from './kmeans.js';
export { normalizedMutualInformation } from './nmi.js';
export { clusteringMetrics, type ClusteringOptions, type ClusteringMetrics } from './clustering.js';
export { evaluateEmbeddings, type EvaluationProtocol, type EvaluationReport, type FlatThresholdMetrics } from './evaluate.js';
