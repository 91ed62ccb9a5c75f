/**
 * The L2 normalisation op (src/engine/l2-normalize.ts): values against a float64 loop, gradients
 * against central finite differences of that loop, the floor for an all-zero row, NaN kept, and
 * one kernel each way on wasm.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../src/tf.js';
import { l2Normalize, L2_NORMALIZE, L2_NORMALIZE_GRAD } from '../src/engine/l2-normalize.js';
import { backend, liveTensors, randomMatrix } from './helpers/setup.js';

/** Rows of x divided by max(‖row‖, 1e-12), in float64. */
function reference(x: number[][]): number[][] {
  return x.map((row) => {
    const norm = Math.max(Math.sqrt(row.reduce((sum, v) => sum + v * v, 0)), 1e-12);
    return row.map((v) => v / norm);
  });
}

/** Σ weights ∘ reference(x): a scalar whose gradient is the op's vector-Jacobian product with weights. */
function objective(x: number[][], weights: number[][]): number {
  return reference(x).reduce((sum, row, i) => sum + row.reduce((s, v, j) => s + v * weights[i]![j]!, 0), 0);
}

function assertClose(actual: number, expected: number, tolerance: number, context: string): void {
  assert.ok(Math.abs(actual - expected) <= tolerance * (1 + Math.abs(expected)), `${context}: ${actual} vs ${expected}`);
}

describe('l2Normalize', () => {
  // Rows of very different scales, and a row of zeros.
  const x = randomMatrix(6, 5, 3).map((row, i) => row.map((v) => (i === 5 ? 0 : v * 10 ** (i - 2))));
  const weights = randomMatrix(6, 5, 4);

  it('divides each row by its norm, and leaves an all-zero row zero', () => {
    const y = tf.tidy(() => l2Normalize(tf.tensor2d(x)).arraySync());
    const expected = reference(x);
    y.forEach((row, i) => row.forEach((v, j) => assertClose(v, expected[i]![j]!, 1e-6, `y[${i}][${j}]`)));
    assert.deepEqual(y[5], [0, 0, 0, 0, 0]);
  });

  it('normalises along the last axis of any rank', () => {
    const cube = randomMatrix(6, 4, 5);
    const y = tf.tidy(() => tf.reshape(l2Normalize(tf.tensor3d(cube.flat(), [2, 3, 4])), [6, 4]).arraySync() as number[][]);
    const expected = reference(cube);
    y.forEach((row, i) => row.forEach((v, j) => assertClose(v, expected[i]![j]!, 1e-6, `y[${i}][${j}]`)));
  });

  it('has the gradient of central finite differences, and dy / 1e-12 on an all-zero row', () => {
    const gradient = tf.tidy(() => {
      const w = tf.tensor2d(weights);
      return tf.grad((input: tf.Tensor) => tf.sum(tf.mul(l2Normalize(input), w)))(tf.tensor2d(x)).arraySync() as number[][];
    });
    const x32 = x.map((row) => Array.from(Float32Array.from(row)));
    for (let i = 0; i < 5; i++) {
      for (let j = 0; j < 5; j++) {
        const h = 1e-4 * Math.max(1, Math.abs(x32[i]![j]!));
        const shifted = (delta: number) => x32.map((row, r) => row.map((v, c) => (r === i && c === j ? v + delta : v)));
        const numeric = (objective(shifted(h), weights) - objective(shifted(-h), weights)) / (2 * h);
        // Relative to the row's scale: a row of norm s has gradients of order 1/s.
        const scale = 1 / Math.max(1e-12, Math.hypot(...x32[i]!));
        assert.ok(Math.abs(gradient[i]![j]! - numeric) <= 1e-4 * scale, `dx[${i}][${j}]: ${gradient[i]![j]} vs ${numeric}`);
      }
    }
    gradient[5]!.forEach((v, j) => assertClose(v, Math.fround(weights[5]![j]!) / 1e-12, 1e-5, `dx[5][${j}]`));
  });

  it('keeps NaN in its row only', () => {
    const y = tf.tidy(() => l2Normalize(tf.tensor2d([[NaN, 1], [3, 4]])).arraySync());
    assert.ok(y[0]!.every(Number.isNaN));
    assert.deepEqual(y[1]!.map((v) => Math.round(v * 1e6) / 1e6), [0.6, 0.8]);
  });

  it('runs as one kernel forward and one backward on wasm, and leaks no tensor', { skip: backend !== 'wasm' }, async () => {
    const before = liveTensors();
    const x0 = tf.tensor2d(x);
    const forward = await tf.profile(() => l2Normalize(x0));
    assert.deepEqual(forward.kernelNames, [L2_NORMALIZE]);
    // tfjs reuses the profile object: dispose each result before the next profile.
    tf.dispose(forward.result as tf.Tensor);
    const backward = await tf.profile(() => tf.grad((input: tf.Tensor) => l2Normalize(input))(x0));
    assert.ok(backward.kernelNames.includes(L2_NORMALIZE_GRAD), backward.kernelNames.join(', '));
    assert.ok(backward.kernelNames.length <= 4, `${backward.kernelNames.length} kernels: ${backward.kernelNames.join(', ')}`);
    tf.dispose([x0, backward.result as tf.Tensor]);
    assert.equal(liveTensors(), before);
  });
});
