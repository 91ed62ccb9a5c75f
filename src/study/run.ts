import type { ClassSpread } from './spread.js';
import type { StudyBudget } from './budget.js';
import type { SamplingName } from './grid.js';
import type { EvaluationReport } from '../training/evaluate-split.js';
import type { LossName, MinerName } from '../training/components.js';

/**
 * Version of the procedure a run follows (training, evaluation, spread, collapse rule). A stored
 * run is reused only when its configuration, this version included, matches.
 */
export const RUN_PROTOCOL = 3;

/** The seed of the runs that choose each cell's learning rate: not one of the seeds reported. */
export const SELECTION_SEED = 100;

/**
 * One training run of the grid: a cell on a dataset with one seed and learning rate, under the
 * dataset's budget. A `select` run tries a rate of the grid and is evaluated on validation only;
 * a `final` run trains at the rate chosen on validation and is evaluated on the test split, once.
 */
export interface TrainRunConfig {
  readonly kind: 'train';
  readonly purpose: 'select' | 'final';
  readonly protocol: number;
  /** The TensorFlow.js backend and kernels, as `initBackend` announces them (results depend on them). */
  readonly engine: string;
  readonly dataset: string;
  readonly loss: LossName;
  readonly sampling: SamplingName;
  readonly miner: MinerName;
  readonly seed: number;
  readonly learningRate: number;
  readonly budget: StudyBudget;
}

/** The raw-pixel floor of a dataset: the same test evaluation on pixels / 255. */
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
  /** Validation metrics (training runs that did not diverge). */
  readonly validation?: EvaluationReport;
  /** Test metrics (final runs that did not diverge, and raw pixels). */
  readonly test?: EvaluationReport;
  /** Class spread of the embeddings evaluated: the test queries, or for a `select` run the validation queries (absent when diverged). */
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

/**
 * A short label of a run for progress lines: `orl-faces triplet/semi-hard lr 0.001 seed 2`,
 * `orl-faces triplet/semi-hard lr 0.0003 (choosing the rate)` or `orl-faces raw pixels`.
 */
export function runLabel(config: RunConfig): string {
  if (config.kind === 'raw') return `${config.dataset} raw pixels`;
  const cell = `${config.dataset} ${config.loss}/${config.sampling} lr ${config.learningRate}`;
  return config.purpose === 'select' ? `${cell} (choosing the rate)` : `${cell} seed ${config.seed}`;
}
