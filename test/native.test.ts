/**
 * The native OpenBLAS kernels (src/engine/native-kernels.ts, native/tripletjs_native.cc): each
 * against the cpu backend on seeded random inputs, gradients of a small conv net and a short
 * training run against the pure-wasm path, the metric-learning passes (native/metric_kernels.cc)
 * against the JavaScript ones, argument checks of the addon, and the fallback when the addon is
 * off or missing (announced, with wasm's kernels in place).
 *
 * Where OpenBLAS's headers are installed (CI installs libopenblas-dev), the addon must have been
 * built and must load: a broken build fails here instead of silently falling back.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { tf, tfl } from '../src/tf.js';
import { SeededRandom } from '../src/common/random.js';
import { TripletMarginLoss, type LossMatrix, type LossPart } from '../src/losses/index.js';
import { BatchHardMiner, SemiHardMiner, TripletMarginMiner } from '../src/miners/index.js';
import { BaseDistance, CosineSimilarity, DotProductSimilarity, LpDistance } from '../src/distances/index.js';
import type { TripletIndices } from '../src/common/tuples.js';
import { conv2DBackpropFilterWasm, maxPoolGradWasm } from '../src/engine/conv-kernels.js';
import { defaultNativeThreads, loadNativeAddon, NATIVE_ADDON_PATH } from '../src/engine/native-addon.js';
import { activeNativeAddon, NATIVE_KERNEL_NAMES, nativeKernelsActive, setNativeKernels, setNativeThreads } from '../src/engine/native-kernels.js';
import { backend } from './helpers/setup.js';

const blasInstalled = ['/usr/include/cblas.h', '/usr/include/x86_64-linux-gnu/cblas.h', '/usr/include/aarch64-linux-gnu/cblas.h'].some((path) => existsSync(path));
const turnedOff = process.env.TRIPLETJS_NATIVE === '0';
const skip =
  backend !== 'wasm'
    ? `the active backend is ${backend}, not wasm`
    : turnedOff
      ? 'TRIPLETJS_NATIVE=0'
      : !nativeKernelsActive()
        ? `the native kernels are not active (${loadNativeAddon().addon === undefined ? 'addon missing' : 'turned off'})`
        : false;

// ---------------------------------------------------------------------------------------------
// Helpers: run the same computation on three paths and compare
// ---------------------------------------------------------------------------------------------

type Path = 'native' | 'wasm' | 'cpu';

/** Seeded values in [−1, 1), as float32. */
function seeded(size: number, seed: number): Float32Array {
  const random = new SeededRandom(seed);
  return Float32Array.from({ length: size }, () => 2 * random.float() - 1);
}

const count = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** `f`'s outputs (with their shapes) on one path; the native kernels and wasm are restored after. */
async function on(path: Path, f: () => tf.Tensor | tf.Tensor[]): Promise<{ shape: number[]; values: Float32Array }[]> {
  assert.ok(await tf.setBackend(path === 'cpu' ? 'cpu' : 'wasm'));
  setNativeKernels(path === 'native');
  try {
    if (path === 'native') {
      // Freed NaNs, likely reused by the next allocations: a kernel that skips part of its
      // output shows NaN rather than lucky zeros.
      tf.tidy(() => tf.fill([1 << 18], NaN).dataSync());
    }
    const outputs = tf.tidy(f);
    const list = Array.isArray(outputs) ? outputs : [outputs];
    const result = list.map((t) => ({ shape: t.shape, values: t.dataSync() as Float32Array }));
    tf.dispose(list);
    return result;
  } finally {
    await tf.setBackend('wasm');
    setNativeKernels(true);
  }
}

/** Largest |actual − expected| over the largest |expected| (NaN counts as infinitely wrong). */
function relativeError(actual: Float32Array, expected: Float32Array): number {
  let worst = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    const error = Math.abs(actual[i]! - expected[i]!);
    worst = Math.max(worst, Number.isNaN(error) ? Infinity : error);
    scale = Math.max(scale, Math.abs(expected[i]!));
  }
  return scale === 0 ? worst : worst / scale;
}

/** Runs `f` natively and on `reference`; equal shapes and values within `tolerance` (relative to the largest value). */
async function matches(f: () => tf.Tensor | tf.Tensor[], reference: Exclude<Path, 'native'>, tolerance = 1e-5): Promise<void> {
  const buffers = tf.engine().backend.numDataIds();
  const tensors = tf.memory().numTensors;
  const actual = await on('native', f);
  assert.equal(tf.memory().numTensors, tensors, 'no tensor left behind');
  assert.equal(tf.engine().backend.numDataIds(), buffers, 'no wasm buffer left behind');
  const expected = await on(reference, f);
  assert.equal(actual.length, expected.length);
  actual.forEach((a, i) => {
    assert.deepEqual(a.shape, expected[i]!.shape, `output ${i}: shape`);
    const error = relativeError(a.values, expected[i]!.values);
    assert.ok(error <= tolerance, `output ${i}: relative error ${error.toExponential(2)} against ${reference} exceeds ${tolerance}`);
  });
}

/** A seeded tensor of `shape` (values in [−1, 1)). */
const input = (shape: number[], seed: number): tf.Tensor => tf.tensor(seeded(count(shape), seed), shape);

// ---------------------------------------------------------------------------------------------
// The addon itself
// ---------------------------------------------------------------------------------------------

describe('the native addon', () => {
  it('is built and loads wherever OpenBLAS is installed', { skip: turnedOff ? 'TRIPLETJS_NATIVE=0' : !blasInstalled && 'OpenBLAS headers not installed' }, () => {
    const loaded = loadNativeAddon();
    assert.ok(loaded.addon !== undefined, `the native addon did not load: ${loaded.addon === undefined ? loaded.reason : ''}`);
    assert.match(loaded.addon.info().blas, /OpenBLAS/);
    assert.equal(backend, 'wasm');
    assert.ok(nativeKernelsActive(), 'initBackend() registered the native kernels');
  });

  it('runs convolutions in oneDNN wherever libdnnl-dev is installed', { skip: skip || (!existsSync('/usr/include/oneapi/dnnl/dnnl.hpp') && 'oneDNN headers not installed') }, () => {
    assert.equal(activeNativeAddon()!.info().dnnl, process.env.TRIPLETJS_DNNL !== '0');
  });

  it('a missing addon is reported with the reason, never thrown', () => {
    const loaded = loadNativeAddon('/nonexistent/tripletjs_native.node');
    assert.equal(loaded.addon, undefined);
    assert.match(loaded.addon === undefined ? loaded.reason : '', /not built.*libopenblas-dev/);
  });

  it('refuses arrays whose sizes do not match the geometry, before writing anything', { skip }, () => {
    const { addon } = loadNativeAddon();
    assert.ok(addon !== undefined);
    const out = new Float32Array(4).fill(7);
    const dims = Int32Array.of(1, 1, 1, 2, 2, 2, 0, 0);
    assert.throws(() => addon.matMul(new Float32Array(4), new Float32Array(3), out, dims, null, 0), /matMul: b has 3 elements, expected 4/);
    assert.throws(() => addon.matMul(new Float32Array(4), new Float32Array(4), out, dims, new Float32Array(3), 0), /bias must have one value or one per column/);
    assert.throws(() => addon.matMul(new Float32Array(4), new Float32Array(4), out, dims, null, 5), /activation must be 0/);
    assert.throws(() => addon.matMul(new Float64Array(4) as never, new Float32Array(4), out, dims, null, 0), /a must be a Float32Array/);
    assert.throws(() => addon.conv2d(new Float32Array(9), new Float32Array(1), out, Int32Array.of(1, 3, 3, 1, 2, 2, 1, 1, 1, 1, 1, 0, 0, 1, -1), null, 0), /negative/);
    assert.deepEqual(Array.from(out), [7, 7, 7, 7]);
  });

  it('thread counts: any positive integer, with the same results', { skip }, async () => {
    assert.throws(() => setNativeThreads(0), /positive integer/);
    const product = () => tf.matMul(input([300, 200], 1), input([200, 150], 2));
    setNativeThreads(1);
    const one = await on('native', product);
    setNativeThreads(2);
    const two = await on('native', product);
    setNativeThreads(defaultNativeThreads());
    assert.ok(relativeError(one[0]!.values, two[0]!.values) < 1e-6);
  });
});

describe('native kernels are registered, and wasm’s are restored', { skip }, () => {
  it('setNativeKernels(false) puts back tripletjs’s wasm kernels', () => {
    setNativeKernels(false);
    try {
      assert.equal(nativeKernelsActive(), false);
      assert.equal(tf.getKernel('Conv2DBackpropFilter', 'wasm')?.kernelFunc, conv2DBackpropFilterWasm);
      assert.equal(tf.getKernel('MaxPoolGrad', 'wasm')?.kernelFunc, maxPoolGradWasm);
    } finally {
      setNativeKernels(true);
    }
    for (const name of NATIVE_KERNEL_NAMES) assert.notEqual(tf.getKernel(name, 'wasm')?.kernelFunc, undefined);
    assert.notEqual(tf.getKernel('MaxPoolGrad', 'wasm')?.kernelFunc, maxPoolGradWasm);
  });
});

// ---------------------------------------------------------------------------------------------
// Kernels against the cpu backend
// ---------------------------------------------------------------------------------------------

describe('matrix products equal the cpu backend', { skip }, () => {
  const cases: { name: string; a: number[]; b: number[] }[] = [
    { name: '2-D 37×19 · 19×23', a: [37, 19], b: [19, 23] },
    { name: '2-D large enough for threads, 300×200 · 200×150', a: [300, 200], b: [200, 150] },
    { name: 'batched 3×17×9 · 3×9×11', a: [3, 17, 9], b: [3, 9, 11] },
    { name: 'broadcast a: 1×6×5 · 4×5×7', a: [1, 6, 5], b: [4, 5, 7] },
    { name: 'broadcast b: 2×2×6×5 · 5×7', a: [2, 2, 6, 5], b: [5, 7] },
    { name: 'vector-like 1×64 · 64×1', a: [1, 64], b: [64, 1] },
  ];
  const swapLast = (shape: number[]): number[] => [...shape.slice(0, -2), shape.at(-1)!, shape.at(-2)!];
  for (const c of cases) {
    for (const transposeA of [false, true]) {
      for (const transposeB of [false, true]) {
        it(`${c.name}, transposeA ${transposeA}, transposeB ${transposeB}`, () =>
          matches(() => tf.matMul(input(transposeA ? swapLast(c.a) : c.a, 1), input(transposeB ? swapLast(c.b) : c.b, 2), transposeA, transposeB), 'cpu'));
      }
    }
  }

  it('an empty inner dimension gives zeros', () => matches(() => tf.add(tf.matMul(tf.zeros([3, 0]), tf.zeros([0, 4])), input([3, 4], 3)), 'cpu'));

  // wasm's own kernel, the fallback for elu, misreads a one-value bias: only [23] for elu.
  for (const [activation, biasShape] of [
    ['linear', [23]],
    ['linear', [1]],
    ['relu', [23]],
    ['relu', [1]],
    ['elu', [23]],
  ] as const) {
    it(`fused: bias [${biasShape}], ${activation}${activation === 'elu' ? ' (wasm fallback)' : ''}`, () =>
      matches(() => tf.fused.matMul({ a: input([37, 19], 4), b: input([19, 23], 5), bias: input([...biasShape], 6), activation }), 'cpu'));
  }
});

type Padding = 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];

interface Conv {
  batch: number;
  height: number;
  width: number;
  inChannels: number;
  outChannels: number;
  kernel: [number, number];
  stride: [number, number];
  pad: Padding;
  dilation?: number;
  /** The path to compare with: the cpu backend, or the (cpu-checked) wasm kernels where cpu takes seconds. */
  reference?: 'wasm';
}

const CONVS: Conv[] = [
  { batch: 1, height: 13, width: 11, inChannels: 1, outChannels: 16, kernel: [3, 3], stride: [1, 1], pad: 'same' },
  { batch: 8, height: 13, width: 11, inChannels: 1, outChannels: 8, kernel: [3, 3], stride: [1, 1], pad: 'valid' },
  { batch: 5, height: 13, width: 11, inChannels: 3, outChannels: 16, kernel: [5, 3], stride: [1, 1], pad: 'same' },
  { batch: 1, height: 13, width: 11, inChannels: 3, outChannels: 4, kernel: [5, 5], stride: [2, 2], pad: 'valid' },
  { batch: 8, height: 13, width: 11, inChannels: 16, outChannels: 8, kernel: [3, 3], stride: [2, 1], pad: 'same' },
  { batch: 3, height: 12, width: 12, inChannels: 16, outChannels: 16, kernel: [3, 3], stride: [2, 2], pad: 'same' },
  { batch: 4, height: 13, width: 11, inChannels: 16, outChannels: 32, kernel: [1, 1], stride: [1, 1], pad: 'valid' },
  { batch: 1, height: 13, width: 11, inChannels: 3, outChannels: 16, kernel: [1, 1], stride: [2, 2], pad: 'same' },
  { batch: 6, height: 10, width: 10, inChannels: 3, outChannels: 4, kernel: [3, 3], stride: [3, 3], pad: 'valid' },
  { batch: 2, height: 9, width: 8, inChannels: 3, outChannels: 4, kernel: [3, 3], stride: [1, 1], pad: [[0, 0], [2, 1], [0, 2], [0, 0]] },
  { batch: 2, height: 7, width: 6, inChannels: 3, outChannels: 4, kernel: [3, 3], stride: [1, 1], pad: [[0, 0], [3, 0], [1, 3], [0, 0]] },
  // Enough images for three im2col chunks, and work for both threads.
  { batch: 40, height: 20, width: 20, inChannels: 32, outChannels: 8, kernel: [3, 3], stride: [1, 1], pad: 'same', reference: 'wasm' },
];

/** Depthwise cases: MobileNet's 3 × 3 at strides 1 and 2, a channel multiplier, a dilation, and enough images for both threads. */
const DEPTHWISE = [
  { batch: 2, height: 9, width: 8, channels: 3, multiplier: 1, kernel: 3, stride: 1, dilation: 1, pad: 'same' },
  { batch: 3, height: 10, width: 9, channels: 4, multiplier: 2, kernel: 3, stride: 2, dilation: 1, pad: 'valid' },
  { batch: 2, height: 11, width: 10, channels: 6, multiplier: 1, kernel: 3, stride: 1, dilation: 2, pad: 'same' },
  { batch: 16, height: 14, width: 14, channels: 32, multiplier: 1, kernel: 3, stride: 2, dilation: 1, pad: 'same' },
] as const;

const describeConv = (c: Conv): string =>
  `${c.batch}×${c.height}×${c.width}×${c.inChannels} → ${c.outChannels}, ${c.kernel.join('×')}, stride ${c.stride.join('×')}, ` +
  (typeof c.pad === 'string' ? c.pad : `pad ${JSON.stringify(c.pad.slice(1, 3))}`);

/** Seeded x, filter and dy of a conv case, and the attributes its gradient kernels take. */
function convTensors(c: Conv, seed: number) {
  const xShape = [c.batch, c.height, c.width, c.inChannels] as [number, number, number, number];
  const filterShape = [...c.kernel, c.inChannels, c.outChannels] as [number, number, number, number];
  const info = tf.backend_util.computeConv2DInfo(xShape, filterShape, c.stride, c.dilation ?? 1, c.pad, undefined, false, 'channelsLast');
  return {
    x: () => input(xShape, seed) as tf.Tensor4D,
    filter: () => input(filterShape, seed + 1) as tf.Tensor4D,
    dy: () => input(info.outShape, seed + 2) as tf.Tensor4D,
    attrs: { strides: c.stride, pad: c.pad, dataFormat: 'NHWC', inputShape: xShape, filterShape },
  };
}

// Convolutions run in oneDNN when the addon was built with it, else by im2col + OpenBLAS: both paths.
const convolutionPaths = skip ? [] : activeNativeAddon()!.info().dnnl ? ['oneDNN', 'im2col'] : ['im2col'];

for (const path of convolutionPaths) {
  describe(`convolutions equal the cpu backend (${path})`, { skip }, () => {
    before(() => activeNativeAddon()!.setDnnl(path === 'oneDNN'));
    after(() => activeNativeAddon()!.setDnnl(convolutionPaths[0] === 'oneDNN'));
    for (const [index, c] of CONVS.entries()) {
      const t = convTensors(c, 10 * index);
      const reference = c.reference ?? 'cpu';
      const against = `${describeConv(c)}${c.reference ? ' (against wasm)' : ''}`;
      it(`Conv2D ${against}`, () => matches(() => tf.conv2d(t.x(), t.filter(), c.stride, c.pad), reference));
      it(`Conv2DBackpropInput ${against}`, () => matches(() => tf.engine().runKernel('Conv2DBackpropInput', { dy: t.dy(), filter: t.filter() }, t.attrs as never) as tf.Tensor, reference));
      it(`Conv2DBackpropFilter ${against}`, () => matches(() => tf.engine().runKernel('Conv2DBackpropFilter', { x: t.x(), dy: t.dy() }, t.attrs as never) as tf.Tensor, reference));
    }

    for (const [index, d] of DEPTHWISE.entries()) {
      const xShape = [d.batch, d.height, d.width, d.channels] as [number, number, number, number];
      const filterShape = [d.kernel, d.kernel, d.channels, d.multiplier] as [number, number, number, number];
      const info = tf.backend_util.computeConv2DInfo(xShape, filterShape, d.stride, d.dilation, d.pad, undefined, true, 'channelsLast');
      const attrs = { strides: d.stride, pad: d.pad, dataFormat: 'NHWC', dilations: d.dilation, inputShape: xShape, filterShape };
      const [x, filter, dy] = [() => input(xShape, 70 + index), () => input(filterShape, 80 + index), () => input(info.outShape, 90 + index)];
      const name = `${xShape.join('×')}, multiplier ${d.multiplier}, ${d.kernel}×${d.kernel}, stride ${d.stride}, dilation ${d.dilation}, ${d.pad}`;
      it(`DepthwiseConv2dNative ${name}`, () => matches(() => tf.depthwiseConv2d(x() as tf.Tensor4D, filter() as tf.Tensor4D, d.stride, d.pad, 'NHWC', d.dilation), 'cpu'));
      // tfjs-core refuses the gradient of a dilated depthwise convolution (and the cpu backend's gradient kernels ignore dilations).
      if (d.dilation !== 1) continue;
      it(`DepthwiseConv2dNativeBackpropInput ${name}`, () =>
        matches(() => tf.engine().runKernel('DepthwiseConv2dNativeBackpropInput', { dy: dy(), filter: filter() }, attrs as never) as tf.Tensor, 'cpu'));
      it(`DepthwiseConv2dNativeBackpropFilter ${name}`, () =>
        matches(() => tf.engine().runKernel('DepthwiseConv2dNativeBackpropFilter', { x: x(), dy: dy() }, attrs as never) as tf.Tensor, 'cpu'));
    }

    it('Conv2D with dilation 2', () => matches(() => tf.conv2d(input([2, 11, 10, 3], 1) as tf.Tensor4D, input([3, 3, 3, 5], 2) as tf.Tensor4D, 1, 'same', 'NHWC', 2), 'cpu'));

    for (const activation of ['linear', 'relu', 'elu'] as const) {
      it(`FusedConv2D with bias, ${activation}${activation === 'elu' ? ' (wasm fallback)' : ''}`, () =>
        matches(
          () =>
            tf.fused.conv2d({ x: input([3, 9, 8, 4], 1) as tf.Tensor4D, filter: input([3, 3, 4, 6], 2) as tf.Tensor4D, strides: 1, pad: 'same', bias: input([6], 3), activation }),
          'cpu',
        ));
    }
  });
}

describe('MaxPoolGrad equals the cpu backend', { skip }, () => {
  const cases: { name: string; shape: number[]; size: number; stride: number; pad: 'same' | 'valid'; values: (n: number) => Float32Array }[] = [
    { name: '2×2 stride 2, all negative', shape: [2, 8, 6, 3], size: 2, stride: 2, pad: 'valid', values: (n) => seeded(n, 1).map((v) => -Math.abs(v) - 0.1) },
    { name: '2×2 stride 2, odd sizes', shape: [3, 13, 11, 5], size: 2, stride: 2, pad: 'valid', values: (n) => seeded(n, 2) },
    { name: '3×3 stride 2 same, overlapping windows', shape: [2, 13, 11, 4], size: 3, stride: 2, pad: 'same', values: (n) => seeded(n, 3) },
    { name: 'ties: relu zeros and repeated values', shape: [2, 6, 6, 3], size: 2, stride: 2, pad: 'valid', values: (n) => seeded(n, 4).map((v) => Math.max(0, Math.round(v * 2) / 2)) },
    { name: 'a CNN’s first pooling, 32×26×26×32', shape: [32, 26, 26, 32], size: 2, stride: 2, pad: 'valid', values: (n) => seeded(n, 5) },
  ];
  for (const c of cases) {
    it(c.name, () =>
      matches(() => {
        const x = tf.tensor4d(c.values(count(c.shape)), c.shape as [number, number, number, number]);
        const pooled = (v: tf.Tensor) => tf.maxPool(v as tf.Tensor4D, c.size, c.stride, c.pad);
        const weights = input(pooled(x).shape, 6);
        return tf.grad((v: tf.Tensor) => tf.sum(tf.mul(pooled(v), weights)))(x);
      }, 'cpu'));
  }
});

describe('pooling, per-channel ops, batch norm, tile and leading sums equal the cpu backend', { skip }, () => {
  for (const [name, shape, size, stride, pad] of [
    ['2×2 stride 2, odd sizes', [3, 13, 11, 5], 2, 2, 'valid'],
    ['3×3 stride 2 same', [2, 13, 11, 4], 3, 2, 'same'],
    ['3×3 stride 1 same', [1, 7, 9, 2], 3, 1, 'same'],
  ] as const) {
    it(`MaxPool ${name}`, () => matches(() => tf.maxPool(input([...shape], 1) as tf.Tensor4D, size, stride, pad), 'cpu'));
  }
  it('MaxPool skips NaN, as the cpu backend', () =>
    matches(() => tf.maxPool(tf.tensor4d([NaN, 1, 2, NaN, NaN, NaN, -1, NaN], [1, 2, 4, 1]), 2, 2, 'valid'), 'cpu'));

  for (const [a, b, path] of [
    [[64, 26, 26, 32], [32], 'native'],
    [[7], [5, 7], 'native'],
    [[1, 1, 1, 6], [4, 3, 5, 6], 'native'],
    [[5, 7], [5, 7], 'wasm’s'],
    [[5, 7], [1], 'wasm’s'],
    [[1, 1, 7], [5, 7], 'wasm’s: the vector has the higher rank'],
  ] as const) {
    for (const op of ['add', 'sub', 'mul'] as const) {
      it(`${op} [${a}], [${b}] (${path})`, () => matches(() => tf[op](input([...a], 1), input([...b], 2)), 'cpu'));
    }
  }
  it('Add of int32 tensors (wasm’s)', () => matches(() => tf.cast(tf.add(tf.tensor([[1, 2], [3, 4]], undefined, 'int32'), tf.tensor([5, 6], undefined, 'int32')), 'float32'), 'cpu'));

  for (const [shape, withOffset, withScale] of [
    [[6, 5, 4, 8], true, true],
    [[9, 8], false, true],
    [[9, 8], true, false],
  ] as const) {
    it(`batch norm of [${shape}]${withOffset ? ', offset' : ''}${withScale ? ', scale' : ''}`, () =>
      matches(() => {
        const c = shape.at(-1)!;
        const variance = tf.abs(input([c], 4));
        return tf.batchNorm(input([...shape], 3), input([c], 5), variance, withOffset ? input([c], 6) : undefined, withScale ? input([c], 7) : undefined, 1e-3);
      }, 'cpu'));
  }

  for (const [shape, reps] of [
    [[1, 1, 1, 32], [16, 9, 7, 1]],
    [[2, 3], [3, 2]],
    [[5], [4]],
    [[2, 1, 3], [1, 4, 2]],
    [[3, 2], [1, 1]],
  ] as const) {
    it(`tile [${shape}] by [${reps}]`, () => matches(() => tf.tile(input([...shape], 8), [...reps]), 'cpu'));
  }
  it('tile of int32 (wasm’s)', () => matches(() => tf.cast(tf.tile(tf.tensor([1, 2, 3], [3], 'int32'), [2]), 'float32'), 'cpu'));

  for (const op of ['sum', 'mean'] as const) {
    for (const [shape, axis, keepDims] of [
      [[64, 26, 26, 32], [0, 1, 2], false],
      [[6, 7, 3], [1, 0], true],
      [[40, 9], 0, false],
      [[2, 3, 4, 5], [-4, -3], false],
      [[6, 7, 3], -1, false],
      [[6, 7, 3], [0, 1, 2], false],
    ] as const) {
      it(`${op} of [${shape}] over ${JSON.stringify(axis)}${keepDims ? ', keepDims' : ''}`, () =>
        matches(() => tf[op](input([...shape], 3), axis as number | number[], keepDims), 'cpu', 1e-6));
    }
  }
});

// ---------------------------------------------------------------------------------------------
// ReLU6 (Relu, then ClipByValue) and batch normalisation's gradient, as MobileNetV2 trains them
// ---------------------------------------------------------------------------------------------

/** Runs `f` natively and on the cpu backend: the same shapes and bit-identical values, NaN where NaN. */
async function identical(f: () => tf.Tensor | tf.Tensor[]): Promise<void> {
  const tensors = tf.memory().numTensors;
  const actual = await on('native', f);
  assert.equal(tf.memory().numTensors, tensors, 'no tensor left behind');
  const expected = await on('cpu', f);
  actual.forEach((a, i) => {
    assert.deepEqual(a.shape, expected[i]!.shape, `output ${i}: shape`);
    a.values.forEach((v, j) => assert.ok(Object.is(v, expected[i]!.values[j]) || (v === 0 && expected[i]!.values[j] === 0), `output ${i}[${j}]: ${v}, cpu ${expected[i]!.values[j]}`));
  });
}

/** Seeded values in [−8, 8), with the edges of a ReLU6 (0 and 6 exactly), NaN and ±∞ among them. */
function reluSixInputs(size: number, seed: number): Float32Array {
  const values = seeded(size, seed).map((v) => 8 * v);
  const specials = [0, 6, -0, NaN, Infinity, -Infinity, 5.999999, 6.000001, 1e-30, -1e-30];
  for (let i = 0; i < size; i += 7) values[i] = specials[(i / 7) % specials.length]!;
  return values;
}

describe('Relu, ClipByValue and their gradients equal the cpu backend', { skip }, () => {
  // Relu and ClipByValue themselves are wasm's; the ClipByValue gradient is the addon's, and runs on its threads at the large shape.
  const shapes = [[1], [7], [3, 5, 7, 6], [32, 14, 14, 96]];
  for (const shape of shapes) {
    const x = () => tf.tensor(reluSixInputs(count(shape), 11), shape);
    // Without NaN: wasm's ClipByValue (kept) gives 0 for NaN on its SIMD path, the cpu backend NaN.
    const finite = () => tf.tensor(reluSixInputs(count(shape), 11).map((v) => (Number.isNaN(v) ? 0 : v)), shape);
    it(`Relu and ClipByValue [0, 6] of [${shape}], ±∞ included`, () => identical(() => [tf.relu(x()), tf.clipByValue(finite(), 0, 6), tf.clipByValue(finite(), -0.1, 0.3)]));
    it(`the gradient of ReLU6 (Relu then ClipByValue, as Keras's ReLU layer) of [${shape}], at 0, 6, NaN and ±∞`, () =>
      identical(() => {
        const weights = tf.tensor(seeded(count(shape), 12), shape);
        const [dRelu6, dClip] = [(v: tf.Tensor) => tf.clipByValue(tf.relu(v), 0, 6), (v: tf.Tensor) => tf.clipByValue(v, -0.1, 0.3)].map((f) => tf.grad((v: tf.Tensor) => tf.sum(tf.mul(f(v), weights)))(x()));
        return [dRelu6!, dClip!];
      }));
  }
  it('the gradient of ClipByValue where dy is ±∞ or NaN outside the range: 0, as tfjs’s where()', () =>
    identical(() => tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.clipByValue(v, 0, 6), tf.tensor([Infinity, NaN, -Infinity, NaN, 2]))))(tf.tensor([-1, 7, 8, 3, 6]))));
  it('empty and int32 tensors', () =>
    matches(() => [tf.relu(tf.zeros([0, 3])), tf.cast(tf.clipByValue(tf.tensor([-3, 2, 9], [3], 'int32'), 0, 6), 'float32'), tf.cast(tf.relu(tf.tensor([-3, 2], [2], 'int32')), 'float32')], 'wasm'));
  it('replace tfjs’s five-kernel ClipByValue gradient by one kernel', async () => {
    const x = tf.tensor([-1, 2, 7, 6]);
    const profile = await tf.profile(() => tf.grad((v: tf.Tensor) => tf.clipByValue(v, 0, 6))(x));
    assert.ok(profile.kernelNames.includes('TripletjsClipGrad'), profile.kernelNames.join(', '));
    assert.ok(!profile.kernelNames.includes('LogicalAnd'), profile.kernelNames.join(', '));
    assert.deepEqual(Array.from((profile.result as tf.Tensor).dataSync()), [0, 1, 0, 1]);
    tf.dispose([x, profile.result as tf.Tensor]);
  });
});

describe('batch normalisation’s gradient equals the cpu backend’s', { skip }, () => {
  // With respect to x, mean, variance, offset and scale; [32, 7, 7, 160] runs on the addon's threads.
  // Always with an offset and a scale: without either, tfjs 4.22 cannot differentiate batchNorm on
  // any backend (its gradient saves the missing scale, and its tape trips on a missing offset).
  for (const shape of [[6, 5, 4, 8], [9, 8], [1, 1, 1, 3], [1, 2], [32, 7, 7, 160]]) {
    it(`of tf.batchNorm over [${shape}]`, () =>
      matches(() => {
        const c = shape.at(-1)!;
        const weights = input([...shape], 9);
        const f = (x: tf.Tensor, mean: tf.Tensor, variance: tf.Tensor, offset: tf.Tensor, scale: tf.Tensor): tf.Scalar =>
          tf.sum(tf.mul(tf.batchNorm(x, mean, variance, offset, scale, 1e-3), weights));
        return tf.grads(f)([input([...shape], 3), input([c], 5), tf.add(tf.abs(input([c], 4)), 0.1), input([c], 6), input([c], 7)]);
      }, 'cpu', 1e-5));
  }
  it('with the statistics of the batch (tf.moments), as BatchNormalization in training: through the mean and variance too', () =>
    matches(() => {
      const weights = input([8, 6, 5, 24], 9);
      const f = (x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor): tf.Scalar => {
        const { mean, variance } = tf.moments(x, [0, 1, 2]);
        return tf.sum(tf.mul(tf.batchNorm(x, mean, variance, beta, gamma, 1e-3), weights));
      };
      return tf.grads(f)([tf.mul(input([8, 6, 5, 24], 3), 4), input([24], 5), input([24], 6)]);
    }, 'cpu', 1e-4));
  it('a Keras MobileNetV2 block in training (expand, BN, ReLU6, depthwise, BN, ReLU6, project, BN, residual): gradients of every weight', async () => {
    const block = (): tf.Tensor[] => {
      const x = tfl.input({ shape: [9, 9, 16] });
      const bn = () => tfl.layers.batchNormalization({ epsilon: 1e-3, momentum: 0.999 });
      let h = tfl.layers.conv2d({ filters: 48, kernelSize: 1, useBias: false, kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }) }).apply(x) as tfl.SymbolicTensor;
      h = tfl.layers.reLU({ maxValue: 6 }).apply(bn().apply(h)) as tfl.SymbolicTensor;
      h = tfl.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', useBias: false, depthwiseInitializer: tfl.initializers.glorotUniform({ seed: 2 }) }).apply(h) as tfl.SymbolicTensor;
      h = tfl.layers.reLU({ maxValue: 6 }).apply(bn().apply(h)) as tfl.SymbolicTensor;
      h = bn().apply(tfl.layers.conv2d({ filters: 16, kernelSize: 1, useBias: false, kernelInitializer: tfl.initializers.glorotUniform({ seed: 3 }) }).apply(h)) as tfl.SymbolicTensor;
      const model = tfl.model({ inputs: x, outputs: tfl.layers.add().apply([x, h]) as tfl.SymbolicTensor });
      const images = tf.mul(input([8, 9, 9, 16], 4), 3);
      const weights = input([8, 9, 9, 16], 5);
      const { grads } = tf.variableGrads(() => tf.sum(tf.mul(model.apply(images, { training: true }) as tf.Tensor, weights)), model.trainableWeights.map((w) => w.read() as tf.Variable));
      const result = Object.values(grads);
      model.dispose();
      return result;
    };
    await matches(block, 'cpu', 1e-4);
  });
});

// ---------------------------------------------------------------------------------------------
// Against the pure-wasm path: gradients of a conv net, and a short training run
// ---------------------------------------------------------------------------------------------

describe('native and pure-wasm paths agree', { skip }, () => {
  it('tf.grads of a small conv net with batch norm, with respect to its input and every weight', async () => {
    const gradients = () => {
      const target = input([6, 5], 5);
      const net = (x: tf.Tensor, conv1: tf.Tensor, bias1: tf.Tensor, gamma: tf.Tensor, conv2: tf.Tensor, dense: tf.Tensor): tf.Scalar => {
        const c1 = tf.add(tf.conv2d(x as tf.Tensor4D, conv1 as tf.Tensor4D, 1, 'same'), bias1);
        // Batch normalisation in training: statistics of the batch, gradients through them too.
        const { mean, variance } = tf.moments(c1, [0, 1, 2]);
        const h1 = tf.relu(tf.batchNorm(c1, mean, variance, bias1, gamma, 1e-3));
        const p1 = tf.maxPool(h1 as tf.Tensor4D, 2, 2, 'valid');
        const h2 = tf.relu(tf.conv2d(p1, conv2 as tf.Tensor4D, 2, 'same'));
        const out = tf.matMul(tf.reshape(h2, [6, -1]), dense);
        return tf.sum(tf.mul(out, target));
      };
      return tf.grads(net)([input([6, 14, 12, 2], 6), input([3, 3, 2, 8], 1), input([8], 2), input([8], 7), input([3, 3, 8, 12], 3), input([4 * 3 * 12, 5], 4)]);
    };
    await matches(gradients, 'wasm', 1e-5);
    await matches(gradients, 'cpu', 1e-5);
  });

  it('ten Adam steps of a CNN (batch norm as tripletjs builds it) with a triplet loss give the same loss curve', async () => {
    const curve = async (path: Path): Promise<number[]> => {
      const model = tfl.sequential({
        layers: [
          tfl.layers.conv2d({ inputShape: [12, 12, 1], filters: 8, kernelSize: 3, useBias: false, kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }) }),
          tfl.layers.batchNormalization(),
          tfl.layers.activation({ activation: 'relu' }),
          tfl.layers.maxPooling2d({ poolSize: 2 }),
          tfl.layers.conv2d({ filters: 16, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }) }),
          tfl.layers.flatten(),
          tfl.layers.dense({ units: 8, kernelInitializer: tfl.initializers.glorotUniform({ seed: 3 }) }),
        ],
      });
      const labels = Int32Array.from({ length: 16 }, (_, i) => i >> 2);
      const loss = new TripletMarginLoss({ margin: 0.2 });
      const losses: number[] = [];
      await on(path, () => {
        const x = input([16, 12, 12, 1], 7);
        const optimizer = tf.train.adam(1e-2);
        for (let step = 0; step < 10; step++) {
          const cost = optimizer.minimize(() => loss.compute(model.apply(x, { training: true }) as tf.Tensor2D, labels), true);
          losses.push(cost!.dataSync()[0]!);
          cost!.dispose();
        }
        optimizer.dispose();
        return tf.scalar(0);
      });
      model.dispose();
      return losses;
    };
    const native = await curve('native');
    const wasm = await curve('wasm');
    assert.ok(native.at(-1)! < native[0]!, `the loss goes down (${native[0]} → ${native.at(-1)})`);
    native.forEach((value, step) => assert.ok(Math.abs(value - wasm[step]!) <= 1e-4 * Math.max(1, Math.abs(wasm[step]!)), `step ${step}: ${value} natively, ${wasm[step]} on wasm`));
  });
});

// ---------------------------------------------------------------------------------------------
// Metric learning: the addon's passes against the JavaScript ones
// ---------------------------------------------------------------------------------------------

describe('metric-learning passes: native and JavaScript agree', { skip }, () => {
  /** `f` with the native kernels, then without them (the JavaScript passes, as with TRIPLETJS_NATIVE=0). */
  function bothPaths<T>(f: () => T): [native: T, javascript: T] {
    try {
      const native = f();
      setNativeKernels(false);
      return [native, f()];
    } finally {
      setNativeKernels(true);
    }
  }

  /** Seeded labels: P × K blocks, or shuffled unequal classes with a singleton (an anchor without positives). */
  const batches: { name: string; labels: Int32Array; dims: number }[] = [
    { name: '8 × 8 blocks', labels: Int32Array.from({ length: 64 }, (_, i) => i >> 3), dims: 12 },
    {
      name: 'shuffled unequal classes and a singleton',
      labels: (() => {
        const random = new SeededRandom(5);
        return Int32Array.from({ length: 50 }, (_, i) => (i === 7 ? 99 : random.int(6)));
      })(),
      dims: 16,
    },
    // 40 positives: a table of 64 keys, past the five-step search.
    { name: 'classes of 40, 40 and 20', labels: Int32Array.from({ length: 100 }, (_, i) => (i < 40 ? 0 : i < 80 ? 1 : 2)), dims: 8 },
  ];
  const distances: BaseDistance[] = [
    new LpDistance(),
    new LpDistance({ power: 2 }),
    new LpDistance({ normalizeEmbeddings: false, power: 0.5 }),
    new CosineSimilarity(),
    new DotProductSimilarity({ normalizeEmbeddings: false }),
  ];
  const embeddings = (rows: number, dims: number, seed: number): tf.Tensor2D => {
    const values = seeded(rows * dims, seed);
    // A zero row: its norm is floored in the normalisation and its gradient.
    values.fill(0, 0, dims);
    return tf.tensor2d(values, [rows, dims]);
  };
  /** The oriented matrix rounded to sixteenths: many exact ties, which both paths must break alike. */
  const tiedMatrix = (distance: BaseDistance, x: tf.Tensor2D): Float32Array => distance.orientedMatrix(x).map((v) => Math.round(v * 16) / 16);
  const sameTriplets = (actual: TripletIndices, expected: TripletIndices, what: string): void => {
    assert.ok(expected.anchors.length > 0, `${what}: some triplets`);
    for (const key of ['anchors', 'positives', 'negatives'] as const) assert.deepEqual(actual[key], expected[key], `${what}: ${key}`);
  };

  for (const { name, labels, dims } of batches) {
    const rows = labels.length;
    for (const distance of distances) {
      const what = `${distance.name}${distance.normalizeEmbeddings ? '' : ' (raw)'}, ${name}`;

      it(`${what}: distance matrices, against the batch and against a reference set`, () => {
        const x = embeddings(rows, dims, 11);
        const ref = embeddings(rows + 3, dims, 12);
        const [native, javascript] = bothPaths(() => [distance.orientedMatrix(x), distance.orientedMatrix(x, ref)]);
        native.forEach((values, i) => assert.ok(relativeError(values, javascript[i]!) < 1e-5, `matrix ${i}: relative error ${relativeError(values, javascript[i]!)}`));
        tf.dispose([x, ref]);
      });

      it(`${what}: batch-hard and semi-hard mining select the same triplets, ties included`, () => {
        const x = embeddings(rows, dims, 13);
        const values = tiedMatrix(distance, x);
        const matrix = { values, rows, dims };
        for (const miner of [new BatchHardMiner({ distance }), new SemiHardMiner({ distance }), new SemiHardMiner({ distance, margin: 0.1 })]) {
          const [native, javascript] = bothPaths(() => miner.mineBatch(matrix, labels));
          sameTriplets(native, javascript, `${miner.constructor.name}${miner instanceof SemiHardMiner && miner.margin !== undefined ? ' with a margin' : ''}`);
        }
        // Against a reference set with labels the batch lacks, and classes the batch lacks.
        const ref = embeddings(rows + 3, dims, 14);
        const refLabels = Int32Array.from({ length: rows + 3 }, (_, i) => (i < rows ? labels[(i * 7) % rows]! : 1234));
        for (const miner of [new BatchHardMiner({ distance }), new SemiHardMiner({ distance })]) {
          const [native, javascript] = bothPaths(() => miner.mine(x, labels, ref, refLabels));
          sameTriplets(native, javascript, `${miner.constructor.name} against a reference set`);
        }
        tf.dispose([x, ref]);
      });

      it(`${what}: the batch-all hinge sums, counts and coefficients`, () => {
        const x = embeddings(rows, dims, 15);
        const matrix: LossMatrix = { values: tiedMatrix(distance, x), rows, dims };
        const loss = new TripletMarginLoss({ margin: 0.25, distance });
        const parts = (loss as unknown as { parts(m: LossMatrix, l: Int32Array, t: undefined): LossPart[] }).parts.bind(loss);
        const [native, javascript] = bothPaths(() => {
          const [part] = parts(matrix, labels, undefined);
          return { sum: part!.sum, count: part!.count, nonzero: part!.nonzeroCount, coefficients: Float32Array.from(part!.coefficients.dense!) };
        });
        // The same counts and coefficients; the sum is added up in another order.
        assert.deepEqual({ ...native, sum: 0 }, { ...javascript, sum: 0 });
        assert.ok(Math.abs(native.sum - javascript.sum) <= 1e-12 * Math.max(1, Math.abs(javascript.sum)), `sum ${native.sum} natively, ${javascript.sum} in JavaScript`);
        tf.dispose(x);
      });

      it(`${what}: losses and gradients of batch-all, batch-hard, semi-hard and mined batch-all (hinge, swap, soft margin)`, () => {
        const x = embeddings(rows, dims, 16);
        // TripletMarginMiner's many triplets keep the loss's coefficients dense; the others', sparse.
        const miners = [undefined, new BatchHardMiner({ distance }), new SemiHardMiner({ distance }), new TripletMarginMiner({ margin: 0.3, distance })];
        const cases = miners.flatMap((miner) =>
          [{}, { swap: true }, { smoothLoss: true }].map((options) => ({ miner, options })),
        );
        for (const { miner, options } of cases) {
          const loss = new TripletMarginLoss({ margin: 0.2, distance, ...options });
          const [native, javascript] = bothPaths(() => {
            const { value, grad } = tf.valueAndGrad((e: tf.Tensor) => loss.compute(e as tf.Tensor2D, labels, miner))(x);
            const result = { value: value.dataSync()[0]!, gradient: grad.dataSync() as Float32Array };
            tf.dispose([value, grad]);
            return result;
          });
          const label = `${miner === undefined ? 'batch-all' : miner.constructor.name} ${JSON.stringify(options)}`;
          assert.ok(Math.abs(native.value - javascript.value) <= 1e-5 * Math.max(1, Math.abs(javascript.value)), `${label}: loss ${native.value} natively, ${javascript.value} in JavaScript`);
          const error = relativeError(native.gradient, javascript.gradient);
          assert.ok(error < 1e-4, `${label}: gradient relative error ${error}`);
        }
        tf.dispose(x);
      });
    }
  }

  it('B = 1024, where the passes run on several threads: the same selections, coefficients, losses and gradients', () => {
    const labels = Int32Array.from({ length: 1024 }, (_, i) => i >> 4);
    const x = embeddings(1024, 32, 17);
    const distance = new LpDistance();
    const matrix = { values: tiedMatrix(distance, x), rows: 1024, dims: 32 };
    for (const miner of [new BatchHardMiner(), new SemiHardMiner()]) {
      const [native, javascript] = bothPaths(() => miner.mineBatch(matrix, labels));
      sameTriplets(native, javascript, miner.constructor.name);
    }
    for (const miner of [undefined, new SemiHardMiner()]) {
      const loss = new TripletMarginLoss({ margin: 0.2 });
      const [native, javascript] = bothPaths(() => {
        const { value, grad } = tf.valueAndGrad((e: tf.Tensor) => loss.compute(e as tf.Tensor2D, labels, miner))(x);
        const result = { value: value.dataSync()[0]!, gradient: grad.dataSync() as Float32Array };
        tf.dispose([value, grad]);
        return result;
      });
      assert.ok(Math.abs(native.value - javascript.value) <= 1e-5 * Math.abs(javascript.value), `loss ${native.value} natively, ${javascript.value} in JavaScript`);
      assert.ok(relativeError(native.gradient, javascript.gradient) < 1e-4, `gradient relative error ${relativeError(native.gradient, javascript.gradient)}`);
    }
    tf.dispose(x);
  });

  it('the addon refuses arrays of the wrong size, before writing anything', () => {
    const { addon } = loadNativeAddon();
    assert.ok(addon !== undefined);
    const labels = Int32Array.of(0, 0, 1);
    const matrix = new Float32Array(9);
    const out = new Float32Array(6).fill(7);
    const norms = new Float64Array(3);
    assert.throws(() => addon.batchHardMine(new Float32Array(8), labels, labels, true), /batchHardMine: distances has 8 elements, expected 9/);
    assert.throws(() => addon.semiHardMine(new Float32Array(6), labels, Int32Array.of(0, 1), true, Infinity), /labels must be as many as refLabels for the same set/);
    assert.throws(() => addon.allTripletsHinge(matrix, labels, 0.1, new Float32Array(8), new Float64Array(3)), /coefficients has 8 elements, expected 9/);
    assert.throws(() => addon.gramToMatrix(matrix, new Float32Array(9), norms, norms, -1, true, false), /power must be 0/);
    assert.throws(() => addon.normalizeRows(new Float32Array(6), 2, out, new Float64Array(2), norms), /norms has 2 elements, expected 3/);
    assert.throws(() => addon.normalizeRows(new Float32Array(6), 4, out, null, norms), /x is not whole rows/);
    assert.throws(() => addon.gramGradientSparse(matrix, Int32Array.of(9), Float64Array.of(1), new Float32Array(6), 2, null, out, 1, 1, 1), /indices has an entry outside the matrix/);
    assert.throws(() => addon.gramGradientSparse(matrix, Int32Array.of(1), Float64Array.of(1), new Float32Array(6), 4, null, out, 1, 1, 1), /x is not whole rows/);
    assert.throws(() => addon.gramGradientDense(matrix, new Float32Array(9), new Float32Array(6), 2, new Float64Array(2), out, 1, 1, 1), /norms has 2 elements, expected 3/);
    assert.throws(() => addon.batchHardMine(matrix, labels, labels, 1 as never), /sameSet must be a boolean/);
    const [indices, slopes, totals] = [new Int32Array(2), new Float64Array(2), new Float64Array(3)];
    assert.throws(() => addon.tripletMarginTerms(matrix, 3, Int32Array.of(0), Int32Array.of(1), Int32Array.of(3), 0.1, false, false, null, indices, slopes, totals), /triplets have an index outside the batch/);
    assert.throws(() => addon.tripletMarginTerms(matrix, 3, Int32Array.of(0), Int32Array.of(1), Int32Array.of(2), 0.1, false, false, null, new Int32Array(1), slopes, totals), /indices has 1 elements, expected 2/);
    assert.deepEqual(Array.from(out), [7, 7, 7, 7, 7, 7]);
  });

  it('empty and one-row batches: no triplets, no crash', () => {
    const { addon } = loadNativeAddon();
    assert.ok(addon !== undefined);
    for (const rows of [0, 1]) {
      const labels = new Int32Array(rows);
      const matrix = new Float32Array(rows * rows);
      assert.equal(addon.batchHardMine(matrix, labels, labels, true).anchors.length, 0);
      assert.equal(addon.semiHardMine(matrix, labels, labels, true, Infinity).anchors.length, 0);
      const totals = new Float64Array(3).fill(5);
      addon.allTripletsHinge(matrix, labels, 0.1, new Float32Array(rows * rows), totals);
      assert.deepEqual(Array.from(totals), [0, 0, 0]);
      const gradient = new Float32Array(rows * 2);
      addon.gramGradientDense(matrix, new Float32Array(rows * rows), new Float32Array(rows * 2), 2, null, gradient, 1, 1, 1);
      addon.gramGradientSparse(matrix, new Int32Array(0), new Float64Array(0), new Float32Array(rows * 2), 2, null, gradient, 1, 1, 1);
      assert.deepEqual(Array.from(gradient), new Array(rows * 2).fill(0));
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Fallback
// ---------------------------------------------------------------------------------------------

describe('fallback to the wasm kernels', () => {
  const engine = new URL('../src/engine/index.js', import.meta.url).href;
  const kernels = new URL('../src/engine/native-kernels.js', import.meta.url).href;
  /** Runs `code` (an ES module body) in a fresh node with `env` added; returns its stdout lines. */
  const child = (code: string, env: Record<string, string>): string[] => {
    const result = spawnSync(process.execPath, ['--input-type=module', '-e', code], { env: { ...process.env, ...env }, encoding: 'utf8' });
    assert.equal(result.status, 0, result.stderr);
    return result.stdout.trim().split('\n');
  };

  it('TRIPLETJS_NATIVE=0: announced at start-up, and wasm’s kernels stay', () => {
    const [announced, active] = child(
      `import { initBackend, nativeKernelsActive } from '${engine}';
       await initBackend({ backend: 'wasm', announce: (m) => console.log(m) });
       console.log(nativeKernelsActive());`,
      { TRIPLETJS_NATIVE: '0' },
    );
    assert.match(announced!, /^tripletjs: TensorFlow\.js backend wasm \(SIMD (on|off), own matmul kernel\); native kernels off \(TRIPLETJS_NATIVE=0\)/);
    assert.equal(active, 'false');
  });

  it('a missing addon: announced with the reason, and wasm’s kernels stay', () => {
    const [description, active] = child(
      `import { tf } from '${new URL('../src/tf.js', import.meta.url).href}';
       import { installWasmKernels } from '${new URL('../src/engine/wasm-kernels.js', import.meta.url).href}';
       import { installNativeKernels, nativeKernelsActive } from '${kernels}';
       await tf.setBackend('wasm');
       installWasmKernels();
       console.log(installNativeKernels(undefined, '/nonexistent/tripletjs_native.node').description);
       console.log(nativeKernelsActive());`,
      { TRIPLETJS_NATIVE: '' },
    );
    assert.match(description!, /^native kernels unavailable \(\/nonexistent\/tripletjs_native\.node is not built .*\): slower wasm kernels$/);
    assert.equal(active, 'false');
  });

  it('asked for but missing: an error, not a silent fallback', () => {
    const [message] = child(
      `import { tf } from '${new URL('../src/tf.js', import.meta.url).href}';
       import { installNativeKernels } from '${kernels}';
       await tf.setBackend('wasm');
       try { installNativeKernels(true, '/nonexistent/tripletjs_native.node'); } catch (error) { console.log(error.message); }`,
      {},
    );
    assert.match(message!, /native kernels were asked for but are unavailable/);
  });

  it('the default path is the native one where the addon is built', { skip: (turnedOff || !existsSync(NATIVE_ADDON_PATH)) && 'the addon is off or not built' }, () => {
    const [announced] = child(`import { initBackend } from '${engine}'; await initBackend({ backend: 'wasm', announce: (m) => console.log(m) });`, { TRIPLETJS_NATIVE: '' });
    assert.match(announced!, /^tripletjs: TensorFlow\.js backend wasm \(SIMD (on|off)\) \+ native OpenBLAS [\d.]+ kernels \(.+, \d+ threads?\)/);
  });
});
