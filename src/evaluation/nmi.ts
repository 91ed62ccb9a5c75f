import { require } from '../common/errors.js';

/**
 * Normalised mutual information between two labelings of the same items, with the arithmetic
 * mean of the two entropies as normaliser: `MI(a, b) / ((H(a) + H(b)) / 2)`, scikit-learn's
 * default. 1 for identical partitions (up to renaming), 0 for independent ones. As in
 * scikit-learn, two labelings that each put everything in one group score 1.
 */
export function normalizedMutualInformation(a: ArrayLike<number>, b: ArrayLike<number>): number {
  require(a.length === b.length, () => `the two labelings have ${a.length} and ${b.length} entries: they must label the same items`);
  const n = a.length;
  require(n > 0, 'NMI of empty labelings is undefined');
  const aIds = denseIds(a);
  const bIds = denseIds(b);
  const aSize = aIds.groups;
  const bSize = bIds.groups;
  if (aSize === 1 && bSize === 1) return 1;
  const joint = new Float64Array(aSize * bSize);
  const aCounts = new Float64Array(aSize);
  const bCounts = new Float64Array(bSize);
  for (let i = 0; i < n; i++) {
    const x = aIds.ids[i]!;
    const y = bIds.ids[i]!;
    joint[x * bSize + y]!++;
    aCounts[x]!++;
    bCounts[y]!++;
  }
  let mi = 0;
  for (let x = 0; x < aSize; x++)
    for (let y = 0; y < bSize; y++) {
      const c = joint[x * bSize + y]!;
      if (c > 0) mi += (c / n) * Math.log((n * c) / (aCounts[x]! * bCounts[y]!));
    }
  // Rounding can leave a tiny negative MI for independent labelings: it is 0.
  if (mi <= 0) return 0;
  const normaliser = (entropy(aCounts, n) + entropy(bCounts, n)) / 2;
  return mi / normaliser;
}

/** Labels renamed 0, 1, 2, … in order of first appearance. */
function denseIds(labels: ArrayLike<number>): { ids: Int32Array; groups: number } {
  const index = new Map<number, number>();
  const ids = new Int32Array(labels.length);
  for (let i = 0; i < labels.length; i++) {
    let id = index.get(labels[i]!);
    if (id === undefined) index.set(labels[i]!, (id = index.size));
    ids[i] = id;
  }
  return { ids, groups: index.size };
}

/** Entropy (nats) of a distribution given by counts summing to n. */
function entropy(counts: Float64Array, n: number): number {
  let h = 0;
  for (const c of counts) if (c > 0) h -= (c / n) * Math.log(c / n);
  return h;
}
