import type { EvaluationReport } from './evaluate-split.js';

/** Sent once before the first step. */
export interface StartEvent {
  readonly type: 'start';
  readonly startEpoch: number;
  readonly epochs: number;
  readonly stepsPerEpoch: number;
  readonly batchSize: number;
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
  /** Fraction of the mined (or all) tuples with a non-zero loss. */
  readonly activeFraction: number;
  readonly tuples: number;
  readonly samplesPerSecond: number;
  readonly learningRate: number;
}

/** Sent at the end of every epoch, with held-out metrics when the epoch was evaluated. */
export interface EpochEvent {
  readonly type: 'epoch';
  readonly epoch: number;
  readonly meanLoss: number;
  readonly meanActiveFraction: number;
  readonly seconds: number;
  readonly evaluation?: EvaluationReport;
  readonly checkpoint?: string;
}

/** Everything a training run reports while it runs. */
export type TrainingEvent = StartEvent | StepEvent | EpochEvent;
