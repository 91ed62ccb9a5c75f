import { test } from 'node:test';
import assert from 'node:assert/strict';
import { learningRateAt } from '../src/training/learning-rate.js';

test('schedules by hand: constant, cosine from the rate to 1% of it, step ×0.1 at two thirds', () => {
  assert.deepEqual([0, 5, 9].map((e) => learningRateAt('constant', 0.1, e, 10)), [0.1, 0.1, 0.1]);
  // Cosine over 5 epochs: progress 0, 1/4, 1/2, 3/4, 1 → 0.01 + 0.99 (1 + cos πp) / 2.
  const cosine = [0, 1, 2, 3, 4].map((e) => learningRateAt('cosine', 1, e, 5));
  const expected = [1, 0.01 + 0.99 * (1 + Math.SQRT1_2) / 2, 0.01 + 0.99 / 2, 0.01 + 0.99 * (1 - Math.SQRT1_2) / 2, 0.01];
  cosine.forEach((rate, i) => assert.ok(Math.abs(rate - expected[i]!) < 1e-12, `epoch ${i}: ${rate} vs ${expected[i]}`));
  assert.deepEqual([0, 5, 6, 8].map((e) => learningRateAt('step', 1, e, 9)), [1, 1, 0.1, 0.1]);
  assert.throws(() => learningRateAt('linear', 1, 0, 9), /unknown learning-rate schedule 'linear'/);
});

test('warm-up: a linear rise over the first epochs, then the schedule over the rest', () => {
  // 3 warm-up epochs of 10: 1/4, 2/4, 3/4 of the rate, then cosine over the 7 left.
  assert.deepEqual([0, 1, 2].map((e) => learningRateAt('cosine', 0.4, e, 10, 3)), [0.1, 0.2, 0.30000000000000004]);
  for (let e = 3; e < 10; e++) assert.equal(learningRateAt('cosine', 0.4, e, 10, 3), learningRateAt('cosine', 0.4, e - 3, 7));
  assert.equal(learningRateAt('constant', 0.4, 0, 10, 0), 0.4);
});
