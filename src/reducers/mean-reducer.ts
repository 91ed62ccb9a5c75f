import type { LossStatistics, Reducer } from './reducer.js';

/** The mean over all tuples, zero or not; 0 when there are no tuples. */
export class MeanReducer implements Reducer {
  readonly name = 'mean';
  scale({ count }: LossStatistics): number {
    return count > 0 ? 1 / count : 0;
  }
}
