export type { Reducer, LossStatistics } from './reducer.js';
export { MeanReducer } from './mean-reducer.js';
export { AvgNonZeroReducer } from './avg-non-zero-reducer.js';
export { SumReducer } from './sum-reducer.js';
