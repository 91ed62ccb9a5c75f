import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TripletjsInputError } from '../src/common/errors.js';
import { SeededRandom } from '../src/common/random.js';
import { augmentBatch, createDataset, toInputs, type Dataset } from '../src/data/index.js';

const H = 10;
const W = 12;
const C = 2;

/** A small dataset of asymmetric images (every pixel distinct and non-zero), so shifts and flips show. */
function dataset(flipInvariant: boolean): Dataset {
  const size = 6;
  const images = Uint8Array.from({ length: size * H * W * C }, (_, i) => 1 + (i % 250));
  return createDataset({
    name: 'synthetic',
    shape: { height: H, width: W, channels: C },
    classNames: ['a', 'b'],
    labels: Int32Array.from({ length: size }, (_, i) => i % 2),
    images,
    flipInvariant,
    makeSplit: () => ({ description: '', train: new Int32Array(0), evaluation: { queries: new Int32Array(0) } }),
  });
}

/** Image `index` of `d` shifted by (dy, dx) and optionally mirrored, built pixel by pixel. */
function reference(d: Dataset, index: number, dy: number, dx: number, flip: boolean): Float32Array {
  const out = new Float32Array(H * W * C);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const sy = y + dy;
      const shifted = x + dx;
      if (sy < 0 || sy >= H || shifted < 0 || shifted >= W) continue;
      const sx = flip ? W - 1 - shifted : shifted;
      for (let c = 0; c < C; c++) out[(y * W + x) * C + c] = d.images[((index * H + sy) * W + sx) * C + c]! / 255;
    }
  }
  return out;
}

/** The (dy, dx, flip) that explains augmented image `b`, or undefined if none does. */
function explain(d: Dataset, out: Float32Array, b: number, index: number, pad: number): { dy: number; dx: number; flip: boolean } | undefined {
  const image = out.subarray(b * H * W * C, (b + 1) * H * W * C);
  for (const flip of [false, true]) {
    for (let dy = -pad; dy <= pad; dy++) {
      for (let dx = -pad; dx <= pad; dx++) {
        if (reference(d, index, dy, dx, flip).every((v, i) => v === image[i])) return { dy, dx, flip };
      }
    }
  }
  return undefined;
}

test('toInputs: pixels / 255 in the dataset order of the indices', () => {
  const d = dataset(false);
  const out = toInputs(d, [3, 0]);
  assert.equal(out.length, 2 * H * W * C);
  for (let i = 0; i < H * W * C; i++) {
    assert.equal(out[i], Math.fround(d.images[3 * H * W * C + i]! / 255));
    assert.equal(out[H * W * C + i], Math.fround(d.images[i]! / 255));
  }
  assert.throws(() => toInputs(d, [6]), TripletjsInputError);
});

test('augmentBatch: the same seed gives the same batch, another seed another', () => {
  const d = dataset(true);
  const indices = [0, 1, 2, 3, 4, 5, 0, 1];
  const a = augmentBatch(d, indices, new SeededRandom(42), { maxShift: 0.2 });
  const b = augmentBatch(d, indices, new SeededRandom(42), { maxShift: 0.2 });
  const c = augmentBatch(d, indices, new SeededRandom(43), { maxShift: 0.2 });
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
});

test('augmentBatch: each image is the original shifted by at most maxShift·side, and shifts really happen', () => {
  const d = dataset(false);
  const indices = Array.from({ length: 24 }, (_, i) => i % 6);
  const out = augmentBatch(d, indices, new SeededRandom(1), { maxShift: 0.2 }); // pad round(0.2·10) = 2, round(0.2·12) = 2
  let moved = 0;
  indices.forEach((index, b) => {
    const how = explain(d, out, b, index, 2);
    assert.ok(how !== undefined, `image ${b} is no shift of image ${index} within 2 pixels`);
    assert.equal(how.flip, false);
    if (how.dy !== 0 || how.dx !== 0) moved++;
  });
  assert.ok(moved >= 12, `only ${moved} of 24 images moved`);
  assert.deepEqual(augmentBatch(d, indices, new SeededRandom(1), { maxShift: 0 }), toInputs(d, indices));
});

test('augmentBatch: flips only flip-invariant datasets, about half of the images', () => {
  const indices = Array.from({ length: 40 }, (_, i) => i % 6);
  const fixed = dataset(false);
  for (let seed = 0; seed < 5; seed++) {
    assert.deepEqual(augmentBatch(fixed, indices, new SeededRandom(seed), { maxShift: 0 }), toInputs(fixed, indices));
  }
  const mirror = dataset(true);
  const out = augmentBatch(mirror, indices, new SeededRandom(5), { maxShift: 0 });
  let flipped = 0;
  indices.forEach((index, b) => {
    const how = explain(mirror, out, b, index, 0);
    assert.ok(how !== undefined, `image ${b} is neither image ${index} nor its mirror`);
    if (how.flip) flipped++;
  });
  assert.ok(flipped >= 10 && flipped <= 30, `${flipped} of 40 flipped`);
});

test('augmentBatch: options and indices are checked', () => {
  const d = dataset(true);
  assert.throws(() => augmentBatch(d, [0], new SeededRandom(0), { maxShift: 0.6 }), /maxShift must be <= 0.5/);
  assert.throws(() => augmentBatch(d, [-1], new SeededRandom(0)), /index -1 is not an image of synthetic/);
});
