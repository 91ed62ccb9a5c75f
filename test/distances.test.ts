import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../src/tf.js';
import { CosineSimilarity, DotProductSimilarity, LpDistance, type BaseDistance } from '../src/distances/index.js';
import { TripletjsInputError } from '../src/common/errors.js';
import { referenceMatrix, type DistanceSpec } from './helpers/reference.js';
import { asFloat32, liveTensors, randomMatrix, toMatrix, toTensor } from './helpers/setup.js';

const CASES: Array<[string, () => BaseDistance, DistanceSpec, boolean]> = [
  ['euclidean (normalised)', () => new LpDistance(), { kind: 'lp', normalize: true }, false],
  ['euclidean (raw)', () => new LpDistance({ normalizeEmbeddings: false }), { kind: 'lp', normalize: false }, false],
  ['squared euclidean', () => new LpDistance({ power: 2 }), { kind: 'lp', normalize: true, power: 2 }, false],
  ['L1 (raw)', () => new LpDistance({ p: 1, normalizeEmbeddings: false }), { kind: 'lp', normalize: false, p: 1 }, false],
  ['L3, power 1.5', () => new LpDistance({ p: 3, power: 1.5 }), { kind: 'lp', normalize: true, p: 3, power: 1.5 }, false],
  ['cosine', () => new CosineSimilarity(), { kind: 'dot', normalize: true }, true],
  ['dot product (raw)', () => new DotProductSimilarity({ normalizeEmbeddings: false }), { kind: 'dot', normalize: false }, true],
];

describe('pairwise matrices against float64 brute force', () => {
  const x = asFloat32(randomMatrix(19, 7, 1));
  const ref = asFloat32(randomMatrix(11, 7, 2));
  for (const [name, make, spec, inverted] of CASES) {
    it(name, () => {
      const distance = make();
      assert.equal(distance.isInverted, inverted);
      for (const [a, b] of [[x, x], [x, ref]] as const) {
        const expected = referenceMatrix(a, b, spec);
        const actual = tf.tidy(() => toMatrix(a === b ? distance.pairwise(toTensor(a)) : distance.pairwise(toTensor(a), toTensor(b))));
        // The read-back matrix (a Gram product + JavaScript for p = 2 and dot products), oriented.
        const read = tf.tidy(() => (a === b ? distance.orientedMatrix(toTensor(a)) : distance.orientedMatrix(toTensor(a), toTensor(b))));
        assert.equal(actual.length, a.length);
        assert.equal(actual[0]!.length, b.length);
        assert.equal(read.length, a.length * b.length);
        for (let i = 0; i < a.length; i++)
          for (let j = 0; j < b.length; j++) {
            // float32 products: absolute error ~1e-6 of the norms involved.
            const tolerance = 2e-5 * Math.max(1, Math.abs(expected[i]![j]!));
            assert.ok(Math.abs(actual[i]![j]! - expected[i]![j]!) <= tolerance, `${name} [${i}][${j}]: ${actual[i]![j]} vs ${expected[i]![j]}`);
            const oriented = (inverted ? -1 : 1) * read[i * b.length + j]!;
            assert.ok(Math.abs(oriented - expected[i]![j]!) <= tolerance, `${name} read [${i}][${j}]: ${oriented} vs ${expected[i]![j]}`);
          }
      }
    });
  }

  it('the self-distance diagonal is exactly zero', () => {
    const d = tf.tidy(() => toMatrix(new LpDistance().pairwise(toTensor(x))));
    for (let i = 0; i < x.length; i++) assert.equal(d[i]![i], 0);
  });

  it('orientedMatrix negates similarities so that smaller means closer', () => {
    const t = toTensor(x);
    const similarity = new CosineSimilarity();
    const oriented = similarity.orientedMatrix(t);
    const plain = tf.tidy(() => similarity.pairwise(t).dataSync());
    assert.ok(oriented.every((v, i) => Math.abs(v + plain[i]!) <= 1e-6), 'oriented = −similarity');
    assert.ok(oriented.some((v) => v < 0));
    t.dispose();
  });
});

describe('gradients stay finite at zero distance', () => {
  for (const [name, make] of CASES) {
    it(name, () => {
      // Identical rows and an all-zero row: zero distances and zero norms.
      const x = tf.tensor2d([[1, 2, 3], [1, 2, 3], [0, 0, 0], [0, 0, 0], [-1, 0.5, 2]]);
      const distance = make();
      const gradient = tf.tidy(() => toMatrix(tf.grad((e: tf.Tensor) => tf.sum(distance.pairwise(e as tf.Tensor2D)))(x)));
      for (const v of gradient.flat()) assert.ok(Number.isFinite(v), `${name}: gradient ${v}`);
      x.dispose();
    });
  }
});

describe('distance input checks', () => {
  it('rejects wrong shapes and options with a clear error', () => {
    const before = liveTensors();
    const x = tf.zeros([3, 4]) as tf.Tensor2D;
    const y = tf.zeros([2, 5]) as tf.Tensor2D;
    assert.throws(() => new LpDistance().pairwise(x, y), /dimension 5 but embeddings have 4/);
    assert.throws(() => new LpDistance().pairwise(tf.zeros([3]) as unknown as tf.Tensor2D), TripletjsInputError);
    assert.throws(() => new LpDistance({ p: 0.5 }), /p must be >= 1/);
    assert.throws(() => new LpDistance({ power: 0 }), /power must be > 0/);
    tf.dispose([x, y]);
    assert.ok(liveTensors() <= before + 1); // the 1-D tensor made inline above
  });
});
