import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { tf } from '../tf.js';
import { activeNativeAddon } from './native-kernels.js';

/** Name of the kernel {@link installReluGradient} registers. */
export const RELU_GRAD = 'TripletjsReluGrad';

/**
 * dx = dy · step(x) in one pass: in the addon when its kernels are active (on threads), else in
 * JavaScript. tfjs computes it as `Step`, `Cast` and `Multiply`, three single-threaded passes
 * over every activation map of a CNN and three dispatches per ReLU in every training step.
 */
const reluGrad: tf.KernelFunc = ({ inputs, backend }) => {
  const wasm = backend as BackendWasm;
  const { dy, x } = inputs as { dy: tf.TensorInfo; x: tf.TensorInfo };
  const out = wasm.makeOutput([...x.shape], 'float32');
  const [dys, xs, dxs] = [dy, x, out].map((t) => wasm.typedArrayFromHeap(t) as Float32Array) as [Float32Array, Float32Array, Float32Array];
  const native = activeNativeAddon();
  if (native !== undefined) {
    native.reluGrad(dys, xs, dxs);
    return out;
  }
  // As tfjs: dy where x > 0, dy · 0 where x ≤ 0 (NaN for an infinite dy), NaN where x is NaN.
  for (let i = 0; i < xs.length; i++) dxs[i] = xs[i]! > 0 ? dys[i]! : xs[i]! <= 0 ? dys[i]! * 0 : NaN;
  return out;
};

/**
 * Registers {@link RELU_GRAD} on the wasm backend and a `Relu` gradient that uses it for float32
 * on the backends that have it, and tfjs's formula elsewhere (idempotent).
 */
export function installReluGradient(): void {
  if (tf.getKernel(RELU_GRAD, 'wasm') !== undefined) return;
  tf.registerKernel({ kernelName: RELU_GRAD, backendName: 'wasm', kernelFunc: reluGrad });
  tf.registerGradient({
    kernelName: tf.Relu,
    inputsToSave: ['x'],
    gradFunc: (dy, saved) => {
      const [x] = saved as [tf.Tensor];
      const fused = x!.dtype === 'float32' && tf.getKernel(RELU_GRAD, tf.getBackend()) !== undefined;
      return {
        x: () => (fused ? (tf.engine().runKernel(RELU_GRAD, { dy: dy as tf.Tensor, x: x! }) as tf.Tensor) : tf.mul(dy as tf.Tensor, tf.cast(tf.step(x!), 'float32'))),
      };
    },
  });
}
