import { require, requireNumber } from '../common/errors.js';
import { readLabels, type LabelsInput } from '../common/batch.js';
import { SeededRandom } from '../common/random.js';
import { defaultBlockRows, forEachDotBlock, squaredNorms } from './dot-blocks.js';
import { checkDims, checkEmbeddingRows, checkMetric, type EvaluationMetric } from './inputs.js';
import { rocSummary, thresholdMetrics, verificationCurves, type RocSummary, type ThresholdMetrics, type VerificationCurves } from './roc.js';

/** Options of {@link verificationMetrics}. */
export interface VerificationOptions {
  /** Embeddings, row-major, `dims` wide. */
  embeddings: Float32Array;
  /** One integer label per embedding. */
  labels: LabelsInput;
  dims: number;
  /** Default `'euclidean'`. */
  metric?: EvaluationMetric;
  /**
   * Most pairs scored (default 50,000,000: every pair of up to 10,000 embeddings, 200 MB of
   * float32 distances). With more, a seeded random subset of the embeddings is used, the largest
   * whose pairs fit; `embeddingsUsed` says how many.
   */
  maxPairs?: number;
  /** Seed of that subset (default 0): the same seed picks the same embeddings. */
  seed?: number;
  /** Rows per distance block (default: blocks of at most 64 MB). */
  chunkRows?: number;
  /**
   * A distance threshold chosen beforehand (on validation pairs): adds accuracy, FAR and FRR at it
   * as `atThreshold`. `bestThreshold` and `bestAccuracy` are always the best on these very pairs,
   * an optimistic figure when these pairs are the test.
   */
  threshold?: number;
  /** Also return the ROC curve and the distance histograms (`curves`). */
  curves?: boolean;
}

/** {@link RocSummary} of all pairs, with what was scored. */
export interface VerificationMetrics extends RocSummary {
  /** Pairs scored: m(m − 1)/2 for the m embeddings used. */
  pairs: number;
  /** Same-label pairs among them. */
  positivePairs: number;
  /** Embeddings whose pairs were scored: all of them unless `maxPairs` forced a subset. */
  embeddingsUsed: number;
  /** At the threshold given in the options. */
  atThreshold?: ThresholdMetrics;
  /** When asked for. */
  curves?: VerificationCurves;
}

/** Default {@link VerificationOptions.maxPairs}. */
const DEFAULT_MAX_PAIRS = 50_000_000;

/**
 * Verification ("are these two the same person?") over all pairs i < j of one set, scored by
 * −distance: ROC AUC, EER, best-threshold and balanced accuracy, TAR at FAR 1e-3 and 1e-2 (see
 * {@link RocSummary}).
 *
 * The distances are computed in blocks and stored split by positive / negative (4 bytes a pair),
 * then each side is sorted natively: O(p log p) time in the number of pairs p, and no per-pair
 * object or index array.
 */
export function verificationMetrics(options: VerificationOptions): VerificationMetrics {
  require(options !== null && typeof options === 'object', 'verificationMetrics needs an options object { embeddings, labels, dims }');
  const dims = checkDims(options.dims);
  const metric = checkMetric(options.metric);
  const count = checkEmbeddingRows(options.embeddings, dims, 'embeddings');
  const allLabels = readLabels(options.labels, count, 'embeddings');
  const maxPairs = requireNumber('maxPairs', options.maxPairs ?? DEFAULT_MAX_PAIRS, { integer: true, min: 1 });
  const seed = requireNumber('seed', options.seed ?? 0, { integer: true });
  if (options.threshold !== undefined) requireNumber('threshold', options.threshold);
  require(count >= 2, 'verification needs at least 2 embeddings (one pair)');

  const used = Math.min(count, largestSetWithin(maxPairs));
  const { embeddings, labels } =
    used === count ? { embeddings: options.embeddings, labels: allLabels } : sampleRows(options.embeddings, allLabels, dims, used, seed);
  const blockRows =
    options.chunkRows === undefined ? defaultBlockRows(used) : requireNumber('chunkRows', options.chunkRows, { integer: true, min: 1 });

  const pairs = (used * (used - 1)) / 2;
  const labelCounts = new Map<number, number>();
  for (const label of labels) labelCounts.set(label, (labelCounts.get(label) ?? 0) + 1);
  let positivePairs = 0;
  for (const c of labelCounts.values()) positivePairs += (c * (c - 1)) / 2;
  const positives = new Float32Array(positivePairs);
  const negatives = new Float32Array(pairs - positivePairs);

  const euclidean = metric === 'euclidean';
  const norms = euclidean ? squaredNorms(embeddings, dims) : undefined;
  let p = 0;
  let n = 0;
  forEachDotBlock(embeddings, embeddings, dims, { normalize: !euclidean, blockRows, upperTriangle: true }, (block) => {
    const { firstRow, rows, firstColumn, columns, dots } = block;
    for (let r = 0; r < rows; r++) {
      const i = firstRow + r;
      const label = labels[i]!;
      for (let c = i + 1 - firstColumn; c < columns; c++) {
        const j = firstColumn + c;
        const dot = dots[r * columns + c]!;
        const distance = norms
          ? Math.sqrt(Math.max(0, norms[i]! + norms[j]! - 2 * dot))
          : Math.min(2, Math.max(0, 1 - dot));
        if (labels[j] === label) positives[p++] = distance;
        else negatives[n++] = distance;
      }
    }
  });
  positives.sort();
  negatives.sort();
  return {
    ...rocSummary(positives, negatives),
    pairs,
    positivePairs,
    embeddingsUsed: used,
    ...(options.threshold !== undefined ? { atThreshold: thresholdMetrics(positives, negatives, options.threshold) } : {}),
    ...(options.curves ? { curves: verificationCurves(positives, negatives) } : {}),
  };
}

/** The largest m with m(m − 1)/2 ≤ maxPairs. */
function largestSetWithin(maxPairs: number): number {
  let m = Math.floor((1 + Math.sqrt(1 + 8 * maxPairs)) / 2);
  while ((m * (m - 1)) / 2 > maxPairs) m--;
  while (((m + 1) * m) / 2 <= maxPairs) m++;
  return m;
}

/** `size` rows chosen by a seeded shuffle, kept in their original order. */
function sampleRows(
  embeddings: Float32Array,
  labels: Int32Array,
  dims: number,
  size: number,
  seed: number,
): { embeddings: Float32Array; labels: Int32Array } {
  const order = new SeededRandom(seed).shuffle(Int32Array.from({ length: labels.length }, (_, i) => i));
  const chosen = order.subarray(0, size).sort();
  const out = new Float32Array(size * dims);
  chosen.forEach((row, i) => out.set(embeddings.subarray(row * dims, (row + 1) * dims), i * dims));
  return { embeddings: out, labels: Int32Array.from(chosen, (row) => labels[row]!) };
}
