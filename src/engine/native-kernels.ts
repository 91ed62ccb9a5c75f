/**
 * Native kernels on the wasm backend: the heavy kernels of training (matrix products,
 * convolutions, dense and depthwise, and both of their gradients) run in the OpenBLAS addon of ./native-addon.ts, on
 * every core, and so do the passes over whole conv activations that profiling showed next (max
 * pooling and its gradient, batch normalisation, a per-channel vector added, subtracted or
 * multiplied, `Tile`, sums over leading axes for the bias and batch-norm gradients); every other
 * kernel stays wasm's (or tripletjs's wasm ones). `Relu` and `ClipByValue` (MobileNet's ReLU6)
 * stay wasm's: a threaded native pass was no faster on this machine (32 × 56 × 56 × 144 values:
 * 13–17 ms on one thread and 7–9 on two, against wasm's 6–7 ms).
 *
 * The addon reads its inputs from the wasm heap and writes into an output tensor allocated there
 * by the wasm backend, through `Float32Array` views: nothing is copied between backends, and
 * the rest of TensorFlow.js (autodiff, tidy, memory accounting, models) does not know that a
 * kernel ran outside wasm. Views are taken after the output is allocated, because growing the
 * wasm memory detaches older views.
 *
 * A call the addon does not cover (not float32, NCHW, an activation other than linear or relu,
 * a bias that is not one value per output channel, an `Add`, `Sub` or `Multiply` that is not
 * tensor ∘ per-channel vector, a `Sum` that is not over leading axes) goes to the kernel that was
 * registered before, so the results are those of the wasm path in every case.
 */
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { tf } from '../tf.js';
import { defaultNativeThreads, loadNativeAddon, NATIVE_ADDON_PATH, type NativeAddon } from './native-addon.js';
import { nhwcConvInfo, type ConvGeometryAttrs } from './conv-info.js';

type TensorInfo = tf.TensorInfo;
type KernelFunc = tf.KernelConfig['kernelFunc'];
type KernelArgs = Parameters<KernelFunc>[0];
type ConvInfo = tf.backend_util.Conv2DInfo;

/** Kernels that the addon replaces on the wasm backend. */
export const NATIVE_KERNEL_NAMES = [
  'BatchMatMul',
  '_FusedMatMul',
  'Conv2D',
  'FusedConv2D',
  'Conv2DBackpropInput',
  'Conv2DBackpropFilter',
  'DepthwiseConv2dNative',
  'DepthwiseConv2dNativeBackpropInput',
  'DepthwiseConv2dNativeBackpropFilter',
  'MaxPool',
  'MaxPoolGrad',
  'Add',
  'Sub',
  'Multiply',
  'FusedBatchNorm',
  'Tile',
  'Sum',
  'Mean',
] as const;

type NativeKernelName = (typeof NATIVE_KERNEL_NAMES)[number];

/** Activations the addon fuses into products and convolutions. */
const ACTIVATIONS: Readonly<Record<string, number>> = { linear: 0, relu: 1 };

let addon: NativeAddon | undefined;
/** The kernels registered before the native ones: fallbacks, and what {@link setNativeKernels}(false) restores. */
const previous = new Map<NativeKernelName, tf.KernelConfig>();
let enabled = false;

function native(): NativeAddon {
  if (addon === undefined) throw new Error('tripletjs: the native kernels are not loaded');
  return addon;
}

function fallback(name: NativeKernelName, args: KernelArgs): ReturnType<KernelFunc> {
  const config = previous.get(name);
  if (config === undefined) throw new Error(`tripletjs: no wasm ${name} kernel to fall back to`);
  return config.kernelFunc(args);
}

/** A Float32Array view of a tensor on the wasm heap (valid until the next allocation). */
function heap(backend: BackendWasm, info: TensorInfo): Float32Array {
  return backend.typedArrayFromHeap(info) as Float32Array;
}

const allFloat32 = (...infos: (TensorInfo | undefined)[]): boolean => infos.every((t) => t === undefined || t.dtype === 'float32');

/**
 * The fused-epilogue code of `activation` with `bias` (rank 1: one value or `width` values), or
 * undefined when the addon cannot fuse them.
 */
function epilogue(bias: TensorInfo | undefined, prelu: TensorInfo | undefined, activation: string | undefined, width: number): number | undefined {
  const code = ACTIVATIONS[activation ?? 'linear'];
  if (code === undefined || prelu !== undefined) return undefined;
  if (bias !== undefined && (bias.dtype !== 'float32' || bias.shape.length !== 1 || (bias.shape[0] !== width && bias.shape[0] !== 1))) return undefined;
  return code;
}

// ---------------------------------------------------------------------------------------------
// BatchMatMul and _FusedMatMul
// ---------------------------------------------------------------------------------------------

/** Both products: batches broadcast by index modulo the batch size, as tfjs's cpu and wasm kernels do. */
function matMulKernel(name: 'BatchMatMul' | '_FusedMatMul'): KernelFunc {
  return (args) => {
    const backend = args.backend as BackendWasm;
    const { a, b, bias, preluActivationWeights } = args.inputs as { a: TensorInfo; b: TensorInfo; bias?: TensorInfo; preluActivationWeights?: TensorInfo };
    const { transposeA, transposeB, activation } = args.attrs as { transposeA: boolean; transposeB: boolean; activation?: string };
    const aRank = a.shape.length;
    const bRank = b.shape.length;
    const m = a.shape[transposeA ? aRank - 1 : aRank - 2]!;
    const k = a.shape[transposeA ? aRank - 2 : aRank - 1]!;
    const n = b.shape[transposeB ? bRank - 2 : bRank - 1]!;
    const code = epilogue(bias, preluActivationWeights, activation, n);
    if (!allFloat32(a, b) || code === undefined) return fallback(name, args);
    const innerB = b.shape[transposeB ? bRank - 1 : bRank - 2];
    if (k !== innerB) {
      throw new Error(`tripletjs: matMul inner sizes ${k} and ${innerB} differ (shapes [${a.shape}] and [${b.shape}], transposeA ${transposeA}, transposeB ${transposeB})`);
    }
    const batchA = tf.util.sizeFromShape(a.shape.slice(0, -2));
    const batchB = tf.util.sizeFromShape(b.shape.slice(0, -2));
    const outer = tf.backend_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
    const out = backend.makeOutput([...outer, m, n], 'float32');
    const dims = Int32Array.of(Math.max(batchA, batchB), batchA, batchB, m, n, k, transposeA ? 1 : 0, transposeB ? 1 : 0);
    native().matMul(heap(backend, a), heap(backend, b), heap(backend, out), dims, bias === undefined ? null : heap(backend, bias), code);
    return out;
  };
}

// ---------------------------------------------------------------------------------------------
// Convolutions
// ---------------------------------------------------------------------------------------------

/** The addon's convolution geometry: [N, H, W, Ci, OH, OW, Co, KH, KW, sH, sW, padTop, padLeft, dH, dW]. */
function convGeometry(info: ConvInfo): Int32Array {
  return Int32Array.of(
    info.batchSize,
    info.inHeight,
    info.inWidth,
    info.inChannels,
    info.outHeight,
    info.outWidth,
    info.outChannels,
    info.filterHeight,
    info.filterWidth,
    info.strideHeight,
    info.strideWidth,
    info.padInfo.top,
    info.padInfo.left,
    info.dilationHeight,
    info.dilationWidth,
  );
}

interface ConvAttrs extends ConvGeometryAttrs {
  activation?: string;
}

function checkShape(kernel: string, what: string, actual: readonly number[], expected: readonly number[]): void {
  if (actual.join() !== expected.join()) throw new Error(`tripletjs: ${kernel} got ${what} of shape [${actual}], expected [${expected}]`);
}

/** `Conv2D` and `FusedConv2D` (bias and relu fused into the product's output). */
function conv2dKernel(name: 'Conv2D' | 'FusedConv2D'): KernelFunc {
  return (args) => {
    const backend = args.backend as BackendWasm;
    const { x, filter, bias, preluActivationWeights } = args.inputs as { x: TensorInfo; filter: TensorInfo; bias?: TensorInfo; preluActivationWeights?: TensorInfo };
    const attrs = args.attrs as unknown as ConvAttrs;
    const info = nhwcConvInfo(x.shape, filter.shape, attrs);
    const code = info === undefined ? undefined : epilogue(bias, preluActivationWeights, attrs.activation, info.outChannels);
    if (info === undefined || code === undefined || !allFloat32(x, filter)) return fallback(name, args);
    const out = backend.makeOutput(info.outShape, 'float32');
    native().conv2d(heap(backend, x), heap(backend, filter), heap(backend, out), convGeometry(info), bias === undefined ? null : heap(backend, bias), code);
    return out;
  };
}

/** `Conv2DBackpropInput` (dx = col2im(dy · Wᵀ)) and `Conv2DBackpropFilter` (dW = im2col(x)ᵀ · dy). */
function convGradientKernel(name: 'Conv2DBackpropInput' | 'Conv2DBackpropFilter'): KernelFunc {
  const forInput = name === 'Conv2DBackpropInput';
  return (args) => {
    const backend = args.backend as BackendWasm;
    const { dy, filter, x } = args.inputs as { dy: TensorInfo; filter?: TensorInfo; x?: TensorInfo };
    const attrs = args.attrs as unknown as ConvAttrs & { inputShape: number[]; filterShape: number[] };
    // The forward operand given: the filter for dx, x for dW; the other one's shape is an attribute.
    const given = (forInput ? filter : x)!;
    const xShape = forInput ? attrs.inputShape : given.shape;
    const filterShape = forInput ? given.shape : attrs.filterShape;
    const info = nhwcConvInfo(xShape, filterShape, attrs);
    if (info === undefined || !allFloat32(dy, given)) return fallback(name, args);
    checkShape(name, 'dy', dy.shape, info.outShape);
    const out = backend.makeOutput([...(forInput ? xShape : filterShape)], 'float32');
    const [dyView, givenView, outView] = [heap(backend, dy), heap(backend, given), heap(backend, out)];
    if (forInput) native().conv2dBackpropInput(dyView, givenView, outView, convGeometry(info));
    else native().conv2dBackpropFilter(givenView, dyView, outView, convGeometry(info));
    return out;
  };
}

/** `DepthwiseConv2dNative` and its two gradients (filter [KH, KW, Ci, M]). */
function depthwiseKernel(name: 'DepthwiseConv2dNative' | 'DepthwiseConv2dNativeBackpropInput' | 'DepthwiseConv2dNativeBackpropFilter'): KernelFunc {
  return (args) => {
    const backend = args.backend as BackendWasm;
    const { x, filter, dy } = args.inputs as { x?: TensorInfo; filter?: TensorInfo; dy?: TensorInfo };
    const attrs = args.attrs as unknown as tf.DepthwiseConv2dNativeAttrs & { inputShape?: number[]; filterShape?: number[] };
    const xShape = x?.shape ?? attrs.inputShape!;
    const filterShape = filter?.shape ?? attrs.filterShape!;
    const operands = [x, filter, dy].filter((t): t is TensorInfo => t !== undefined);
    const info = nhwcConvInfo(xShape, filterShape, attrs, true);
    if (info === undefined || !allFloat32(...operands)) return fallback(name, args);
    if (dy !== undefined) checkShape(name, 'dy', dy.shape, info.outShape);
    const geometry = convGeometry(info);
    if (name === 'DepthwiseConv2dNative') {
      const out = backend.makeOutput(info.outShape, 'float32');
      native().depthwiseConv2d(heap(backend, x!), heap(backend, filter!), heap(backend, out), geometry);
      return out;
    }
    if (name === 'DepthwiseConv2dNativeBackpropInput') {
      const dx = backend.makeOutput([...xShape], 'float32');
      native().depthwiseConv2dBackpropInput(heap(backend, dy!), heap(backend, filter!), heap(backend, dx), geometry);
      return dx;
    }
    const dw = backend.makeOutput([...filterShape], 'float32');
    native().depthwiseConv2dBackpropFilter(heap(backend, x!), heap(backend, dy!), heap(backend, dw), geometry);
    return dw;
  };
}

// ---------------------------------------------------------------------------------------------
// Max pooling
// ---------------------------------------------------------------------------------------------

function poolInfo(xShape: number[], attrs: tf.MaxPoolAttrs): ConvInfo {
  return tf.backend_util.computePool2DInfo(xShape as [number, number, number, number], attrs.filterSize, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode);
}

/** `MaxPool`: the window maxima, NaN skipped, as the cpu backend. */
const maxPoolKernel: KernelFunc = (args) => {
  const backend = args.backend as BackendWasm;
  const { x } = args.inputs as { x: TensorInfo };
  if (!allFloat32(x)) return fallback('MaxPool', args);
  const info = poolInfo(x.shape, args.attrs as unknown as tf.MaxPoolAttrs);
  const y = backend.makeOutput(info.outShape, 'float32');
  native().maxPool(heap(backend, x), heap(backend, y), convGeometry(info));
  return y;
};

/** `MaxPoolGrad`: each dy to the first maximum of its window, as the cpu backend and tripletjs's wasm kernel. */
const maxPoolGradKernel: KernelFunc = (args) => {
  const backend = args.backend as BackendWasm;
  const { dy, input, output } = args.inputs as { dy: TensorInfo; input: TensorInfo; output?: TensorInfo };
  if (!allFloat32(dy, input)) return fallback('MaxPoolGrad', args);
  const info = poolInfo(input.shape, args.attrs as unknown as tf.MaxPoolAttrs);
  checkShape('MaxPoolGrad', 'dy', dy.shape, info.outShape);
  // The forward output gives each window's maximum; without it the addon searches each window.
  const maxima = output !== undefined && output.dtype === 'float32' && output.shape.join() === info.outShape.join() ? output : undefined;
  const dx = backend.makeOutput([...input.shape], 'float32');
  const y = maxima === undefined ? null : heap(backend, maxima);
  native().maxPoolGrad(heap(backend, input), y, heap(backend, dy), heap(backend, dx), convGeometry(info));
  return dx;
};

// ---------------------------------------------------------------------------------------------
// Per-channel work: a vector along the last axis (bias, batch-norm statistics), Tile, and Sum /
// Mean over leading axes (bias and batch-norm gradients)
// ---------------------------------------------------------------------------------------------

/** Whether float32 `v` holds one value per channel of a non-empty float32 `x` ([C], or [1, …, 1, C] of no higher rank). */
function isChannelVector(v: TensorInfo, x: TensorInfo): boolean {
  const channels = x.shape.at(-1);
  return (
    allFloat32(v, x) &&
    x.shape.length >= 2 &&
    v.shape.length <= x.shape.length &&
    v.shape.at(-1) === channels &&
    tf.util.sizeFromShape(v.shape) === channels &&
    tf.util.sizeFromShape(x.shape) > 0
  );
}

/** The addon's code of each binary kernel, with the vector second and first. */
const CHANNEL_OPS = { Add: [0, 0], Multiply: [1, 1], Sub: [2, 3] } as const;

/** `Add`, `Sub`, `Multiply`: natively for a tensor and a per-channel vector (either side), else the previous kernel. */
function channelKernel(name: keyof typeof CHANNEL_OPS): KernelFunc {
  return (args) => {
    const backend = args.backend as BackendWasm;
    const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
    const vectorSecond = isChannelVector(b, a);
    if (!vectorSecond && !isChannelVector(a, b)) return fallback(name, args);
    const [x, v] = vectorSecond ? [a, b] : [b, a];
    const out = backend.makeOutput([...x.shape], 'float32');
    native().channelOp(heap(backend, x), heap(backend, v), heap(backend, out), CHANNEL_OPS[name][vectorSecond ? 0 : 1]);
    return out;
  };
}

/** `FusedBatchNorm` (inference and training forward): natively with per-channel statistics. */
const batchNormKernel: KernelFunc = (args) => {
  const backend = args.backend as BackendWasm;
  const { x, mean, variance, offset, scale } = args.inputs as Record<'x' | 'mean' | 'variance', TensorInfo> & Partial<Record<'offset' | 'scale', TensorInfo>>;
  const perChannel = [mean, variance, offset, scale].every((t) => t === undefined || (t.shape.length === 1 && isChannelVector(t, x)));
  if (!perChannel) return fallback('FusedBatchNorm', args);
  const out = backend.makeOutput([...x.shape], 'float32');
  const view = (t: TensorInfo | undefined): Float32Array | null => (t === undefined ? null : heap(backend, t));
  const { varianceEpsilon } = args.attrs as unknown as tf.FusedBatchNormAttrs;
  native().batchNorm(heap(backend, x), heap(backend, mean), heap(backend, variance), view(offset), view(scale), heap(backend, out), varianceEpsilon);
  return out;
};

/** `Tile` of float32 data (batch norm's gradient tiles its statistics to the activations' shape). */
const tileKernel: KernelFunc = (args) => {
  const backend = args.backend as BackendWasm;
  const { x } = args.inputs as { x: TensorInfo };
  const { reps } = args.attrs as unknown as tf.TileAttrs;
  if (!allFloat32(x) || x.shape.length === 0 || reps.length !== x.shape.length) return fallback('Tile', args);
  const out = backend.makeOutput(x.shape.map((d, i) => d * reps[i]!), 'float32');
  native().tile(heap(backend, x), heap(backend, out), Int32Array.from(x.shape), Int32Array.from(reps));
  return out;
};

/** `Sum` and `Mean`: natively over leading axes of float32 data (a bias gradient sums dy over batch, rows and columns), else the previous kernel. */
function leadingReductionKernel(name: 'Sum' | 'Mean'): KernelFunc {
  return (args) => {
    const backend = args.backend as BackendWasm;
    const { x } = args.inputs as { x: TensorInfo };
    const { axis, keepDims } = args.attrs as unknown as tf.SumAttrs;
    const axes = x.dtype === 'float32' && axis !== null && axis !== undefined ? [...new Set(tf.util.parseAxisParam(axis, x.shape))] : [];
    const reduced = axes.length;
    const leading = reduced > 0 && reduced < x.shape.length && axes.every((a) => a < reduced);
    const rows = tf.util.sizeFromShape(x.shape.slice(0, reduced));
    if (!leading || rows === 0 || tf.util.sizeFromShape(x.shape) === 0) return fallback(name, args);
    const out = backend.makeOutput(keepDims ? x.shape.map((d, i) => (i < reduced ? 1 : d)) : x.shape.slice(reduced), 'float32');
    native().sumRows(heap(backend, x), heap(backend, out), name === 'Mean' ? 1 / rows : 1);
    return out;
  };
}

const KERNELS: Readonly<Record<NativeKernelName, KernelFunc>> = {
  BatchMatMul: matMulKernel('BatchMatMul'),
  _FusedMatMul: matMulKernel('_FusedMatMul'),
  Conv2D: conv2dKernel('Conv2D'),
  FusedConv2D: conv2dKernel('FusedConv2D'),
  Conv2DBackpropInput: convGradientKernel('Conv2DBackpropInput'),
  Conv2DBackpropFilter: convGradientKernel('Conv2DBackpropFilter'),
  DepthwiseConv2dNative: depthwiseKernel('DepthwiseConv2dNative'),
  DepthwiseConv2dNativeBackpropInput: depthwiseKernel('DepthwiseConv2dNativeBackpropInput'),
  DepthwiseConv2dNativeBackpropFilter: depthwiseKernel('DepthwiseConv2dNativeBackpropFilter'),
  MaxPool: maxPoolKernel,
  MaxPoolGrad: maxPoolGradKernel,
  Add: channelKernel('Add'),
  Sub: channelKernel('Sub'),
  Multiply: channelKernel('Multiply'),
  FusedBatchNorm: batchNormKernel,
  Tile: tileKernel,
  Sum: leadingReductionKernel('Sum'),
  Mean: leadingReductionKernel('Mean'),
};

// ---------------------------------------------------------------------------------------------
// Installation
// ---------------------------------------------------------------------------------------------

/** What {@link installNativeKernels} did, for the start-up announcement. */
export interface NativeStatus {
  /** Whether the native kernels are registered. */
  active: boolean;
  /** One line: the BLAS and its threads, or why the wasm kernels are used. */
  description: string;
}

/**
 * Registers the native kernels over the wasm backend's (which stay as fallbacks), or restores
 * the wasm ones. The addon must be loaded ({@link installNativeKernels}).
 */
export function setNativeKernels(on: boolean): void {
  if (on) native();
  if (on === enabled) return;
  for (const name of NATIVE_KERNEL_NAMES) {
    tf.unregisterKernel(name, 'wasm');
    tf.registerKernel(on ? { kernelName: name, backendName: 'wasm', kernelFunc: KERNELS[name] } : previous.get(name)!);
  }
  enabled = on;
}

/** Whether the native kernels are registered now. */
export function nativeKernelsActive(): boolean {
  return enabled;
}

/**
 * The addon while the native kernels are active, for the metric-learning passes of distances,
 * miners and losses (which then follow {@link setNativeKernels}); undefined otherwise, and they
 * run in JavaScript.
 */
export function activeNativeAddon(): NativeAddon | undefined {
  return enabled ? addon : undefined;
}

/** Sets the threads of the native kernels (OpenBLAS's and the addon's own). */
export function setNativeThreads(threads: number): void {
  if (!Number.isInteger(threads) || threads < 1) throw new Error(`tripletjs: native threads must be a positive integer, got ${threads}`);
  native().setThreads(threads);
}

/**
 * Loads the addon and registers its kernels on the (initialised) wasm backend, unless `wanted`
 * is false or `TRIPLETJS_NATIVE=0`. `wanted` true (or `TRIPLETJS_NATIVE=1`) makes a missing
 * addon an error; by default it is reported in the returned description and the wasm kernels
 * stay. Calling it again applies the new choice. `addonPath` is for tests of a missing addon.
 */
export function installNativeKernels(wanted?: boolean, addonPath: string = NATIVE_ADDON_PATH): NativeStatus {
  const env = process.env.TRIPLETJS_NATIVE;
  if (env !== undefined && env !== '' && env !== '0' && env !== '1') {
    throw new Error(`tripletjs: TRIPLETJS_NATIVE must be 0 or 1, got '${env}'`);
  }
  const choice = wanted ?? (env === '0' ? false : env === '1' ? true : undefined);
  if (choice === false) {
    if (addon !== undefined) setNativeKernels(false);
    return { active: false, description: `native kernels off (${wanted === false ? 'native: false' : 'TRIPLETJS_NATIVE=0'}): wasm kernels` };
  }
  if (addon === undefined) {
    const loaded = loadNativeAddon(addonPath);
    if (loaded.addon === undefined) {
      if (choice === true) throw new Error(`tripletjs: the native kernels were asked for but are unavailable: ${loaded.reason}`);
      return { active: false, description: `native kernels unavailable (${loaded.reason}): slower wasm kernels` };
    }
    for (const name of NATIVE_KERNEL_NAMES) {
      const config = tf.getKernel(name, 'wasm');
      if (config === undefined) throw new Error(`tripletjs: the wasm backend has no ${name} kernel`);
      previous.set(name, config);
    }
    addon = loaded.addon;
    setNativeThreads(defaultNativeThreads());
  }
  setNativeKernels(true);
  // TRIPLETJS_DNNL=0: convolutions by im2col + OpenBLAS even where oneDNN is built in (to compare).
  if (process.env.TRIPLETJS_DNNL === '0') native().setDnnl(false);
  const { blas, core, threads, dnnl } = native().info();
  const version = /OpenBLAS [\d.]+/.exec(blas)?.[0] ?? blas;
  const convolutions = dnnl ? 'conv2d and its gradients in oneDNN' : 'conv2d and its gradients by im2col';
  return {
    active: true,
    description: `native ${version} kernels (${core}, ${threads} thread${threads === 1 ? '' : 's'}) for matMul, ${convolutions}, pooling, batch norm, per-channel ops, tile and sum`,
  };
}
