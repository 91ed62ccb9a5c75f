import { require, requireNumber } from '../common/errors.js';
import type { Dataset } from '../data/dataset.js';
import type { ModelConfig } from '../models/model-config.js';
import type { ScheduleName } from '../training/learning-rate.js';

/**
 * What every cell of a dataset trains with: the same model, batches, number of steps (so the same
 * number of examples seen), optimiser, learning-rate schedule and grid of learning rates. The
 * loss and the miner change from cell to cell, and so does the learning rate each cell is
 * reported at: the rate of the grid with the best validation MAP@R for that cell.
 */
export interface StudyBudget {
  readonly model: ModelConfig;
  /** Resize inside the model (absent: the dataset's size). */
  readonly resizeTo?: readonly [number, number];
  /** P classes × K examples per batch. */
  readonly p: number;
  readonly k: number;
  readonly epochs: number;
  /** Steps per epoch, at most (absent: the sampler's full epoch). */
  readonly stepsPerEpoch?: number;
  readonly optimizer: 'adam' | 'sgd';
  /** The rates each cell is tried at, on validation; one rate means no choice. */
  readonly learningRates: readonly number[];
  readonly schedule: ScheduleName;
  /** Epochs of linear warm-up before the schedule (absent: none). */
  readonly warmupEpochs?: number;
  /** Seeded shifts (and flips for flip-invariant data). */
  readonly augment: boolean;
}

/** Changes to the default budget (`--epochs`, `--steps`, `--lr`, `--warmup`), the same for every cell. */
export interface BudgetOverrides {
  readonly epochs?: number;
  readonly stepsPerEpoch?: number;
  /** The grid of learning rates (one rate: every cell trains at it, no choice). */
  readonly learningRates?: readonly number[];
  readonly warmupEpochs?: number;
}

/**
 * The learning rates every cell is tried at: Adam's default and a factor of about 3 and 10 below
 * it and 3 above, the span over which careful comparisons tune each method (a single rate favours
 * the methods it happens to suit).
 */
export const LEARNING_RATES: readonly number[] = [1e-4, 3e-4, 1e-3, 3e-3];
/** `--quick`: two rates, enough to show the choice. */
const QUICK_LEARNING_RATES: readonly number[] = [3e-4, 1e-3];

const COMMON = { k: 4, optimizer: 'adam', schedule: 'cosine', augment: true } as const;

/**
 * The budgets of the default datasets, chosen from measured run times so that the whole study
 * fits in about an hour on 2 cores (STUDY.md has the timings):
 * - ORL faces: an MLP 512 → 64 on faces resized to 56 × 46, batches of 10 people × 4 photos,
 *   60 epochs;
 * - Quick, Draw!: an MLP 512 → 256 → 64 on the 28 × 28 sketches, batches of 32 classes × 4,
 *   15 epochs (15 passes over the training sketches).
 * `--quick` keeps the networks and cuts the steps: 10 epochs on faces, 1 epoch of 40 steps on
 * Quick, Draw!.
 */
const KNOWN: Readonly<Record<string, { full: StudyBudget; quick: StudyBudget }>> = {
  'orl-faces': {
    full: { ...COMMON, learningRates: LEARNING_RATES, model: { kind: 'mlp', hidden: [512], embeddingDim: 64 }, resizeTo: [56, 46], p: 10, epochs: 60 },
    quick: { ...COMMON, learningRates: QUICK_LEARNING_RATES, model: { kind: 'mlp', hidden: [512], embeddingDim: 64 }, resizeTo: [56, 46], p: 10, epochs: 10 },
  },
  quickdraw: {
    full: { ...COMMON, learningRates: LEARNING_RATES, model: { kind: 'mlp', hidden: [512, 256], embeddingDim: 64 }, p: 32, epochs: 15 },
    quick: { ...COMMON, learningRates: QUICK_LEARNING_RATES, model: { kind: 'mlp', hidden: [512, 256], embeddingDim: 64 }, p: 32, epochs: 1, stepsPerEpoch: 40 },
  },
};

/**
 * The budget of `dataset`: the measured one for ORL faces and Quick, Draw!, otherwise an MLP
 * 512 → 256 → 64 on images halved until their longer side is at most 64 pixels, batches of
 * min(16, training classes) × 4, 5 epochs of at most 100 steps (`--quick`: 1 epoch of 20 steps).
 * `overrides` replace the epochs, steps per epoch or learning rate.
 */
export function studyBudget(dataset: Dataset, quick: boolean, overrides: BudgetOverrides = {}): StudyBudget {
  const known = KNOWN[dataset.name];
  const base = known ? (quick ? known.quick : known.full) : genericBudget(dataset, quick);
  const { epochs, stepsPerEpoch, learningRates, warmupEpochs } = overrides;
  return {
    ...base,
    ...(epochs !== undefined ? { epochs: requireNumber('epochs', epochs, { integer: true, min: 1 }) } : {}),
    ...(stepsPerEpoch !== undefined ? { stepsPerEpoch: requireNumber('steps per epoch', stepsPerEpoch, { integer: true, min: 1 }) } : {}),
    ...(learningRates !== undefined ? { learningRates: checkRates(learningRates) } : {}),
    ...(warmupEpochs ? { warmupEpochs: requireNumber('warm-up epochs', warmupEpochs, { integer: true, min: 0 }) } : {}),
  };
}

function checkRates(rates: readonly number[]): number[] {
  require(Array.isArray(rates) && rates.length > 0, 'give at least one learning rate');
  return [...new Set(rates.map((rate) => requireNumber('learning rate', rate, { min: 0, exclusiveMin: true })))].sort((a, b) => a - b);
}

function genericBudget(dataset: Dataset, quick: boolean): StudyBudget {
  let { height, width } = dataset.shape;
  while (Math.max(height, width) > 64) [height, width] = [Math.max(1, Math.round(height / 2)), Math.max(1, Math.round(width / 2))];
  const resized = height !== dataset.shape.height || width !== dataset.shape.width;
  const trainClasses = new Set(Array.from(dataset.split().train, (i) => dataset.labels[i]!)).size;
  return {
    ...COMMON,
    learningRates: quick ? QUICK_LEARNING_RATES : LEARNING_RATES,
    model: { kind: 'mlp', hidden: [512, 256], embeddingDim: 64 },
    ...(resized ? { resizeTo: [height, width] as const } : {}),
    p: Math.max(2, Math.min(16, trainClasses)),
    epochs: quick ? 1 : 5,
    stepsPerEpoch: quick ? 20 : 100,
  };
}
