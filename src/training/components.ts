import { require } from '../common/errors.js';
import { ContrastiveLoss } from '../losses/contrastive-loss.js';
import { TripletMarginLoss } from '../losses/triplet-margin-loss.js';
import type { BaseMetricLoss } from '../losses/base-metric-loss.js';
import type { BaseMiner } from '../miners/base-miner.js';
import { BatchHardMiner } from '../miners/batch-hard-miner.js';
import { DistanceWeightedMiner } from '../miners/distance-weighted-miner.js';
import { PairMarginMiner } from '../miners/pair-margin-miner.js';
import { RandomTripletMiner } from '../miners/random-triplet-miner.js';
import { SemiHardMiner } from '../miners/semi-hard-miner.js';
import { TripletMarginMiner } from '../miners/triplet-margin-miner.js';
import type { Tuples } from '../common/tuples.js';

/** Losses by the names the CLI and the study use. */
export const LOSS_NAMES = ['triplet', 'triplet-soft', 'contrastive'] as const;
export type LossName = (typeof LOSS_NAMES)[number];

/**
 * Miners by name. `all` uses every valid tuple of the batch (no miner); `batch-all` keeps the
 * triplets that violate the margin; `hard-pairs` is the contrastive loss's hard-pair mining.
 */
export const MINER_NAMES = ['all', 'batch-all', 'batch-hard', 'semi-hard', 'distance-weighted', 'random', 'hard-pairs'] as const;
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
    case 'hard-pairs':
      // Pairs still inside the contrastive margins: positives not yet together, negatives too close.
      return new PairMarginMiner({ posMargin: 0, negMargin: margin });
  }
}
