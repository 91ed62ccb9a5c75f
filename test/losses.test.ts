import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../src/tf.js';
import { ContrastiveLoss, TripletMarginLoss } from '../src/losses/index.js';
import { CosineSimilarity, DotProductSimilarity, LpDistance, PairCoefficients, type BaseDistance } from '../src/distances/index.js';
import { AvgNonZeroReducer, MeanReducer, SumReducer, type Reducer } from '../src/reducers/index.js';
import { BatchHardMiner, PairMarginMiner, SemiHardMiner, TripletMarginMiner } from '../src/miners/index.js';
import { TripletjsInputError } from '../src/common/errors.js';
import {
  allPairs,
  allTriplets,
  finiteDifferenceGradient,
  referenceContrastiveLoss,
  referenceMatrix,
  referenceTripletLoss,
  type DistanceSpec,
  type Matrix,
  type ReducerName,
  type Triplet,
} from './helpers/reference.js';
import { asFloat32, closeTo, labelLayouts, liveTensors, randomMatrix, toMatrix, toTensor } from './helpers/setup.js';

interface DistanceCase {
  name: string;
  make: () => BaseDistance;
  spec: DistanceSpec;
  inverted: boolean;
}

const DISTANCES: DistanceCase[] = [
  { name: 'euclidean', make: () => new LpDistance(), spec: { kind: 'lp', normalize: true }, inverted: false },
  { name: 'squared euclidean', make: () => new LpDistance({ power: 2 }), spec: { kind: 'lp', normalize: true, power: 2 }, inverted: false },
  { name: 'unnormalised L1', make: () => new LpDistance({ p: 1, normalizeEmbeddings: false }), spec: { kind: 'lp', normalize: false, p: 1 }, inverted: false },
  { name: 'cosine', make: () => new CosineSimilarity(), spec: { kind: 'dot', normalize: true }, inverted: true },
  { name: 'raw dot product', make: () => new DotProductSimilarity({ normalizeEmbeddings: false }), spec: { kind: 'dot', normalize: false }, inverted: true },
];

const REDUCERS: Array<[ReducerName, () => Reducer]> = [
  ['avg-non-zero', () => new AvgNonZeroReducer()],
  ['mean', () => new MeanReducer()],
  ['sum', () => new SumReducer()],
];

function lossValue(loss: { compute: TripletMarginLoss['compute'] }, x: Matrix, labels: number[], tuples?: Parameters<TripletMarginLoss['compute']>[2]): number {
  return tf.tidy(() => loss.compute(toTensor(x), labels, tuples).dataSync()[0]!);
}

function libraryGradient(loss: TripletMarginLoss | ContrastiveLoss, x: Matrix, labels: number[], tuples?: Parameters<TripletMarginLoss['compute']>[2]): Matrix {
  return tf.tidy(() => toMatrix(tf.grad((e: tf.Tensor) => loss.compute(e as tf.Tensor2D, labels, tuples))(toTensor(x))));
}

function assertGradientsClose(actual: Matrix, expected: Matrix, context: string): void {
  const scale = Math.max(1, ...expected.flat().map(Math.abs));
  for (let i = 0; i < expected.length; i++)
    for (let d = 0; d < expected[i]!.length; d++) {
      const diff = Math.abs(actual[i]![d]! - expected[i]![d]!);
      assert.ok(diff <= 2e-4 * scale, `${context}: gradient [${i}][${d}] = ${actual[i]![d]} vs finite difference ${expected[i]![d]}`);
    }
}

const toTriplets = (t: { anchors: Int32Array; positives: Int32Array; negatives: Int32Array }): Triplet[] =>
  Array.from(t.anchors, (a, i) => ({ a, p: t.positives[i]!, n: t.negatives[i]! }));

describe('TripletMarginLoss against brute force', () => {
  for (const size of [6, 17, 40]) {
    for (const [layout, labels] of Object.entries(labelLayouts(size, size))) {
      it(`all valid triplets, B=${size}, ${layout}, every distance`, () => {
        const x = asFloat32(randomMatrix(size, 8, 100 + size));
        for (const distance of DISTANCES) {
          const D = referenceMatrix(x, x, distance.spec);
          for (const options of [{ margin: 0.1 }, { margin: 0.3, swap: true }, { margin: 0, smoothLoss: true }]) {
            const loss = new TripletMarginLoss({ ...options, distance: distance.make() });
            const expected = referenceTripletLoss(D, allTriplets(labels), {
              margin: options.margin,
              swap: options.swap ?? false,
              smooth: options.smoothLoss ?? false,
              inverted: distance.inverted,
              reducer: 'avg-non-zero',
            });
            const actual = lossValue(loss, x, labels);
            assert.ok(closeTo(actual, expected), `${distance.name} ${JSON.stringify(options)}: ${actual} vs ${expected}`);
          }
        }
      });
    }
  }

  it('every reducer', () => {
    const labels = labelLayouts(24, 3)['uneven random']!;
    const x = asFloat32(randomMatrix(24, 6, 5));
    const D = referenceMatrix(x, x, { kind: 'lp', normalize: true });
    for (const [name, make] of REDUCERS) {
      const expected = referenceTripletLoss(D, allTriplets(labels), { margin: 0.2, swap: false, smooth: false, inverted: false, reducer: name });
      const actual = lossValue(new TripletMarginLoss({ margin: 0.2, reducer: make() }), x, labels);
      assert.ok(closeTo(actual, expected), `${name}: ${actual} vs ${expected}`);
    }
  });

  it('mined triplets and pairs joined into triplets', () => {
    const labels = labelLayouts(32, 9)['P×K']!;
    const x = asFloat32(randomMatrix(32, 8, 11));
    const D = referenceMatrix(x, x, { kind: 'lp', normalize: true });
    const embeddings = toTensor(x);
    const hard = new BatchHardMiner().mine(embeddings, labels);
    const loss = new TripletMarginLoss({ margin: 0.2, reducer: new MeanReducer() });
    const spec = { margin: 0.2, swap: false, smooth: false, inverted: false, reducer: 'mean' as const };
    assert.ok(closeTo(lossValue(loss, x, labels, hard), referenceTripletLoss(D, toTriplets(hard), spec)));
    const pairs = new PairMarginMiner({ posMargin: 0.5, negMargin: 1.2 }).mine(embeddings, labels);
    const joined: Triplet[] = [];
    for (let i = 0; i < pairs.a1.length; i++)
      for (let j = 0; j < pairs.a2.length; j++) if (pairs.a1[i] === pairs.a2[j]) joined.push({ a: pairs.a1[i]!, p: pairs.p[i]!, n: pairs.n[j]! });
    assert.ok(joined.length > 0);
    assert.ok(closeTo(lossValue(loss, x, labels, pairs), referenceTripletLoss(D, joined, spec)));
    embeddings.dispose();
  });
});

describe('ContrastiveLoss against brute force', () => {
  for (const size of [5, 20, 36]) {
    for (const [layout, labels] of Object.entries(labelLayouts(size, 2 * size))) {
      it(`all pairs, B=${size}, ${layout}, every distance and reducer`, () => {
        const x = asFloat32(randomMatrix(size, 6, 200 + size));
        const { positive, negative } = allPairs(labels);
        for (const distance of DISTANCES) {
          const D = referenceMatrix(x, x, distance.spec);
          const margins = distance.inverted ? { posMargin: 0.9, negMargin: 0.1 } : { posMargin: 0.3, negMargin: 1.1 };
          for (const [reducerName, makeReducer] of REDUCERS) {
            const loss = new ContrastiveLoss({ ...margins, distance: distance.make(), reducer: makeReducer() });
            const expected = referenceContrastiveLoss(D, positive, negative, { ...margins, inverted: distance.inverted, reducer: reducerName });
            const actual = lossValue(loss, x, labels);
            assert.ok(closeTo(actual, expected), `${distance.name} ${reducerName}: ${actual} vs ${expected}`);
          }
        }
      });
    }
  }

  it('mined triplets split into pairs', () => {
    const labels = labelLayouts(24, 4)['P×K']!;
    const x = asFloat32(randomMatrix(24, 5, 13));
    const D = referenceMatrix(x, x, { kind: 'lp', normalize: true });
    const triplets = new TripletMarginMiner({ margin: 0.3 }).mine(toTensor(x), labels);
    const t = toTriplets(triplets);
    assert.ok(t.length > 0);
    const expected = referenceContrastiveLoss(
      D,
      t.map(({ a, p }) => ({ a, b: p })),
      t.map(({ a, n }) => ({ a, b: n })),
      { posMargin: 0, negMargin: 1, inverted: false, reducer: 'avg-non-zero' },
    );
    assert.ok(closeTo(lossValue(new ContrastiveLoss(), x, labels, triplets), expected));
  });
});

describe('tuple counts of computeDetailed against brute force', () => {
  for (const [layout, labels] of Object.entries(labelLayouts(20, 40))) {
    it(`B=20, ${layout}: valid, computed and active tuples`, () => {
      const x = asFloat32(randomMatrix(20, 4, 77));
      const D = referenceMatrix(x, x, { kind: 'lp', normalize: true });
      const triplets = allTriplets(labels);
      const pairs = allPairs(labels);
      const margin = 0.3;
      const triplet = tf.tidy(() => {
        const output = new TripletMarginLoss({ margin }).computeDetailed(toTensor(x), labels);
        return { ...output, loss: output.loss.dataSync()[0]! };
      });
      assert.equal(triplet.validCount, triplets.length);
      assert.equal(triplet.tupleCount, triplets.length);
      assert.equal(triplet.activeCount, triplets.filter(({ a, p, n }) => D[a]![p]! - D[a]![n]! + margin > 0).length);
      const contrastive = tf.tidy(() => {
        const output = new ContrastiveLoss().computeDetailed(toTensor(x), labels);
        return { ...output, loss: output.loss.dataSync()[0]! };
      });
      assert.equal(contrastive.validCount, pairs.positive.length + pairs.negative.length);
      assert.equal(contrastive.tupleCount, pairs.positive.length + pairs.negative.length);
      const activePairs = pairs.positive.filter(({ a, b }) => D[a]![b]! > 0).length + pairs.negative.filter(({ a, b }) => D[a]![b]! < 1).length;
      assert.equal(contrastive.activeCount, activePairs);
    });
  }

  it('contrastive loss over triplets: each shared pair is one active tuple, and weighs once per triplet', () => {
    const labels = labelLayouts(20, 40)['P×K']!;
    const x = asFloat32(randomMatrix(20, 4, 78));
    const D = referenceMatrix(x, x, { kind: 'lp', normalize: true });
    const triplets = allTriplets(labels);
    const indices = {
      anchors: Int32Array.from(triplets, (t) => t.a),
      positives: Int32Array.from(triplets, (t) => t.p),
      negatives: Int32Array.from(triplets, (t) => t.n),
    };
    const loss = new ContrastiveLoss({ posMargin: 0.1, negMargin: 0.9 });
    const output = tf.tidy(() => {
      const detailed = loss.computeDetailed(toTensor(x), labels, indices);
      return { ...detailed, loss: detailed.loss.dataSync()[0]! };
    });
    // Brute force: the distinct active pairs among the triplets' pairs.
    const active = new Set<string>();
    for (const { a, p, n } of triplets) {
      if (D[a]![p]! > 0.1) active.add(`${a},${p}`);
      if (D[a]![n]! < 0.9) active.add(`${a},${n}`);
    }
    assert.equal(output.tupleCount, 2 * triplets.length);
    assert.equal(output.activeCount, active.size);
    assert.ok(output.activeCount <= output.validCount);
    const positive = triplets.map(({ a, p }) => ({ a, b: p }));
    const negative = triplets.map(({ a, n }) => ({ a, b: n }));
    const spec = { posMargin: 0.1, negMargin: 0.9, inverted: false, reducer: 'avg-non-zero' as const };
    assert.ok(closeTo(output.loss, referenceContrastiveLoss(D, positive, negative, spec)));
    assertGradientsClose(
      libraryGradient(loss, x, labels, indices),
      finiteDifferenceGradient((m) => referenceContrastiveLoss(referenceMatrix(m, m, { kind: 'lp', normalize: true }), positive, negative, spec), x),
      'contrastive over triplets',
    );
  });
});

describe('gradients against central finite differences (float64 reference)', () => {
  const labels = [0, 0, 0, 1, 1, 2, 2, 2, 3, 3, 4];
  const x = asFloat32(randomMatrix(labels.length, 5, 77));
  for (const distance of DISTANCES) {
    it(`triplet hinge, soft margin and swap; contrastive: ${distance.name}`, () => {
      const cases: Array<[string, TripletMarginLoss | ContrastiveLoss, (m: Matrix) => number]> = [
        ['hinge', new TripletMarginLoss({ margin: 0.2, distance: distance.make(), reducer: new MeanReducer() }), (m) =>
          referenceTripletLoss(referenceMatrix(m, m, distance.spec), allTriplets(labels), { margin: 0.2, swap: false, smooth: false, inverted: distance.inverted, reducer: 'mean' })],
        ['soft', new TripletMarginLoss({ margin: 0, smoothLoss: true, distance: distance.make() }), (m) =>
          referenceTripletLoss(referenceMatrix(m, m, distance.spec), allTriplets(labels), { margin: 0, swap: false, smooth: true, inverted: distance.inverted, reducer: 'avg-non-zero' })],
        ['swap', new TripletMarginLoss({ margin: 0.5, swap: true, distance: distance.make(), reducer: new SumReducer() }), (m) =>
          referenceTripletLoss(referenceMatrix(m, m, distance.spec), allTriplets(labels), { margin: 0.5, swap: true, smooth: false, inverted: distance.inverted, reducer: 'sum' })],
        ['contrastive', new ContrastiveLoss({ ...(distance.inverted ? { posMargin: 0.8, negMargin: 0.2 } : { posMargin: 0.2, negMargin: 1.2 }), distance: distance.make(), reducer: new MeanReducer() }), (m) => {
          const { positive, negative } = allPairs(labels);
          return referenceContrastiveLoss(referenceMatrix(m, m, distance.spec), positive, negative, {
            ...(distance.inverted ? { posMargin: 0.8, negMargin: 0.2 } : { posMargin: 0.2, negMargin: 1.2 }), inverted: distance.inverted, reducer: 'mean' });
        }],
      ];
      for (const [name, loss, reference] of cases) {
        assertGradientsClose(libraryGradient(loss, x, labels), finiteDifferenceGradient(reference, x), `${distance.name} ${name}`);
      }
    });
  }

  it('the library\'s own float32 finite differences agree too (soft margin, smooth everywhere)', () => {
    const loss = new TripletMarginLoss({ margin: 0, smoothLoss: true });
    const analytic = libraryGradient(loss, x, labels);
    const h = 1e-2;
    for (const [i, d] of [[0, 0], [3, 2], [10, 4], [6, 1]] as const) {
      const plus = x.map((r) => r.slice());
      const minus = x.map((r) => r.slice());
      plus[i]![d]! += h;
      minus[i]![d]! -= h;
      const numeric = (lossValue(loss, plus, labels) - lossValue(loss, minus, labels)) / (2 * h);
      assert.ok(Math.abs(numeric - analytic[i]![d]!) <= 2e-3 + 1e-2 * Math.abs(numeric), `[${i}][${d}]: ${analytic[i]![d]} vs ${numeric}`);
    }
  });
});

describe('the gathered (sparse) and matrix (dense) gradient paths', () => {
  const labels = labelLayouts(48, 4)['P×K']!;
  const x = asFloat32(randomMatrix(48, 8, 21));
  const mineOn = <T,>(miner: { mine: (e: tf.Tensor2D, l: number[]) => T }): T => {
    const embeddings = toTensor(x);
    const tuples = miner.mine(embeddings, labels);
    embeddings.dispose();
    return tuples;
  };
  const repeat = (t: { anchors: Int32Array; positives: Int32Array; negatives: Int32Array }, times: number) => {
    const tile = (a: Int32Array): Int32Array => Int32Array.from({ length: a.length * times }, (_, i) => a[i % a.length]!);
    return { anchors: tile(t.anchors), positives: tile(t.positives), negatives: tile(t.negatives) };
  };

  it('PairCoefficients.addAll adds like add, one entry after another, sparse and dense', () => {
    const indices = Int32Array.of(5, 0, 5, 15);
    const values = Float64Array.of(1.5, -2, 0.25, 3);
    for (const expected of [4, 1 << 12]) {
      const one = PairCoefficients.forEntries(4, 4, 8, expected);
      const all = PairCoefficients.forEntries(4, 4, 8, expected);
      indices.forEach((index, k) => one.add(index, values[k]!));
      all.addAll(indices, values);
      assert.deepEqual(all.dense, one.dense);
      assert.deepEqual(all.sparse().length, one.sparse().length);
      assert.deepEqual(all.sparse().values.subarray(0, 4), one.sparse().values.subarray(0, 4));
      assert.deepEqual(all.sparse().indices.subarray(0, 4), one.sparse().indices.subarray(0, 4));
    }
  });

  it('batch-hard tuples take the sparse path, many tuples the dense one, and both agree', () => {
    const hard = mineOn(new BatchHardMiner());
    const many = repeat(hard, 40);
    assert.equal(PairCoefficients.forEntries(48, 48, 8, 2 * hard.anchors.length).dense, undefined);
    assert.notEqual(PairCoefficients.forEntries(48, 48, 8, 2 * many.anchors.length).dense, undefined);
    for (const distance of DISTANCES) {
      // The mean over 40 copies of each triplet is the mean over the triplets.
      const loss = new TripletMarginLoss({ margin: 0.2, distance: distance.make(), reducer: new MeanReducer() });
      const sparse = libraryGradient(loss, x, labels, hard);
      const dense = libraryGradient(loss, x, labels, many);
      assert.ok(closeTo(lossValue(loss, x, labels, hard), lossValue(loss, x, labels, many)), distance.name);
      assertGradientsClose(sparse, dense, `${distance.name}: sparse vs dense`);
      const reference = (m: Matrix): number =>
        referenceTripletLoss(referenceMatrix(m, m, distance.spec), toTriplets(hard), { margin: 0.2, swap: false, smooth: false, inverted: distance.inverted, reducer: 'mean' });
      assertGradientsClose(sparse, finiteDifferenceGradient(reference, x), `${distance.name}: sparse vs finite differences`);
    }
  });

  it('a miner given to the loss selects on the loss\'s matrix: same loss and gradient as mining first', () => {
    for (const [name, make] of [['batch-hard', () => new BatchHardMiner()], ['semi-hard', () => new SemiHardMiner()]] as const) {
      for (const distance of [new LpDistance(), new CosineSimilarity()]) {
        const loss = new TripletMarginLoss({ margin: 0.2, distance });
        const mined = mineOn(make());
        const context = `${name}, ${distance.name}`;
        assert.ok(closeTo(lossValue(loss, x, labels, make()), lossValue(loss, x, labels, mined)), context);
        assertGradientsClose(libraryGradient(loss, x, labels, make()), libraryGradient(loss, x, labels, mined), context);
      }
    }
    // A miner on another distance mines on its own matrix.
    const loss = new TripletMarginLoss({ margin: 0.2 });
    const miner = new BatchHardMiner({ distance: new CosineSimilarity() });
    const mined = mineOn(miner);
    assert.ok(closeTo(lossValue(loss, x, labels, miner), lossValue(loss, x, labels, mined)));
  });

  it('computeDetailed counts the tuples a given miner selected', () => {
    const miner = new SemiHardMiner();
    const output = tf.tidy(() => {
      const result = new TripletMarginLoss().computeDetailed(toTensor(x), labels, miner);
      return { tupleCount: result.tupleCount, loss: result.loss.dataSync()[0]! };
    });
    assert.equal(output.tupleCount, 48 * 3);
    assert.ok(Number.isFinite(output.loss));
  });
});

describe('degenerate batches', () => {
  const losses = (): Array<[string, TripletMarginLoss | ContrastiveLoss]> => [
    ['triplet', new TripletMarginLoss({ margin: 0.2 })],
    ['soft triplet', new TripletMarginLoss({ smoothLoss: true })],
    ['swap triplet', new TripletMarginLoss({ swap: true })],
    ['contrastive', new ContrastiveLoss()],
    ['cosine triplet', new TripletMarginLoss({ distance: new CosineSimilarity() })],
    ['squared triplet', new TripletMarginLoss({ distance: new LpDistance({ power: 2 }) })],
  ];
  const finiteEverywhere = (loss: TripletMarginLoss | ContrastiveLoss, x: Matrix, labels: number[]): { value: number; gradient: Matrix } => {
    const value = lossValue(loss, x, labels);
    const gradient = libraryGradient(loss, x, labels);
    assert.ok(Number.isFinite(value), `loss is ${value}`);
    for (const v of gradient.flat()) assert.ok(Number.isFinite(v), `gradient has ${v}`);
    return { value, gradient };
  };

  it('no valid triplet (one label, every label distinct): loss 0, zero gradient', () => {
    for (const labels of [[1, 1, 1, 1, 1], [0, 1, 2, 3, 4]]) {
      for (const [name, loss] of losses()) {
        if (name === 'contrastive') continue;
        const { value, gradient } = finiteEverywhere(loss, randomMatrix(5, 3, 1), labels);
        assert.equal(value, 0, name);
        assert.ok(gradient.flat().every((v) => v === 0), name);
      }
    }
  });

  it('a class with a single example only serves as a negative', () => {
    const labels = [0, 0, 1, 2, 2];
    const x = asFloat32(randomMatrix(5, 4, 8));
    const loss = new TripletMarginLoss({ margin: 0.3, reducer: new SumReducer() });
    const D = referenceMatrix(x, x, { kind: 'lp', normalize: true });
    const expected = referenceTripletLoss(D, allTriplets(labels), { margin: 0.3, swap: false, smooth: false, inverted: false, reducer: 'sum' });
    assert.ok(closeTo(lossValue(loss, x, labels), expected));
    assert.ok(allTriplets(labels).every((t) => t.a !== 2));
  });

  it('duplicated and all-zero embeddings: finite loss and gradients', () => {
    const duplicated = [[1, 2, 3], [1, 2, 3], [1, 2, 3], [-1, 0, 2], [-1, 0, 2]];
    const zeros = Array.from({ length: 5 }, () => [0, 0, 0]);
    for (const x of [duplicated, zeros]) {
      for (const [, loss] of losses()) finiteEverywhere(loss, x, [0, 0, 1, 1, 2]);
    }
  });

  it('unnormalised Euclidean at exactly zero distance has a finite gradient', () => {
    const loss = new TripletMarginLoss({ margin: 0.5, distance: new LpDistance({ normalizeEmbeddings: false }) });
    finiteEverywhere(loss, [[0, 0], [0, 0], [1, 1], [1, 1]], [0, 0, 1, 1]);
  });
});

describe('bad input gets a clear error', () => {
  const loss = new TripletMarginLoss();
  const cases: Array<[string, () => unknown, RegExp]> = [
    ['NaN embeddings', () => loss.compute(tf.tensor2d([[0, 1], [NaN, 1]]), [0, 0]), /NaN at row 1, column 0/],
    ['Infinity', () => loss.compute(tf.tensor2d([[0, Infinity], [1, 1]]), [0, 1]), /Infinity at row 0/],
    ['label count', () => loss.compute(tf.tensor2d([[0, 1], [1, 1]]), [0, 0, 1]), /3 entries but embeddings has 2 rows/],
    ['1-D embeddings', () => loss.compute(tf.tensor1d([1, 2]) as unknown as tf.Tensor2D, [0, 0]), /must be 2-D/],
    ['3-D embeddings', () => loss.compute(tf.zeros([2, 2, 2]) as unknown as tf.Tensor2D, [0, 0]), /must be 2-D/],
    ['empty batch', () => loss.compute(tf.zeros([0, 4]) as tf.Tensor2D, []), /empty batch/],
    ['fractional labels', () => loss.compute(tf.tensor2d([[0, 1], [1, 1]]), [0, 0.5]), /labels must be integers/],
    ['tuple out of range', () => loss.compute(tf.tensor2d([[0, 1], [1, 1], [2, 2]]), [0, 0, 1], { anchors: Int32Array.of(0), positives: Int32Array.of(1), negatives: Int32Array.of(5) }), /outside the batch/],
    ['tuple with a wrong positive', () => loss.compute(tf.tensor2d([[0, 1], [1, 1], [2, 2]]), [0, 0, 1], { anchors: Int32Array.of(0), positives: Int32Array.of(2), negatives: Int32Array.of(2) }), /must share the anchor label/],
    ['negative margin option', () => new ContrastiveLoss({ negMargin: NaN }), /finite number/],
  ];
  for (const [name, run, message] of cases) {
    it(name, () => {
      assert.throws(run, (error: unknown) => error instanceof TripletjsInputError && message.test(error.message));
    });
  }
});

describe('no tensor leaks', () => {
  it('compute, gradient and mining leave the live-tensor count unchanged', () => {
    const x = toTensor(randomMatrix(16, 4, 3));
    const labels = labelLayouts(16, 1)['P×K']!;
    const loss = new TripletMarginLoss();
    const contrastive = new ContrastiveLoss();
    const before = liveTensors();
    for (let step = 0; step < 3; step++) {
      const tuples = new BatchHardMiner().mine(x, labels);
      loss.compute(x, labels, tuples).dispose();
      contrastive.compute(x, labels).dispose();
      tf.grad((e: tf.Tensor) => loss.compute(e as tf.Tensor2D, labels))(x).dispose();
      tf.grad((e: tf.Tensor) => loss.compute(e as tf.Tensor2D, labels, new BatchHardMiner()))(x).dispose();
      tf.grad((e: tf.Tensor) => contrastive.compute(e as tf.Tensor2D, labels, new BatchHardMiner()))(x).dispose();
      assert.throws(() => loss.compute(x, labels.slice(1)));
    }
    assert.equal(liveTensors(), before);
    x.dispose();
  });
});
