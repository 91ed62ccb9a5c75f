import { require, requireNumber } from '../common/errors.js';
import { TripletList } from '../common/index-list.js';
import { LabelGroups } from '../common/label-groups.js';
import { SeededRandom } from '../common/random.js';
import type { TripletIndices } from '../common/tuples.js';
import { upperBound } from '../common/sorted.js';
import { LpDistance } from '../distances/lp-distance.js';
import { BaseMiner, type MiningBatch } from './base-miner.js';

/** Options of {@link DistanceWeightedMiner}. */
export interface DistanceWeightedMinerOptions {
  /** Distances below this are raised to it before weighting, so near-duplicates do not take all the weight (default 0.5). */
  cutoff?: number;
  /** Negatives at or beyond this distance get weight 0: they would give no loss (default 1.4). */
  nonzeroLossCutoff?: number;
  /** Seed of the sampling (default 0); the miner's draws continue from call to call. */
  seed?: number;
  /** Must be Euclidean on normalised embeddings, the geometry the weights are derived for (the default). */
  distance?: LpDistance;
}

/**
 * Distance-weighted sampling (Wu et al., "Sampling Matters in Deep Embedding Learning"): for
 * each anchor–positive pair, one negative drawn with probability proportional to `1/q(d)`, where
 * `q(d) ∝ d^(n−2) (1 − d²/4)^((n−3)/2)` is the density of distances between points spread
 * uniformly on the unit sphere in n dimensions. This draws negatives evenly across distances
 * instead of mostly from the far, useless bulk.
 *
 * Weights are computed in log space and normalised per anchor (each row's largest log-weight is
 * subtracted), so no row underflows to all zeros however large n is. An anchor with no negative
 * closer than `nonzeroLossCutoff` gets no triplet: every negative would give zero loss.
 */
export class DistanceWeightedMiner extends BaseMiner<TripletIndices> {
  readonly cutoff: number;
  readonly nonzeroLossCutoff: number;
  private readonly random: SeededRandom;

  constructor({ cutoff = 0.5, nonzeroLossCutoff = 1.4, seed = 0, distance }: DistanceWeightedMinerOptions = {}) {
    super(distance);
    const d = this.distance;
    require(
      d instanceof LpDistance && d.p === 2 && d.power === 1 && d.normalizeEmbeddings,
      'DistanceWeightedMiner needs the Euclidean distance on normalised embeddings (LpDistance with p 2, power 1, normalizeEmbeddings true): its weights assume points on the unit sphere',
    );
    this.cutoff = requireNumber('DistanceWeightedMiner cutoff', cutoff, { min: 0, max: 2 });
    this.nonzeroLossCutoff = requireNumber('DistanceWeightedMiner nonzeroLossCutoff', nonzeroLossCutoff, { min: 0, exclusiveMin: true });
    this.random = new SeededRandom(seed);
  }

  protected select({ distances, rows, cols, dims, labels, refLabels, sameSet }: MiningBatch): TripletIndices {
    const groups = new LabelGroups(refLabels);
    const out = new TripletList(rows * 4);
    const candidates = new Int32Array(cols);
    const logWeights = new Float64Array(cols);
    const cumulative = new Float64Array(cols);
    for (let a = 0; a < rows; a++) {
      const label = labels[a]!;
      const row = a * cols;
      let count = 0;
      let largest = -Infinity;
      for (let n = 0; n < cols; n++) {
        if (refLabels[n] === label) continue;
        const d = Math.max(distances[row + n]!, this.cutoff);
        if (d >= this.nonzeroLossCutoff) continue;
        const logWeight = inverseSphereLogDensity(d, dims);
        candidates[count] = n;
        logWeights[count++] = logWeight;
        if (logWeight > largest) largest = logWeight;
      }
      if (count === 0) continue;
      let total = 0;
      for (let i = 0; i < count; i++) cumulative[i] = total += Math.exp(logWeights[i]! - largest);
      for (const p of groups.of(label)) {
        if (sameSet && p === a) continue;
        // The first candidate whose cumulative weight exceeds the draw.
        out.push(a, p, candidates[Math.min(upperBound(cumulative, this.random.float() * total, count), count - 1)]!);
      }
    }
    return out.toTriplets();
  }
}

/** `−log q(d)` up to a constant, for n-dimensional unit-sphere distances (d clamped inside (0, 2)). */
function inverseSphereLogDensity(d: number, dims: number): number {
  const inner = Math.max(1 - 0.25 * d * d, 1e-8);
  return (2 - dims) * Math.log(d) - ((dims - 3) / 2) * Math.log(inner);
}
