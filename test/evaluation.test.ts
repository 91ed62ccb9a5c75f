import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  clusteringMetrics,
  evaluateEmbeddings,
  kMeans,
  nearestNeighbors,
  normalizedMutualInformation,
  retrievalMetrics,
  rocSummary,
  thresholdMetrics,
  verificationCurves,
  verificationMetrics,
  type EvaluationMetric,
} from '../src/evaluation/index.js';
import { TripletjsInputError } from '../src/common/errors.js';
import { SeededRandom } from '../src/common/random.js';
import type { Matrix } from './helpers/reference.js';
import { referencePairs, referenceRanking, referenceRetrieval, referenceRoc } from './helpers/evaluation-reference.js';
import { asFloat32, closeTo, liveTensors, randomMatrix } from './helpers/setup.js';

const METRICS: EvaluationMetric[] = ['euclidean', 'cosine'];

const flat = (x: Matrix): Float32Array => Float32Array.from(x.flat());

/** Seeded labels in [0, classes). */
function randomLabels(size: number, classes: number, seed: number): number[] {
  const random = new SeededRandom(seed);
  return Array.from({ length: size }, () => random.int(classes));
}

/** Asserts that `f` throws a TripletjsInputError whose message matches `pattern`. */
function throwsInput(f: () => unknown, pattern: RegExp): void {
  assert.throws(f, (e: unknown) => e instanceof TripletjsInputError && pattern.test(e.message));
}

/** Runs f and checks that it leaves no tensor behind. */
function noLeak<T>(f: () => T): T {
  const before = liveTensors();
  const out = f();
  assert.equal(liveTensors(), before, 'tensors leaked');
  return out;
}

describe('nearestNeighbors', () => {
  it('matches a full sort on random data (both metrics, chunks smaller than the query count)', () => {
    const queries = asFloat32(randomMatrix(37, 6, 11));
    const references = asFloat32(randomMatrix(53, 6, 12));
    for (const metric of METRICS) {
      for (const k of [1, 7, 53]) {
        const { indices, distances } = noLeak(() =>
          nearestNeighbors(flat(queries), flat(references), 6, k, { metric, chunkRows: 5 }),
        );
        assert.equal(indices.length, 37 * k);
        const expected = referenceRanking(queries, references, metric, false);
        checkAgainstRanking(indices, distances, expected, k, metric);
      }
    }
  });

  it('leaves each query out of its own list with excludeSelf', () => {
    const x = asFloat32(randomMatrix(41, 5, 13));
    for (const metric of METRICS) {
      for (const k of [1, 5, 40]) {
        const { indices, distances } = noLeak(() =>
          nearestNeighbors(flat(x), flat(x), 5, k, { metric, excludeSelf: true, chunkRows: 4 }),
        );
        for (let q = 0; q < 41; q++) assert.ok(!indices.subarray(q * k, (q + 1) * k).includes(q), `query ${q} found itself`);
        checkAgainstRanking(indices, distances, referenceRanking(x, x, metric, true), k, metric);
      }
    }
  });

  it('without excludeSelf a query finds itself first, at distance ~0', () => {
    const x = asFloat32(randomMatrix(20, 4, 14));
    const { indices, distances } = nearestNeighbors(flat(x), flat(x), 4, 2, { chunkRows: 3 });
    for (let q = 0; q < 20; q++) {
      assert.equal(indices[2 * q], q);
      assert.ok(distances[2 * q]! < 1e-3);
    }
  });

  it('breaks exact ties by the lower index (integer data: distances exact in float32)', () => {
    // 1-D references 0, 2, 2, −2, 4, 0 seen from the query 1: distances 1, 1, 1, 3, 3, 1.
    const references = Float32Array.from([0, 2, 2, -2, 4, 0]);
    const { indices, distances } = nearestNeighbors(Float32Array.from([1, 2]), references, 1, 6, { chunkRows: 1 });
    assert.deepEqual([...indices.subarray(0, 6)], [0, 1, 2, 5, 3, 4]);
    assert.deepEqual([...distances.subarray(0, 6)], [1, 1, 1, 1, 3, 3]);
    // From 2: distances 2, 0, 0, 4, 2, 2 → 1, 2 (0), then 0, 4, 5 (2), then 3 (4).
    assert.deepEqual([...indices.subarray(6)], [1, 2, 0, 4, 5, 3]);
    assert.deepEqual([...distances.subarray(6)], [0, 0, 2, 2, 2, 4]);
  });

  it('breaks ties by index inside quickselect too (many tied references, k < references)', () => {
    // 60 references on 1-D integers −4 … 4: every distance from an integer query is shared by
    // many references, so both the selection and the sort of the k nearest meet ties.
    const random = new SeededRandom(51);
    const references = Float32Array.from({ length: 60 }, () => random.int(9) - 4);
    const queries = Float32Array.from([0, 3, -4]);
    for (const k of [1, 13, 25, 59]) {
      const { indices, distances } = nearestNeighbors(queries, references, 1, k, { chunkRows: 2 });
      queries.forEach((q, i) => {
        const expected = [...references.keys()].sort((a, b) => Math.abs(references[a]! - q) - Math.abs(references[b]! - q) || a - b).slice(0, k);
        assert.deepEqual([...indices.subarray(i * k, (i + 1) * k)], expected, `query ${q}, k = ${k}`);
        assert.deepEqual([...distances.subarray(i * k, (i + 1) * k)], expected.map((j) => Math.abs(references[j]! - q)));
      });
    }
  });

  it('rejects bad input with clear errors', () => {
    const x = Float32Array.from([0, 1, 2, 3, 4, 5]);
    throwsInput(() => nearestNeighbors(x, Float32Array.from([1, 2, 3, 4]), 4, 1), /queries has 6 values, not a multiple of dims = 4/);
    throwsInput(() => nearestNeighbors(x, Float32Array.from([1, NaN]), 2, 1), /references contain NaN at row 0, column 1/);
    throwsInput(() => nearestNeighbors(new Float32Array(0), x, 2, 1), /queries is empty/);
    throwsInput(() => nearestNeighbors(x, x, 2, 3, { excludeSelf: true }), /k = 3 but each query has only 2 candidate references \(itself excluded\)/);
    throwsInput(() => nearestNeighbors(x, x, 2, 0), /k must be >= 1/);
    throwsInput(() => nearestNeighbors(x, x.subarray(0, 4), 2, 1, { excludeSelf: true }), /3 queries and 2 references/);
    throwsInput(() => nearestNeighbors(x, x, 2, 1, { metric: 'manhattan' as EvaluationMetric }), /metric must be 'euclidean' or 'cosine'/);
    throwsInput(() => nearestNeighbors(x, x, 2, 1, { chunkRows: 0 }), /chunkRows must be >= 1/);
    throwsInput(() => nearestNeighbors(x, x, 1.5, 1), /dims must be an integer/);
  });
});

/**
 * Each returned neighbour is at the distance the float64 full sort puts at that rank (so the set
 * and order are right up to float32 near-ties), and where the full sort has a clear gap around a
 * rank the index must be the same.
 */
function checkAgainstRanking(
  indices: Int32Array,
  distances: Float32Array,
  expected: Array<Array<{ index: number; distance: number }>>,
  k: number,
  metric: EvaluationMetric,
): void {
  expected.forEach((ranking, q) => {
    const trueDistance = new Map(ranking.map(({ index, distance }) => [index, distance]));
    const seen = new Set<number>();
    for (let t = 0; t < k; t++) {
      const index = indices[q * k + t]!;
      assert.ok(!seen.has(index), `query ${q}: index ${index} twice`);
      seen.add(index);
      const want = ranking[t]!;
      assert.ok(Math.abs(trueDistance.get(index)! - want.distance) < 1e-5, `${metric} query ${q} rank ${t}: index ${index} vs ${want.index}`);
      assert.ok(Math.abs(distances[q * k + t]! - want.distance) < 1e-5, `${metric} query ${q} rank ${t}: distance ${distances[q * k + t]} vs ${want.distance}`);
      const gapBefore = t === 0 ? Infinity : want.distance - ranking[t - 1]!.distance;
      const gapAfter = t + 1 < ranking.length ? ranking[t + 1]!.distance - want.distance : Infinity;
      if (Math.min(gapBefore, gapAfter) > 1e-4) assert.equal(index, want.index, `${metric} query ${q} rank ${t}`);
    }
  });
}

describe('retrievalMetrics', () => {
  it('leave-one-out, computed by hand on 1-D embeddings', () => {
    // Values (label): 0 (A), 1 (A), 3 (B), 4 (A), 10 (B), 12 (B). Each label has 3 members: R = 2.
    // Rankings (label sequence), first two ranks decide P@1, R-precision, MAP@R:
    //   q0 at 0:  1 A, 3 B, 4 A, …      P@1 1, RP 1/2, AP = (1/2)(1/1)       = 1/2, first hit rank 1
    //   q1 at 1:  0 A, 3 B, 4 A, …      P@1 1, RP 1/2, AP = 1/2,               first hit rank 1
    //   q2 at 3:  4 A, 1 A, 0 A, 10 B   P@1 0, RP 0,   AP = 0,                 first hit rank 4
    //   q3 at 4:  3 B, 1 A, 0 A, …      P@1 0, RP 1/2, AP = (1/2)(1/2)       = 1/4, first hit rank 2
    //   q4 at 10: 12 B, 4 A, 3 B, …     P@1 1, RP 1/2, AP = 1/2,               first hit rank 1
    //   q5 at 12: 10 B, 4 A, 3 B, …     P@1 1, RP 1/2, AP = 1/2,               first hit rank 1
    // P@1 = 4/6, R-precision = 2.5/6, MAP@R = 2.25/6; recall@1 = 4/6, @2 = 5/6, @4 = 6/6.
    const queries = Float32Array.from([0, 1, 3, 4, 10, 12]);
    const labels = [0, 0, 1, 0, 1, 1];
    const result = noLeak(() => retrievalMetrics({ queries, queryLabels: labels, dims: 1, recallAt: [1, 2, 4] }));
    assert.ok(closeTo(result.precisionAt1, 4 / 6));
    assert.ok(closeTo(result.rPrecision, 2.5 / 6));
    assert.ok(closeTo(result.mapAtR, 2.25 / 6));
    assert.ok(closeTo(result.recallAt[1]!, 4 / 6));
    assert.ok(closeTo(result.recallAt[2]!, 5 / 6));
    assert.equal(result.recallAt[4], 1);
    assert.equal(result.queries, 6);
    assert.equal(result.skippedQueries, 0);
  });

  it('queries against references, with a query whose label has no reference (computed by hand)', () => {
    // References (label): 0 (A), 1 (B), 2 (A), 3 (A), 5 (B).
    //   q at 0.75 (A), R = 3: ranks 1 (B, 0.25), 0 (A, 0.75), 2 (A, 1.25), 3 (A), 5 (B)
    //     P@1 0, RP 2/3, AP = (1/3)(0 + 1/2 + 2/3) = 7/18
    //   q at 4.5 (B), R = 2: ranks 5 (B, 0.5), 3 (A), 2 (A), 1 (B), 0
    //     P@1 1, RP 1/2, AP = (1/2)(1/1) = 1/2
    //   q at 9 (C): no reference labelled C, skipped.
    // P@1 = 1/2, R-precision = (2/3 + 1/2)/2 = 7/12, MAP@R = (7/18 + 9/18)/2 = 4/9;
    // recall@1 = 1/2, recall@2 = 1 (first hits at ranks 2 and 1).
    const result = retrievalMetrics({
      queries: Float32Array.from([0.75, 4.5, 9]),
      queryLabels: [0, 1, 2],
      references: Float32Array.from([0, 1, 2, 3, 5]),
      referenceLabels: [0, 1, 0, 0, 1],
      dims: 1,
      recallAt: [1, 2, 100],
    });
    assert.ok(closeTo(result.precisionAt1, 1 / 2));
    assert.ok(closeTo(result.rPrecision, 7 / 12));
    assert.ok(closeTo(result.mapAtR, 4 / 9));
    assert.ok(closeTo(result.recallAt[1]!, 1 / 2));
    assert.equal(result.recallAt[2], 1);
    assert.equal(result.recallAt[100], 1, 'K beyond the references means all of them');
    assert.equal(result.queries, 2);
    assert.equal(result.skippedQueries, 1);
  });

  it('matches a brute-force implementation on random data', () => {
    const recallAt = [1, 3, 5, 100];
    const queries = asFloat32(randomMatrix(60, 5, 21));
    // Uneven classes, and labels 10, 11 once each (R = 0 in leave-one-out).
    const queryLabels = [...randomLabels(58, 6, 22), 10, 11];
    const references = asFloat32(randomMatrix(45, 5, 23));
    const referenceLabels = randomLabels(45, 7, 24);
    for (const metric of METRICS) {
      for (const split of [false, true]) {
        const expected = referenceRetrieval(queries, queryLabels, split ? references : undefined, split ? referenceLabels : undefined, metric, recallAt);
        const actual = noLeak(() =>
          retrievalMetrics({
            queries: flat(queries),
            queryLabels,
            ...(split ? { references: flat(references), referenceLabels } : {}),
            dims: 5,
            metric,
            recallAt,
            chunkRows: 7,
          }),
        );
        const name = `${metric}, ${split ? 'split' : 'leave-one-out'}`;
        for (const key of ['precisionAt1', 'rPrecision', 'mapAtR'] as const) {
          assert.ok(closeTo(actual[key], expected[key], 1e-12, 1e-12), `${name} ${key}: ${actual[key]} vs ${expected[key]}`);
        }
        for (const K of recallAt) assert.ok(closeTo(actual.recallAt[K]!, expected.recallAt[K]!, 1e-12, 1e-12), `${name} recall@${K}`);
        assert.equal(actual.queries, expected.queries);
        assert.equal(actual.skippedQueries, expected.skippedQueries);
        if (!split) assert.equal(actual.skippedQueries, 2);
      }
    }
  });

  it('ranks past the sampled threshold exactly, on one thread and with a worker, with and without ties', () => {
    // 2,500 references: the sampled threshold and the two-array merge are used (small sets keep
    // every key). Integer coordinates in [0, 3]³ make many exact ties between labels, which
    // must be broken by index as the brute force does; continuous ones make none, but distances
    // computed another way (the brute force's) may order near-ties differently: hence 1e-6 there.
    const random = new SeededRandom(31);
    const integers = (rows: number): Matrix => Array.from({ length: rows }, () => Array.from({ length: 3 }, () => random.int(4)));
    const cases = [
      { name: 'ties', queries: integers(300), references: integers(2500), metrics: ['euclidean'] as EvaluationMetric[], tolerance: 1e-12 },
      { name: 'no ties', queries: asFloat32(randomMatrix(300, 3, 32)), references: asFloat32(randomMatrix(2500, 3, 33)), metrics: METRICS, tolerance: 1e-6 },
    ];
    const queryLabels = randomLabels(300, 5, 34);
    const referenceLabels = randomLabels(2500, 5, 35);
    for (const { name, queries, references, metrics, tolerance } of cases) {
      for (const metric of metrics) {
        const expected = referenceRetrieval(queries, queryLabels, references, referenceLabels, metric, [1, 4]);
        const [alone, withWorker] = [1, 2].map((threads) =>
          noLeak(() =>
            retrievalMetrics({ queries: flat(queries), queryLabels, references: flat(references), referenceLabels, dims: 3, metric, recallAt: [1, 4], threads, chunkRows: 64 }),
          ),
        );
        assert.deepEqual(withWorker, alone, `${name}, ${metric}: a worker thread changes nothing`);
        for (const key of ['precisionAt1', 'rPrecision', 'mapAtR'] as const) {
          assert.ok(closeTo(alone![key], expected[key], tolerance, tolerance), `${name}, ${metric}, ${key}: ${alone![key]} vs ${expected[key]}`);
        }
      }
    }
  });

  it('rejects bad input with clear errors', () => {
    const queries = Float32Array.from([0, 1, 2, 3]);
    throwsInput(() => retrievalMetrics({ queries, queryLabels: [0, 0, 1], dims: 1 }), /labels has 3 entries but queries has 4 rows/);
    throwsInput(() => retrievalMetrics({ queries, queryLabels: [0, 0, 1, 1], references: queries, dims: 1 }), /references and referenceLabels together/);
    throwsInput(
      () => retrievalMetrics({ queries, queryLabels: [0, 0, 1, 1], references: queries, referenceLabels: [0, 1], dims: 1 }),
      /labels has 2 entries but references has 4 rows/,
    );
    throwsInput(() => retrievalMetrics({ queries, queryLabels: [0, 1, 2, 3], dims: 1 }), /every label occurs once/);
    throwsInput(
      () => retrievalMetrics({ queries, queryLabels: [0, 0, 1, 1], references: queries, referenceLabels: [5, 5, 6, 6], dims: 1 }),
      /no query label occurs among the reference labels/,
    );
    throwsInput(() => retrievalMetrics({ queries, queryLabels: [0, 0, 1, 1], dims: 1, recallAt: [0] }), /recallAt entry must be >= 1/);
    throwsInput(() => retrievalMetrics({ queries, queryLabels: [0, 0.5, 1, 1], dims: 1 }), /labels\[1\] is 0.5/);
    throwsInput(() => retrievalMetrics({ queries: Float32Array.from([0, Infinity]), queryLabels: [0, 0], dims: 1 }), /queries contain Infinity at row 1/);
  });
});

describe('verification', () => {
  it('AUC, EER and accuracies computed by hand, with tied distances', () => {
    // 1-D points 0 (A), 1 (A), 2 (B), 4 (B): positive pairs 0–1 = 1, 2–4 = 2; negative pairs
    // 1–2 = 1, 0–2 = 2, 1–4 = 3, 0–4 = 4.
    // AUC: positive 1 beats 2, 3, 4 and ties 1 → 3.5; positive 2 beats 3, 4 and ties 2 → 2.5;
    //   (3.5 + 2.5) / (2 · 4) = 0.75.
    // ROC (FPR, TPR): (0, 0) → d ≤ 1: (1/4, 1/2) → d ≤ 2: (1/2, 1) → (3/4, 1) → (1, 1).
    // EER: FPR − FNR is −1/4 at (1/4, 1/2) and +1/2 at (1/2, 1): a third of the way,
    //   FPR = 1/4 + (1/3)(1/4) = 1/3 (and FNR = 1/2 − (1/3)(1/2) = 1/3).
    // Accuracy (TP + TN)/6: 4/6 accepting nothing, 4/6, 4/6, 3/6, 2/6: best 4/6, first reached by
    //   accepting nothing, reported as the smallest distance − 1 = 0.
    // Balanced (TPR + 1 − FPR)/2: 1/2, 5/8, 3/4, 5/8, 1/2 → 3/4, at d ≤ 2: threshold halfway to
    //   the next distance 3, 2.5. TAR at FAR ≤ 1e-2: only (0, 0) → 0.
    const result = noLeak(() => verificationMetrics({ embeddings: Float32Array.from([0, 1, 2, 4]), labels: [0, 0, 1, 1], dims: 1 }));
    assert.ok(closeTo(result.rocAuc, 0.75));
    assert.ok(closeTo(result.eer, 1 / 3));
    assert.ok(closeTo(result.bestAccuracy, 4 / 6));
    assert.equal(result.bestThreshold, 0);
    assert.ok(closeTo(result.balancedAccuracy, 0.75));
    assert.equal(result.balancedThreshold, 2.5);
    assert.equal(result.tarAtFar1e3, 0);
    assert.equal(result.tarAtFar1e2, 0);
    assert.equal(result.pairs, 6);
    assert.equal(result.positivePairs, 2);
    assert.equal(result.embeddingsUsed, 4);
  });

  it('perfect separation: AUC 1, EER 0, accuracy 1 at the midpoint of the gap', () => {
    // 0 (A), 1 (A), 10 (B), 11 (B): positives 1, 1; negatives 9, 10, 10, 11. Gap (1, 9) → threshold 5.
    const result = verificationMetrics({ embeddings: Float32Array.from([0, 1, 10, 11]), labels: [3, 3, 7, 7], dims: 1 });
    assert.equal(result.rocAuc, 1);
    assert.equal(result.eer, 0);
    assert.equal(result.bestAccuracy, 1);
    assert.equal(result.bestThreshold, 5);
    assert.equal(result.balancedAccuracy, 1);
    assert.equal(result.balancedThreshold, 5);
    assert.equal(result.tarAtFar1e3, 1);
  });

  it('TAR at FAR 1e-3 and 1e-2, computed by hand', () => {
    // Negatives 10, 11, …, 2009 (N = 2000); positives 0.5, 10.5, 11.5, 25.5, 5000 (P = 5).
    // FAR ≤ 1e-3 allows 2 false accepts (10, 11): positives ≤ 11.5 → TAR 3/5.
    // FAR ≤ 1e-2 allows 20 (10 … 29): the best threshold below 30 accepts 10 … 25 (16) → TAR 4/5.
    // AUC: 0.5 beats 2000, 10.5 beats 1999, 11.5 beats 1998, 25.5 beats 1984 (26 … 2009), 5000 none
    //   → 7981 / 10000.
    const negatives = Float32Array.from({ length: 2000 }, (_, i) => 10 + i);
    const result = rocSummary(Float32Array.from([0.5, 10.5, 11.5, 25.5, 5000]), negatives);
    assert.ok(closeTo(result.tarAtFar1e3, 3 / 5));
    assert.ok(closeTo(result.tarAtFar1e2, 4 / 5));
    assert.ok(closeTo(result.rocAuc, 7981 / 10000));
  });

  it('matches brute-force counting on random data (both metrics)', () => {
    const x = asFloat32(randomMatrix(34, 6, 31));
    const labels = randomLabels(34, 4, 32);
    for (const metric of METRICS) {
      const { positives, negatives } = referencePairs(x, labels, metric);
      const expected = referenceRoc(positives, negatives);
      const actual = noLeak(() => verificationMetrics({ embeddings: flat(x), labels, dims: 6, metric, chunkRows: 5 }));
      assert.equal(actual.pairs, (34 * 33) / 2);
      assert.equal(actual.positivePairs, positives.length);
      for (const key of ['rocAuc', 'eer', 'bestAccuracy', 'balancedAccuracy', 'tarAtFar1e3', 'tarAtFar1e2'] as const) {
        assert.ok(closeTo(actual[key], expected[key], 1e-9, 1e-12), `${metric} ${key}: ${actual[key]} vs ${expected[key]}`);
      }
      assert.ok(Math.abs(actual.bestThreshold - expected.bestThreshold) < 1e-5, `${metric} threshold ${actual.bestThreshold} vs ${expected.bestThreshold}`);
      assert.ok(Math.abs(actual.balancedThreshold - expected.balancedThreshold) < 1e-5, `${metric} balanced threshold ${actual.balancedThreshold} vs ${expected.balancedThreshold}`);
    }
  });

  it('caps the pairs with a seeded subset of the embeddings', () => {
    const x = flat(asFloat32(randomMatrix(30, 3, 33)));
    const labels = randomLabels(30, 3, 34);
    // 14 · 13 / 2 = 91 ≤ 100 < 15 · 14 / 2 = 105.
    const a = verificationMetrics({ embeddings: x, labels, dims: 3, maxPairs: 100, seed: 5 });
    const b = verificationMetrics({ embeddings: x, labels, dims: 3, maxPairs: 100, seed: 5 });
    assert.equal(a.embeddingsUsed, 14);
    assert.equal(a.pairs, 91);
    assert.deepEqual(a, b, 'the same seed gives the same subset');
    assert.equal(verificationMetrics({ embeddings: x, labels, dims: 3, maxPairs: 435 }).embeddingsUsed, 30);
  });

  it('rejects sets without positive or negative pairs, and unsorted ROC input', () => {
    const x = Float32Array.from([0, 1, 2]);
    throwsInput(() => verificationMetrics({ embeddings: x, labels: [1, 1, 1], dims: 1 }), /no negative pair/);
    throwsInput(() => verificationMetrics({ embeddings: x, labels: [1, 2, 3], dims: 1 }), /no positive pair/);
    throwsInput(() => verificationMetrics({ embeddings: x.subarray(0, 1), labels: [1], dims: 1 }), /at least 2 embeddings/);
    throwsInput(() => verificationMetrics({ embeddings: x, labels: [1, 1], dims: 1 }), /labels has 2 entries but embeddings has 3 rows/);
    throwsInput(() => rocSummary(Float32Array.from([2, 1]), Float32Array.from([3])), /positive pair distances must be finite and sorted/);
  });
});

describe('verification curves and thresholds', () => {
  it('ROC points and distance histograms, by hand', () => {
    // Positives 0, 1; negatives 1, 2, 4; 4 bins over [0, 4]: edges 0, 1, 2, 3, 4 (a bin holds its upper edge).
    // Pairs at or below each edge: positives 1, 2, 2, 2, 2; negatives 0, 1, 2, 2, 3.
    const curves = verificationCurves(Float32Array.of(0, 1), Float32Array.of(1, 2, 4), 4);
    assert.deepEqual(curves.histogram, { edges: [0, 1, 2, 3, 4], positive: [2, 0, 0, 0], negative: [1, 1, 0, 1] });
    assert.deepEqual(curves.roc.tar, [0, 0.5, 1, 1, 1, 1]);
    assert.deepEqual(curves.roc.far, [0, 0, 1 / 3, 2 / 3, 2 / 3, 1]);
  });

  it('accuracy, FAR and FRR at a threshold given in advance, by hand', () => {
    // Same-label distances 0.1, 0.4, 0.9; different-label 0.3, 0.8, 1.5, 2. Threshold 0.5 accepts
    // 0.1, 0.4 (positives) and 0.3 (a negative): FRR 1/3, FAR 1/4, accuracy (2 + 3) / 7.
    const at = thresholdMetrics(Float32Array.of(0.1, 0.4, 0.9), Float32Array.of(0.3, 0.8, 1.5, 2), 0.5);
    assert.ok(closeTo(at.frr, 1 / 3) && closeTo(at.far, 1 / 4) && closeTo(at.accuracy, 5 / 7), JSON.stringify(at));
    // A distance equal to the threshold is accepted.
    assert.equal(thresholdMetrics(Float32Array.of(0.5), Float32Array.of(1), 0.5).frr, 0);
  });
});

describe('clustering', () => {
  it('NMI: identical partitions 1, independent ones 0, and a hand case', () => {
    assert.equal(normalizedMutualInformation([0, 0, 1, 1, 2, 2], [5, 5, 9, 9, 7, 7]), 1);
    // Every (a, b) combination equally often: MI = 0.
    assert.equal(normalizedMutualInformation([0, 1, 0, 1, 0, 1, 0, 1], [0, 0, 1, 1, 0, 0, 1, 1]), 0);
    // a = [0, 0, 1, 1], b = [0, 0, 0, 1]; joint p: (0,0) 1/2, (1,0) 1/4, (1,1) 1/4; p(a) = 1/2, 1/2;
    // p(b) = 3/4, 1/4. MI = 1/2 ln(4/3) + 1/4 ln(2/3) + 1/4 ln 2 = 3/2 ln 2 − 3/4 ln 3;
    // H(a) = ln 2, H(b) = 2 ln 2 − 3/4 ln 3; NMI = MI / ((H(a) + H(b)) / 2).
    const mi = 1.5 * Math.log(2) - 0.75 * Math.log(3);
    const expected = mi / ((Math.log(2) + 2 * Math.log(2) - 0.75 * Math.log(3)) / 2);
    assert.ok(closeTo(normalizedMutualInformation([0, 0, 1, 1], [0, 0, 0, 1]), expected, 1e-12));
    // scikit-learn's limit cases: both single groups → 1; one single group → 0.
    assert.equal(normalizedMutualInformation([4, 4, 4], [1, 1, 1]), 1);
    assert.equal(normalizedMutualInformation([4, 4, 4], [1, 2, 1]), 0);
    throwsInput(() => normalizedMutualInformation([1, 2], [1]), /2 and 1 entries/);
  });

  it('k-means finds well-separated blobs: NMI 1 and the inertia of the true partition', () => {
    const { values, labels } = blobs(3, 12, 4, 41);
    const result = noLeak(() => clusteringMetrics({ embeddings: values, labels, dims: 4, seed: 3 }));
    assert.equal(result.nmi, 1);
    const clusters = noLeak(() => kMeans(values, 4, 3, { seed: 3 }));
    assert.ok(closeTo(clusters.inertia, trueInertia(values, labels, 4), 1e-4), `inertia ${clusters.inertia}`);
    assert.deepEqual(kMeans(values, 4, 3, { seed: 3 }).assignments, clusters.assignments, 'seeded: same result');
    // Blobs scaled per row keep their directions: cosine clustering still separates them.
    const scaled = values.map((v, i) => v * (1 + (Math.floor(i / 4) % 5)));
    assert.equal(clusteringMetrics({ embeddings: scaled, labels, dims: 4, metric: 'cosine' }).nmi, 1);
  });

  it('NMI of unstructured embeddings is near 0', () => {
    const x = flat(asFloat32(randomMatrix(200, 2, 42)));
    const { nmi } = clusteringMetrics({ embeddings: x, labels: randomLabels(200, 4, 43), dims: 2 });
    assert.ok(nmi < 0.1, `nmi ${nmi}`);
  });

  it('rejects bad input', () => {
    throwsInput(() => clusteringMetrics({ embeddings: Float32Array.from([0, 1]), labels: [0], dims: 1 }), /labels has 1 entries but embeddings has 2 rows/);
    throwsInput(() => kMeans(Float32Array.from([0, 1]), 1, 3), /needs at least 3 rows/);
  });
});

/** `classes` tight clusters of `size` points each, centres 20 apart, in `dims` dimensions (float32). */
function blobs(classes: number, size: number, dims: number, seed: number): { values: Float32Array; labels: number[] } {
  const noise = randomMatrix(classes * size, dims, seed);
  const labels = noise.map((_, i) => i % classes);
  const values = flat(noise.map((row, i) => row.map((v, d) => 0.5 * v + (d === labels[i]! ? 20 : 0) + 5)));
  return { values, labels };
}

/** Σ |x − mean of its class|², in float64. */
function trueInertia(values: Float32Array, labels: number[], dims: number): number {
  let total = 0;
  for (const label of new Set(labels)) {
    const rows = labels.flatMap((l, i) => (l === label ? [i] : []));
    const mean = Array.from({ length: dims }, (_, d) => rows.reduce((s, i) => s + values[i * dims + d]!, 0) / rows.length);
    for (const i of rows) for (let d = 0; d < dims; d++) total += (values[i * dims + d]! - mean[d]!) ** 2;
  }
  return total;
}

describe('evaluateEmbeddings', () => {
  const queries = Float32Array.from([0, 1, 3, 4, 10, 12]);
  const labels = [0, 0, 1, 0, 1, 1];

  it('leave-one-out: retrieval, NMI and verification in one flat object', () => {
    const report = noLeak(() => evaluateEmbeddings({ queries, queryLabels: labels, dims: 1, recallAt: [1, 2] }));
    // Retrieval as in the hand case above.
    assert.ok(closeTo(report.precisionAt1, 4 / 6));
    assert.ok(closeTo(report.mapAtR, 2.25 / 6));
    assert.ok(closeTo(report.recallAt2, 5 / 6));
    assert.equal(report.queries, 6);
    const verification = verificationMetrics({ embeddings: queries, labels, dims: 1 });
    assert.equal(report.rocAuc, verification.rocAuc);
    assert.equal(report.pairs, 15);
    assert.equal(report.nmi, clusteringMetrics({ embeddings: queries, labels, dims: 1 }).nmi);
    for (const [key, value] of Object.entries(report)) assert.equal(typeof value, 'number', key);
  });

  it('with references: no verification unless asked', () => {
    const base = { queries, queryLabels: labels, references: queries, referenceLabels: labels, dims: 1 };
    const report = evaluateEmbeddings(base);
    assert.equal(report.rocAuc, undefined);
    // Not leave-one-out: each query finds itself first.
    assert.equal(report.precisionAt1, 1);
    assert.equal(report.recallAt8, 1);
    assert.equal(typeof evaluateEmbeddings({ ...base, verification: true }).eer, 'number');
  });
});
