import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TripletjsInputError } from '../src/common/errors.js';
import { SeededRandom } from '../src/common/random.js';
import { augmentBatch, createDataset, toInputs, type InMemoryDataset as Dataset } from '../src/data/index.js';

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
    makeSplit: () => ({ description: '', protocol: 'unseen-classes', train: new Int32Array(0), test: { queries: new Int32Array(0) } }),
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

/**
 * Image `index` of `d` as {@link augmentBatch} documents it: mirrored if `flip`, then sampled
 * bilinearly at centre + R(angle)·(output − centre)/scale + (dy, dx), 0 outside, then lit.
 */
function transformed(d: Dataset, index: number, t: { flip: boolean; dy: number; dx: number; scale: number; angle: number; contrast: number; brightness: number }): Float32Array {
  const out = new Float32Array(H * W * C);
  const pixel = (y: number, x: number, c: number): number =>
    y < 0 || y >= H || x < 0 || x >= W ? 0 : d.images[((index * H + y) * W + (t.flip ? W - 1 - x : x)) * C + c]! / 255;
  const [cy, cx] = [(H - 1) / 2, (W - 1) / 2];
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const sy = cy + (Math.cos(t.angle) * (y - cy) + Math.sin(t.angle) * (x - cx)) / t.scale + t.dy;
      const sx = cx + (-Math.sin(t.angle) * (y - cy) + Math.cos(t.angle) * (x - cx)) / t.scale + t.dx;
      const [y0, x0] = [Math.floor(sy), Math.floor(sx)];
      const [fy, fx] = [sy - y0, sx - x0];
      for (let c = 0; c < C; c++) {
        const value =
          pixel(y0, x0, c) * (1 - fy) * (1 - fx) + pixel(y0, x0 + 1, c) * (1 - fy) * fx + pixel(y0 + 1, x0, c) * fy * (1 - fx) + pixel(y0 + 1, x0 + 1, c) * fy * fx;
        out[(y * W + x) * C + c] = Math.min(1, Math.max(0, (value - 0.5) * t.contrast + 0.5 + t.brightness));
      }
    }
  }
  return out;
}

test('augmentBatch: zoom, rotation and lighting follow the documented draws and geometry', () => {
  const d = dataset(true);
  const indices = [0, 1, 2, 3, 4, 5, 2, 3];
  const options = { maxShift: 0.1, maxScale: 0.2, maxRotation: 15, maxLighting: 0.3 };
  const out = augmentBatch(d, indices, new SeededRandom(7), options);
  // Replay the draws in their documented order.
  const replay = new SeededRandom(7);
  const within = (spread: number) => (2 * replay.float() - 1) * spread;
  const angles: number[] = [];
  indices.forEach((index, b) => {
    const flip = replay.int(2) === 1;
    const dy = replay.int(3) - 1; // round(0.1 · 10) = 1
    const dx = replay.int(3) - 1; // round(0.1 · 12) = 1
    const t = { flip, dy, dx, scale: 1 + within(0.2), angle: (within(15) * Math.PI) / 180, contrast: 1 + within(0.3), brightness: within(0.3) };
    angles.push(t.angle);
    const expected = transformed(d, index, t);
    const image = out.subarray(b * H * W * C, (b + 1) * H * W * C);
    for (let i = 0; i < expected.length; i++) assert.ok(Math.abs(image[i]! - expected[i]!) < 1e-5, `image ${b}, value ${i}: ${image[i]} against ${expected[i]}`);
  });
  assert.ok(angles.some((a) => Math.abs(a) > (5 * Math.PI) / 180), 'no image was rotated by more than 5°');
});

test('augmentBatch: zooming out leaves a black border, zooming in fills the frame; lighting shifts a flat image evenly', () => {
  const flat = createDataset({
    name: 'flat',
    shape: { height: H, width: W, channels: 1 },
    classNames: ['a'],
    labels: new Int32Array(30),
    images: new Uint8Array(30 * H * W).fill(200),
    flipInvariant: false,
    makeSplit: () => ({ description: '', protocol: 'unseen-classes', train: new Int32Array(0), test: { queries: new Int32Array(0) } }),
  });
  const indices = Array.from({ length: 30 }, (_, i) => i);
  const zoomed = augmentBatch(flat, indices, new SeededRandom(3), { maxShift: 0, maxScale: 0.4 });
  let zoomedOut = 0;
  let black = 0;
  for (let b = 0; b < 30; b++) {
    const image = zoomed.subarray(b * H * W, (b + 1) * H * W);
    const centre = image[Math.floor(H / 2) * W + Math.floor(W / 2)]!;
    assert.equal(centre, Math.fround(200 / 255));
    // Zoomed out, the corners sample partly or wholly outside the image, which is black.
    if (image[0]! < centre - 1e-6) zoomedOut++;
    else assert.ok(image.every((v) => Math.abs(v - centre) < 1e-6), `image ${b} zoomed in but is not flat`);
    if (image[0] === 0) black++;
  }
  assert.ok(zoomedOut >= 5 && zoomedOut <= 25, `${zoomedOut} of 30 zoomed out`);
  assert.ok(black >= 1, 'no image zoomed out far enough to show a black corner');

  const lit = augmentBatch(flat, indices, new SeededRandom(4), { maxShift: 0, maxLighting: 0.2 });
  const levels = new Set<number>();
  for (let b = 0; b < 30; b++) {
    const image = lit.subarray(b * H * W, (b + 1) * H * W);
    assert.ok(image.every((v) => v === image[0]), `image ${b} is not evenly lit`);
    // (v − ½)·c + ½ + b with c in [0.8, 1.2] and b in [−0.2, 0.2], v = 200/255.
    const v = 200 / 255;
    assert.ok(image[0]! >= (v - 0.5) * 0.8 + 0.3 - 1e-6 && image[0]! <= (v - 0.5) * 1.2 + 0.7 + 1e-6, `image ${b}: ${image[0]}`);
    levels.add(image[0]!);
  }
  assert.ok(levels.size > 20, 'lighting barely varies');
});

test('augmentBatch: zoom, rotation and lighting options are checked', () => {
  const d = dataset(true);
  assert.throws(() => augmentBatch(d, [0], new SeededRandom(0), { maxScale: -0.1 }), /maxScale must be >= 0/);
  assert.throws(() => augmentBatch(d, [0], new SeededRandom(0), { maxRotation: 90 }), /maxRotation must be <= 45/);
  assert.throws(() => augmentBatch(d, [0], new SeededRandom(0), { maxLighting: Number.NaN }), /maxLighting/);
});
