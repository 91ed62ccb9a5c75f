import { requireNumber } from '../common/errors.js';
import { IndexList } from '../common/index-list.js';
import type { PairIndices } from '../common/tuples.js';
import type { BaseDistance } from '../distances/base-distance.js';
import { BaseMiner, type MiningBatch } from './base-miner.js';

/** Options of {@link MultiSimilarityMiner}. */
export interface MultiSimilarityMinerOptions {
  /** Slack around the anchor's hardest pairs, in the distance's units. Default 0.1. */
  epsilon?: number;
  /** Default: Euclidean distance on normalised embeddings. */
  distance?: BaseDistance;
}

/**
 * Hard-pair mining relative to each anchor's own classes (Wang et al., "Multi-Similarity Loss",
 * 2019, as pytorch-metric-learning's `MultiSimilarityMiner`): a negative is kept when it is closer
 * than the anchor's farthest positive plus ε, a positive when it is farther than the anchor's
 * closest negative minus ε. Unlike a fixed margin, this drops the pairs that are already easy for
 * this anchor even when a loss would still count them (a positive not yet at distance 0, a
 * negative inside the contrastive margin but beyond every positive). Anchors without a positive
 * or a negative give no pair. O(B·R).
 */
export class MultiSimilarityMiner extends BaseMiner<PairIndices> {
  readonly epsilon: number;

  constructor({ epsilon = 0.1, distance }: MultiSimilarityMinerOptions = {}) {
    super(distance);
    this.epsilon = requireNumber('MultiSimilarityMiner epsilon', epsilon, { min: 0 });
  }

  protected select({ distances, rows, cols, labels, refLabels, sameSet }: MiningBatch): PairIndices {
    // Oriented values (similarities negated): "closer" is "smaller" for every distance.
    const a1 = new IndexList();
    const p = new IndexList();
    const a2 = new IndexList();
    const n = new IndexList();
    for (let a = 0; a < rows; a++) {
      const label = labels[a]!;
      const row = a * cols;
      let farthestPositive = -Infinity;
      let closestNegative = Infinity;
      for (let b = 0; b < cols; b++) {
        if (sameSet && b === a) continue;
        const d = distances[row + b]!;
        if (refLabels[b] === label) farthestPositive = Math.max(farthestPositive, d);
        else closestNegative = Math.min(closestNegative, d);
      }
      if (farthestPositive === -Infinity || closestNegative === Infinity) continue;
      for (let b = 0; b < cols; b++) {
        if (sameSet && b === a) continue;
        const d = distances[row + b]!;
        if (refLabels[b] === label) {
          if (d + this.epsilon > closestNegative) {
            a1.push(a);
            p.push(b);
          }
        } else if (d - this.epsilon < farthestPositive) {
          a2.push(a);
          n.push(b);
        }
      }
    }
    return { a1: a1.toArray(), p: p.toArray(), a2: a2.toArray(), n: n.toArray() };
  }
}
