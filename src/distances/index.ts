export { BaseDistance } from './base-distance.js';
export { LpDistance, type LpDistanceOptions } from './lp-distance.js';
export { DotProductSimilarity, type DotProductSimilarityOptions } from './dot-product-similarity.js';
export { CosineSimilarity } from './cosine-similarity.js';
