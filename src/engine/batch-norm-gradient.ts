import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { tf } from '../tf.js';
import { activeNativeAddon } from './native-kernels.js';

/** Name of the kernel {@link installBatchNormGradient} registers. */
export const BATCH_NORM_GRAD_SUMS = 'TripletjsBatchNormGradSums';

/**
 * `FusedBatchNorm`'s gradient with its two reductions in one threaded pass of the addon.
 *
 * For y = (x − mean) · s · r + offset with r = 1 / √(variance + ε), per channel, the gradients are
 * dx = dy · s · r, d offset = Σ dy, d scale = r · Σ dy (x − mean), d mean = −s · r · Σ dy and
 * d variance = −½ s r³ · Σ dy (x − mean): one pass for the two sums and one for dx. tfjs's own
 * gradient builds each from full-size tensors (x − mean, dy · s, the statistics tiled to x's shape,
 * then products and sums): about fourteen passes over the activations, on one thread, for each
 * batch normalisation of a training step (in a MobileNetV2 fine-tuning step, 19 of them).
 *
 * Taken when the statistics are per channel ([C], as tfjs-layers' BatchNormalization passes them),
 * everything is float32 and the native kernels are active; otherwise tfjs's formula.
 */
const gradSums: tf.KernelFunc = ({ inputs, backend }) => {
  const native = activeNativeAddon();
  if (native === undefined) throw new Error(`tripletjs: ${BATCH_NORM_GRAD_SUMS} needs the native kernels, which are not active`);
  const wasm = backend as BackendWasm;
  const { dy, x, mean } = inputs as { dy: tf.TensorInfo; x: tf.TensorInfo; mean: tf.TensorInfo };
  const out = wasm.makeOutput([2, mean.shape[0]!], 'float32');
  const view = (t: tf.TensorInfo): Float32Array => wasm.typedArrayFromHeap(t) as Float32Array;
  native.batchNormGradSums(view(dy), view(x), view(mean), view(out));
  return out;
};

/** Whether the native gradient applies: per-channel float32 statistics of a non-empty float32 x, dy of x's shape. */
function nativeApplies(dy: tf.Tensor, x: tf.Tensor, mean: tf.Tensor, variance: tf.Tensor, scale: tf.Tensor | undefined): boolean {
  const channels = x.shape.at(-1);
  const perChannel = (t: tf.Tensor | undefined): boolean => t === undefined || (t.rank === 1 && t.shape[0] === channels && t.dtype === 'float32');
  return (
    tf.getBackend() === 'wasm' &&
    activeNativeAddon() !== undefined &&
    x.rank >= 2 &&
    x.size > 0 &&
    x.dtype === 'float32' &&
    dy.dtype === 'float32' &&
    dy.shape.join() === x.shape.join() &&
    [mean, variance, scale].every(perChannel)
  );
}

/** tfjs-core 4.22's `FusedBatchNorm` gradient (src/gradients/FusedBatchNorm_grad.ts), for the cases the native one does not take. */
function tfjsGradient(dy: tf.Tensor, x: tf.Tensor, mean: tf.Tensor, variance: tf.Tensor, scale: tf.Tensor | undefined, varianceEpsilon: number): Record<string, () => tf.Tensor> {
  const scaleValue = scale ?? tf.scalar(1);
  const reductionAxes = tf.backend_util.getReductionAxes(mean.shape, x.shape);
  const tileShape: number[] = [];
  if (mean.rank === 1) {
    for (let i = 0; i < x.shape.length - 1; ++i) tileShape.push(x.shape[i]!);
    tileShape.push(1);
  }
  const xMinusMean = tf.sub(x, mean);
  const dyTimesScaleValue = tf.mul(dy, scaleValue);
  const oneOverSqrtVariance = tf.rsqrt(tf.add(variance, tf.scalar(varianceEpsilon)));
  const minusHalfRCube = tf.mul(tf.mul(tf.mul(oneOverSqrtVariance, oneOverSqrtVariance), oneOverSqrtVariance), tf.scalar(-0.5));
  const reduce = (t: tf.Tensor): tf.Tensor => tf.reshape(mean.rank === 1 ? tf.sum(t, reductionAxes) : t, mean.shape);
  return {
    x: () =>
      mean.rank === 1
        ? tf.reshape(tf.mul(tf.mul(dy, tf.tile(tf.reshape(oneOverSqrtVariance, [1, 1, 1, mean.shape[0]!]), tileShape)), scaleValue), x.shape)
        : tf.reshape(tf.mul(tf.mul(dy, oneOverSqrtVariance), scaleValue), x.shape),
    mean: () => reduce(tf.mul(tf.mul(oneOverSqrtVariance, tf.scalar(-1)), dyTimesScaleValue)),
    variance: () => reduce(tf.mul(tf.mul(minusHalfRCube, xMinusMean), dyTimesScaleValue)),
    scale: () => reduce(tf.mul(dy, tf.mul(xMinusMean, oneOverSqrtVariance))),
    offset: () => reduce(dy),
  };
}

/** Registers {@link BATCH_NORM_GRAD_SUMS} on the wasm backend and the `FusedBatchNorm` gradient that uses it (idempotent). */
export function installBatchNormGradient(): void {
  if (tf.getKernel(BATCH_NORM_GRAD_SUMS, 'wasm') !== undefined) return;
  tf.registerKernel({ kernelName: BATCH_NORM_GRAD_SUMS, backendName: 'wasm', kernelFunc: gradSums });
  tf.registerGradient({
    kernelName: tf.FusedBatchNorm,
    inputsToSave: ['x', 'mean', 'variance', 'scale'],
    gradFunc: (dyTensor, saved, attrs) => {
      const dy = dyTensor as tf.Tensor;
      const [x, mean, variance, scale] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor | undefined];
      const { varianceEpsilon } = attrs as unknown as tf.FusedBatchNormAttrs;
      if (!nativeApplies(dy, x, mean, variance, scale)) return tfjsGradient(dy, x, mean, variance, scale, varianceEpsilon);
      const r = tf.rsqrt(tf.add(variance, tf.scalar(varianceEpsilon)));
      const sr = scale === undefined ? r : tf.mul(scale, r);
      // The two sums, once, here: each gradient below runs in a scope of its own, which would
      // dispose what it computed first for the others.
      const [sumDy, sumCentred] = tf.unstack(tf.engine().runKernel(BATCH_NORM_GRAD_SUMS, { dy, x, mean }) as tf.Tensor) as [tf.Tensor, tf.Tensor];
      return {
        x: () => tf.mul(dy, sr),
        mean: () => tf.mul(tf.neg(sr), sumDy),
        variance: () => tf.mul(tf.mul(tf.mul(tf.mul(r, r), sr), -0.5), sumCentred),
        scale: () => tf.mul(r, sumCentred),
        offset: () => tf.clone(sumDy),
      };
    },
  });
}
