import type { LossStatistics, Reducer } from './reducer.js';

/** The plain sum of the per-tuple values. */
export class SumReducer implements Reducer {
  readonly name = 'sum';
  scale(_statistics: LossStatistics): number {
    return 1;
  }
}
