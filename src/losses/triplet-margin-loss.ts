import { requireNumber } from '../common/errors.js';
import { forEachAnchorPositive } from '../common/label-groups.js';
import { isTriplets, pairsToTriplets, type Tuples } from '../common/tuples.js';
import type { BaseDistance } from '../distances/base-distance.js';
import { LpDistance } from '../distances/lp-distance.js';
import { AvgNonZeroReducer } from '../reducers/avg-non-zero-reducer.js';
import type { Reducer } from '../reducers/reducer.js';
import { BaseMetricLoss, PartAccumulator, sigmoid, softplus, type LossPart } from './base-metric-loss.js';

/** Options of {@link TripletMarginLoss}. */
export interface TripletMarginLossOptions {
  /** The margin by which negatives must be farther than positives (default 0.05). */
  margin?: number;
  /** Use `min(d(a,n), d(p,n))` as the negative distance (Balntas et al.'s distance swap). Default false. */
  swap?: boolean;
  /**
   * Soft-margin form `log(1 + exp(d(a,p) − d(a,n) + margin))` instead of the hinge. With
   * `margin: 0` it is Hermans et al.'s soft margin. Default false.
   */
  smoothLoss?: boolean;
  /** Default: Euclidean distance on normalised embeddings. */
  distance?: BaseDistance;
  /** Default: {@link AvgNonZeroReducer}. */
  reducer?: Reducer;
}

/**
 * The triplet loss `max(0, d(a,p) − d(a,n) + margin)` (FaceNet), or its soft-margin form.
 * For similarities the roles flip: `max(0, s(a,n) − s(a,p) + margin)`.
 *
 * Without tuples it covers every valid triplet of the batch (batch-all); pair tuples are joined
 * into triplets that share an anchor.
 */
export class TripletMarginLoss extends BaseMetricLoss {
  readonly tupleKind = 'triplet' as const;
  readonly margin: number;
  readonly swap: boolean;
  readonly smoothLoss: boolean;

  constructor({ margin = 0.05, swap = false, smoothLoss = false, distance, reducer }: TripletMarginLossOptions = {}) {
    super(distance ?? new LpDistance(), reducer ?? new AvgNonZeroReducer());
    this.margin = requireNumber('TripletMarginLoss margin', margin);
    this.swap = swap;
    this.smoothLoss = smoothLoss;
  }

  protected parts(distances: Float32Array, labels: Int32Array, tuples: Tuples | undefined): LossPart[] {
    const size = labels.length;
    const part = new PartAccumulator(size * size);
    const gradient = part.gradient;
    const { margin, swap, smoothLoss } = this;
    const visit = (a: number, p: number, n: number): void => {
      const ap = a * size + p;
      let an = a * size + n;
      if (swap) {
        const pn = p * size + n;
        if (distances[pn]! < distances[an]!) an = pn;
      }
      const violation = distances[ap]! - distances[an]! + margin;
      let value: number;
      let slope: number;
      if (smoothLoss) {
        value = softplus(violation);
        slope = sigmoid(violation);
      } else {
        value = violation > 0 ? violation : 0;
        slope = violation > 0 ? 1 : 0;
      }
      part.add(value);
      if (slope !== 0) {
        gradient[ap]! += slope;
        gradient[an]! -= slope;
      }
    };
    if (tuples === undefined) {
      forEachAnchorPositive(labels, labels, true, (a, p) => {
        const label = labels[a]!;
        for (let n = 0; n < size; n++) if (labels[n] !== label) visit(a, p, n);
      });
    } else {
      const triplets = isTriplets(tuples) ? tuples : pairsToTriplets(tuples);
      for (let i = 0; i < triplets.anchors.length; i++) visit(triplets.anchors[i]!, triplets.positives[i]!, triplets.negatives[i]!);
    }
    return [part];
  }
}
