import type { RocSummary } from '../../src/evaluation/roc.js';
import type { RetrievalMetrics } from '../../src/evaluation/retrieval.js';
/**
 * Brute-force references for src/evaluation, written from the definitions with nested loops,
 * float64 arithmetic and full sorts, sharing no code with the library (only its result types).
 */
import type { Matrix } from './reference.js';

export type Metric = 'euclidean' | 'cosine';

export function referenceDistance(a: number[], b: number[], metric: Metric): number {
  if (metric === 'euclidean') return Math.sqrt(a.reduce((s, v, d) => s + (v - b[d]!) ** 2, 0));
  const dot = a.reduce((s, v, d) => s + v * b[d]!, 0);
  const na = Math.sqrt(a.reduce((s, v) => s + v * v, 0));
  const nb = Math.sqrt(b.reduce((s, v) => s + v * v, 0));
  return 1 - dot / (na * nb);
}

/** Every reference of every query, fully sorted by (distance, index); the query itself left out when `excludeSelf`. */
export function referenceRanking(queries: Matrix, references: Matrix, metric: Metric, excludeSelf: boolean): Array<Array<{ index: number; distance: number }>> {
  return queries.map((q, i) =>
    references
      .map((r, j) => ({ index: j, distance: referenceDistance(q, r, metric) }))
      .filter(({ index }) => !(excludeSelf && index === i))
      .sort((a, b) => a.distance - b.distance || a.index - b.index),
  );
}

export type ReferenceRetrieval = RetrievalMetrics;

/** PML's definitions, one query at a time over the full ranking. */
export function referenceRetrieval(
  queries: Matrix,
  queryLabels: number[],
  references: Matrix | undefined,
  referenceLabels: number[] | undefined,
  metric: Metric,
  recallAt: number[],
): ReferenceRetrieval {
  const leaveOneOut = references === undefined;
  const refs = references ?? queries;
  const refLabels = referenceLabels ?? queryLabels;
  const ranking = referenceRanking(queries, refs, metric, leaveOneOut);
  let counted = 0;
  let p1 = 0;
  let rp = 0;
  let map = 0;
  const recall = recallAt.map(() => 0);
  queries.forEach((_, q) => {
    const label = queryLabels[q]!;
    const rel = ranking[q]!.map(({ index }) => (refLabels[index] === label ? 1 : 0));
    const R = rel.reduce((s: number, v) => s + v, 0);
    if (R === 0) return;
    counted++;
    p1 += rel[0]!;
    let relevantInR = 0;
    for (let i = 0; i < R; i++) relevantInR += rel[i]!;
    rp += relevantInR / R;
    let ap = 0;
    for (let i = 1; i <= R; i++) {
      let relevantUpToI = 0;
      for (let t = 0; t < i; t++) relevantUpToI += rel[t]!;
      ap += (relevantUpToI / i) * rel[i - 1]!;
    }
    map += ap / R;
    recallAt.forEach((K, j) => {
      if (rel.slice(0, K).some((v) => v === 1)) recall[j]!++;
    });
  });
  return {
    precisionAt1: p1 / counted,
    rPrecision: rp / counted,
    mapAtR: map / counted,
    recallAt: Object.fromEntries(recallAt.map((K, j) => [K, recall[j]! / counted])),
    queries: counted,
    skippedQueries: queries.length - counted,
  };
}

export type ReferenceRoc = RocSummary;

/**
 * The ROC by brute force: AUC over all P × N (positive, negative) comparisons; the other numbers
 * by counting, for every candidate threshold ("accept nothing", then each distinct distance),
 * how many pairs are at or below it.
 */
export function referenceRoc(positives: number[], negatives: number[]): ReferenceRoc {
  const P = positives.length;
  const N = negatives.length;
  let wins = 0;
  for (const p of positives) for (const n of negatives) wins += p < n ? 1 : p === n ? 0.5 : 0;
  const distinct = [...new Set([...positives, ...negatives])].sort((a, b) => a - b);
  const thresholds = [-Infinity, ...distinct];
  const points = thresholds.map((t) => ({
    t,
    tpr: positives.filter((d) => d <= t).length / P,
    fpr: negatives.filter((d) => d <= t).length / N,
  }));
  let bestAccuracy = -1;
  let bestThreshold = NaN;
  let balancedAccuracy = 0;
  let balancedThreshold = NaN;
  let tar3 = 0;
  let tar2 = 0;
  points.forEach(({ t, tpr, fpr }, i) => {
    const accuracy = (tpr * P + (1 - fpr) * N) / (P + N);
    const threshold = i === 0 ? distinct[0]! - 1 : i === distinct.length ? t : (t + distinct[i]!) / 2;
    if (accuracy > bestAccuracy) {
      bestAccuracy = accuracy;
      bestThreshold = threshold;
    }
    if ((tpr + 1 - fpr) / 2 > balancedAccuracy) {
      balancedAccuracy = (tpr + 1 - fpr) / 2;
      balancedThreshold = threshold;
    }
    if (fpr <= 1e-3) tar3 = Math.max(tar3, tpr);
    if (fpr <= 1e-2) tar2 = Math.max(tar2, tpr);
  });
  // EER: the first ROC segment (straight line between consecutive points) that meets FPR = 1 − TPR.
  let eer = NaN;
  for (let i = 1; i < points.length && Number.isNaN(eer); i++) {
    const a = points[i - 1]!;
    const b = points[i]!;
    // FPR(s) + TPR(s) − 1 = 0 along a + s (b − a), s ∈ [0, 1].
    const at = (s: number): number => a.fpr + s * (b.fpr - a.fpr) + a.tpr + s * (b.tpr - a.tpr) - 1;
    if (at(0) <= 0 && at(1) >= 0) {
      const s = at(1) === at(0) ? 0 : -at(0) / (at(1) - at(0));
      eer = a.fpr + s * (b.fpr - a.fpr);
    }
  }
  return { rocAuc: wins / (P * N), eer, bestAccuracy, bestThreshold, balancedAccuracy, balancedThreshold, tarAtFar1e3: tar3, tarAtFar1e2: tar2 };
}

/** Distances of all pairs i < j, split by same / different label. */
export function referencePairs(x: Matrix, labels: number[], metric: Metric): { positives: number[]; negatives: number[] } {
  const positives: number[] = [];
  const negatives: number[] = [];
  for (let i = 0; i < x.length; i++)
    for (let j = i + 1; j < x.length; j++) (labels[i] === labels[j] ? positives : negatives).push(referenceDistance(x[i]!, x[j]!, metric));
  return { positives, negatives };
}
