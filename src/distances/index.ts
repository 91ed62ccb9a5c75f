export { BaseDistance, type BatchMatrix, type GramForm } from './base-distance.js';
export { PairCoefficients } from './pair-coefficients.js';
export { LpDistance, type LpDistanceOptions } from './lp-distance.js';
export { DotProductSimilarity, type DotProductSimilarityOptions } from './dot-product-similarity.js';
export { CosineSimilarity } from './cosine-similarity.js';
