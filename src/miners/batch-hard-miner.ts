import { TripletList } from '../common/index-list.js';
import { LabelGroups } from '../common/label-groups.js';
import type { TripletIndices } from '../common/tuples.js';
import type { BaseDistance } from '../distances/base-distance.js';
import { BaseMiner, type MiningBatch } from './base-miner.js';

/** Options of {@link BatchHardMiner}. */
export interface BatchHardMinerOptions {
  /** Default: Euclidean distance on normalised embeddings. */
  distance?: BaseDistance;
}

/**
 * Batch-hard mining (Hermans et al., "In Defense of the Triplet Loss"): for each anchor, its
 * farthest positive and its closest negative, one triplet per anchor. Anchors without a positive
 * or a negative are left out. Ties go to the lowest index. O(B·R).
 */
export class BatchHardMiner extends BaseMiner<TripletIndices> {
  constructor({ distance }: BatchHardMinerOptions = {}) {
    super(distance);
  }

  protected select({ distances, rows, cols, labels, refLabels, sameSet }: MiningBatch): TripletIndices {
    const groups = new LabelGroups(refLabels);
    const out = new TripletList(rows);
    for (let a = 0; a < rows; a++) {
      const label = labels[a]!;
      const row = a * cols;
      let hardestPositive = -1;
      let positiveDistance = -Infinity;
      for (const p of groups.of(label)) {
        if (sameSet && p === a) continue;
        if (distances[row + p]! > positiveDistance) {
          positiveDistance = distances[row + p]!;
          hardestPositive = p;
        }
      }
      if (hardestPositive < 0) continue;
      let hardestNegative = -1;
      let negativeDistance = Infinity;
      for (let n = 0; n < cols; n++) {
        if (refLabels[n] !== label && distances[row + n]! < negativeDistance) {
          negativeDistance = distances[row + n]!;
          hardestNegative = n;
        }
      }
      if (hardestNegative >= 0) out.push(a, hardestPositive, hardestNegative);
    }
    return out.toTriplets();
  }
}
