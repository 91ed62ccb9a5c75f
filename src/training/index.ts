export { train, TrainingDivergedError, type TrainOptions, type TrainResult } from './trainer.js';
export { evaluateModel, evaluateRawPixels, evaluateRawPixelFloor, type EvaluateSplitOptions, type EvaluationReport } from './evaluate-split.js';
export { makeLoss, makeMiner, LOSS_NAMES, MINER_NAMES, DEFAULT_MARGINS, type LossName, type MinerName } from './components.js';
export { learningRateAt, SCHEDULES, type ScheduleName } from './learning-rate.js';
export { readLatestCheckpoint, writeCheckpoint, type Checkpoint, type TrainingState } from './checkpoints.js';
export type { TrainingEvent, StartEvent, WarningEvent, StepEvent, EpochEvent } from './events.js';
export { FusedAdam } from './fused-adam.js';
export { savedSplitOf, checkTestIsUnseen, type SavedSplit } from './saved-split.js';
