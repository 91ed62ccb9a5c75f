import { require } from '../common/errors.js';
import { LOSS_NAMES, type LossName, type MinerName } from '../training/components.js';

/**
 * The sampling methods the study compares. `random` is one random triplet per anchor (for the
 * contrastive loss: its anchor–positive and anchor–negative pairs, i.e. random pairs);
 * `hard-pairs` is hard-pair mining for the contrastive loss (the multi-similarity miner: per
 * anchor, the pairs harder than its easiest opposite pair, see `MultiSimilarityMiner`).
 */
export const SAMPLINGS = ['random', 'batch-all', 'semi-hard', 'batch-hard', 'distance-weighted', 'hard-pairs'] as const;
export type SamplingName = (typeof SAMPLINGS)[number];

/** One cell of the grid: a loss trained with a sampling method. */
export interface StudyCell {
  readonly loss: LossName;
  readonly sampling: SamplingName;
}

/**
 * The full grid: 16 cells. Every triplet miner feeds every loss (the contrastive loss takes a
 * triplet's anchor–positive and anchor–negative pairs), so the five triplet samplings run with all
 * three losses; hard-pair mining runs with the contrastive loss only, as the issue asks (the
 * triplet losses would rebuild triplets from its pairs, which is batch-all again).
 */
export const FULL_GRID: readonly StudyCell[] = [
  ...LOSS_NAMES.flatMap((loss) => (['random', 'batch-all', 'semi-hard', 'batch-hard', 'distance-weighted'] as const).map((sampling) => ({ loss, sampling }))),
  { loss: 'contrastive', sampling: 'hard-pairs' },
];

/** The `--quick` grid: random against mined sampling, triplet against contrastive (claims 1 and 2). */
export const QUICK_GRID: readonly StudyCell[] = [
  { loss: 'triplet', sampling: 'random' },
  { loss: 'triplet', sampling: 'semi-hard' },
  { loss: 'contrastive', sampling: 'random' },
  { loss: 'contrastive', sampling: 'hard-pairs' },
];

/**
 * The miner a cell trains with (a name of `training/components.ts`). The triplet miners select
 * with the loss's margin (0.2 hinge, 0 soft margin, 0.5 contrastive), as `train` builds them.
 * Cases that differ from the sampling's name:
 * - `hard-pairs` is the `multi-similarity` miner;
 * - batch-all with the soft margin is `all`, every valid triplet of the batch (Hermans et al.):
 *   the soft margin is never zero, and a margin-0 batch-all miner would keep only the triplets
 *   already in the wrong order;
 * - the hinge loss's `batch-all` miner keeps the triplets that violate the margin, which with the
 *   default reducer (average over non-zero values) is the same loss as `all`.
 */
export function minerOf({ loss, sampling }: StudyCell): MinerName {
  require(!(sampling === 'hard-pairs' && loss !== 'contrastive'), `hard-pairs sampling is for the contrastive loss, not ${loss}`);
  if (sampling === 'hard-pairs') return 'multi-similarity';
  return sampling === 'batch-all' && loss === 'triplet-soft' ? 'all' : sampling;
}

/** Parses `loss/sampling` (e.g. `triplet/semi-hard`), with a one-line error naming the choices. */
export function parseCell(text: string): StudyCell {
  const [loss, sampling, ...rest] = text.split('/');
  require(
    rest.length === 0 && (LOSS_NAMES as readonly string[]).includes(loss!) && (SAMPLINGS as readonly string[]).includes(sampling ?? ''),
    `cell '${text}' must be loss/sampling with a loss of ${LOSS_NAMES.join(', ')} and a sampling of ${SAMPLINGS.join(', ')}`,
  );
  const cell = { loss: loss as LossName, sampling: sampling as SamplingName };
  minerOf(cell);
  return cell;
}
