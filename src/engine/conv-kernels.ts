/**
 * Training kernels for convolutional nets on the wasm backend (tfjs-backend-wasm 4.22), built
 * from kernels it runs fast (XNNPACK's `Conv2D`, the plain `BatchMatMul`, `Transpose`) plus
 * O(size) data movement in JavaScript directly on the wasm heap.
 *
 * - `Conv2DBackpropFilter` is missing from wasm, so training any conv layer fails there. The
 *   filter gradient dW[kh,kw,ci,co] = Σ_{b,oh,ow} x[b, oh·s+kh−pt, ow·s+kw−pl, ci]·dy[b,oh,ow,co]
 *   is computed one of two ways, whichever moves less data:
 *   - as a convolution with the roles swapped (input channels ← batch, batch ← input channels,
 *     filter ← dy, the forward stride becoming the dilation):
 *     `conv2d(xᵀ[Ci,H,W,N], dyᵀ[OH,OW,N,Co], stride 1, dilation s)` = dWᵀ[Ci,KH,KW,Co], i.e.
 *     two transposes and one XNNPACK convolution of exactly the forward FLOPs;
 *   - as im2col + one plain matrix product: Pᵀ[KH·KW·Ci, N·OH·OW] gathered in JavaScript, then
 *     `Pᵀ · dy[N·OH·OW, Co]`. Chosen when the im2col matrix is no larger than dy (KH·KW·Ci ≤ Co,
 *     e.g. a first layer on grey-scale images), where it avoids transposing dy twice.
 * - wasm's own `Conv2DBackpropInput` is correct but a naive C++ loop (≈ 2 GFLOP/s, ~12× slower
 *   than the forward convolution of the same size). Here dx is the stride-1 convolution of dy
 *   (zero-upsampled when the stride is > 1) with the spatially flipped, in/out-swapped filter,
 *   padded by KH−1−pt above and so on. Cases that need negative padding fall back to wasm's.
 * - wasm's own `MaxPoolGrad` is slow (~13 ns per input element) and wrong: it starts its running
 *   maximum at `FLT_MIN` (the smallest *positive* float), so a window whose values are all ≤ 0
 *   loses its gradient, and ties go to the last maximum. The replacement routes each dy to the
 *   first maximum of its window, as the cpu backend and TensorFlow do.
 * - wasm's `Sum` and `Mean` over leading axes (the bias gradient of a conv layer sums dy over
 *   batch, rows and columns; batch normalisation reduces the same way) first transpose the input
 *   so that the reduced axes come last, at ~5 ns per element for a tall [N·H·W, C] matrix. Over
 *   leading axes of float32 data they are now one pass over the data in JavaScript, accumulating
 *   in float64 (as the cpu backend does); every other reduction goes to wasm's kernels.
 * - wasm's `Identity` copies its input. tfjs-core runs it on every tensor it saves for the
 *   backward pass (`Engine.clone`), so each step copied every conv activation once more. Tensors
 *   are immutable, so the replacement shares the buffer and counts a reference, as the cpu
 *   backend's `Identity` and wasm's own `Reshape` do.
 * - wasm's `Cast` copies its input even to the same dtype. tfjs casts float32 to float32 in
 *   `tf.moments` (batch norm, every step) and in the ReLU gradient; a same-dtype cast now shares
 *   the buffer as `Identity` does.
 *
 * Only NHWC is supported (as by wasm's forward Conv2D); dilations are always 1 in these kernels
 * (tfjs-core refuses the gradient of a dilated conv2d before reaching a kernel).
 */
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { tf } from '../tf.js';

type TensorInfo = tf.TensorInfo;
type KernelFunc = tf.KernelConfig['kernelFunc'];
type ConvInfo = tf.backend_util.Conv2DInfo;
type Pad = tf.Conv2DBackpropFilterAttrs['pad'];
type RoundingMode = 'floor' | 'round' | 'ceil' | undefined;

interface WasmKernels {
  transpose: KernelFunc;
  conv2d: KernelFunc;
  slice: KernelFunc;
  batchMatMul: KernelFunc;
  conv2DBackpropInput: KernelFunc;
  maxPoolGrad: KernelFunc;
  sum: KernelFunc;
  mean: KernelFunc;
  identity: KernelFunc;
  cast: KernelFunc;
}

let kernels: WasmKernels | undefined;

/** How {@link conv2DBackpropFilterWasm} computes dW: by data volume (`auto`), or forced (tests). */
export type FilterGradientAlgorithm = 'auto' | 'conv' | 'im2col';

let filterAlgorithm: FilterGradientAlgorithm = 'auto';

/** Forces one filter-gradient algorithm (for tests and benchmarks); returns the previous one. */
export function setFilterGradientAlgorithm(algorithm: FilterGradientAlgorithm): FilterGradientAlgorithm {
  if (algorithm !== 'auto' && algorithm !== 'conv' && algorithm !== 'im2col') {
    throw new Error(`tripletjs: unknown filter-gradient algorithm '${String(algorithm)}' (expected auto, conv or im2col)`);
  }
  const previous = filterAlgorithm;
  filterAlgorithm = algorithm;
  return previous;
}

function wasmKernel(name: string): KernelFunc {
  const config = tf.getKernel(name, 'wasm');
  if (config === undefined) throw new Error(`tripletjs: the wasm backend has no ${name} kernel`);
  return config.kernelFunc;
}

function requireKernels(): WasmKernels {
  if (kernels === undefined) throw new Error('tripletjs: the wasm convolution kernels are not installed');
  return kernels;
}

function call(func: KernelFunc, backend: BackendWasm, inputs: tf.NamedTensorInfoMap, attrs: object = {}): TensorInfo {
  return func({ inputs, backend, attrs: attrs as tf.NamedAttrMap }) as TensorInfo;
}

function checkNHWC(dataFormat: string | undefined, kernel: string): void {
  if (dataFormat !== undefined && dataFormat !== 'NHWC') {
    throw new Error(`tripletjs: the wasm ${kernel} kernel supports only NHWC (dataFormat '${dataFormat}')`);
  }
}

function checkFloat32(info: TensorInfo, what: string, kernel: string): void {
  if (info.dtype !== 'float32') throw new Error(`tripletjs: the wasm ${kernel} kernel needs float32 ${what}, got ${info.dtype}`);
}

/** A Float32Array view of a tensor on the wasm heap. Take views only after the last allocation:
 * growing the wasm memory detaches older views. */
function heap(backend: BackendWasm, info: TensorInfo): Float32Array {
  return backend.typedArrayFromHeap(info) as Float32Array;
}

function convInfoOf(xShape: number[], filterShape: number[], strides: number | [number, number], pad: Pad, dimRoundingMode: RoundingMode): ConvInfo {
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    strides,
    1,
    pad,
    dimRoundingMode,
    false,
    'channelsLast',
  );
}

/** Runs `body` with a list to push intermediates on; disposes them all, even on error. */
function withTemporaries<T>(backend: BackendWasm, body: (keep: (t: TensorInfo) => TensorInfo) => T): T {
  const temporaries: TensorInfo[] = [];
  try {
    return body((t) => {
      temporaries.push(t);
      return t;
    });
  } finally {
    for (const t of temporaries) backend.disposeData(t.dataId);
  }
}

// ---------------------------------------------------------------------------------------------
// Conv2DBackpropFilter
// ---------------------------------------------------------------------------------------------

/** dW as the convolution of xᵀ [Ci, H, W, N] with dyᵀ [OH, OW, N, Co], dilation = stride. */
function filterGradientByConv(backend: BackendWasm, x: TensorInfo, dy: TensorInfo, info: ConvInfo): TensorInfo {
  const { transpose, conv2d, slice } = requireKernels();
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels, filterHeight, filterWidth, strideHeight, strideWidth } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  // Padding after the input that the last output position reaches; negative: rows never read.
  const bottom = filterHeight + (outHeight - 1) * strideHeight - inHeight - top;
  const right = filterWidth + (outWidth - 1) * strideWidth - inWidth - left;
  return withTemporaries(backend, (keep) => {
    let xt = keep(call(transpose, backend, { x }, { perm: [3, 1, 2, 0] }));
    if (bottom < 0 || right < 0) {
      const size = [inChannels, inHeight + Math.min(bottom, 0), inWidth + Math.min(right, 0), batchSize];
      xt = keep(call(slice, backend, { x: xt }, { begin: [0, 0, 0, 0], size }));
    }
    const dyt = keep(call(transpose, backend, { x: dy }, { perm: [1, 2, 0, 3] }));
    const pad = [
      [0, 0],
      [top, Math.max(bottom, 0)],
      [left, Math.max(right, 0)],
      [0, 0],
    ];
    const dwt = keep(
      call(conv2d, backend, { x: xt, filter: dyt }, { strides: [1, 1], pad, dataFormat: 'NHWC', dilations: [strideHeight, strideWidth] }),
    );
    const expected = [inChannels, filterHeight, filterWidth, outChannels];
    if (dwt.shape.join() !== expected.join()) {
      throw new Error(`tripletjs: Conv2DBackpropFilter made an intermediate of shape [${dwt.shape}] instead of [${expected}]`);
    }
    return call(transpose, backend, { x: dwt }, { perm: [1, 2, 0, 3] });
  });
}

/** Pᵀ [KH·KW·Ci, N·OH·OW]: row (kh, kw, ci) holds x[b, oh·s+kh−pt, ow·s+kw−pl, ci], 0 in the padding. */
function im2colTransposed(backend: BackendWasm, x: TensorInfo, info: ConvInfo): TensorInfo {
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, filterHeight, filterWidth, strideHeight, strideWidth } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const columns = batchSize * outHeight * outWidth;
  const out = backend.makeOutput([filterHeight * filterWidth * inChannels, columns], 'float32');
  const src = heap(backend, x);
  const dst = heap(backend, out);
  const step = strideWidth * inChannels;
  let o = 0;
  for (let kh = 0; kh < filterHeight; kh++) {
    for (let kw = 0; kw < filterWidth; kw++) {
      // Output columns whose input column ow·s + kw − left lies inside the image.
      const first = Math.min(outWidth, Math.max(0, Math.ceil((left - kw) / strideWidth)));
      const end = Math.max(first, Math.min(outWidth, Math.floor((inWidth - 1 + left - kw) / strideWidth) + 1));
      for (let ci = 0; ci < inChannels; ci++) {
        for (let b = 0; b < batchSize; b++) {
          for (let oh = 0; oh < outHeight; oh++) {
            const ih = oh * strideHeight + kh - top;
            if (ih < 0 || ih >= inHeight) {
              dst.fill(0, o, o + outWidth);
              o += outWidth;
              continue;
            }
            if (first > 0) dst.fill(0, o, o + first);
            let i = ((b * inHeight + ih) * inWidth + first * strideWidth + kw - left) * inChannels + ci;
            for (let ow = first; ow < end; ow++, i += step) dst[o + ow] = src[i]!;
            if (end < outWidth) dst.fill(0, o + end, o + outWidth);
            o += outWidth;
          }
        }
      }
    }
  }
  return out;
}

/** dW = Pᵀ · dy[N·OH·OW, Co], with one plain (untransposed) matrix product. */
function filterGradientByIm2col(backend: BackendWasm, x: TensorInfo, dy: TensorInfo, info: ConvInfo, filterShape: number[]): TensorInfo {
  const { batchMatMul } = requireKernels();
  return withTemporaries(backend, (keep) => {
    const columns = keep(im2colTransposed(backend, x, info));
    const dy2d: TensorInfo = { dataId: dy.dataId, shape: [columns.shape[1]!, info.outChannels], dtype: 'float32' };
    const dw = call(batchMatMul, backend, { a: columns, b: dy2d }, { transposeA: false, transposeB: false });
    // A fresh output of ours: it can take the filter's shape in place (as wasm's BatchMatMul does).
    dw.shape = [...filterShape];
    return dw;
  });
}

/** The `Conv2DBackpropFilter` kernel: dW of `y = conv2d(x, W)` (NHWC, dilation 1). */
export const conv2DBackpropFilterWasm: KernelFunc = ({ inputs, backend: anyBackend, attrs }) => {
  const backend = anyBackend as BackendWasm;
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  checkNHWC(dataFormat, 'Conv2DBackpropFilter');
  checkFloat32(x, 'x', 'Conv2DBackpropFilter');
  checkFloat32(dy, 'dy', 'Conv2DBackpropFilter');
  const info = convInfoOf(x.shape, filterShape, strides, pad, dimRoundingMode);
  const expected = [info.batchSize, info.outHeight, info.outWidth, info.outChannels];
  if (dy.shape.join() !== expected.join()) {
    throw new Error(`tripletjs: Conv2DBackpropFilter got dy of shape [${dy.shape}], expected [${expected}]`);
  }
  const patch = info.filterHeight * info.filterWidth * info.inChannels;
  const useIm2col = filterAlgorithm === 'im2col' || (filterAlgorithm === 'auto' && patch <= info.outChannels);
  return useIm2col ? filterGradientByIm2col(backend, x, dy, info, filterShape) : filterGradientByConv(backend, x, dy, info);
};

// ---------------------------------------------------------------------------------------------
// Conv2DBackpropInput
// ---------------------------------------------------------------------------------------------

/** dy with (stride − 1) zeros inserted between neighbouring rows and columns. */
function upsample(backend: BackendWasm, dy: TensorInfo, strideHeight: number, strideWidth: number): TensorInfo {
  const [n, h, w, c] = dy.shape as [number, number, number, number];
  const upHeight = (h - 1) * strideHeight + 1;
  const upWidth = (w - 1) * strideWidth + 1;
  const out = backend.makeOutput([n, upHeight, upWidth, c], 'float32');
  const src = heap(backend, dy);
  const dst = heap(backend, out);
  dst.fill(0);
  for (let b = 0; b < n; b++) {
    for (let i = 0; i < h; i++) {
      let from = (b * h + i) * w * c;
      let to = (b * upHeight + i * strideHeight) * upWidth * c;
      for (let j = 0; j < w; j++, from += c, to += strideWidth * c) dst.set(src.subarray(from, from + c), to);
    }
  }
  return out;
}

/** W[kh, kw, ci, co] → W'[KH−1−kh, KW−1−kw, co, ci]. */
function flipFilter(backend: BackendWasm, filter: TensorInfo): TensorInfo {
  const [kh, kw, ci, co] = filter.shape as [number, number, number, number];
  const out = backend.makeOutput([kh, kw, co, ci], 'float32');
  const src = heap(backend, filter);
  const dst = heap(backend, out);
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      const from = (i * kw + j) * ci * co;
      const to = ((kh - 1 - i) * kw + (kw - 1 - j)) * co * ci;
      for (let a = 0; a < ci; a++) for (let o = 0; o < co; o++) dst[to + o * ci + a] = src[from + a * co + o]!;
    }
  }
  return out;
}

/**
 * The `Conv2DBackpropInput` kernel: dx of `y = conv2d(x, W)` as conv2d(upsampled dy, flipped W)
 * with stride 1. Falls back to wasm's own kernel when the padding would be negative (explicit
 * paddings as wide as the filter).
 */
export const conv2DBackpropInputWasm: KernelFunc = ({ inputs, backend: anyBackend, attrs }) => {
  const backend = anyBackend as BackendWasm;
  const { conv2d, conv2DBackpropInput } = requireKernels();
  const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
  const { strides, pad, dataFormat, dimRoundingMode, inputShape } = attrs as unknown as tf.Conv2DBackpropInputAttrs;
  checkNHWC(dataFormat, 'Conv2DBackpropInput');
  checkFloat32(dy, 'dy', 'Conv2DBackpropInput');
  checkFloat32(filter, 'filter', 'Conv2DBackpropInput');
  const info = convInfoOf(inputShape, filter.shape, strides, pad, dimRoundingMode);
  const { inHeight, inWidth, outHeight, outWidth, filterHeight, filterWidth, strideHeight, strideWidth } = info;
  const top = filterHeight - 1 - info.padInfo.top;
  const left = filterWidth - 1 - info.padInfo.left;
  const bottom = inHeight - (outHeight - 1) * strideHeight - 1 + info.padInfo.top;
  const right = inWidth - (outWidth - 1) * strideWidth - 1 + info.padInfo.left;
  if (top < 0 || left < 0 || bottom < 0 || right < 0) return conv2DBackpropInput({ inputs, backend, attrs });
  return withTemporaries(backend, (keep) => {
    const up = strideHeight === 1 && strideWidth === 1 ? dy : keep(upsample(backend, dy, strideHeight, strideWidth));
    const flipped = keep(flipFilter(backend, filter));
    const padding = [
      [0, 0],
      [top, bottom],
      [left, right],
      [0, 0],
    ];
    const dx = call(conv2d, backend, { x: up, filter: flipped }, { strides: [1, 1], pad: padding, dataFormat: 'NHWC', dilations: [1, 1] });
    if (dx.shape.join() !== inputShape.join()) {
      backend.disposeData(dx.dataId);
      throw new Error(`tripletjs: Conv2DBackpropInput made dx of shape [${dx.shape}] instead of [${inputShape}]`);
    }
    return dx;
  });
};

// ---------------------------------------------------------------------------------------------
// MaxPoolGrad
// ---------------------------------------------------------------------------------------------

/**
 * The `MaxPoolGrad` kernel: each dy goes to the first maximum of its window (none when the
 * window holds only −∞ or NaN), the convention of the cpu backend and of TensorFlow. The window
 * maximum is the forward output (an input of this kernel), so finding its first position is a
 * scan for equality, which branches predictably, unlike a running maximum on noisy data.
 */
export const maxPoolGradWasm: KernelFunc = ({ inputs, backend: anyBackend, attrs }) => {
  const backend = anyBackend as BackendWasm;
  const { dy, input, output } = inputs as { dy: TensorInfo; input: TensorInfo; output?: TensorInfo };
  const { filterSize, strides, pad, dimRoundingMode } = attrs as unknown as tf.MaxPoolGradAttrs;
  checkFloat32(input, 'input', 'MaxPoolGrad');
  checkFloat32(dy, 'dy', 'MaxPoolGrad');
  const info = tf.backend_util.computePool2DInfo(input.shape as [number, number, number, number], filterSize, strides, 1, pad, dimRoundingMode);
  const { batchSize, inHeight, inWidth, inChannels: channels, outHeight, outWidth, strideHeight, strideWidth, filterHeight, filterWidth } = info;
  const expected = [batchSize, outHeight, outWidth, channels];
  if (dy.shape.join() !== expected.join()) {
    throw new Error(`tripletjs: MaxPoolGrad got dy of shape [${dy.shape}], expected [${expected}]`);
  }
  const maxima = output !== undefined && output.dtype === 'float32' && output.shape.join() === expected.join() ? output : undefined;
  const out = backend.makeOutput(input.shape, 'float32');
  const x = heap(backend, input);
  const g = heap(backend, dy);
  const y = maxima === undefined ? undefined : heap(backend, maxima);
  const dx = heap(backend, out);
  dx.fill(0);
  const offsets = new Int32Array(filterHeight * filterWidth);
  let d = 0;
  for (let b = 0; b < batchSize; b++) {
    for (let oh = 0; oh < outHeight; oh++) {
      const h0 = oh * strideHeight - info.padInfo.top;
      const hEnd = Math.min(inHeight, h0 + filterHeight);
      for (let ow = 0; ow < outWidth; ow++, d += channels) {
        const w0 = ow * strideWidth - info.padInfo.left;
        const wEnd = Math.min(inWidth, w0 + filterWidth);
        let n = 0;
        for (let ih = Math.max(0, h0); ih < hEnd; ih++) {
          for (let iw = Math.max(0, w0); iw < wEnd; iw++) offsets[n++] = ((b * inHeight + ih) * inWidth + iw) * channels;
        }
        for (let c = 0; c < channels; c++) {
          let at = -1;
          const maximum = y === undefined ? NaN : y[d + c]!;
          if (maximum > -Infinity) {
            for (let k = 0; k < n; k++) {
              if (x[offsets[k]! + c] === maximum) {
                at = offsets[k]! + c;
                break;
              }
            }
          }
          if (at < 0) {
            // No forward output, or a NaN or −∞ maximum: a running maximum that skips NaN.
            let best = -Infinity;
            for (let k = 0; k < n; k++) {
              const v = x[offsets[k]! + c]!;
              if (v > best) {
                best = v;
                at = offsets[k]! + c;
              }
            }
          }
          if (at >= 0) dx[at]! += g[d + c]!;
        }
      }
    }
  }
  return out;
};

// ---------------------------------------------------------------------------------------------
// Sum and Mean over leading axes
// ---------------------------------------------------------------------------------------------

/**
 * For a reduction of float32 `x` over exactly its first k axes (0 < k < rank): the number of
 * reduced rows and the size of a row; otherwise undefined.
 */
function leadingReduction(x: TensorInfo, axis: number | number[] | undefined): { rows: number; width: number; axes: number[] } | undefined {
  if (x.dtype !== 'float32' || axis === undefined || axis === null) return undefined;
  const rank = x.shape.length;
  const axes = [...new Set(tf.util.parseAxisParam(axis, x.shape))].sort((a, b) => a - b);
  if (axes.length === 0 || axes.length >= rank || axes.some((a, i) => a !== i)) return undefined;
  const rows = x.shape.slice(0, axes.length).reduce((a, b) => a * b, 1);
  const width = x.shape.slice(axes.length).reduce((a, b) => a * b, 1);
  if (rows === 0 || width === 0) return undefined;
  return { rows, width, axes };
}

function reduceLeading(backend: BackendWasm, x: TensorInfo, rows: number, width: number, axes: number[], keepDims: boolean, scale: number): TensorInfo {
  const outShape = keepDims ? x.shape.map((d, i) => (i < axes.length ? 1 : d)) : x.shape.slice(axes.length);
  const out = backend.makeOutput(outShape, 'float32');
  const src = heap(backend, x);
  const dst = heap(backend, out);
  const totals = new Float64Array(width);
  // Eight rows per pass over `totals`: a third of the time of one row per pass.
  const w = width;
  let r = 0;
  let base = 0;
  for (; r + 8 <= rows; r += 8, base += 8 * w) {
    for (let c = 0; c < w; c++) {
      const i = base + c;
      totals[c]! +=
        src[i]! + src[i + w]! + (src[i + 2 * w]! + src[i + 3 * w]!) + (src[i + 4 * w]! + src[i + 5 * w]! + (src[i + 6 * w]! + src[i + 7 * w]!));
    }
  }
  for (; r < rows; r++, base += w) {
    for (let c = 0; c < w; c++) totals[c]! += src[base + c]!;
  }
  for (let c = 0; c < width; c++) dst[c] = totals[c]! * scale;
  return out;
}

function leadingReductionKernel(original: () => KernelFunc, mean: boolean): KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const { x } = inputs as { x: TensorInfo };
    const { axis, keepDims } = attrs as unknown as tf.SumAttrs;
    const plan = leadingReduction(x, axis);
    if (plan === undefined) return original()({ inputs, backend, attrs });
    return reduceLeading(backend as BackendWasm, x, plan.rows, plan.width, plan.axes, keepDims, mean ? 1 / plan.rows : 1);
  };
}

/** The `Sum` kernel: over leading axes of float32 data here, else wasm's. */
export const sumWasm: KernelFunc = leadingReductionKernel(() => requireKernels().sum, false);

/** The `Mean` kernel: over leading axes of float32 data here, else wasm's. */
export const meanWasm: KernelFunc = leadingReductionKernel(() => requireKernels().mean, true);

// ---------------------------------------------------------------------------------------------
// Identity
// ---------------------------------------------------------------------------------------------

/** The `Identity` kernel: the same buffer with one more reference (strings: wasm's copy). */
export const identityWasm: KernelFunc = ({ inputs, backend, attrs }) => {
  const { x } = inputs as { x: TensorInfo };
  if (x.dtype === 'string') return requireKernels().identity({ inputs, backend, attrs });
  (backend as BackendWasm).incRef(x.dataId);
  return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
};

/** The `Cast` kernel: to the same dtype, {@link identityWasm}; otherwise wasm's conversion. */
export const castWasm: KernelFunc = (args) => {
  const { x } = args.inputs as { x: TensorInfo };
  const { dtype } = args.attrs as unknown as tf.CastAttrs;
  return dtype === x.dtype ? identityWasm(args) : requireKernels().cast(args);
};

// ---------------------------------------------------------------------------------------------
// Installation
// ---------------------------------------------------------------------------------------------

let installed = false;

/**
 * wasm's own kernel function for `Conv2DBackpropInput` or `MaxPoolGrad` (the ones
 * {@link installConvKernels} replaces), for benchmarks and tests; call it with the wasm backend.
 */
export function builtinWasmKernel(name: 'Conv2DBackpropInput' | 'MaxPoolGrad'): KernelFunc {
  const k = requireKernels();
  return name === 'Conv2DBackpropInput' ? k.conv2DBackpropInput : k.maxPoolGrad;
}

function replaceKernel(kernelName: string, kernelFunc: KernelFunc): void {
  if (tf.getKernel(kernelName, 'wasm') !== undefined) tf.unregisterKernel(kernelName, 'wasm');
  tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc });
}

/**
 * Registers {@link conv2DBackpropFilterWasm}, {@link conv2DBackpropInputWasm},
 * {@link maxPoolGradWasm}, {@link sumWasm}, {@link meanWasm}, {@link identityWasm} and
 * {@link castWasm} on the wasm backend (wasm's own `Conv2DBackpropInput`, `Sum`, `Mean`,
 * `Identity` and `Cast` stay as fallbacks
 * of the new ones). Idempotent. The wasm backend must be initialised.
 */
export function installConvKernels(): void {
  if (installed) return;
  kernels = {
    transpose: wasmKernel('Transpose'),
    conv2d: wasmKernel('Conv2D'),
    slice: wasmKernel('Slice'),
    batchMatMul: wasmKernel('BatchMatMul'),
    conv2DBackpropInput: wasmKernel('Conv2DBackpropInput'),
    maxPoolGrad: wasmKernel('MaxPoolGrad'),
    sum: wasmKernel('Sum'),
    mean: wasmKernel('Mean'),
    identity: wasmKernel('Identity'),
    cast: wasmKernel('Cast'),
  };
  replaceKernel('Conv2DBackpropFilter', conv2DBackpropFilterWasm);
  replaceKernel('Conv2DBackpropInput', conv2DBackpropInputWasm);
  replaceKernel('MaxPoolGrad', maxPoolGradWasm);
  replaceKernel('Sum', sumWasm);
  replaceKernel('Mean', meanWasm);
  replaceKernel('Identity', identityWasm);
  replaceKernel('Cast', castWasm);
  installed = true;
}
