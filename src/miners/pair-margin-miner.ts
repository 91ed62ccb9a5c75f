import { requireNumber } from '../common/errors.js';
import { IndexList } from '../common/index-list.js';
import { forEachPair } from '../common/label-groups.js';
import type { PairIndices } from '../common/tuples.js';
import type { BaseDistance } from '../distances/base-distance.js';
import { BaseMiner, type MiningBatch } from './base-miner.js';

/** Options of {@link PairMarginMiner}. */
export interface PairMarginMinerOptions {
  /** Positive pairs farther than this are kept (for similarities: less similar). Default 0.2. */
  posMargin?: number;
  /** Negative pairs closer than this are kept (for similarities: more similar). Default 0.8. */
  negMargin?: number;
  /** Default: Euclidean distance on normalised embeddings. */
  distance?: BaseDistance;
}

/**
 * Hard-pair mining, the contrastive loss's counterpart of triplet mining: the positive pairs that
 * are still too far apart and the negative pairs that are still too close (all ordered pairs of
 * the batch are considered, as pytorch-metric-learning does).
 */
export class PairMarginMiner extends BaseMiner<PairIndices> {
  readonly posMargin: number;
  readonly negMargin: number;

  constructor({ posMargin = 0.2, negMargin = 0.8, distance }: PairMarginMinerOptions = {}) {
    super(distance);
    this.posMargin = requireNumber('PairMarginMiner posMargin', posMargin);
    this.negMargin = requireNumber('PairMarginMiner negMargin', negMargin);
  }

  protected select({ distances, cols, labels, refLabels, sameSet }: MiningBatch): PairIndices {
    // Oriented values are negated similarities: the thresholds flip with them.
    const sign = this.distance.isInverted ? -1 : 1;
    const posThreshold = sign * this.posMargin;
    const negThreshold = sign * this.negMargin;
    const a1 = new IndexList();
    const p = new IndexList();
    const a2 = new IndexList();
    const n = new IndexList();
    forEachPair(labels, refLabels, sameSet, (a, b, sameLabel) => {
      const d = distances[a * cols + b]!;
      if (sameLabel && d > posThreshold) {
        a1.push(a);
        p.push(b);
      } else if (!sameLabel && d < negThreshold) {
        a2.push(a);
        n.push(b);
      }
    });
    return { a1: a1.toArray(), p: p.toArray(), a2: a2.toArray(), n: n.toArray() };
  }
}
