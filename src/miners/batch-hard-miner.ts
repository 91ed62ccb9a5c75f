import type { TripletIndices } from '../common/tuples.js';
import type { BaseDistance } from '../distances/base-distance.js';
import { activeNativeAddon } from '../engine/native-kernels.js';
import { BaseMiner, type MiningBatch } from './base-miner.js';

/** Options of {@link BatchHardMiner}. */
export interface BatchHardMinerOptions {
  /** Default: Euclidean distance on normalised embeddings. */
  distance?: BaseDistance;
}

/**
 * Batch-hard mining (Hermans et al., "In Defense of the Triplet Loss"): for each anchor, its
 * farthest positive and its closest negative, one triplet per anchor. Anchors without a positive
 * or a negative are left out. Ties go to the lowest index. One pass over each row: O(B·R), in
 * the native addon (on threads) when its kernels are active.
 */
export class BatchHardMiner extends BaseMiner<TripletIndices> {
  constructor({ distance }: BatchHardMinerOptions = {}) {
    super(distance);
  }

  protected select({ distances, rows, cols, labels, refLabels, sameSet }: MiningBatch): TripletIndices {
    const native = activeNativeAddon();
    if (native !== undefined) return native.batchHardMine(distances, labels, refLabels, sameSet);
    const anchors = new Int32Array(rows);
    const positives = new Int32Array(rows);
    const negatives = new Int32Array(rows);
    let count = 0;
    for (let a = 0; a < rows; a++) {
      const label = labels[a]!;
      const row = a * cols;
      const self = sameSet ? a : -1;
      let hardestPositive = -1;
      let positiveDistance = -Infinity;
      let hardestNegative = -1;
      let negativeDistance = Infinity;
      // One pass over the row: strict comparisons keep the lowest index among equals.
      for (let n = 0; n < cols; n++) {
        const d = distances[row + n]!;
        if (refLabels[n] === label) {
          if (d > positiveDistance && n !== self) {
            positiveDistance = d;
            hardestPositive = n;
          }
        } else if (d < negativeDistance) {
          negativeDistance = d;
          hardestNegative = n;
        }
      }
      if (hardestPositive < 0 || hardestNegative < 0) continue;
      anchors[count] = a;
      positives[count] = hardestPositive;
      negatives[count++] = hardestNegative;
    }
    return { anchors: anchors.slice(0, count), positives: positives.slice(0, count), negatives: negatives.slice(0, count) };
  }
}
