import { tf } from '../tf.js';
import { require, requireNumber } from '../common/errors.js';
import { SeededRandom } from '../common/random.js';
import { squaredNorms } from './dot-blocks.js';
import { checkDims, checkEmbeddingRows } from './inputs.js';

/** Options of {@link kMeans}. */
export interface KMeansOptions {
  /** Seed of the k-means++ initialisations (default 0): the same seed gives the same clustering. */
  seed?: number;
  /** Independent runs, each from its own k-means++ start; the lowest inertia wins (default 4). */
  restarts?: number;
  /** Lloyd iterations per run at most (default 100); a run also stops when no assignment changes. */
  maxIterations?: number;
}

/** A k-means clustering. */
export interface KMeansResult {
  /** Cluster (0 .. k − 1) of every row. */
  assignments: Int32Array;
  /** `k × dims`, row-major: the mean of each cluster. */
  centers: Float32Array;
  /** Sum of squared distances of the rows to their centre at the last assignment step. */
  inertia: number;
  /** Lloyd iterations of the winning run. */
  iterations: number;
}

/**
 * k-means (Lloyd) with k-means++ initialisation, a few seeded restarts keeping the lowest inertia.
 * The assignment step is one matrix product (TensorFlow.js) of the rows with the centres; an
 * empty cluster is moved to the row farthest from its centre, as scikit-learn does.
 */
export function kMeans(values: Float32Array, dims: number, k: number, options: KMeansOptions = {}): KMeansResult {
  checkDims(dims);
  const rows = checkEmbeddingRows(values, dims, 'embeddings');
  requireNumber('k', k, { integer: true, min: 1 });
  require(k <= rows, () => `k-means with k = ${k} needs at least ${k} rows, got ${rows}`);
  const random = new SeededRandom(options.seed ?? 0);
  const restarts = requireNumber('restarts', options.restarts ?? 4, { integer: true, min: 1 });
  const maxIterations = requireNumber('maxIterations', options.maxIterations ?? 100, { integer: true, min: 1 });
  const norms = squaredNorms(values, dims);
  const data = tf.tensor2d(values, [rows, dims]);
  try {
    let best: KMeansResult | undefined;
    for (let run = 0; run < restarts; run++) {
      const centers = kMeansPlusPlus(values, norms, dims, k, random);
      const result = lloyd(values, data, norms, dims, centers, maxIterations);
      if (best === undefined || result.inertia < best.inertia) best = result;
    }
    return best!;
  } finally {
    data.dispose();
  }
}

/**
 * k-means++ (Arthur & Vassilvitskii 2007): the first centre is a uniform row, each next one a row
 * drawn with probability proportional to its squared distance to the nearest centre so far.
 */
function kMeansPlusPlus(values: Float32Array, norms: Float64Array, dims: number, k: number, random: SeededRandom): Float32Array {
  const rows = norms.length;
  const centers = new Float32Array(k * dims);
  const nearest = new Float64Array(rows).fill(Infinity);
  let chosen = random.int(rows);
  for (let c = 0; c < k; c++) {
    if (c > 0) chosen = drawProportional(nearest, random);
    const center = values.subarray(chosen * dims, (chosen + 1) * dims);
    centers.set(center, c * dims);
    for (let i = 0; i < rows; i++) nearest[i] = Math.min(nearest[i]!, squaredDistance(values, i, dims, center, norms[i]!));
  }
  return centers;
}

/** A row index drawn with probability proportional to `weights` (uniform if they are all 0). */
function drawProportional(weights: Float64Array, random: SeededRandom): number {
  let total = 0;
  for (const w of weights) total += w;
  if (total === 0) return random.int(weights.length);
  let target = random.float() * total;
  let last = 0;
  for (let i = 0; i < weights.length; i++) {
    if (weights[i]! <= 0) continue;
    last = i;
    target -= weights[i]!;
    if (target < 0) return i;
  }
  return last; // rounding left a sliver of target: the last row with weight
}

/** |x_i − center|², with |x_i|² given. */
function squaredDistance(values: Float32Array, i: number, dims: number, center: Float32Array, norm: number): number {
  let dot = 0;
  let centerNorm = 0;
  for (let d = 0, o = i * dims; d < dims; d++, o++) {
    dot += values[o]! * center[d]!;
    centerNorm += center[d]! * center[d]!;
  }
  return Math.max(0, norm + centerNorm - 2 * dot);
}

/** Lloyd iterations from `centers` (updated in place). */
function lloyd(
  values: Float32Array,
  data: tf.Tensor2D,
  norms: Float64Array,
  dims: number,
  centers: Float32Array,
  maxIterations: number,
): KMeansResult {
  const rows = norms.length;
  const k = centers.length / dims;
  const assignments = new Int32Array(rows).fill(-1);
  const nearest = new Float64Array(rows);
  let inertia = 0;
  let iterations = 0;
  while (iterations < maxIterations) {
    iterations++;
    const product = tf.tidy(() => tf.matMul(data, tf.transpose(tf.tensor2d(centers, [k, dims]))));
    let dots: Float32Array;
    try {
      dots = product.dataSync() as Float32Array;
    } finally {
      product.dispose();
    }
    const centerNorms = squaredNorms(centers, dims);
    let changed = 0;
    inertia = 0;
    for (let i = 0; i < rows; i++) {
      let bestCluster = 0;
      let bestKey = Infinity;
      for (let c = 0; c < k; c++) {
        const key = centerNorms[c]! - 2 * dots[i * k + c]!;
        if (key < bestKey) {
          bestKey = key;
          bestCluster = c;
        }
      }
      if (assignments[i] !== bestCluster) changed++;
      assignments[i] = bestCluster;
      nearest[i] = Math.max(0, norms[i]! + bestKey);
      inertia += nearest[i]!;
    }
    if (changed === 0) break;
    updateCenters(values, dims, assignments, nearest, centers);
  }
  return { assignments, centers, inertia, iterations };
}

/** Each centre becomes the mean of its rows; an empty cluster takes the row farthest from its centre. */
function updateCenters(values: Float32Array, dims: number, assignments: Int32Array, nearest: Float64Array, centers: Float32Array): void {
  const k = centers.length / dims;
  const sums = new Float64Array(k * dims);
  const counts = new Int32Array(k);
  for (let i = 0; i < assignments.length; i++) {
    const c = assignments[i]!;
    counts[c]!++;
    for (let d = 0, o = i * dims, s = c * dims; d < dims; d++, o++, s++) sums[s]! += values[o]!;
  }
  for (let c = 0; c < k; c++) {
    if (counts[c]! > 0) {
      for (let d = 0; d < dims; d++) centers[c * dims + d] = sums[c * dims + d]! / counts[c]!;
      continue;
    }
    let farthest = 0;
    for (let i = 1; i < nearest.length; i++) if (nearest[i]! > nearest[farthest]!) farthest = i;
    centers.set(values.subarray(farthest * dims, (farthest + 1) * dims), c * dims);
    nearest[farthest] = 0; // a second empty cluster takes another row
  }
}
