import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PKSampler, type PKSamplerOptions } from '../src/samplers/index.js';
import { TripletjsInputError } from '../src/common/errors.js';
import { SeededRandom } from '../src/common/random.js';

/** Labels with `sizes[c]` examples of class `c`, in a shuffled (real-looking) dataset order. */
function labelsWithSizes(sizes: number[], seed = 123): Int32Array {
  const labels: number[] = [];
  sizes.forEach((n, c) => {
    for (let i = 0; i < n; i++) labels.push(c);
  });
  return new SeededRandom(seed).shuffle(Int32Array.from(labels));
}

/** Asserts the P×K structure of every batch and returns nothing; fails with the batch number. */
function checkStructure(batches: Int32Array[], labels: ArrayLike<number>, p: number, k: number, allowed: Set<number>): void {
  batches.forEach((batch, b) => {
    assert.equal(batch.length, p * k, `batch ${b} length`);
    const seen = new Set<number>();
    for (let c = 0; c < p; c++) {
      const first = batch[c * k]!;
      assert.ok(first >= 0 && first < labels.length, `batch ${b}: index ${first} out of range`);
      const label = labels[first]!;
      assert.ok(allowed.has(label), `batch ${b}: label ${label} should not be sampled`);
      assert.ok(!seen.has(label), `batch ${b}: class ${label} appears twice`);
      seen.add(label);
      for (let i = 0; i < k; i++) {
        const index = batch[c * k + i]!;
        assert.ok(index >= 0 && index < labels.length, `batch ${b}: index ${index} out of range`);
        assert.equal(labels[index], label, `batch ${b}, block ${c}: entry ${i} has another label`);
      }
    }
    assert.equal(seen.size, p);
  });
}

function visitsOver(batches: Int32Array[], size: number): Int32Array {
  const visits = new Int32Array(size);
  for (const batch of batches) for (const index of batch) visits[index]!++;
  return visits;
}

function assertInputError(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof TripletjsInputError, `expected TripletjsInputError, got ${String(error)}`);
    assert.match(error.message, pattern);
    return true;
  });
}

test('every batch has p distinct classes with k examples each, and labels match', () => {
  const sizes = [6, 9, 4, 12, 7, 5, 8, 10];
  const labels = labelsWithSizes(sizes);
  const sampler = new PKSampler({ labels, p: 4, k: 3, seed: 5 });
  assert.equal(sampler.batchSize, 12);
  assert.deepEqual([...sampler.classes], [0, 1, 2, 3, 4, 5, 6, 7]);
  for (let e = 0; e < 5; e++) {
    const batches = sampler.epoch(e);
    assert.equal(batches.length, sampler.batchesPerEpoch);
    checkStructure(batches, labels, 4, 3, new Set(sampler.classes));
    // Every class has >= k examples, so no example may repeat within its class block.
    for (const batch of batches) {
      for (let c = 0; c < 4; c++) assert.equal(new Set(batch.subarray(c * 3, c * 3 + 3)).size, 3);
    }
  }
  // Slots: ceil(n/3) = 2+3+2+4+3+2+3+4 = 23 -> floor(23/4) = 5 batches (no class has more than 5 slots).
  assert.equal(sampler.batchesPerEpoch, 5);
});

test('batchesPerEpoch is exact even when one class dominates (collisions are unavoidable)', () => {
  // Class 0 has 50 slots but can appear at most once per batch; the 3 small classes have 2 slots each.
  // Best possible: 6 batches (class 0 in all of them, each paired with one of the 6 small slots).
  const labels = labelsWithSizes([100, 4, 4, 4]);
  const sampler = new PKSampler({ labels, p: 2, k: 2, seed: 1 });
  assert.equal(sampler.batchesPerEpoch, 6);
  for (let e = 0; e < 20; e++) {
    const batches = sampler.epoch(e);
    assert.equal(batches.length, 6, `epoch ${e}`);
    checkStructure(batches, labels, 2, 2, new Set([0, 1, 2, 3]));
    for (const batch of batches) assert.ok(labels[batch[0]!] === 0 || labels[batch[2]!] === 0);
  }
});

test('epochs are deterministic given (seed, epoch) and independent of earlier calls', () => {
  const labels = labelsWithSizes(Array.from({ length: 20 }, (_, c) => 5 + ((c * 7) % 13)));
  const options: PKSamplerOptions = { labels, p: 5, k: 4, seed: 42 };
  const a = new PKSampler(options);
  const b = new PKSampler(options);
  assert.deepEqual(a.epoch(2), b.epoch(2));
  assert.notDeepEqual(a.epoch(0), a.epoch(1));
  assert.notDeepEqual(a.epoch(1), a.epoch(2));
  assert.notDeepEqual(a.epoch(0), new PKSampler({ ...options, seed: 43 }).epoch(0));

  const direct = new PKSampler(options).epoch(3);
  const inOrder = new PKSampler(options);
  inOrder.epoch(0);
  inOrder.epoch(1);
  inOrder.epoch(2);
  assert.deepEqual(inOrder.epoch(3), direct);
  // Asking again later (after other epochs) still gives the same epoch.
  inOrder.epoch(7);
  assert.deepEqual(inOrder.epoch(3), direct);
});

test('unbalanced classes: every example is visited about equally often over an epoch', (t) => {
  // 5 .. 42 examples per class: 238 slots, so 238 mod 8 = 6 slots are dropped each epoch.
  const sizes = Array.from({ length: 38 }, (_, c) => 5 + c);
  const labels = labelsWithSizes(sizes, 7);
  const p = 8;
  const k = 4;
  const sampler = new PKSampler({ labels, p, k, seed: 11 });
  const totalSlots = sizes.reduce((sum, n) => sum + Math.ceil(n / k), 0);
  assert.equal(sampler.batchesPerEpoch, Math.floor(totalSlots / p));
  const dropped = totalSlots - p * sampler.batchesPerEpoch;
  assert.equal(dropped, 6);

  const summaries: string[] = [];
  const across = new Int32Array(labels.length);
  const epochs = 10;
  for (let e = 0; e < epochs; e++) {
    const batches = sampler.epoch(e);
    checkStructure(batches, labels, p, k, new Set(sizes.map((_, c) => c)));
    const visits = visitsOver(batches, labels.length);
    visits.forEach((v, i) => (across[i]! += v));
    const min = Math.min(...visits);
    const max = Math.max(...visits);
    const unvisited = visits.filter((v) => v === 0).length;
    summaries.push(`epoch ${e}: visits min ${min} max ${max}, unvisited ${unvisited}/${labels.length}`);
    assert.ok(max - min <= 2, `epoch ${e}: visit spread ${max - min} > 2`);
    // A dropped slot takes k visits from one class, so it leaves at most k of its examples unvisited.
    assert.ok(unvisited <= k * dropped, `epoch ${e}: ${unvisited} unvisited`);
    assert.ok(unvisited / labels.length <= 0.03, `epoch ${e}: ${unvisited} of ${labels.length} unvisited`);
    // Within a class, shuffled passes keep visit counts within one of each other.
    for (let c = 0; c < sizes.length; c++) {
      const own = [...visits].filter((_, i) => labels[i] === c);
      assert.ok(Math.max(...own) - Math.min(...own) <= 1, `epoch ${e}, class ${c}: within-class spread > 1`);
    }
  }
  const lo = Math.min(...across);
  const hi = Math.max(...across);
  t.diagnostic(`${labels.length} examples, ${sizes.length} classes of 5..42, p=${p} k=${k}, ${sampler.batchesPerEpoch} batches/epoch, ${dropped} of ${totalSlots} slots dropped`);
  for (const line of summaries) t.diagnostic(line);
  t.diagnostic(`over ${epochs} epochs: visits per example min ${lo} max ${hi} (ideal ~${epochs})`);
  assert.ok(lo >= epochs - 2 && hi <= 2 * epochs, `over ${epochs} epochs visits span ${lo}..${hi}`);
});

test("smallClasses 'skip' leaves out classes with fewer than k examples", () => {
  const labels = labelsWithSizes([10, 10, 10, 3, 1, 10]);
  const sampler = new PKSampler({ labels, p: 3, k: 4, smallClasses: 'skip' });
  assert.deepEqual([...sampler.classes], [0, 1, 2, 5]);
  for (let e = 0; e < 10; e++) checkStructure(sampler.epoch(e), labels, 3, 4, new Set([0, 1, 2, 5]));
  const replacing = new PKSampler({ labels, p: 3, k: 4 });
  assert.deepEqual([...replacing.classes], [0, 1, 2, 3, 4, 5]);
});

test("smallClasses 'replace' fills a 1-example class with that example and spreads a 3-example class evenly", () => {
  // Class 0 has one example, class 1 has three; the rest have 8.
  const labels = labelsWithSizes([1, 3, 8, 8, 8, 8]);
  const single = labels.indexOf(0);
  const k = 4;
  const sampler = new PKSampler({ labels, p: 3, k, seed: 3 });
  let singleBlocks = 0;
  let threeBlocks = 0;
  for (let e = 0; e < 30; e++) {
    const batches = sampler.epoch(e);
    checkStructure(batches, labels, 3, k, new Set([0, 1, 2, 3, 4, 5]));
    for (const batch of batches) {
      for (let c = 0; c < 3; c++) {
        const block = [...batch.subarray(c * k, c * k + k)];
        if (labels[block[0]!] === 0) {
          singleBlocks++;
          assert.deepEqual(block, [single, single, single, single]);
        } else if (labels[block[0]!] === 1) {
          threeBlocks++;
          const counts = new Map<number, number>();
          for (const i of block) counts.set(i, (counts.get(i) ?? 0) + 1);
          assert.equal(counts.size, 3, 'all three examples appear');
          assert.deepEqual([...counts.values()].sort(), [1, 1, 2]);
        }
      }
    }
  }
  assert.ok(singleBlocks > 0 && threeBlocks > 0, 'the small classes were sampled');
});

test('bad input gives TripletjsInputError with an informative message', () => {
  const labels = labelsWithSizes([5, 5, 5]);
  assertInputError(() => new PKSampler({ labels: [], p: 2, k: 2 }), /labels is empty/);
  assertInputError(() => new PKSampler({ labels: [0, 0, 1.5, 1], p: 2, k: 2 }), /int32 integers.*labels\[2\] = 1\.5/);
  assertInputError(() => new PKSampler({ labels: [0, NaN, 1, 1], p: 2, k: 2 }), /labels\[1\] = NaN/);
  assertInputError(() => new PKSampler({ labels, p: 0, k: 2 }), /p must be >= 1, got 0/);
  assertInputError(() => new PKSampler({ labels, p: 2.5, k: 2 }), /p must be an integer, got 2\.5/);
  assertInputError(() => new PKSampler({ labels, p: 2, k: -3 }), /k must be >= 1, got -3/);
  assertInputError(() => new PKSampler({ labels, p: 2, k: 1 }), /k = 1 .*positive pair.*k >= 2/);
  assertInputError(() => new PKSampler({ labels, p: 1, k: 2 }), /p = 1 .*negative.*p >= 2/);
  assertInputError(
    () => new PKSampler({ labels, p: 5, k: 2 }),
    /at least p = 5 classes, but only 3 of the 3 classes.*lower p to at most 3/,
  );
  assertInputError(
    () => new PKSampler({ labels: labelsWithSizes([5, 5, 2, 1]), p: 3, k: 4, smallClasses: 'skip' }),
    /only 2 of the 4 classes.*2 have fewer than k = 4.*lower p to at most 2 or use smallClasses: 'replace'/,
  );
  const sampler = new PKSampler({ labels, p: 2, k: 2 });
  assertInputError(() => sampler.epoch(-1), /epochIndex must be >= 0, got -1/);
  assertInputError(() => sampler.epoch(1.5), /epochIndex must be an integer/);
});
