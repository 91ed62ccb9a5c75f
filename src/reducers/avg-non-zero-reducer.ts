import type { LossStatistics, Reducer } from './reducer.js';

/**
 * The mean over the tuples whose loss is above zero; 0 when none is. pytorch-metric-learning's
 * default for triplet and contrastive losses: as training progresses most triplets satisfy the
 * margin, and a plain mean would shrink the gradient with them (Hermans et al. make the same
 * point for batch-all).
 */
export class AvgNonZeroReducer implements Reducer {
  readonly name = 'avg-non-zero';
  scale({ nonzeroCount }: LossStatistics): number {
    return nonzeroCount > 0 ? 1 / nonzeroCount : 0;
  }
}
