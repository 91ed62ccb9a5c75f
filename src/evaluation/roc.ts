import { require } from '../common/errors.js';

/**
 * What the ROC of a same/different decision gives, the decision being "same when
 * distance ≤ threshold" (score = −distance).
 */
export interface RocSummary {
  /** Area under the ROC: the Mann–Whitney probability that a positive pair is closer than a negative one, ties counted 1/2. */
  rocAuc: number;
  /** Equal error rate: where FPR = FNR, interpolated linearly between ROC points. */
  eer: number;
  /** Max over thresholds of (TP + TN) / pairs. */
  bestAccuracy: number;
  /**
   * The distance threshold of `bestAccuracy` (the lowest if several tie): halfway between the
   * largest accepted and the smallest rejected distance; the largest distance when accepting
   * every pair is best, the smallest distance − 1 when accepting none is.
   */
  bestThreshold: number;
  /** Max over thresholds of (TPR + TNR) / 2: the accuracy on as many positive as negative pairs. */
  balancedAccuracy: number;
  /**
   * The distance threshold of `balancedAccuracy`, placed as `bestThreshold` is. The threshold to
   * choose for a "same or not" decision: unlike `bestThreshold` it does not depend on how many
   * more different-class pairs than same-class pairs the set happens to hold.
   */
  balancedThreshold: number;
  /** Largest TPR with FPR ≤ 1e-3. */
  tarAtFar1e3: number;
  /** Largest TPR with FPR ≤ 1e-2. */
  tarAtFar1e2: number;
}

/**
 * Summarises the ROC of positive (same-label) and negative pair distances, both sorted
 * ascending, in one merge pass over them: O(P + N) after the sorts. Each distinct distance is
 * one ROC point, so tied pairs move TPR and FPR together (a diagonal segment).
 */
export function rocSummary(positives: Float32Array, negatives: Float32Array): RocSummary {
  const P = positives.length;
  const N = negatives.length;
  require(P > 0, 'no positive pair (two embeddings with the same label): verification metrics are undefined');
  require(N > 0, 'no negative pair (two embeddings with different labels): verification metrics are undefined');
  checkSorted(positives, 'positive');
  checkSorted(negatives, 'negative');
  const pairs = P + N;
  const farTargets = [1e-3, 1e-2];
  const tar = [0, 0];
  // The point "accept nothing": TPR = FPR = 0.
  let bestAccuracy = N / pairs;
  let bestThreshold = Math.min(positives[0]!, negatives[0]!) - 1;
  let balancedAccuracy = 0.5;
  let balancedThreshold = bestThreshold;
  let eer = Number.NaN;
  let previousFpr = 0;
  let previousDiff = -1; // FPR − FNR at the previous point
  let tp = 0;
  let fp = 0;
  let wins = 0; // Σ over positives of (negatives farther + ½ negatives as far)
  let i = 0;
  let j = 0;
  while (i < P || j < N) {
    const value = j >= N || (i < P && positives[i]! <= negatives[j]!) ? positives[i]! : negatives[j]!;
    let groupP = 0;
    let groupN = 0;
    for (; i < P && positives[i] === value; i++) groupP++;
    for (; j < N && negatives[j] === value; j++) groupN++;
    wins += groupP * (N - fp - groupN) + 0.5 * groupP * groupN;
    tp += groupP;
    fp += groupN;
    const tpr = tp / P;
    const fpr = fp / N;
    const accuracy = (tp + N - fp) / pairs;
    // Halfway to the next distance, or this one when it is the largest.
    const next = Math.min(i < P ? positives[i]! : Infinity, j < N ? negatives[j]! : Infinity);
    const threshold = next === Infinity ? value : (value + next) / 2;
    if (accuracy > bestAccuracy) {
      bestAccuracy = accuracy;
      bestThreshold = threshold;
    }
    const balanced = (tpr + 1 - fpr) / 2;
    if (balanced > balancedAccuracy) {
      balancedAccuracy = balanced;
      balancedThreshold = threshold;
    }
    for (let t = 0; t < farTargets.length; t++) if (fpr <= farTargets[t]!) tar[t] = tpr;
    const diff = fpr - (1 - tpr);
    if (Number.isNaN(eer) && diff >= 0) {
      // FPR − FNR is linear along the segment from the previous point: find where it is 0.
      const fraction = -previousDiff / (diff - previousDiff);
      eer = previousFpr + fraction * (fpr - previousFpr);
    }
    previousFpr = fpr;
    previousDiff = diff;
  }
  return {
    rocAuc: wins / (P * N),
    eer,
    bestAccuracy,
    bestThreshold,
    balancedAccuracy,
    balancedThreshold,
    tarAtFar1e3: tar[0]!,
    tarAtFar1e2: tar[1]!,
  };
}

function checkSorted(distances: Float32Array, what: string): void {
  for (let i = 0; i < distances.length; i++) {
    const ok = Number.isFinite(distances[i]!) && (i === 0 || distances[i - 1]! <= distances[i]!);
    require(ok, () => `${what} pair distances must be finite and sorted ascending (index ${i} is ${distances[i]})`);
  }
}

/** The decision "same when distance ≤ threshold" at one threshold fixed in advance. */
export interface ThresholdMetrics {
  /** The threshold applied (chosen elsewhere, e.g. on validation pairs). */
  threshold: number;
  /** (TP + TN) / pairs. */
  accuracy: number;
  /** False accept rate: negatives at distance ≤ threshold, over negatives. */
  far: number;
  /** False reject rate: positives at distance > threshold, over positives. */
  frr: number;
}

/**
 * Accuracy, FAR and FRR of "same when distance ≤ `threshold`" on positive and negative pair
 * distances, both sorted ascending: two binary searches.
 */
export function thresholdMetrics(positives: Float32Array, negatives: Float32Array, threshold: number): ThresholdMetrics {
  require(Number.isFinite(threshold), () => `the verification threshold must be a finite number, got ${threshold}`);
  require(positives.length > 0 && negatives.length > 0, 'a threshold is judged on both positive and negative pairs');
  checkSorted(positives, 'positive');
  checkSorted(negatives, 'negative');
  const acceptedPositives = countAtMost(positives, threshold);
  const acceptedNegatives = countAtMost(negatives, threshold);
  return {
    threshold,
    accuracy: (acceptedPositives + negatives.length - acceptedNegatives) / (positives.length + negatives.length),
    far: acceptedNegatives / negatives.length,
    frr: 1 - acceptedPositives / positives.length,
  };
}

/** Values ≤ `limit` in an ascending array. */
function countAtMost(sorted: Float32Array, limit: number): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (sorted[middle]! <= limit) low = middle + 1;
    else high = middle;
  }
  return low;
}

/** What a model card draws: the ROC curve and the distance histograms of both kinds of pair. */
export interface VerificationCurves {
  /** ROC points (false accept rate, true accept rate) at evenly spaced distance thresholds, from (0, 0) to (1, 1). */
  readonly roc: { readonly far: number[]; readonly tar: number[]; readonly threshold: number[] };
  /** Pair counts per distance bin: `edges` has one more entry than each count list. */
  readonly histogram: { readonly edges: number[]; readonly positive: number[]; readonly negative: number[] };
}

/**
 * The ROC curve and the distance histograms of positive and negative pair distances (both sorted
 * ascending), over `bins` equal bins from 0 to the largest distance; the ROC has one point per
 * bin edge. Compact enough to store with a model.
 */
export function verificationCurves(positives: Float32Array, negatives: Float32Array, bins = 50): VerificationCurves {
  require(positives.length > 0 && negatives.length > 0, 'curves need both positive and negative pairs');
  checkSorted(positives, 'positive');
  checkSorted(negatives, 'negative');
  const top = Math.max(positives.at(-1)!, negatives.at(-1)!) || 1;
  const edges = Array.from({ length: bins + 1 }, (_, i) => (top * i) / bins);
  const atMost = edges.map((edge) => [countAtMost(positives, edge), countAtMost(negatives, edge)] as const);
  const positive = Array.from({ length: bins }, (_, i) => atMost[i + 1]![0] - (i === 0 ? 0 : atMost[i]![0]));
  const negative = Array.from({ length: bins }, (_, i) => atMost[i + 1]![1] - (i === 0 ? 0 : atMost[i]![1]));
  return {
    roc: {
      far: [0, ...atMost.map(([, n]) => n / negatives.length)],
      tar: [0, ...atMost.map(([p]) => p / positives.length)],
      threshold: [-1, ...edges],
    },
    histogram: { edges, positive, negative },
  };
}
