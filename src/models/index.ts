export {
  createModel,
  customEmbeddingNetwork,
  embeddingDimension,
  memberDimensions,
  modelInputFormat,
  type ModelConfig,
  type MlpConfig,
  type CnnConfig,
  type EnsembleConfig,
  type CustomConfig,
  type EnsembleMember,
  type Preprocessing,
} from './model-config.js';
export { backboneNetwork, trainingStages, FROZEN_STAGE, TRAINED_STAGE, type BackboneConfig, type InputRange } from './backbone.js';
export { loadBackbone } from './backbone-file.js';
export { exportPretrained, PRETRAINED_TRUNKS, type PretrainedTrunk } from './pretrained.js';
export { L2Normalize } from './l2-normalize-layer.js';
export { GraphTrunk, PretrainedGraph, type GraphTrunkArgs } from './graph-trunk-layer.js';
export { saveModel, loadModel, checkModelDirectory, MODEL_FILES, type ModelMetadata, type LoadedModel } from './model-files.js';
export { modelFingerprint, type DatasetRecord, type VerificationRecord } from './model-format.js';
export { embed } from './embed.js';
export { embedFiles } from './embed-files.js';
