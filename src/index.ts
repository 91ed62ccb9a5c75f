/**
 * tripletjs: deep metric learning with the triplet loss, on TensorFlow.js.
 *
 * The flow of one training step: embeddings → `distances` (pairwise matrix) → `miners` (index
 * tuples) → `losses` (per-tuple values) → `reducers` (one scalar) → gradients. `samplers` build
 * the P × K batches that make mining work. `data`, `models`, `training` and `evaluation` build a
 * full training run on real datasets; `gallery` stores embeddings and searches them; `study` runs the
 * sampling study (losses × sampling methods × seeds).
 *
 * @packageDocumentation
 */
export { tf, tfl } from './tf.js';
export * as engine from './engine/index.js';
export * as distances from './distances/index.js';
export * as losses from './losses/index.js';
export * as miners from './miners/index.js';
export * as reducers from './reducers/index.js';
export * as samplers from './samplers/index.js';
export * as data from './data/index.js';
export * as models from './models/index.js';
export * as training from './training/index.js';
export * as evaluation from './evaluation/index.js';
export * as gallery from './gallery/index.js';
export * as study from './study/index.js';
export { TripletjsInputError } from './common/errors.js';
export type { LabelsInput } from './common/batch.js';
export {
  type TripletIndices,
  type PairIndices,
  type Tuples,
  isTriplets,
  triplesToPairs,
  pairsToTriplets,
} from './common/tuples.js';
