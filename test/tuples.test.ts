import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pairsToTriplets, triplesToPairs } from '../src/common/tuples.js';

describe('tuple conversions', () => {
  it('pairs join into every (positive pair, negative pair) with a shared anchor', () => {
    const pairs = { a1: Int32Array.of(0, 0, 2, 5), p: Int32Array.of(1, 3, 4, 6), a2: Int32Array.of(0, 2, 2, 7, 0), n: Int32Array.of(8, 9, 10, 11, 12) };
    const triplets = pairsToTriplets(pairs);
    const got = Array.from(triplets.anchors, (a, i) => `${a},${triplets.positives[i]},${triplets.negatives[i]}`).sort();
    const expected: string[] = [];
    for (let i = 0; i < 4; i++) for (let j = 0; j < 5; j++) if (pairs.a1[i] === pairs.a2[j]) expected.push(`${pairs.a1[i]},${pairs.p[i]},${pairs.n[j]}`);
    assert.deepEqual(got, expected.sort());
    assert.equal(got.length, 2 * 2 + 2 * 1); // anchor 0: 2×2, anchor 2: 1×2, anchor 5: no negative
  });

  it('triplets split into anchor–positive and anchor–negative pairs', () => {
    const pairs = triplesToPairs({ anchors: Int32Array.of(0, 1), positives: Int32Array.of(2, 3), negatives: Int32Array.of(4, 5) });
    assert.deepEqual([...pairs.a1, ...pairs.p, ...pairs.a2, ...pairs.n], [0, 1, 2, 3, 0, 1, 4, 5]);
  });
});
