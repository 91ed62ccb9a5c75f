import { requireNumber } from '../common/errors.js';
import { forEachAnchorPositive, LabelGroups } from '../common/label-groups.js';
import { ThresholdTable } from '../common/sorted.js';
import { isTriplets, pairsToTriplets, type Tuples } from '../common/tuples.js';
import type { BaseDistance } from '../distances/base-distance.js';
import { activeNativeAddon } from '../engine/native-kernels.js';
import { LpDistance } from '../distances/lp-distance.js';
import { AvgNonZeroReducer } from '../reducers/avg-non-zero-reducer.js';
import type { Reducer } from '../reducers/reducer.js';
import { BaseMetricLoss, PartAccumulator, sigmoid, softplus, type LossMatrix, type LossPart } from './base-metric-loss.js';

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

  protected parts(matrix: LossMatrix, labels: Int32Array, tuples: Tuples | undefined): LossPart[] {
    const distances = matrix.values;
    const size = labels.length;
    const triplets = tuples === undefined ? undefined : isTriplets(tuples) ? tuples : pairsToTriplets(tuples);
    const part = new PartAccumulator(matrix, triplets === undefined ? size * size : 2 * triplets.anchors.length);
    if (triplets === undefined && !this.swap && !this.smoothLoss) {
      allTripletsHinge(distances, labels, this.margin, part);
      return [part];
    }
    const coefficients = part.coefficients;
    const { margin, swap, smoothLoss } = this;
    const native = activeNativeAddon();
    if (native !== undefined && triplets !== undefined) {
      // The same loop in the addon: JavaScript run once per step is deoptimised by each collection.
      const count = triplets.anchors.length;
      const dense = coefficients.dense ?? null;
      const indices = dense === null ? new Int32Array(2 * count) : null;
      const slopes = dense === null ? new Float64Array(2 * count) : null;
      const totals = new Float64Array(3);
      const entries = native.tripletMarginTerms(distances, size, triplets.anchors, triplets.positives, triplets.negatives, margin, swap, smoothLoss, dense, indices, slopes, totals);
      part.addMany(totals[0]!, totals[1]!, totals[2]!);
      if (indices !== null && slopes !== null) coefficients.addAll(indices.subarray(0, entries), slopes.subarray(0, entries));
      return [part];
    }
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
        coefficients.add(ap, slope);
        coefficients.add(an, -slope);
      }
    };
    if (triplets === undefined) {
      forEachAnchorPositive(labels, labels, true, (a, p) => {
        const label = labels[a]!;
        for (let n = 0; n < size; n++) if (labels[n] !== label) visit(a, p, n);
      });
    } else {
      for (let i = 0; i < triplets.anchors.length; i++) visit(triplets.anchors[i]!, triplets.positives[i]!, triplets.negatives[i]!);
    }
    return [part];
  }
}

/**
 * The hinge loss over every valid triplet in O(B² log K) rather than O(B²·K): for each anchor,
 * the thresholds `d(a,p) + margin` of its K positives are sorted, and one pass over its negatives
 * places each among them. A negative at distance v is active with exactly the positives whose
 * threshold exceeds v: its coefficient is minus their number c, and it takes `−c·v` off the sum;
 * a positive's coefficient is the number of negatives active with it, and its threshold adds
 * that many times to the sum. Each matrix entry is set once. With dense coefficients and the
 * native kernels active, the addon runs the same steps on threads.
 */
function allTripletsHinge(distances: Float32Array, labels: Int32Array, margin: number, part: PartAccumulator): void {
  const coefficients = part.coefficients;
  const native = activeNativeAddon();
  if (native !== undefined && coefficients.dense !== undefined) {
    const totals = new Float64Array(3);
    native.allTripletsHinge(distances, labels, margin, coefficients.dense, totals);
    part.addMany(totals[0]!, totals[1]!, totals[2]!);
    return;
  }
  const size = labels.length;
  const groups = new LabelGroups(labels);
  let largestGroup = 0;
  for (let a = 0; a < size; a++) largestGroup = Math.max(largestGroup, groups.of(labels[a]!).length);
  // Keys are negated thresholds, so that countBelow(−v) is the number of thresholds above v.
  const table = new ThresholdTable(largestGroup);
  const keys = table.keys;
  const positives = new Int32Array(largestGroup);
  // placed[c]: negatives active with exactly the first c positives (in sorted order).
  const placed = new Int32Array(largestGroup + 1);
  for (let a = 0; a < size; a++) {
    const label = labels[a]!;
    const row = a * size;
    const members = groups.of(label);
    const negatives = size - members.length;
    let count = 0;
    for (let i = 0; i < members.length; i++) {
      const p = members[i]!;
      if (p === a) continue;
      keys[count] = -(distances[row + p]! + margin);
      positives[count++] = p;
    }
    if (count === 0 || negatives === 0) continue;
    table.sort(count, positives);
    placed.fill(0, 0, count + 1);
    let sum = 0;
    let nonzero = 0;
    for (let n = 0; n < size; n++) {
      if (labels[n] === label) continue;
      const v = distances[row + n]!;
      const active = table.countBelow(-v);
      placed[active]!++;
      sum -= active * v;
      nonzero += active;
      coefficients.set(row + n, -active);
    }
    // Positive i is active with the negatives placed at i + 1 or above.
    let active = 0;
    for (let i = count - 1; i >= 0; i--) {
      active += placed[i + 1]!;
      sum -= active * keys[i]!;
      coefficients.set(row + positives[i]!, active);
    }
    part.addMany(sum, count * negatives, nonzero);
  }
}
