import { require } from '../common/errors.js';
import { ContrastiveLoss } from '../losses/contrastive-loss.js';
import { TripletMarginLoss } from '../losses/triplet-margin-loss.js';
import type { BaseMetricLoss } from '../losses/base-metric-loss.js';
import type { BaseMiner } from '../miners/base-miner.js';
import { BatchHardMiner } from '../miners/batch-hard-miner.js';
import { DistanceWeightedMiner } from '../miners/distance-weighted-miner.js';
import { MultiSimilarityMiner } from '../miners/multi-similarity-miner.js';
import { RandomTripletMiner } from '../miners/random-triplet-miner.js';
import { SemiHardMiner } from '../miners/semi-hard-miner.js';
import { TripletMarginMiner } from '../miners/triplet-margin-miner.js';
import type { Tuples } from '../common/tuples.js';

/** Losses by the names the CLI and the study use. */
export const LOSS_NAMES = ['triplet', 'triplet-soft', 'contrastive'] as const;
export type LossName = (typeof LOSS_NAMES)[number];

/**
 * Miners by name. `all` uses every valid tuple of the batch (no miner); `batch-all` keeps the
 * triplets that violate the margin; `multi-similarity` is hard-pair mining relative to each
 * anchor's hardest pairs (the contrastive loss's counterpart of triplet mining).
 */
export const MINER_NAMES = ['all', 'batch-all', 'batch-hard', 'semi-hard', 'distance-weighted', 'random', 'multi-similarity'] as const;
export type MinerName = (typeof MINER_NAMES)[number];

/** Options shared by {@link makeLoss} and {@link makeMiner}. */
export interface ComponentOptions {
  /** Triplet margin; for the contrastive loss, the negative margin (positive margin 0). */
  readonly margin: number;
  /** Seed of random miners. */
  readonly seed: number;
}

/** Default margins per loss, on L2-normalised embeddings (distances in [0, 2]). */
export const DEFAULT_MARGINS: Readonly<Record<LossName, number>> = { triplet: 0.2, 'triplet-soft': 0, contrastive: 0.5 };

/**
 * Default miners per loss: the triplets that violate the margin for the hinge and contrastive
 * losses; every valid triplet for the soft margin, whose loss is never zero (a margin-0 batch-all
 * miner would keep only the triplets already in the wrong order).
 */
export const DEFAULT_MINERS: Readonly<Record<LossName, MinerName>> = { triplet: 'batch-all', 'triplet-soft': 'all', contrastive: 'batch-all' };

/**
 * Combinations known to train badly, with why: `train` reports them as warnings before the first step.
 */
export function riskyCombination(loss: LossName, miner: MinerName): string | undefined {
  if (miner === 'batch-hard') {
    return 'batch-hard mining from scratch can collapse every embedding to one point (the loss then sits at the margin); watch the loss, or lower the learning rate (STUDY.md)';
  }
  if (loss === 'triplet-soft' && miner === 'batch-all') {
    return "the soft margin with the batch-all miner trains only on triplets already in the wrong order (margin 0): use --miner all for every triplet";
  }
  return undefined;
}

export function makeLoss(name: string, { margin }: Pick<ComponentOptions, 'margin'>): BaseMetricLoss {
  require((LOSS_NAMES as readonly string[]).includes(name), `unknown loss '${name}' (choose from ${LOSS_NAMES.join(', ')})`);
  switch (name as LossName) {
    case 'triplet':
      return new TripletMarginLoss({ margin });
    case 'triplet-soft':
      return new TripletMarginLoss({ margin, smoothLoss: true });
    case 'contrastive':
      return new ContrastiveLoss({ posMargin: 0, negMargin: margin });
  }
}

/** The miner of that name, or undefined for `all` (the loss then takes every valid tuple). */
export function makeMiner(name: string, { margin, seed }: ComponentOptions): BaseMiner<Tuples> | undefined {
  require((MINER_NAMES as readonly string[]).includes(name), `unknown miner '${name}' (choose from ${MINER_NAMES.join(', ')})`);
  switch (name as MinerName) {
    case 'all':
      return undefined;
    case 'batch-all':
      return new TripletMarginMiner({ margin, typeOfTriplets: 'all' });
    case 'batch-hard':
      return new BatchHardMiner();
    case 'semi-hard':
      return new SemiHardMiner();
    case 'distance-weighted':
      return new DistanceWeightedMiner({ seed });
    case 'random':
      return new RandomTripletMiner({ seed });
    case 'multi-similarity':
      return new MultiSimilarityMiner();
  }
}
