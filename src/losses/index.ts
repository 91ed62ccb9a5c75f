export { BaseMetricLoss, type LossMatrix, type LossOutput, type LossPart } from './base-metric-loss.js';
export { TripletMarginLoss, type TripletMarginLossOptions } from './triplet-margin-loss.js';
export { ContrastiveLoss, type ContrastiveLossOptions } from './contrastive-loss.js';
