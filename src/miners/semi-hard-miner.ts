import { requireNumber } from '../common/errors.js';
import { LabelGroups } from '../common/label-groups.js';
import type { TripletIndices } from '../common/tuples.js';
import type { BaseDistance } from '../distances/base-distance.js';
import { activeNativeAddon } from '../engine/native-kernels.js';
import { ThresholdTable } from '../common/sorted.js';
import { BaseMiner, type MiningBatch } from './base-miner.js';

/** Options of {@link SemiHardMiner}. */
export interface SemiHardMinerOptions {
  /**
   * When set, triplets whose negative is at least `margin` farther than the positive are dropped:
   * their hinge loss is zero. Unset (the default), every anchor–positive pair yields a triplet,
   * as in TensorFlow Addons.
   */
  margin?: number;
  /** Default: Euclidean distance on normalised embeddings. */
  distance?: BaseDistance;
}

/**
 * Semi-hard mining (Schroff et al., FaceNet; the TensorFlow Addons rule): for each anchor–positive
 * pair, the closest negative that is farther than the positive; if there is none, the farthest
 * negative. Ties go to the lowest index.
 *
 * Each anchor's positives are sorted by distance (they are few); one pass over its negatives then
 * places each among the positives (a branch-free search) and keeps the closest negative of each gap
 * between consecutive positives, and a suffix minimum over the gaps gives every positive its
 * negative: O(B·R log K) time for K positives per anchor and O(R) memory, where the usual tensor
 * formulation builds a B × B × B mask. The native addon, when its kernels are active, runs the
 * same steps on threads.
 */
export class SemiHardMiner extends BaseMiner<TripletIndices> {
  readonly margin: number | undefined;

  constructor({ margin, distance }: SemiHardMinerOptions = {}) {
    super(distance);
    this.margin = margin === undefined ? undefined : requireNumber('SemiHardMiner margin', margin);
  }

  protected select({ distances, rows, cols, labels, refLabels, sameSet }: MiningBatch): TripletIndices {
    const native = activeNativeAddon();
    if (native !== undefined) return native.semiHardMine(distances, labels, refLabels, sameSet, this.margin ?? Infinity);
    const groups = new LabelGroups(refLabels);
    const margin = this.margin ?? Infinity;
    let largestGroup = 0;
    let capacity = 0;
    for (let a = 0; a < rows; a++) {
      const size = groups.of(labels[a]!).length;
      largestGroup = Math.max(largestGroup, size);
      capacity += size;
    }
    const anchors = new Int32Array(capacity);
    const positives = new Int32Array(capacity);
    const negatives = new Int32Array(capacity);
    let selected = 0;
    const table = new ThresholdTable(largestGroup);
    const sortedDistances = table.keys;
    const sortedPositions = new Int32Array(largestGroup);
    const gapMinimum = new Float64Array(largestGroup + 1);
    const gapNegative = new Int32Array(largestGroup + 1);
    const chosen = new Int32Array(largestGroup);
    for (let a = 0; a < rows; a++) {
      const label = labels[a]!;
      const row = a * cols;
      const members = groups.of(label);
      // Positives sorted by distance; the payload is their position in `members`.
      let count = 0;
      for (let i = 0; i < members.length; i++) {
        if (sameSet && members[i] === a) continue;
        sortedDistances[count] = distances[row + members[i]!]!;
        sortedPositions[count++] = i;
      }
      if (count === 0) continue;
      table.sort(count, sortedPositions);
      // Gap k holds the negatives farther than exactly k positives; the farthest negative is the fallback.
      gapMinimum.fill(Infinity, 0, count + 1);
      gapNegative.fill(-1, 0, count + 1);
      let farthest = -1;
      let farthestDistance = -Infinity;
      for (let n = 0; n < cols; n++) {
        if (refLabels[n] === label) continue;
        const d = distances[row + n]!;
        const gap = table.countBelow(d);
        if (d < gapMinimum[gap]!) {
          gapMinimum[gap] = d;
          gapNegative[gap] = n;
        }
        if (d > farthestDistance) {
          farthestDistance = d;
          farthest = n;
        }
      }
      if (farthest < 0) continue;
      // Positive i (in sorted order) takes the closest negative of the gaps above it.
      let best = -1;
      let bestDistance = Infinity;
      for (let i = count - 1; i >= 0; i--) {
        if (gapMinimum[i + 1]! < bestDistance) {
          bestDistance = gapMinimum[i + 1]!;
          best = gapNegative[i + 1]!;
        }
        chosen[sortedPositions[i]!] = best >= 0 ? best : farthest;
      }
      for (let i = 0; i < members.length; i++) {
        const p = members[i]!;
        if (sameSet && p === a) continue;
        const negative = chosen[i]!;
        if (distances[row + negative]! - distances[row + p]! < margin) {
          anchors[selected] = a;
          positives[selected] = p;
          negatives[selected++] = negative;
        }
      }
    }
    return { anchors: anchors.slice(0, selected), positives: positives.slice(0, selected), negatives: negatives.slice(0, selected) };
  }
}
