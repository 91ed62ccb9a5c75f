/**
 * The wasm kernels tripletjs registers (src/engine/wasm-kernels.ts, src/engine/conv-kernels.ts),
 * checked against the cpu backend on the same inputs: BatchMatMul with transposed operands,
 * Conv2DBackpropFilter (both algorithms), Conv2DBackpropInput, the depthwise gradients, MaxPoolGrad, the full gradient of
 * a small tfjs-layers CNN, and that none of them leaves tensors or wasm buffers behind.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { tf, tfl } from '../src/tf.js';
import { SeededRandom } from '../src/common/random.js';
import {
  conv2DBackpropFilterWasm,
  conv2DBackpropInputWasm,
  castWasm,
  identityWasm,
  maxPoolGradWasm,
  meanWasm,
  setFilterGradientAlgorithm,
  sumWasm,
  type FilterGradientAlgorithm,
} from '../src/engine/conv-kernels.js';
import { setNativeKernels } from '../src/engine/native-kernels.js';
import { backend } from './helpers/setup.js';

// These are the wasm kernels, the fallback of the native ones (which test/native.test.ts checks).
setNativeKernels(false);

const onWasm = backend === 'wasm';
const skip = onWasm ? false : `the active backend is ${backend}, not wasm`;

/** Seeded values in [−1, 1), as float32. */
function values(size: number, seed: number): Float32Array {
  const random = new SeededRandom(seed);
  return Float32Array.from({ length: size }, () => 2 * random.float() - 1);
}

const sizeOf = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/**
 * Frees a NaN-filled megabyte on the wasm heap, so that the next allocations likely reuse it: a
 * kernel that forgets to write part of its output then shows NaN instead of lucky zeros.
 */
function dirtyWasmHeap(): void {
  const garbage = tf.fill([1 << 18], NaN);
  garbage.dataSync();
  garbage.dispose();
}

/** Runs `f` on `name` and returns its output's values; the previous backend is restored. */
async function runOn(name: 'wasm' | 'cpu', f: () => tf.Tensor): Promise<{ shape: number[]; data: Float32Array }> {
  const previous = tf.getBackend();
  assert.ok(await tf.setBackend(name), `backend ${name} starts`);
  try {
    if (name === 'wasm') dirtyWasmHeap();
    const out = f();
    const result = { shape: out.shape, data: out.dataSync() as Float32Array };
    out.dispose();
    return result;
  } finally {
    await tf.setBackend(previous);
  }
}

/** |actual − expected| ≤ rel · max|expected| everywhere (a relative tolerance on the scale of the result). */
function assertClose(actual: { shape: number[]; data: Float32Array }, expected: { shape: number[]; data: Float32Array }, what: string, rel = 1e-4): void {
  assert.deepEqual(actual.shape, expected.shape, `${what}: shape`);
  let scale = 0;
  for (const v of expected.data) scale = Math.max(scale, Math.abs(v));
  assert.ok(scale > 0, `${what}: the reference is not all zeros`);
  let worst = 0;
  let at = -1;
  for (let i = 0; i < expected.data.length; i++) {
    const a = actual.data[i]!;
    const error = Number.isNaN(a) ? Infinity : Math.abs(a - expected.data[i]!);
    if (error > worst) {
      worst = error;
      at = i;
    }
  }
  assert.ok(
    worst <= rel * scale,
    `${what}: largest error ${worst.toExponential(2)} at ${at} (got ${actual.data[at]}, expected ${expected.data[at]}), tolerance ${(rel * scale).toExponential(2)}`,
  );
}

/** Tensors of the engine and buffers of the wasm backend. */
function live(): { tensors: number; buffers: number } {
  return { tensors: tf.memory().numTensors, buffers: tf.engine().backend.numDataIds() };
}

type Padding = 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];

interface ConvCase {
  batch: number;
  height: number;
  width: number;
  inChannels: number;
  outChannels: number;
  kernel: number;
  stride: number;
  pad: Padding;
}

const explicit = (top: number, bottom: number, left: number, right: number): Padding => [
  [0, 0],
  [top, bottom],
  [left, right],
  [0, 0],
];

const CONV_CASES: ConvCase[] = [
  { batch: 1, height: 13, width: 11, inChannels: 1, outChannels: 16, kernel: 3, stride: 1, pad: 'same' },
  { batch: 8, height: 13, width: 11, inChannels: 1, outChannels: 8, kernel: 3, stride: 1, pad: 'valid' },
  { batch: 8, height: 13, width: 11, inChannels: 3, outChannels: 16, kernel: 5, stride: 1, pad: 'same' },
  { batch: 1, height: 13, width: 11, inChannels: 3, outChannels: 4, kernel: 5, stride: 2, pad: 'valid' },
  { batch: 8, height: 13, width: 11, inChannels: 16, outChannels: 8, kernel: 3, stride: 2, pad: 'same' },
  { batch: 8, height: 12, width: 12, inChannels: 16, outChannels: 16, kernel: 3, stride: 2, pad: 'same' },
  { batch: 8, height: 13, width: 11, inChannels: 16, outChannels: 32, kernel: 1, stride: 1, pad: 'valid' },
  { batch: 1, height: 13, width: 11, inChannels: 3, outChannels: 16, kernel: 1, stride: 2, pad: 'same' },
  { batch: 8, height: 10, width: 10, inChannels: 3, outChannels: 4, kernel: 3, stride: 3, pad: 'valid' },
  { batch: 1, height: 9, width: 8, inChannels: 3, outChannels: 4, kernel: 3, stride: 1, pad: explicit(2, 1, 0, 2) },
  { batch: 8, height: 9, width: 8, inChannels: 1, outChannels: 4, kernel: 2, stride: 2, pad: 'same' },
];

const describeCase = (c: ConvCase): string =>
  `${c.batch}×${c.height}×${c.width}×${c.inChannels} → ${c.outChannels}, ${c.kernel}×${c.kernel}, stride ${c.stride}, ${typeof c.pad === 'string' ? c.pad : `pad ${JSON.stringify(c.pad.slice(1, 3))}`}`;

/** The shapes and seeded values of x, W and dy for a conv case. */
function convData(c: ConvCase, seed: number) {
  const xShape = [c.batch, c.height, c.width, c.inChannels] as [number, number, number, number];
  const filterShape = [c.kernel, c.kernel, c.inChannels, c.outChannels] as [number, number, number, number];
  const info = tf.backend_util.computeConv2DInfo(xShape, filterShape, c.stride, 1, c.pad, 'floor', false, 'channelsLast');
  const dyShape = [c.batch, info.outHeight, info.outWidth, c.outChannels];
  return {
    xShape,
    filterShape,
    dyShape,
    x: values(sizeOf(xShape), seed),
    filter: values(sizeOf(filterShape), seed + 1),
    dy: values(sizeOf(dyShape), seed + 2),
  };
}

describe('wasm kernels are registered', { skip }, () => {
  it('Conv2DBackpropFilter, Conv2DBackpropInput, MaxPoolGrad, Sum and Mean are tripletjs kernels', () => {
    assert.equal(tf.getKernel('Conv2DBackpropFilter', 'wasm')?.kernelFunc, conv2DBackpropFilterWasm);
    assert.equal(tf.getKernel('Conv2DBackpropInput', 'wasm')?.kernelFunc, conv2DBackpropInputWasm);
    assert.equal(tf.getKernel('MaxPoolGrad', 'wasm')?.kernelFunc, maxPoolGradWasm);
    assert.equal(tf.getKernel('Sum', 'wasm')?.kernelFunc, sumWasm);
    assert.equal(tf.getKernel('Mean', 'wasm')?.kernelFunc, meanWasm);
    assert.equal(tf.getKernel('Identity', 'wasm')?.kernelFunc, identityWasm);
    assert.equal(tf.getKernel('Cast', 'wasm')?.kernelFunc, castWasm);
  });
});

describe('BatchMatMul wrapper equals the cpu backend', { skip }, () => {
  const shapes: { a: number[]; b: number[]; name: string }[] = [
    { name: '2-D 37×19 · 19×23', a: [37, 19], b: [19, 23] },
    { name: 'batched 3×17×9 · 3×9×11', a: [3, 17, 9], b: [3, 9, 11] },
    { name: 'broadcast batch 1×6×5 · 4×5×7', a: [1, 6, 5], b: [4, 5, 7] },
  ];
  const swap = (shape: number[]): number[] => [...shape.slice(0, -2), shape[shape.length - 1]!, shape[shape.length - 2]!];
  for (const { name, a, b } of shapes) {
    for (const [transposeA, transposeB] of [
      [false, false],
      [true, false],
      [false, true],
      [true, true],
    ] as const) {
      it(`${name}, transposeA ${transposeA}, transposeB ${transposeB}`, async () => {
        const aShape = transposeA ? swap(a) : a;
        const bShape = transposeB ? swap(b) : b;
        const aValues = values(sizeOf(aShape), 11);
        const bValues = values(sizeOf(bShape), 12);
        const product = () => tf.matMul(tf.tensor(aValues, aShape), tf.tensor(bValues, bShape), transposeA, transposeB);
        const before = live();
        const actual = await runOn('wasm', () => tf.tidy(product));
        assert.deepEqual(live(), before, 'no tensor or wasm buffer left behind');
        assertClose(actual, await runOn('cpu', () => tf.tidy(product)), 'product', 1e-5);
      });
    }
  }
});

describe('Conv2DBackpropFilter equals the cpu backend', { skip }, () => {
  for (const algorithm of ['auto', 'conv', 'im2col'] as FilterGradientAlgorithm[]) {
    for (const [index, c] of CONV_CASES.entries()) {
      it(`${algorithm}: ${describeCase(c)}`, async () => {
        const data = convData(c, 100 + index);
        const attrs = { strides: c.stride, pad: c.pad, dataFormat: 'NHWC', filterShape: data.filterShape };
        const run = () =>
          tf.tidy(
            () =>
              tf.engine().runKernel('Conv2DBackpropFilter', { x: tf.tensor(data.x, data.xShape), dy: tf.tensor(data.dy, data.dyShape) }, attrs as never) as tf.Tensor,
          );
        const previous = setFilterGradientAlgorithm(algorithm);
        try {
          const before = live();
          const actual = await runOn('wasm', run);
          assert.deepEqual(live(), before, 'no tensor or wasm buffer left behind');
          assertClose(actual, await runOn('cpu', run), 'dW');
        } finally {
          setFilterGradientAlgorithm(previous);
        }
      });
    }
  }

  it('refuses NCHW with a clear error', async () => {
    await tf.setBackend('wasm');
    const x = tf.zeros([1, 5, 5, 2]);
    const dy = tf.zeros([1, 3, 3, 4]);
    const attrs = { strides: 1, pad: 'valid', dataFormat: 'NCHW', filterShape: [3, 3, 2, 4] };
    assert.throws(() => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, attrs as never), /supports only NHWC/);
    tf.dispose([x, dy]);
  });

  it('the gradient of a dilated conv2d fails with a clear error (tfjs-core refuses it)', async () => {
    await tf.setBackend('wasm');
    const x = tf.ones([1, 7, 7, 1]) as tf.Tensor4D;
    const filter = tf.ones([3, 3, 1, 2]) as tf.Tensor4D;
    assert.throws(() => tf.grad((f: tf.Tensor) => tf.sum(tf.conv2d(x, f as tf.Tensor4D, 1, 'valid', 'NHWC', 2)))(filter), /dilation/);
    tf.dispose([x, filter]);
  });
});

describe('Conv2DBackpropInput equals the cpu backend', { skip }, () => {
  const cases: ConvCase[] = [
    ...CONV_CASES,
    // Padding wider than the filter: negative padding for the transposed convolution, so the
    // kernel falls back to wasm's own.
    { batch: 2, height: 7, width: 6, inChannels: 3, outChannels: 4, kernel: 3, stride: 1, pad: explicit(3, 0, 1, 3) },
  ];
  for (const [index, c] of cases.entries()) {
    it(describeCase(c), async () => {
      const data = convData(c, 200 + index);
      const attrs = { strides: c.stride, pad: c.pad, dataFormat: 'NHWC', inputShape: data.xShape };
      const run = () =>
        tf.tidy(
          () =>
            tf
              .engine()
              .runKernel('Conv2DBackpropInput', { dy: tf.tensor(data.dy, data.dyShape), filter: tf.tensor(data.filter, data.filterShape) }, attrs as never) as tf.Tensor,
        );
      const before = live();
      const actual = await runOn('wasm', run);
      assert.deepEqual(live(), before, 'no tensor or wasm buffer left behind');
      assertClose(actual, await runOn('cpu', run), 'dx');
    });
  }
});

/** Depthwise convolutions whose gradients wasm lacks: tripletjs's JavaScript kernels stand in. */
const DEPTHWISE_CASES = [
  { batch: 2, height: 9, width: 8, channels: 3, multiplier: 1, kernel: 3, stride: 1, pad: 'same' },
  { batch: 3, height: 10, width: 9, channels: 4, multiplier: 2, kernel: 3, stride: 2, pad: 'valid' },
  { batch: 1, height: 7, width: 7, channels: 5, multiplier: 1, kernel: 5, stride: 2, pad: 'same' },
] as const;

describe('depthwise convolution gradients (missing from wasm) equal the cpu backend', { skip }, () => {
  for (const [index, c] of DEPTHWISE_CASES.entries()) {
    it(`${c.batch}×${c.height}×${c.width}×${c.channels}, multiplier ${c.multiplier}, ${c.kernel}×${c.kernel}, stride ${c.stride}, ${c.pad}`, async () => {
      const xShape = [c.batch, c.height, c.width, c.channels];
      const filterShape = [c.kernel, c.kernel, c.channels, c.multiplier];
      const x = values(sizeOf(xShape), 300 + index);
      const filter = values(sizeOf(filterShape), 400 + index);
      // The gradient of Σ weights ∘ depthwise(x, filter), with seeded weights as dy.
      const gradient = (which: 0 | 1) => () =>
        tf.tidy(() => {
          const xt = tf.tensor4d(x, xShape as [number, number, number, number]);
          const ft = tf.tensor4d(filter, filterShape as [number, number, number, number]);
          const forward = (a: tf.Tensor4D, b: tf.Tensor4D) => tf.depthwiseConv2d(a, b, c.stride, c.pad);
          const weights = tf.tensor(values(sizeOf(forward(xt, ft).shape), 500 + index), forward(xt, ft).shape);
          return tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(forward(a as tf.Tensor4D, b as tf.Tensor4D), weights)))([xt, ft])[which]!;
        });
      const before = live();
      const dx = await runOn('wasm', gradient(0));
      const dw = await runOn('wasm', gradient(1));
      assert.deepEqual(live(), before, 'no tensor or wasm buffer left behind');
      assertClose(dx, await runOn('cpu', gradient(0)), 'dx');
      assertClose(dw, await runOn('cpu', gradient(1)), 'dW');
    });
  }
});

describe('MaxPoolGrad equals the cpu backend', { skip }, () => {
  const cases: { name: string; shape: [number, number, number, number]; size: number; stride: number; pad: 'same' | 'valid'; x: (n: number) => Float32Array }[] = [
    { name: '2×2 stride 2, negative values', shape: [2, 8, 6, 3], size: 2, stride: 2, pad: 'valid', x: (n) => values(n, 31).map((v) => -Math.abs(v) - 0.1) },
    { name: '2×2 stride 2, odd size, mixed signs', shape: [3, 13, 11, 5], size: 2, stride: 2, pad: 'valid', x: (n) => values(n, 32) },
    { name: '3×3 stride 2 same (overlapping windows)', shape: [2, 13, 11, 4], size: 3, stride: 2, pad: 'same', x: (n) => values(n, 33) },
    { name: '3×3 stride 1 same', shape: [1, 7, 9, 2], size: 3, stride: 1, pad: 'same', x: (n) => values(n, 34) },
    { name: 'ties (relu zeros and repeated values)', shape: [2, 6, 6, 3], size: 2, stride: 2, pad: 'valid', x: (n) => values(n, 35).map((v) => Math.max(0, Math.round(v * 2) / 2)) },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const xValues = c.x(sizeOf(c.shape));
      const run = () =>
        tf.tidy(() => {
          const x = tf.tensor4d(xValues, c.shape);
          const weights = tf.tensor(values(sizeOf(tf.maxPool(x, c.size, c.stride, c.pad).shape), 36), tf.maxPool(x, c.size, c.stride, c.pad).shape);
          return tf.grad((input: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(input as tf.Tensor4D, c.size, c.stride, c.pad), weights)))(x);
        });
      const before = live();
      const actual = await runOn('wasm', run);
      assert.deepEqual(live(), before, 'no tensor or wasm buffer left behind');
      assertClose(actual, await runOn('cpu', run), 'dx', 1e-6);
    });
  }
});

describe('Sum and Mean equal the cpu backend', { skip }, () => {
  const cases: { name: string; shape: number[]; axis: number | number[]; keepDims: boolean; dtype?: 'int32' }[] = [
    { name: 'bias gradient: axes [0, 1, 2] of 8×13×11×5', shape: [8, 13, 11, 5], axis: [0, 1, 2], keepDims: false },
    { name: 'axes [1, 0] (unsorted) with keepDims', shape: [6, 7, 3], axis: [1, 0], keepDims: true },
    { name: 'axis 0 of a matrix', shape: [40, 9], axis: 0, keepDims: false },
    { name: 'negative axes [-4, -3] of 2×3×4×5', shape: [2, 3, 4, 5], axis: [-4, -3], keepDims: false },
    { name: 'inner axis (wasm’s own kernel)', shape: [6, 7, 3], axis: -1, keepDims: true },
    { name: 'middle axis (wasm’s own kernel)', shape: [6, 7, 3], axis: 1, keepDims: false },
    { name: 'every axis (wasm’s own kernel)', shape: [6, 7, 3], axis: [0, 1, 2], keepDims: false },
    { name: 'int32 leading axes (wasm’s own kernel)', shape: [6, 7, 3], axis: [0, 1], keepDims: false, dtype: 'int32' },
  ];
  for (const op of ['sum', 'mean'] as const) {
    for (const c of cases) {
      it(`${op}: ${c.name}`, async () => {
        const data = values(sizeOf(c.shape), 51).map((v) => (c.dtype === 'int32' ? Math.round(v * 10) : v));
        const run = () => tf.tidy(() => tf.cast(tf[op](tf.tensor(data, c.shape, c.dtype ?? 'float32'), c.axis, c.keepDims), 'float32'));
        const before = live();
        const actual = await runOn('wasm', run);
        assert.deepEqual(live(), before, 'no tensor or wasm buffer left behind');
        assertClose(actual, await runOn('cpu', run), op, 1e-6);
      });
    }
  }
});

describe('Identity shares the buffer', { skip }, () => {
  it('a clone outlives its original, and both free the buffer once', async () => {
    await tf.setBackend('wasm');
    const before = live();
    const x = tf.tensor([1.5, -2, 3, 4], [2, 2]);
    const y = tf.clone(x);
    assert.equal(tf.engine().backend.numDataIds(), before.buffers + 1, 'one buffer for both');
    x.dispose();
    assert.deepEqual(Array.from(y.dataSync()), [1.5, -2, 3, 4]);
    assert.deepEqual(y.shape, [2, 2]);
    y.dispose();
    assert.deepEqual(live(), before);
  });

  it('int32 and string tensors clone too', async () => {
    await tf.setBackend('wasm');
    const before = live();
    const ints = tf.tensor([1, 2, 3], [3], 'int32');
    const strings = tf.tensor(['a', 'bc']);
    const [intClone, stringClone] = [tf.clone(ints), tf.clone(strings)];
    tf.dispose([ints, strings]);
    assert.deepEqual(Array.from(intClone.dataSync()), [1, 2, 3]);
    assert.equal(intClone.dtype, 'int32');
    assert.deepEqual(stringClone.arraySync(), ['a', 'bc']);
    tf.dispose([intClone, stringClone]);
    assert.deepEqual(live(), before);
  });
});

describe('Cast to the same dtype shares the buffer', { skip }, () => {
  it('float32 → float32 adds no buffer; int32 → float32 and float32 → int32 still convert', async () => {
    await tf.setBackend('wasm');
    const before = live();
    const x = tf.tensor([1.5, -2.7, 3, 4], [2, 2]);
    const same = tf.cast(x, 'float32');
    assert.equal(tf.engine().backend.numDataIds(), before.buffers + 1, 'one buffer for both');
    x.dispose();
    assert.deepEqual(Array.from(same.dataSync()), [1.5, -2.700000047683716, 3, 4]);
    const ints = tf.cast(same, 'int32');
    const back = tf.cast(ints, 'float32');
    assert.equal(ints.dtype, 'int32');
    assert.deepEqual(Array.from(ints.dataSync()), [1, -2, 3, 4]);
    assert.equal(back.dtype, 'float32');
    assert.deepEqual(Array.from(back.dataSync()), [1, -2, 3, 4]);
    tf.dispose([same, ints, back]);
    assert.deepEqual(live(), before);
  });
});

describe('the Mean gradient (src/engine/gradients.ts)', () => {
  const shape = [2, 3, 4, 5];
  for (const axis of [[0], [3], [-1], [1, 3], [0, 1, 2], [0, 1, 2, 3]]) {
    for (const keepDims of [false, true]) {
      it(`axis [${axis}], keepDims ${keepDims}: each element gets its mean's weight / count`, () => {
        const axes = axis.map((a) => (a + shape.length) % shape.length);
        const outShape = shape.filter((_, i) => !axes.includes(i));
        const count = axes.reduce((n, a) => n * shape[a]!, 1);
        const weights = values(Math.max(1, sizeOf(outShape)), 7);
        const x = tf.tensor(values(sizeOf(shape), 3), shape);
        const w = tf.tensor(weights, keepDims ? shape.map((d, i) => (axes.includes(i) ? 1 : d)) : outShape);
        const gradient = tf.grad((input: tf.Tensor) => tf.sum(tf.mul(tf.mean(input, axis, keepDims), w)))(x);
        const actual = gradient.dataSync();
        // Brute force: the output element an input element averages into, by its coordinates.
        for (let flat = 0; flat < sizeOf(shape); flat++) {
          let rest = flat;
          let out = 0;
          for (let d = shape.length - 1, stride = 1; d >= 0; d--) {
            const coordinate = rest % shape[d]!;
            rest = Math.floor(rest / shape[d]!);
            if (!axes.includes(d)) {
              out += coordinate * stride;
              stride *= shape[d]!;
            }
          }
          assert.ok(Math.abs(actual[flat]! - weights[out]! / count) < 1e-6, `element ${flat}: ${actual[flat]} vs ${weights[out]! / count}`);
        }
        tf.dispose([x, w, gradient]);
      });
    }
  }
});

describe('a tfjs-layers CNN on wasm', { skip }, () => {
  /** conv2d → batchNormalization → relu → maxPooling2d → conv2d → globalAveragePooling2d → dense. */
  function model(): tfl.Sequential {
    return tfl.sequential({
      layers: [
        tfl.layers.conv2d({ inputShape: [13, 11, 3], filters: 8, kernelSize: 3, padding: 'same', useBias: false, kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }) }),
        tfl.layers.batchNormalization(),
        tfl.layers.activation({ activation: 'relu' }),
        tfl.layers.maxPooling2d({ poolSize: 2 }),
        tfl.layers.conv2d({ filters: 16, kernelSize: 3, strides: 2, activation: 'relu', kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }) }),
        tfl.layers.globalAveragePooling2d({}),
        tfl.layers.dense({ units: 5, kernelInitializer: tfl.initializers.glorotUniform({ seed: 3 }) }),
      ],
    });
  }

  it('its gradients equal the cpu backend’s', async () => {
    await tf.setBackend('wasm');
    const net = model();
    const xShape = [6, 13, 11, 3];
    const xValues = values(sizeOf(xShape), 41);
    const target = values(6 * 5, 42);
    const gradients = (): Record<string, { shape: number[]; data: Float32Array }> =>
      tf.tidy(() => {
        const x = tf.tensor(xValues, xShape);
        const weights = tf.tensor(target, [6, 5]);
        const variables = net.trainableWeights.map((w) => w.read() as tf.Variable);
        const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(net.apply(x, { training: true }) as tf.Tensor, weights)) as tf.Scalar, variables);
        const out: Record<string, { shape: number[]; data: Float32Array }> = { loss: { shape: [], data: value.dataSync() as Float32Array } };
        for (const [name, g] of Object.entries(grads)) out[name] = { shape: g.shape, data: g.dataSync() as Float32Array };
        return out;
      });
    const onWasm = gradients();
    await tf.setBackend('cpu');
    const onCpu = gradients();
    await tf.setBackend('wasm');
    assert.equal(Object.keys(onWasm).length, net.trainableWeights.length + 1, 'a gradient for every trainable weight');
    assert.deepEqual(Object.keys(onWasm).sort(), Object.keys(onCpu).sort());
    for (const name of Object.keys(onCpu)) assertClose(onWasm[name]!, onCpu[name]!, name, 1e-4);
    net.dispose();
  });

  it('a training step leaves no tensor or wasm buffer behind', async () => {
    await tf.setBackend('wasm');
    const net = model();
    const x = tf.tensor(values(6 * 13 * 11 * 3, 43), [6, 13, 11, 3]);
    const optimizer = tf.train.adam(1e-3);
    const step = (): void => {
      const cost = optimizer.minimize(() => tf.mean(tf.square(net.apply(x, { training: true }) as tf.Tensor)) as tf.Scalar, true);
      assert.ok(Number.isFinite(cost!.dataSync()[0]));
      cost!.dispose();
    };
    step(); // creates Adam's slots
    const before = live();
    step();
    step();
    assert.deepEqual(live(), before);
    optimizer.dispose();
    x.dispose();
    net.dispose();
  });
});
