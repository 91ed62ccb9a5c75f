import type { EvaluationReport } from './evaluate-split.js';

/** Sent once before the first step. */
export interface StartEvent {
  readonly type: 'start';
  readonly startEpoch: number;
  readonly epochs: number;
  readonly stepsPerEpoch: number;
  readonly batchSize: number;
  /** Classes per batch and examples per class. */
  readonly p: number;
  readonly k: number;
  /** Checkpoint resumed from, if any. */
  readonly resumedFrom?: string;
}

/** Sent after every optimisation step. */
export interface StepEvent {
  readonly type: 'step';
  readonly epoch: number;
  readonly step: number;
  readonly stepsPerEpoch: number;
  readonly loss: number;
  /** Active tuples (non-zero loss) as a fraction of every valid tuple of the batch. */
  readonly activeFraction: number;
  /** Tuples the loss was computed over (the miner's choice, or every valid tuple). */
  readonly tuples: number;
  readonly samplesPerSecond: number;
  readonly learningRate: number;
  /** Seconds the step waited for its batch (read ahead while the step before computed; 0 when it was ready). */
  readonly dataWaitSeconds: number;
}

/** Sent before the first step for each setting or split the user should know is risky or weak. */
export interface WarningEvent {
  readonly type: 'warning';
  readonly message: string;
}

/** Sent at the end of every epoch, with validation metrics when the epoch was evaluated. */
export interface EpochEvent {
  readonly type: 'epoch';
  readonly epoch: number;
  readonly meanLoss: number;
  readonly meanActiveFraction: number;
  readonly seconds: number;
  /** Seconds the epoch's steps waited for their batches, in all. */
  readonly dataWaitSeconds: number;
  readonly validation?: EvaluationReport;
  readonly checkpoint?: string;
}

/** Everything a training run reports while it runs. */
export type TrainingEvent = StartEvent | WarningEvent | StepEvent | EpochEvent;
