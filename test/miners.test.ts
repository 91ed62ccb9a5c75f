import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../src/tf.js';
import {
  BatchHardMiner,
  DistanceWeightedMiner,
  MultiSimilarityMiner,
  PairMarginMiner,
  RandomTripletMiner,
  SemiHardMiner,
  TripletMarginMiner,
  type BaseMiner,
} from '../src/miners/index.js';
import { CosineSimilarity, LpDistance, type BaseDistance } from '../src/distances/index.js';
import { TripletjsInputError } from '../src/common/errors.js';
import type { PairIndices, TripletIndices, Tuples } from '../src/common/tuples.js';
import {
  allTriplets,
  normalizeRows,
  referenceBatchHard,
  referenceMultiSimilarity,
  referencePairMargin,
  referenceSemiHard,
  referenceTripletMarginMiner,
  type Matrix,
  type Pair,
  type Triplet,
} from './helpers/reference.js';
import { labelLayouts, liveTensors, randomMatrix, toTensor } from './helpers/setup.js';

/** The library's own distance matrix, oriented (smaller = closer), as nested numbers. */
function orientedMatrix(distance: BaseDistance, x: tf.Tensor2D): Matrix {
  const values = distance.orientedMatrix(x);
  const n = x.shape[0];
  return Array.from({ length: n }, (_, i) => Array.from(values.subarray(i * n, (i + 1) * n)));
}

const tripletKeys = (t: TripletIndices): string[] => Array.from(t.anchors, (a, i) => `${a},${t.positives[i]},${t.negatives[i]}`).sort();
const referenceKeys = (t: Triplet[]): string[] => t.map(({ a, p, n }) => `${a},${p},${n}`).sort();
const pairKeys = (a: Int32Array, b: Int32Array): string[] => Array.from(a, (x, i) => `${x},${b[i]}`).sort();
const referencePairKeys = (pairs: Pair[]): string[] => pairs.map(({ a, b }) => `${a},${b}`).sort();

const DISTANCES: Array<[string, () => BaseDistance]> = [
  ['euclidean', () => new LpDistance()],
  ['cosine', () => new CosineSimilarity()],
];

describe('miners select exactly what brute force selects', () => {
  for (const size of [7, 24, 48]) {
    for (const [layout, labels] of Object.entries(labelLayouts(size, 31 * size))) {
      it(`B=${size}, ${layout}`, () => {
        const x = toTensor(randomMatrix(size, 6, 7 * size));
        for (const [distanceName, makeDistance] of DISTANCES) {
          const distance = makeDistance();
          const D = orientedMatrix(distance, x);
          const context = `${distanceName}, ${layout}`;
          for (const type of ['all', 'hard', 'semihard', 'easy'] as const) {
            const mined = new TripletMarginMiner({ margin: 0.15, typeOfTriplets: type, distance }).mine(x, labels);
            assert.deepEqual(tripletKeys(mined), referenceKeys(referenceTripletMarginMiner(D, labels, 0.15, type)), `${context} ${type}`);
          }
          assert.deepEqual(tripletKeys(new BatchHardMiner({ distance }).mine(x, labels)), referenceKeys(referenceBatchHard(D, labels)), `${context} batch-hard`);
          assert.deepEqual(tripletKeys(new SemiHardMiner({ distance }).mine(x, labels)), referenceKeys(referenceSemiHard(D, labels)), `${context} semi-hard`);
          assert.deepEqual(
            tripletKeys(new SemiHardMiner({ distance, margin: 0.1 }).mine(x, labels)),
            referenceKeys(referenceSemiHard(D, labels, 0.1)),
            `${context} semi-hard with margin`,
          );
          const sign = distance.isInverted ? -1 : 1;
          const [posMargin, negMargin] = distance.isInverted ? [0.7, 0.3] : [0.6, 1.2];
          const pairs = new PairMarginMiner({ posMargin, negMargin, distance }).mine(x, labels);
          const expected = referencePairMargin(D, labels, sign * posMargin, sign * negMargin);
          assert.deepEqual(pairKeys(pairs.a1, pairs.p), referencePairKeys(expected.positive), `${context} positive pairs`);
          assert.deepEqual(pairKeys(pairs.a2, pairs.n), referencePairKeys(expected.negative), `${context} negative pairs`);
          const hard = new MultiSimilarityMiner({ epsilon: 0.1, distance }).mine(x, labels);
          const expectedHard = referenceMultiSimilarity(D, labels, 0.1);
          assert.deepEqual(pairKeys(hard.a1, hard.p), referencePairKeys(expectedHard.positive), `${context} multi-similarity positives`);
          assert.deepEqual(pairKeys(hard.a2, hard.n), referencePairKeys(expectedHard.negative), `${context} multi-similarity negatives`);
        }
        x.dispose();
      });
    }
  }

  it("multi-similarity drops pairs the contrastive loss still counts: it mines, where margins equal to the loss's do not", () => {
    // Two tight classes far apart: every positive pair has loss (distance > 0) and the negative
    // pair inside the margin 0.5 too, yet each anchor's positives are nearer than its negatives.
    const x = toTensor([[1, 0], [0.99, 0.141], [0.8, 0.6], [0.6, 0.8]]);
    const labels = [0, 0, 1, 1];
    const hard = new MultiSimilarityMiner({ epsilon: 0.1 }).mine(x, labels);
    const counted = new PairMarginMiner({ posMargin: 0, negMargin: 0.5 }).mine(x, labels);
    assert.equal(counted.a1.length, 4, 'the loss counts every positive pair');
    assert.ok(counted.a2.length > 0, 'and the negative pairs inside its margin');
    assert.equal(hard.a1.length + hard.a2.length, 0, 'none is hard for its anchor');
    x.dispose();
  });

  it('semi-hard and batch-hard break ties at the lowest index (duplicated embeddings)', () => {
    const base = randomMatrix(4, 3, 99);
    const x = toTensor([base[0]!, base[0]!, base[1]!, base[1]!, base[2]!, base[2]!, base[3]!, base[3]!]);
    const labels = [0, 0, 1, 1, 2, 2, 3, 3];
    const D = orientedMatrix(new LpDistance(), x);
    assert.deepEqual(tripletKeys(new SemiHardMiner().mine(x, labels)), referenceKeys(referenceSemiHard(D, labels)));
    assert.deepEqual(tripletKeys(new BatchHardMiner().mine(x, labels)), referenceKeys(referenceBatchHard(D, labels)));
    x.dispose();
  });

  it('semi-hard over more than 2^21 reference columns agrees with brute force', () => {
    const columns = 2 ** 21 + 5;
    const refValues = new Float32Array(columns * 2);
    // Coarse coordinates: many exactly equal distances, so tie-breaking by index is exercised.
    for (let i = 0; i < refValues.length; i++) refValues[i] = ((i * 7919) % 23) / 7 - 1.5;
    const refLabels = Int32Array.from({ length: columns }, (_, i) => i % 3);
    const x = tf.tensor2d([[0.3, -0.2]]);
    const ref = tf.tensor2d(refValues, [columns, 2]);
    const distance = new LpDistance({ normalizeEmbeddings: false });
    // Few positives keep the brute force short: give label 0 to three reference rows only.
    const positives = [11, 2 ** 21 + 1, 400000];
    const labels = Int32Array.from(refLabels, (l, i) => (positives.includes(i) ? 0 : l === 0 ? 2 : l));
    const mined = new SemiHardMiner({ distance }).mine(x, [0], ref, labels);
    const d = distance.orientedMatrix(x, ref);
    const expected = positives.map((p) => {
      let outside = -1;
      let farthest = -1;
      for (let n = 0; n < columns; n++) {
        if (labels[n] === 0) continue;
        if (d[n]! > d[p]! && (outside < 0 || d[n]! < d[outside]!)) outside = n;
        if (farthest < 0 || d[n]! > d[farthest]!) farthest = n;
      }
      return `0,${p},${outside >= 0 ? outside : farthest}`;
    });
    assert.deepEqual(tripletKeys(mined), expected.sort());
    tf.dispose([x, ref]);
  });

  it('reference embeddings: positives and negatives come from the reference set', () => {
    const x = toTensor(randomMatrix(6, 4, 1));
    const ref = toTensor(randomMatrix(10, 4, 2));
    const labels = [0, 1, 2, 0, 1, 2];
    const refLabels = [0, 0, 1, 1, 2, 2, 3, 3, 0, 1];
    const mined = new BatchHardMiner().mine(x, labels, ref, refLabels);
    assert.equal(mined.anchors.length, 6);
    const values = new LpDistance().orientedMatrix(x, ref);
    for (let i = 0; i < 6; i++) {
      const a = mined.anchors[i]!;
      const row = Array.from(values.subarray(a * 10, a * 10 + 10));
      const positives = row.map((d, j) => (refLabels[j] === labels[a] ? d : -Infinity));
      const negatives = row.map((d, j) => (refLabels[j] !== labels[a] ? d : Infinity));
      assert.equal(mined.positives[i], positives.indexOf(Math.max(...positives)));
      assert.equal(mined.negatives[i], negatives.indexOf(Math.min(...negatives)));
    }
    x.dispose();
    ref.dispose();
  });
});

describe('RandomTripletMiner', () => {
  const labels = [0, 0, 0, 1, 1, 2, 2, 2, 2, 3];
  const x = toTensor(randomMatrix(labels.length, 3, 4));

  it('draws valid triplets, triplesPerAnchor per eligible anchor, repeatably from the seed', () => {
    const a = new RandomTripletMiner({ triplesPerAnchor: 3, seed: 5 }).mine(x, labels);
    const b = new RandomTripletMiner({ triplesPerAnchor: 3, seed: 5 }).mine(x, labels);
    const c = new RandomTripletMiner({ triplesPerAnchor: 3, seed: 6 }).mine(x, labels);
    assert.equal(a.anchors.length, 3 * 9); // the singleton class 3 has no positive
    const valid = new Set(referenceKeys(allTriplets(labels)));
    for (const key of tripletKeys(a)) assert.ok(valid.has(key), key);
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
  });

  it('positives and negatives are uniform (chi-square over 20,000 draws)', () => {
    const miner = new RandomTripletMiner({ triplesPerAnchor: 2000, seed: 1 });
    const mined = miner.mine(x, labels);
    // Anchor 5 (class 2): positives 6, 7, 8; negatives the 6 others.
    const positives = new Map<number, number>();
    const negatives = new Map<number, number>();
    for (let i = 0; i < mined.anchors.length; i++) {
      if (mined.anchors[i] !== 5) continue;
      positives.set(mined.positives[i]!, (positives.get(mined.positives[i]!) ?? 0) + 1);
      negatives.set(mined.negatives[i]!, (negatives.get(mined.negatives[i]!) ?? 0) + 1);
    }
    assert.deepEqual([...positives.keys()].sort(), [6, 7, 8]);
    assert.deepEqual([...negatives.keys()].sort((p, q) => p - q), [0, 1, 2, 3, 4, 9]);
    const chiSquare = (counts: number[]): number => {
      const expected = counts.reduce((s, v) => s + v, 0) / counts.length;
      return counts.reduce((s, v) => s + (v - expected) ** 2 / expected, 0);
    };
    // 99.9% quantiles of chi-square with 2 and 5 degrees of freedom.
    assert.ok(chiSquare([...positives.values()]) < 13.8);
    assert.ok(chiSquare([...negatives.values()]) < 20.5);
  });
});

describe('DistanceWeightedMiner', () => {
  it('samples negatives with probability ∝ 1/q(d), computed independently in float64', () => {
    const dims = 8;
    const labels = [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5];
    const raw = randomMatrix(labels.length, dims, 21);
    const x = toTensor(raw);
    const cutoff = 0.5;
    const nonzeroLossCutoff = 1.4;
    const miner = new DistanceWeightedMiner({ cutoff, nonzeroLossCutoff, seed: 3 });
    const counts = new Map<string, number>();
    const rounds = 3000;
    for (let r = 0; r < rounds; r++) {
      const mined = miner.mine(x, labels);
      for (let i = 0; i < mined.anchors.length; i++) {
        const key = `${mined.anchors[i]},${mined.negatives[i]}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
    }
    const unit = normalizeRows(raw);
    let checkedAnchors = 0;
    for (let a = 0; a < labels.length; a++) {
      const weights = unit.map((row, n) => {
        if (labels[n] === labels[a]) return 0;
        const d = Math.max(cutoff, Math.sqrt(row.reduce((s, v, k) => s + (v - unit[a]![k]!) ** 2, 0)));
        if (d >= nonzeroLossCutoff) return 0;
        return d ** (2 - dims) * (1 - d * d / 4) ** (-(dims - 3) / 2);
      });
      const total = weights.reduce((s, w) => s + w, 0);
      const drawn = labels.reduce((s, _, n) => s + (counts.get(`${a},${n}`) ?? 0), 0);
      if (total === 0) {
        assert.equal(drawn, 0, `anchor ${a} has no negative within the cutoff yet was given triplets`);
        continue;
      }
      checkedAnchors++;
      assert.equal(drawn, rounds, `anchor ${a}: one draw per positive per round`);
      for (let n = 0; n < labels.length; n++) {
        const expected = weights[n]! / total;
        const observed = (counts.get(`${a},${n}`) ?? 0) / drawn;
        const sd = Math.sqrt((expected * (1 - expected)) / drawn);
        assert.ok(Math.abs(observed - expected) <= 5 * sd + 1e-9, `anchor ${a}, negative ${n}: ${observed} vs ${expected}`);
      }
    }
    assert.ok(checkedAnchors >= labels.length / 2, `only ${checkedAnchors} anchors had candidates`);
    x.dispose();
  });

  it('does not underflow at high dimension: every anchor still gets its triplets', () => {
    const dims = 512;
    const labels = Array.from({ length: 32 }, (_, i) => i % 8);
    const x = toTensor(randomMatrix(32, dims, 5));
    // Random points in 512-D sit near distance √2 ≈ 1.414: raise the loss cutoff so they count.
    const mined = new DistanceWeightedMiner({ nonzeroLossCutoff: 1.9 }).mine(x, labels);
    assert.equal(mined.anchors.length, 32 * 3);
    assert.ok(new Set(mined.negatives).size > 8, 'the draws are spread, not collapsed on one negative');
    x.dispose();
  });

  it('refuses distances its weights are not derived for', () => {
    assert.throws(() => new DistanceWeightedMiner({ distance: new LpDistance({ power: 2 }) }), TripletjsInputError);
    assert.throws(() => new DistanceWeightedMiner({ distance: new LpDistance({ normalizeEmbeddings: false }) }), TripletjsInputError);
  });
});

describe('miners on degenerate batches and bad input', () => {
  const miners = (): Array<[string, BaseMiner<Tuples>]> => [
    ['triplet margin', new TripletMarginMiner()],
    ['batch hard', new BatchHardMiner()],
    ['semi hard', new SemiHardMiner()],
    ['distance weighted', new DistanceWeightedMiner()],
    ['random', new RandomTripletMiner()],
    ['pair margin', new PairMarginMiner()],
    ['multi-similarity', new MultiSimilarityMiner()],
  ];
  const count = (t: Tuples): number => ('anchors' in t ? (t as TripletIndices).anchors.length : (t as PairIndices).a1.length + (t as PairIndices).a2.length);

  it('one label or all distinct: no triplets; zeros and duplicates: no NaN, valid indices', () => {
    const x = toTensor(randomMatrix(6, 4, 2));
    for (const [name, miner] of miners()) {
      if (name !== 'pair margin') {
        assert.equal(count(miner.mine(x, [3, 3, 3, 3, 3, 3])), 0, name);
        assert.equal(count(miner.mine(x, [0, 1, 2, 3, 4, 5])), 0, name);
      }
      for (const values of [tf.zeros([6, 4]), tf.ones([6, 4])]) {
        const mined = miner.mine(values as tf.Tensor2D, [0, 0, 1, 1, 2, 2]);
        for (const indices of Object.values(mined) as Int32Array[]) for (const i of indices) assert.ok(i >= 0 && i < 6, name);
        values.dispose();
      }
    }
    x.dispose();
  });

  it('clear errors, and no tensor left behind', () => {
    const x = tf.tensor2d([[0, 1], [1, 0], [1, 1]]);
    const withNaN = tf.tensor2d([[NaN, 1], [0, 1]]);
    const wrongDimension = tf.tensor2d([[1, 2, 3]]);
    const before = liveTensors();
    for (const [name, miner] of miners()) {
      assert.throws(() => miner.mine(x, [0, 1]), /3 rows/, name);
      assert.throws(() => miner.mine(withNaN, [0, 0]), /NaN/, name);
      assert.throws(() => miner.mine(x, [0, 0, 1], wrongDimension, [0]), /dimension/, name);
      assert.throws(() => miner.mine(x, [0, 0, 1], x), /refLabels/, name);
      miner.mine(x, [0, 0, 1]);
    }
    assert.throws(() => new TripletMarginMiner({ typeOfTriplets: 'medium' as never }), /typeOfTriplets/);
    assert.throws(() => new RandomTripletMiner({ triplesPerAnchor: 0 }), /triplesPerAnchor/);
    assert.equal(liveTensors(), before);
    tf.dispose([x, withNaN, wrongDimension]);
  });
});
