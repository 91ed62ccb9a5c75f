import { tf } from '../tf.js';
import { checkEmbeddings, readLabels, type LabelsInput } from '../common/batch.js';
import { checkTuples, type Tuples } from '../common/tuples.js';
import { countValidTuples, type TupleKind } from '../common/label-groups.js';
import type { BaseDistance } from '../distances/base-distance.js';
import type { LossStatistics, Reducer } from '../reducers/reducer.js';

/**
 * One reduced component of a loss (the contrastive loss has a positive and a negative part):
 * its statistics, and the gradient of its sum with respect to the oriented distance matrix.
 */
export interface LossPart extends LossStatistics {
  /** ∂(sum of this part's per-tuple values)/∂(oriented distance), row-major B × B. */
  readonly gradient: Float64Array;
}

/** A loss value with what a training loop reports about it. */
export interface LossOutput {
  /** The reduced loss, differentiable with respect to the embeddings. */
  readonly loss: tf.Scalar;
  /** Tuples (triplets or pairs) the loss was computed over. */
  readonly tupleCount: number;
  /** Tuples with a non-zero loss (active triplets or pairs). */
  readonly activeCount: number;
  /**
   * Every valid tuple of the loss's kind in the batch (triplets, or positive and negative pairs):
   * `activeCount / validCount` is the fraction of active tuples of Hermans et al., informative
   * even when a miner already kept only the violating ones.
   */
  readonly validCount: number;
}

/** A part being summed up by a loss. */
export class PartAccumulator implements LossPart {
  sum = 0;
  count = 0;
  nonzeroCount = 0;
  readonly gradient: Float64Array;

  constructor(entries: number) {
    this.gradient = new Float64Array(entries);
  }

  /** Adds one tuple's value. */
  add(value: number): void {
    this.sum += value;
    this.count++;
    if (value > 0) this.nonzeroCount++;
  }
}

/**
 * The shared machinery of tuple losses.
 *
 * The distance matrix is made with TensorFlow.js and read back once; the per-tuple values and
 * their exact derivatives with respect to the matrix are then summed over typed arrays by the
 * subclass ({@link BaseMetricLoss.parts}). A custom-gradient op hands that B × B derivative back
 * to autodiff, which carries it through the distance to the embeddings. So memory stays O(B²)
 * however many triplets there are (batch-all at B = 2048 has tens of millions), where a tensor
 * formulation keeps several O(tuples) or O(B³) intermediates alive for the backward pass.
 */
export abstract class BaseMetricLoss {
  /** The distance the loss is computed on. */
  readonly distance: BaseDistance;
  /** How per-tuple values become one number. */
  readonly reducer: Reducer;
  /** Whether the loss is computed over triplets or over pairs. */
  abstract readonly tupleKind: TupleKind;

  protected constructor(distance: BaseDistance, reducer: Reducer) {
    this.distance = distance;
    this.reducer = reducer;
  }

  /**
   * The loss of `embeddings` (B × D) with `labels`, over the given tuples (from a miner), or over
   * every valid tuple of the batch when none are given. A differentiable scalar; 0 when there is
   * no valid tuple.
   */
  compute(embeddings: tf.Tensor2D, labels: LabelsInput, tuples?: Tuples): tf.Scalar {
    return this.computeDetailed(embeddings, labels, tuples).loss;
  }

  /** {@link compute}, with the number of tuples and of active (non-zero) tuples. */
  computeDetailed(embeddings: tf.Tensor2D, labels: LabelsInput, tuples?: Tuples): LossOutput {
    const rows = checkEmbeddings(embeddings);
    const batchLabels = readLabels(labels, rows);
    if (tuples !== undefined) checkTuples(tuples, batchLabels);
    let tupleCount = 0;
    let activeCount = 0;
    const loss = tf.tidy(() => {
      const matrix = this.distance.pairwise(embeddings);
      const parts = this.parts(this.distance.orient(matrix.dataSync()), batchLabels, tuples);
      // Values were computed on negated similarities: the derivative flips back with them.
      const sign = this.distance.isInverted ? -1 : 1;
      const gradient = new Float32Array(rows * rows);
      let value = 0;
      for (const part of parts) {
        const scale = this.reducer.scale(part);
        value += scale * part.sum;
        tupleCount += part.count;
        activeCount += part.nonzeroCount;
        if (scale === 0) continue;
        const factor = sign * scale;
        for (let i = 0; i < gradient.length; i++) gradient[i]! += factor * part.gradient[i]!;
      }
      return withMatrixGradient(matrix, value, gradient);
    });
    return { loss, tupleCount, activeCount, validCount: countValidTuples(batchLabels, this.tupleKind) };
  }

  /**
   * Sums the per-tuple values over `tuples` (or every valid tuple) of the oriented matrix
   * (row-major B × B, smaller = closer), one {@link LossPart} per separately reduced component.
   */
  protected abstract parts(distances: Float32Array, labels: Int32Array, tuples: Tuples | undefined): LossPart[];
}

/** A scalar `value` whose gradient with respect to `matrix` is `gradient`. */
function withMatrixGradient(matrix: tf.Tensor2D, value: number, gradient: Float32Array): tf.Scalar {
  const op = tf.customGrad(((m: tf.Tensor) => ({
    value: tf.scalar(value),
    gradFunc: (dy: tf.Tensor) => tf.mul(dy, tf.tensor(gradient, m.shape)),
  })) as Parameters<typeof tf.customGrad>[0]);
  return op(matrix) as tf.Scalar;
}

/** `log(1 + e^x)` without overflow. */
export function softplus(x: number): number {
  return x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x));
}

/** `1 / (1 + e^−x)`, the derivative of {@link softplus}, without overflow. */
export function sigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}
