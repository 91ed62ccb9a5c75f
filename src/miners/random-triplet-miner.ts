import { requireNumber } from '../common/errors.js';
import { TripletList } from '../common/index-list.js';
import { LabelGroups } from '../common/label-groups.js';
import { SeededRandom } from '../common/random.js';
import type { TripletIndices } from '../common/tuples.js';
import type { BaseDistance } from '../distances/base-distance.js';
import { BaseMiner, type MiningBatch } from './base-miner.js';

/** Options of {@link RandomTripletMiner}. */
export interface RandomTripletMinerOptions {
  /** Triplets drawn per anchor (default 1). */
  triplesPerAnchor?: number;
  /** Seed of the draws (default 0); the miner's draws continue from call to call. */
  seed?: number;
  /** Unused for selection; kept so that every miner takes the same options. */
  distance?: BaseDistance;
}

/**
 * Random sampling, the baseline the other miners are measured against: for each anchor that has
 * a positive and a negative, `triplesPerAnchor` triplets with a uniformly drawn positive and a
 * uniformly drawn negative, ignoring distances. Converted to pairs it is random pair sampling.
 */
export class RandomTripletMiner extends BaseMiner<TripletIndices> {
  readonly triplesPerAnchor: number;
  private readonly random: SeededRandom;

  constructor({ triplesPerAnchor = 1, seed = 0, distance }: RandomTripletMinerOptions = {}) {
    super(distance);
    this.triplesPerAnchor = requireNumber('RandomTripletMiner triplesPerAnchor', triplesPerAnchor, { integer: true, min: 1 });
    this.random = new SeededRandom(seed);
  }

  protected select({ rows, cols, labels, refLabels, sameSet }: MiningBatch): TripletIndices {
    const groups = new LabelGroups(refLabels);
    const out = new TripletList(rows * this.triplesPerAnchor);
    for (let a = 0; a < rows; a++) {
      const positives = groups.of(labels[a]!);
      // The anchor itself is among its positives when the reference set is the batch.
      const selfIncluded = sameSet ? 1 : 0;
      const positiveCount = positives.length - selfIncluded;
      const negativeCount = cols - positives.length;
      if (positiveCount <= 0 || negativeCount <= 0) continue;
      for (let t = 0; t < this.triplesPerAnchor; t++) {
        let p = positives[this.random.int(positiveCount)]!;
        if (sameSet && p === a) p = positives[positiveCount]!;
        out.push(a, p, nthNegative(refLabels, labels[a]!, this.random.int(negativeCount)));
      }
    }
    return out.toTriplets();
  }
}

/** The index of the k-th (0-based) reference example whose label is not `label`. */
function nthNegative(refLabels: Int32Array, label: number, k: number): number {
  for (let n = 0; n < refLabels.length; n++) if (refLabels[n] !== label && k-- === 0) return n;
  throw new Error('unreachable: fewer negatives than counted');
}
