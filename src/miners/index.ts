export { BaseMiner, type MiningBatch } from './base-miner.js';
export { TripletMarginMiner, type TripletMarginMinerOptions, type TripletType } from './triplet-margin-miner.js';
export { BatchHardMiner, type BatchHardMinerOptions } from './batch-hard-miner.js';
export { SemiHardMiner, type SemiHardMinerOptions } from './semi-hard-miner.js';
export { DistanceWeightedMiner, type DistanceWeightedMinerOptions } from './distance-weighted-miner.js';
export { RandomTripletMiner, type RandomTripletMinerOptions } from './random-triplet-miner.js';
export { PairMarginMiner, type PairMarginMinerOptions } from './pair-margin-miner.js';
export { MultiSimilarityMiner, type MultiSimilarityMinerOptions } from './multi-similarity-miner.js';
