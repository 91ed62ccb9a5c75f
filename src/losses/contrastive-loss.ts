import { requireNumber } from '../common/errors.js';
import { forEachPair } from '../common/label-groups.js';
import { isTriplets, triplesToPairs, type Tuples } from '../common/tuples.js';
import type { BaseDistance } from '../distances/base-distance.js';
import { LpDistance } from '../distances/lp-distance.js';
import { releaseMatrix, takeMatrix } from '../distances/matrix-pool.js';
import { AvgNonZeroReducer } from '../reducers/avg-non-zero-reducer.js';
import type { Reducer } from '../reducers/reducer.js';
import { BaseMetricLoss, PartAccumulator, type LossMatrix, type LossPart } from './base-metric-loss.js';

/** Options of {@link ContrastiveLoss}. */
export interface ContrastiveLossOptions {
  /** Positive pairs farther than this are penalised (default 0). */
  posMargin?: number;
  /** Negative pairs closer than this are penalised (default 1). */
  negMargin?: number;
  /** Default: Euclidean distance on normalised embeddings. */
  distance?: BaseDistance;
  /** Applied to the positive and the negative part separately (default {@link AvgNonZeroReducer}). */
  reducer?: Reducer;
}

/**
 * The contrastive loss (Hadsell, Chopra and LeCun), in pytorch-metric-learning's form:
 * `max(0, d(a,p) − posMargin)` over positive pairs plus `max(0, negMargin − d(a,n))` over
 * negative pairs, each part reduced on its own. For similarities the inequalities flip.
 *
 * Without tuples it covers every ordered pair of the batch; triplet tuples are split into their
 * anchor–positive and anchor–negative pairs. A pair given several times (shared by several
 * triplets) counts once per time in the loss, as in PML, and once among the active tuples.
 */
export class ContrastiveLoss extends BaseMetricLoss {
  readonly tupleKind = 'pair' as const;
  readonly posMargin: number;
  readonly negMargin: number;

  constructor({ posMargin = 0, negMargin = 1, distance, reducer }: ContrastiveLossOptions = {}) {
    super(distance ?? new LpDistance(), reducer ?? new AvgNonZeroReducer());
    this.posMargin = requireNumber('ContrastiveLoss posMargin', posMargin);
    this.negMargin = requireNumber('ContrastiveLoss negMargin', negMargin);
  }

  protected parts(matrix: LossMatrix, labels: Int32Array, tuples: Tuples | undefined): LossPart[] {
    const distances = matrix.values;
    const size = labels.length;
    const pairs = tuples === undefined ? undefined : isTriplets(tuples) ? triplesToPairs(tuples) : tuples;
    const positive = new PartAccumulator(matrix, pairs === undefined ? size * size : pairs.a1.length);
    const negative = new PartAccumulator(matrix, pairs === undefined ? size * size : pairs.a2.length);
    // Oriented values are negated similarities: the margins flip with them.
    const sign = this.distance.isInverted ? -1 : 1;
    const posThreshold = sign * this.posMargin;
    const negThreshold = sign * this.negMargin;
    const visit = (a: number, b: number, sameLabel: boolean, times = 1): void => {
      const index = a * size + b;
      if (sameLabel) {
        const excess = distances[index]! - posThreshold;
        positive.add(excess > 0 ? excess : 0, times);
        if (excess > 0) positive.coefficients.add(index, times);
      } else {
        const shortfall = negThreshold - distances[index]!;
        negative.add(shortfall > 0 ? shortfall : 0, times);
        if (shortfall > 0) negative.coefficients.add(index, -times);
      }
    };
    if (pairs === undefined) {
      forEachPair(labels, labels, true, visit);
    } else {
      // Pairs counted per matrix entry, so that a pair given several times (triplets sharing an
      // anchor–positive pair) is one active tuple. Positive and negative entries never coincide
      // (checked labels), so one count array holds both: a pooled B × B array (exact counts below
      // 2^24), so that a step does not fault in fresh pages.
      const times = takeMatrix(size * size, true);
      for (let i = 0; i < pairs.a1.length; i++) times[pairs.a1[i]! * size + pairs.p[i]!]!++;
      for (let j = 0; j < pairs.a2.length; j++) times[pairs.a2[j]! * size + pairs.n[j]!]!++;
      for (let index = 0; index < times.length; index++) {
        const repeats = times[index]!;
        if (repeats === 0) continue;
        const a = Math.floor(index / size);
        const b = index - a * size;
        visit(a, b, labels[a] === labels[b], repeats);
      }
      releaseMatrix(times);
    }
    return [positive, negative];
  }
}
