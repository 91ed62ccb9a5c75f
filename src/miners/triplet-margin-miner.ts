import { requireNumber, require } from '../common/errors.js';
import { LabelGroups } from '../common/label-groups.js';
import type { TripletIndices } from '../common/tuples.js';
import type { BaseDistance } from '../distances/base-distance.js';
import { BaseMiner, type MiningBatch } from './base-miner.js';

/** Which triplets {@link TripletMarginMiner} keeps, by `m = d(a,n) − d(a,p)`. */
export type TripletType = 'all' | 'hard' | 'semihard' | 'easy';

/** Options of {@link TripletMarginMiner}. */
export interface TripletMarginMinerOptions {
  /** The margin the triplets are judged against (default 0.2). */
  margin?: number;
  /**
   * `all`: m ≤ margin (every triplet with a non-zero hinge loss, batch-all);
   * `hard`: m ≤ 0 (the negative is closer than the positive); `semihard`: 0 < m ≤ margin;
   * `easy`: m > margin. Default `all`.
   */
  typeOfTriplets?: TripletType;
  /** Default: Euclidean distance on normalised embeddings. */
  distance?: BaseDistance;
}

const TYPES: readonly TripletType[] = ['all', 'hard', 'semihard', 'easy'];

/**
 * Batch-all mining with pytorch-metric-learning's filter semantics: every valid triplet of the
 * batch whose margin `d(a,n) − d(a,p)` falls in the chosen band.
 */
export class TripletMarginMiner extends BaseMiner<TripletIndices> {
  readonly margin: number;
  readonly typeOfTriplets: TripletType;

  constructor({ margin = 0.2, typeOfTriplets = 'all', distance }: TripletMarginMinerOptions = {}) {
    super(distance);
    this.margin = requireNumber('TripletMarginMiner margin', margin);
    require(TYPES.includes(typeOfTriplets), () => `typeOfTriplets must be one of ${TYPES.join(', ')}, got '${typeOfTriplets}'`);
    this.typeOfTriplets = typeOfTriplets;
  }

  protected select({ distances, cols, labels, refLabels, sameSet }: MiningBatch): TripletIndices {
    const [low, high] = marginBand(this.typeOfTriplets, this.margin);
    const groups = new LabelGroups(refLabels);
    // Batch-all can keep tens of millions of triplets: count on the first pass, fill exact-size
    // arrays on the second, rather than growing arrays and copying them (which doubles the peak).
    let anchors = new Int32Array(0);
    let positives = anchors;
    let negatives = anchors;
    for (const fill of [false, true]) {
      let count = 0;
      for (let a = 0; a < labels.length; a++) {
        const label = labels[a]!;
        const row = a * cols;
        for (const p of groups.of(label)) {
          if (sameSet && p === a) continue;
          const positiveDistance = distances[row + p]!;
          for (let n = 0; n < cols; n++) {
            if (refLabels[n] === label) continue;
            const m = distances[row + n]! - positiveDistance;
            if (m <= low || m > high) continue;
            if (fill) {
              anchors[count] = a;
              positives[count] = p;
              negatives[count] = n;
            }
            count++;
          }
        }
      }
      if (!fill) {
        anchors = new Int32Array(count);
        positives = new Int32Array(count);
        negatives = new Int32Array(count);
      }
    }
    return { anchors, positives, negatives };
  }
}

/** The band `low < m ≤ high` that each type keeps. */
function marginBand(type: TripletType, margin: number): [number, number] {
  switch (type) {
    case 'all':
      return [-Infinity, margin];
    case 'hard':
      return [-Infinity, Math.min(0, margin)];
    case 'semihard':
      return [0, margin];
    case 'easy':
      return [margin, Infinity];
  }
}
