import type { ClassSpread } from './spread.js';

/**
 * Below this mean distance between held-out embeddings of different classes, an embedding has
 * collapsed. Embeddings are L2-normalised, so distances lie in [0, 2]. Measured: an untrained
 * network gives about 0.4 on ORL faces; in the full study (STUDY.md) the trained runs give
 * 0.43–1.36 and the 18 batch-hard runs, whose hinge loss sits at the margin, 0.001–0.01. 0.1 is
 * also half the triplet margin: no triplet can satisfy a 0.2 margin on average below it.
 */
export const COLLAPSE_DISTANCE = 0.1;

/**
 * Whether the held-out embeddings collapsed towards a point: the mean distance between
 * embeddings of different classes is below {@link COLLAPSE_DISTANCE}. Measured on the embeddings
 * rather than on the loss (which sits at the margin when every distance is 0) so that one rule
 * serves every loss, the soft margin included. A collapsed embedding can still rank neighbours
 * (retrieval ignores scale), but its distances have lost the scale a margin or a verification
 * threshold works at.
 */
export function isCollapsed(spread: ClassSpread): boolean {
  return !(spread.meanInterDistance >= COLLAPSE_DISTANCE);
}
