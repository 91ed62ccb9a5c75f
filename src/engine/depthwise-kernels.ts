/**
 * The gradients of a depthwise convolution on the wasm backend, which has none
 * (`DepthwiseConv2dNativeBackpropInput` and `…BackpropFilter` are not registered in
 * tfjs-backend-wasm 4.22, so no network with a depthwise layer, MobileNet's for one, can be trained
 * there). Direct loops on the wasm heap: the fallback where the native addon is absent; the addon
 * replaces them (oneDNN's grouped convolution, or its own loops).
 *
 * A depthwise filter is [KH, KW, Ci, M]; output channel o = ci·M + j reads input channel o / M, so
 * in the flat layouts filter[tap, o] multiplies x[pixel, o / M] into y[pixel, o].
 */
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { tf } from '../tf.js';
import { nhwcConvInfo, type ConvGeometryAttrs } from './conv-info.js';

type TensorInfo = tf.TensorInfo;
type KernelFunc = tf.KernelConfig['kernelFunc'];
type ConvInfo = tf.backend_util.Conv2DInfo;

/** The geometry of a depthwise convolution of `xShape` by `filterShape` (NHWC only). */
function depthwiseInfo(xShape: readonly number[], filterShape: readonly number[], attrs: ConvGeometryAttrs): ConvInfo {
  const info = nhwcConvInfo(xShape, filterShape, attrs, true);
  if (info === undefined) throw new Error(`tripletjs: depthwise convolutions support only NHWC (dataFormat '${attrs.dataFormat}')`);
  return info;
}

/** Calls visit(image, output pixel, tap, input pixel) for every pair of an output pixel and a filter tap that reads inside the image. */
function forEachTap(info: ConvInfo, visit: (image: number, pixel: number, tap: number, input: number) => void): void {
  const { batchSize, inHeight, inWidth, outHeight, outWidth, filterHeight, filterWidth, strideHeight, strideWidth, dilationHeight, dilationWidth, padInfo } = info;
  for (let b = 0; b < batchSize; b++) {
    for (let oh = 0; oh < outHeight; oh++) {
      for (let ow = 0; ow < outWidth; ow++) {
        for (let kh = 0; kh < filterHeight; kh++) {
          const ih = oh * strideHeight + kh * dilationHeight - padInfo.top;
          if (ih < 0 || ih >= inHeight) continue;
          for (let kw = 0; kw < filterWidth; kw++) {
            const iw = ow * strideWidth + kw * dilationWidth - padInfo.left;
            if (iw >= 0 && iw < inWidth) visit(b, oh * outWidth + ow, kh * filterWidth + kw, ih * inWidth + iw);
          }
        }
      }
    }
  }
}

function heap(backend: BackendWasm, info: TensorInfo): Float32Array {
  return backend.typedArrayFromHeap(info) as Float32Array;
}

function checkFloat32(kernel: string, ...infos: TensorInfo[]): void {
  if (infos.some((info) => info.dtype !== 'float32')) throw new Error(`tripletjs: the wasm ${kernel} kernel needs float32 tensors`);
}

/** dx[b, q, c] = Σ over (pixel, tap) reading q and j < M of dy[b, pixel, c·M + j] · filter[tap, c·M + j]. */
const backpropInput: KernelFunc = (args) => {
  const backend = args.backend as BackendWasm;
  const { dy, filter } = args.inputs as { dy: TensorInfo; filter: TensorInfo };
  const attrs = args.attrs as unknown as tf.DepthwiseConv2dNativeBackpropInputAttrs;
  checkFloat32('DepthwiseConv2dNativeBackpropInput', dy, filter);
  const info = depthwiseInfo(attrs.inputShape, filter.shape, attrs);
  const dx = backend.makeOutput([...attrs.inputShape], 'float32');
  const [d, f, out] = [heap(backend, dy), heap(backend, filter), heap(backend, dx)];
  const { inChannels: c, outChannels: co, inHeight, inWidth, outHeight, outWidth } = info;
  const m = co / c;
  out.fill(0);
  forEachTap(info, (b, pixel, tap, input) => {
    const dyRow = (b * outHeight * outWidth + pixel) * co;
    const dxRow = (b * inHeight * inWidth + input) * c;
    const fRow = tap * co;
    for (let o = 0; o < co; o++) out[dxRow + Math.floor(o / m)]! += d[dyRow + o]! * f[fRow + o]!;
  });
  return dx;
};

/** dw[tap, o] = Σ over images and pixels of x[b, pixel + tap, o / M] · dy[b, pixel, o]. */
const backpropFilter: KernelFunc = (args) => {
  const backend = args.backend as BackendWasm;
  const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
  const attrs = args.attrs as unknown as tf.DepthwiseConv2dNativeBackpropFilterAttrs;
  checkFloat32('DepthwiseConv2dNativeBackpropFilter', x, dy);
  const info = depthwiseInfo(x.shape, attrs.filterShape, attrs);
  const dw = backend.makeOutput([...attrs.filterShape], 'float32');
  const [input, d, out] = [heap(backend, x), heap(backend, dy), heap(backend, dw)];
  const { inChannels: c, outChannels: co, inHeight, inWidth, outHeight, outWidth } = info;
  const m = co / c;
  out.fill(0);
  forEachTap(info, (b, pixel, tap, q) => {
    const xRow = (b * inHeight * inWidth + q) * c;
    const dyRow = (b * outHeight * outWidth + pixel) * co;
    const wRow = tap * co;
    for (let o = 0; o < co; o++) out[wRow + o]! += input[xRow + Math.floor(o / m)]! * d[dyRow + o]!;
  });
  return dw;
};

/** Registers the two gradients on the wasm backend, where none exists. Idempotent. */
export function installDepthwiseGradients(): void {
  for (const [kernelName, kernelFunc] of [
    ['DepthwiseConv2dNativeBackpropInput', backpropInput],
    ['DepthwiseConv2dNativeBackpropFilter', backpropFilter],
  ] as const) {
    if (tf.getKernel(kernelName, 'wasm') === undefined) tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc });
  }
}
