import { tf } from '../tf.js';
import { checkEmbeddings, readLabels, type LabelsInput } from '../common/batch.js';
import { checkTuples, type Tuples } from '../common/tuples.js';
import { countValidTuples, type TupleKind } from '../common/label-groups.js';
import type { BaseDistance, BatchMatrix } from '../distances/base-distance.js';
import { PairCoefficients } from '../distances/pair-coefficients.js';
import { BaseMiner } from '../miners/base-miner.js';
import type { LossStatistics, Reducer } from '../reducers/reducer.js';

/**
 * One reduced component of a loss (the contrastive loss has a positive and a negative part):
 * its statistics, and the derivative of its sum with respect to the oriented distance matrix.
 */
export interface LossPart extends LossStatistics {
  /** ∂(sum of this part's per-tuple values)/∂(oriented distance), sparse or dense. */
  readonly coefficients: PairCoefficients;
  /**
   * Distinct tuples with a non-zero value: `nonzeroCount` counts a tuple given several times
   * (pairs split from triplets repeat) once per time, as the reducer must.
   */
  readonly distinctNonzeroCount: number;
}

/** A loss value with what a training loop reports about it. */
export interface LossOutput {
  /** The reduced loss, differentiable with respect to the embeddings. */
  readonly loss: tf.Scalar;
  /** Tuples (triplets or pairs) the loss was computed over. */
  readonly tupleCount: number;
  /** Distinct tuples with a non-zero loss (active triplets or pairs). */
  readonly activeCount: number;
  /**
   * Every valid tuple of the loss's kind in the batch (triplets, or positive and negative pairs):
   * `activeCount / validCount` is the fraction of active tuples of Hermans et al., informative
   * even when a miner already kept only the violating ones.
   */
  readonly validCount: number;
}

/** The read-back oriented matrix a loss's {@link BaseMetricLoss.parts} works on. */
export type LossMatrix = Pick<BatchMatrix, 'values' | 'rows' | 'dims'>;

/** A part being summed up by a loss. */
export class PartAccumulator implements LossPart {
  sum = 0;
  count = 0;
  nonzeroCount = 0;
  distinctNonzeroCount = 0;
  readonly coefficients: PairCoefficients;

  /** A part over `matrix` that will touch about `expectedEntries` matrix entries. */
  constructor(matrix: LossMatrix, expectedEntries: number) {
    this.coefficients = PairCoefficients.forEntries(matrix.rows, matrix.rows, matrix.dims, expectedEntries);
  }

  /** Adds one tuple's value, for a tuple given `times` times (default once). */
  add(value: number, times = 1): void {
    this.sum += value * times;
    this.count += times;
    if (value > 0) {
      this.nonzeroCount += times;
      this.distinctNonzeroCount++;
    }
  }

  /** Adds `count` distinct tuples whose values sum to `sum`, `nonzero` of them above zero. */
  addMany(sum: number, count: number, nonzero: number): void {
    this.sum += sum;
    this.count += count;
    this.nonzeroCount += nonzero;
    this.distinctNonzeroCount += nonzero;
  }
}

/**
 * The shared machinery of tuple losses.
 *
 * The distance matrix is made once per call ({@link BaseDistance.readBatch}: one product on the
 * engine) and read back; a miner given to {@link BaseMetricLoss.computeDetailed} selects on the
 * same matrix. The per-tuple values and their exact derivatives with respect to the matrix
 * entries they read are summed over typed arrays by the subclass ({@link BaseMetricLoss.parts}),
 * as a sparse list when the tuples are few and a dense B × B array when they are many. The
 * distance turns those coefficients into the gradient with respect to the embeddings (in closed
 * form for Euclidean and dot-product distances: per entry, or one B × B × D product). Memory stays
 * O(B²) however many triplets there are (batch-all at B = 2048 has tens of millions), where a
 * tensor formulation keeps several O(tuples) or O(B³) intermediates alive for the backward pass.
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
   * The loss of `embeddings` (B × D) with `labels`, over the given tuples, or over the tuples a
   * given miner selects (on the same distance matrix when the miner's distance is the loss's),
   * or over every valid tuple of the batch when neither is given. A differentiable scalar; 0
   * when there is no valid tuple.
   */
  compute(embeddings: tf.Tensor2D, labels: LabelsInput, tuples?: Tuples | BaseMiner<Tuples>): tf.Scalar {
    return this.computeDetailed(embeddings, labels, tuples).loss;
  }

  /** {@link compute}, with the number of tuples and of active (non-zero) tuples. */
  computeDetailed(embeddings: tf.Tensor2D, labels: LabelsInput, tuples?: Tuples | BaseMiner<Tuples>): LossOutput {
    const rows = checkEmbeddings(embeddings);
    const batchLabels = readLabels(labels, rows);
    const miner = tuples instanceof BaseMiner ? tuples : undefined;
    const given = miner === undefined ? (tuples as Tuples | undefined) : undefined;
    if (given !== undefined) checkTuples(given, batchLabels);
    let tupleCount = 0;
    let activeCount = 0;
    const loss = tf.tidy(() => {
      const matrix = this.distance.readBatch(embeddings);
      let selected = given;
      if (miner !== undefined) {
        selected = miner.distance.sameAs(this.distance) ? miner.mineBatch(matrix, batchLabels) : miner.mine(embeddings, batchLabels);
      }
      const parts = this.parts(matrix, batchLabels, selected);
      let value = 0;
      const terms: Array<[PairCoefficients, number]> = [];
      for (const part of parts) {
        const scale = this.reducer.scale(part);
        value += scale * part.sum;
        tupleCount += part.count;
        activeCount += part.distinctNonzeroCount;
        terms.push([part.coefficients, scale]);
      }
      return matrix.scalar(value, PairCoefficients.combine(terms));
    });
    return { loss, tupleCount, activeCount, validCount: countValidTuples(batchLabels, this.tupleKind) };
  }

  /**
   * Sums the per-tuple values over `tuples` (or every valid tuple) of the oriented matrix
   * (row-major B × B, smaller = closer), one {@link LossPart} per separately reduced component.
   */
  protected abstract parts(matrix: LossMatrix, labels: Int32Array, tuples: Tuples | undefined): LossPart[];
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
