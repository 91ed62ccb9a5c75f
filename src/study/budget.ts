import { requireNumber } from '../common/errors.js';
import type { Dataset } from '../data/dataset.js';
import type { ModelConfig } from '../models/model-config.js';
import type { ScheduleName } from '../training/learning-rate.js';

/**
 * What every cell of a dataset trains with: the same model, batches, number of steps (so the same
 * number of examples seen), optimiser and learning-rate schedule. Only the loss and the miner
 * change from cell to cell.
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
  readonly learningRate: number;
  readonly schedule: ScheduleName;
  /** Seeded shifts (and flips for flip-invariant data). */
  readonly augment: boolean;
}

/** Changes to the default budget (`--epochs`, `--steps`, `--lr`), the same for every cell. */
export interface BudgetOverrides {
  readonly epochs?: number;
  readonly stepsPerEpoch?: number;
  readonly learningRate?: number;
}

const COMMON = { k: 4, optimizer: 'adam', learningRate: 1e-3, schedule: 'cosine', augment: true } as const;

/**
 * The measured budgets of the default datasets, chosen so that the full grid (16 cells × 3 seeds
 * on both) fits in about an hour on 2 cores (STUDY.md has the timings):
 * - ORL faces: an MLP 512 → 64 on faces resized to 56 × 46, batches
 *   of 10 people × 4 photos, 60 epochs of 9 steps (21,600 examples seen);
 * - Quick, Draw!: an MLP 512 → 256 → 64 on the 28 × 28 sketches, batches of 32 classes × 4,
 *   15 epochs of 135 steps (259,200 examples seen, 15 passes over the training sketches).
 * Measured on the project's 2-core machine: about 11 s per faces run and 55 s per Quick, Draw! run, of which
 * 25 s are the held-out evaluation and spread of 17,200 sketches.
 * `--quick` keeps the networks and cuts the steps: 10 epochs on faces, 1 epoch of 40 steps on
 * Quick, Draw!.
 */
const KNOWN: Readonly<Record<string, { full: StudyBudget; quick: StudyBudget }>> = {
  'orl-faces': {
    full: { ...COMMON, model: { kind: 'mlp', hidden: [512], embeddingDim: 64 }, resizeTo: [56, 46], p: 10, epochs: 60 },
    quick: { ...COMMON, model: { kind: 'mlp', hidden: [512], embeddingDim: 64 }, resizeTo: [56, 46], p: 10, epochs: 10 },
  },
  quickdraw: {
    full: { ...COMMON, model: { kind: 'mlp', hidden: [512, 256], embeddingDim: 64 }, p: 32, epochs: 15 },
    quick: { ...COMMON, model: { kind: 'mlp', hidden: [512, 256], embeddingDim: 64 }, p: 32, epochs: 1, stepsPerEpoch: 40 },
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
  const { epochs, stepsPerEpoch, learningRate } = overrides;
  return {
    ...base,
    ...(epochs !== undefined ? { epochs: requireNumber('epochs', epochs, { integer: true, min: 1 }) } : {}),
    ...(stepsPerEpoch !== undefined ? { stepsPerEpoch: requireNumber('steps per epoch', stepsPerEpoch, { integer: true, min: 1 }) } : {}),
    ...(learningRate !== undefined ? { learningRate: requireNumber('learning rate', learningRate, { min: 0, exclusiveMin: true }) } : {}),
  };
}

function genericBudget(dataset: Dataset, quick: boolean): StudyBudget {
  let { height, width } = dataset.shape;
  while (Math.max(height, width) > 64) [height, width] = [Math.max(1, Math.round(height / 2)), Math.max(1, Math.round(width / 2))];
  const resized = height !== dataset.shape.height || width !== dataset.shape.width;
  const trainClasses = new Set(Array.from(dataset.split().train, (i) => dataset.labels[i]!)).size;
  return {
    ...COMMON,
    model: { kind: 'mlp', hidden: [512, 256], embeddingDim: 64 },
    ...(resized ? { resizeTo: [height, width] as const } : {}),
    p: Math.max(2, Math.min(16, trainClasses)),
    epochs: quick ? 1 : 5,
    stepsPerEpoch: quick ? 20 : 100,
  };
}
