import { tf } from '../tf.js';
import { requireNumber } from '../common/errors.js';
import { BaseDistance, type GramForm } from './base-distance.js';
import { safePow } from './safe-ops.js';

/** Options of {@link LpDistance}. */
export interface LpDistanceOptions {
  /** L2-normalise rows first (default true: embeddings on the unit sphere). */
  normalizeEmbeddings?: boolean;
  /** The norm's order, 1 ≤ p < ∞ (default 2, Euclidean). */
  p?: number;
  /** Raise the distance to this power (default 1; 2 with p = 2 gives the squared Euclidean distance). */
  power?: number;
}

/** Largest number of elements of the B × R × D difference tensor built at once for p ≠ 2. */
const DIFFERENCE_CHUNK_ELEMENTS = 1 << 24;

/**
 * The Lp distance `(Σ|x − y|^p)^(1/p)`, raised to `power`.
 *
 * For p = 2 the matrix comes from one matrix product (`|x|² + |y|² − 2x·y`), in O(B·R) memory.
 * Other p need the B × R × D differences; they are built in row chunks of at most 2^24 elements,
 * but autodiff keeps them for the backward pass, so p ≠ 2 costs O(B·R·D) memory in training.
 */
export class LpDistance extends BaseDistance {
  readonly name: string;
  readonly isInverted = false;
  readonly p: number;
  readonly power: number;
  /** Made once: optimised code that embeds a short-lived object is thrown away when it is collected. */
  private readonly euclideanForm: GramForm | undefined;

  constructor({ normalizeEmbeddings = true, p = 2, power = 1 }: LpDistanceOptions = {}) {
    super(normalizeEmbeddings);
    this.p = requireNumber('LpDistance p', p, { min: 1 });
    this.power = requireNumber('LpDistance power', power, { min: 0, exclusiveMin: true });
    this.name = p === 2 && power === 2 ? 'squared-euclidean' : p === 2 && power === 1 ? 'euclidean' : `lp(p=${p},power=${power})`;
    this.euclideanForm = p === 2 ? euclideanGramForm(this.power) : undefined;
  }

  protected compute(x: tf.Tensor2D, ref: tf.Tensor2D, sameSet: boolean): tf.Tensor2D {
    if (this.p === 2) {
      const squared = squaredEuclidean(x, ref, sameSet);
      return (this.power === 2 ? squared : safePow(squared, this.power / 2)) as tf.Tensor2D;
    }
    const summed = powerSums(x, ref, this.p);
    return safePow(summed, this.power / this.p) as tf.Tensor2D;
  }

  protected override gramForm(): GramForm | undefined {
    return this.euclideanForm;
  }

}

/** The Euclidean distance raised to `power`, from Gram entries: `(|x|² + |y|² − 2x·y)^(power/2)`. */
function euclideanGramForm(power: number): GramForm {
  return {
    difference: true,
    power,
    fromGram(gram, out, rowNorms, colNorms, sameSet) {
      const cols = colNorms.length;
      for (let i = 0; i < rowNorms.length; i++) {
        const row = i * cols;
        const norm = rowNorms[i]!;
        for (let j = 0; j < cols; j++) {
          const squared = Math.max(0, norm + colNorms[j]! - 2 * gram[row + j]!);
          out[row + j] = power === 1 ? Math.sqrt(squared) : power === 2 ? squared : Math.pow(squared, power / 2);
        }
        if (sameSet) out[row + i] = 0;
      }
    },
    // value = d^power: ∂value/∂x_i = power·d^(power−2)·(x_i − x_j); 0 at d = 0 as in safePow.
    factor:
      power === 1
        ? (value) => (value > 0 ? 1 / value : 0)
        : power === 2
          ? () => 2
          : (value) => (value > 0 ? power * Math.pow(value, (power - 2) / power) : 0),
  };
}

/** `|x_i − y_j|²` from one matrix product, clamped at 0 and with an exact zero diagonal for the same set. */
function squaredEuclidean(x: tf.Tensor2D, ref: tf.Tensor2D, sameSet: boolean): tf.Tensor2D {
  const xNorms = tf.sum(tf.square(x), 1, true);
  const refNorms = sameSet ? xNorms : tf.sum(tf.square(ref), 1, true);
  // The wasm matmul is fastest on plain operands: transpose explicitly.
  const dots = tf.matMul(x, tf.transpose(ref));
  const squared = tf.relu(tf.sub(tf.add(xNorms, tf.transpose(refNorms)), tf.mul(2, dots))) as tf.Tensor2D;
  if (!sameSet) return squared;
  // Rounding leaves ~1e-7 on the diagonal, which would read as a distance of ~3e-4 to oneself.
  const offDiagonal = tf.sub(1, tf.eye(x.shape[0]));
  return tf.mul(squared, offDiagonal);
}

/** `Σ_d |x_id − y_jd|^p`, built in row chunks. */
function powerSums(x: tf.Tensor2D, ref: tf.Tensor2D, p: number): tf.Tensor2D {
  const [rows, dims] = x.shape;
  const refRows = ref.shape[0];
  const chunk = Math.max(1, Math.floor(DIFFERENCE_CHUNK_ELEMENTS / Math.max(1, refRows * dims)));
  const parts: tf.Tensor2D[] = [];
  const refExpanded = tf.expandDims(ref, 0);
  for (let start = 0; start < rows; start += chunk) {
    const size = Math.min(chunk, rows - start);
    const block = tf.expandDims(tf.slice(x, [start, 0], [size, dims]), 1);
    const absolute = tf.abs(tf.sub(block, refExpanded));
    parts.push(tf.sum(p === 1 ? absolute : tf.pow(absolute, p), 2));
  }
  return parts.length === 1 ? parts[0]! : tf.concat(parts, 0);
}
