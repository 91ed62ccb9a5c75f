import type { ClassSpread } from './spread.js';
import type { StudyBudget } from './budget.js';
import type { SamplingName } from './grid.js';
import type { EvaluationReport } from '../training/evaluate-split.js';
import type { LossName, MinerName } from '../training/components.js';

/**
 * Version of the procedure a run follows (training, evaluation, spread, collapse rule). A stored
 * run is reused only when its configuration, this version included, matches.
 */
export const RUN_PROTOCOL = 2;

/** One training run of the grid: a cell on a dataset with one seed, under the dataset's budget. */
export interface TrainRunConfig {
  readonly kind: 'train';
  readonly protocol: number;
  /** The TensorFlow.js backend and kernels, as `initBackend` announces them (results depend on them). */
  readonly engine: string;
  readonly dataset: string;
  readonly loss: LossName;
  readonly sampling: SamplingName;
  readonly miner: MinerName;
  readonly seed: number;
  readonly budget: StudyBudget;
}

/** The raw-pixel floor of a dataset: the same evaluation on pixels / 255. */
export interface RawRunConfig {
  readonly kind: 'raw';
  readonly protocol: number;
  readonly engine: string;
  readonly dataset: string;
}

export type RunConfig = TrainRunConfig | RawRunConfig;

/**
 * - `ok`: trained and evaluated;
 * - `collapsed`: trained, but the held-out embeddings collapsed towards a point (see `collapse.ts`);
 *   its metrics are kept, and counted in the means;
 * - `diverged`: training stopped on a non-finite loss or embedding; no metrics.
 */
export type RunStatus = 'ok' | 'collapsed' | 'diverged';

/** What one run produced: the file written per run and the rows of `runs.json`. */
export interface RunRecord {
  readonly config: RunConfig;
  readonly status: RunStatus;
  /** The dataset split, as the dataset describes it. */
  readonly split: string;
  /** Held-out metrics (absent when diverged). */
  readonly evaluation?: EvaluationReport;
  /** Class spread of the held-out query embeddings (absent when diverged). */
  readonly spread?: ClassSpread;
  /** Mean training loss of the last epoch. */
  readonly finalLoss?: number;
  /** Training examples the budget shows the model: epochs × steps per epoch × batch size. */
  readonly examplesSeen?: number;
  /** Wall time of the run in its process: training, evaluation and spread. */
  readonly seconds: number;
  /** Why training stopped, for a diverged run. */
  readonly message?: string;
}

/** A short label of a run for progress lines: `orl-faces triplet/semi-hard seed 2` or `orl-faces raw pixels`. */
export function runLabel(config: RunConfig): string {
  return config.kind === 'raw' ? `${config.dataset} raw pixels` : `${config.dataset} ${config.loss}/${config.sampling} seed ${config.seed}`;
}
