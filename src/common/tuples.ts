import { require } from './errors.js';

/** Index triplets: `anchors[i]`, `positives[i]` (same label) and `negatives[i]` (other label). */
export interface TripletIndices {
  readonly anchors: Int32Array;
  readonly positives: Int32Array;
  readonly negatives: Int32Array;
}

/**
 * Index pairs: positive pairs `(a1[i], p[i])` with the same label and negative pairs
 * `(a2[j], n[j])` with different labels (pytorch-metric-learning's `a1, p, a2, n`).
 */
export interface PairIndices {
  readonly a1: Int32Array;
  readonly p: Int32Array;
  readonly a2: Int32Array;
  readonly n: Int32Array;
}

/** What a miner returns and a loss accepts. */
export type Tuples = TripletIndices | PairIndices;

/** True when `tuples` holds triplets rather than pairs. */
export function isTriplets(tuples: Tuples): tuples is TripletIndices {
  return 'anchors' in tuples;
}

/** Number of triplets, or of positive plus negative pairs. */
export function tupleCount(tuples: Tuples): number {
  return isTriplets(tuples) ? tuples.anchors.length : tuples.a1.length + tuples.a2.length;
}

/** Splits triplets into their anchor–positive and anchor–negative pairs (duplicates kept). */
export function triplesToPairs(triplets: TripletIndices): PairIndices {
  return { a1: triplets.anchors, p: triplets.positives, a2: triplets.anchors, n: triplets.negatives };
}

/**
 * Joins pairs that share an anchor into triplets: every positive pair `(a, p)` with every
 * negative pair `(a, n)`, as pytorch-metric-learning's `convert_to_triplets` does.
 */
export function pairsToTriplets(pairs: PairIndices): TripletIndices {
  const negativesByAnchor = new Map<number, number[]>();
  for (let j = 0; j < pairs.a2.length; j++) {
    const a = pairs.a2[j]!;
    let list = negativesByAnchor.get(a);
    if (list === undefined) negativesByAnchor.set(a, (list = []));
    list.push(pairs.n[j]!);
  }
  let total = 0;
  for (let i = 0; i < pairs.a1.length; i++) total += negativesByAnchor.get(pairs.a1[i]!)?.length ?? 0;
  const anchors = new Int32Array(total);
  const positives = new Int32Array(total);
  const negatives = new Int32Array(total);
  let t = 0;
  for (let i = 0; i < pairs.a1.length; i++) {
    const a = pairs.a1[i]!;
    for (const n of negativesByAnchor.get(a) ?? []) {
      anchors[t] = a;
      positives[t] = pairs.p[i]!;
      negatives[t] = n;
      t++;
    }
  }
  return { anchors, positives, negatives };
}

/**
 * Checks tuples given to a loss: equal lengths, indices within the batch, positives sharing the
 * anchor's label and negatives not. Wrong tuples would otherwise read outside the distance
 * matrix or silently train the wrong way round.
 */
export function checkTuples(tuples: Tuples, labels: Int32Array): void {
  if (isTriplets(tuples)) {
    require(tuples.anchors.length === tuples.negatives.length, 'tuples: anchors and negatives lengths differ');
    checkSide('positives', tuples.anchors, tuples.positives, labels, true);
    checkSide('negatives', tuples.anchors, tuples.negatives, labels, false);
  } else {
    checkSide('positive pairs', tuples.a1, tuples.p, labels, true);
    checkSide('negative pairs', tuples.a2, tuples.n, labels, false);
  }
}

/** One side of {@link checkTuples}; a plain loop, as it runs over every tuple of every step. */
function checkSide(name: string, anchors: Int32Array, others: Int32Array, labels: Int32Array, same: boolean): void {
  require(
    anchors instanceof Int32Array && others instanceof Int32Array,
    `tuples.${name}: indices must be Int32Arrays (as miners return them)`,
  );
  require(anchors.length === others.length, () => `tuples.${name}: lengths differ (${anchors.length} vs ${others.length})`);
  const rows = labels.length;
  for (let i = 0; i < anchors.length; i++) {
    const a = anchors[i]!;
    const b = others[i]!;
    if (a >= 0 && a < rows && b >= 0 && b < rows && (labels[a] === labels[b]) === same) continue;
    const where = `tuples.${name}[${i}] = (${a}, ${b})`;
    require(a >= 0 && a < rows && b >= 0 && b < rows, `${where} is outside the batch of ${rows}`);
    require(
      false,
      `${where} has labels ${labels[a]} and ${labels[b]}: ` +
        (same ? 'a positive must share the anchor label' : 'a negative must have another label'),
    );
  }
}
