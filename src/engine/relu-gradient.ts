import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { tf } from '../tf.js';
import { activeNativeAddon } from './native-kernels.js';

/** Name of the kernel {@link installReluGradient} registers. */
export const RELU_GRAD = 'TripletjsReluGrad';

/**
 * dx = dy · step(x) in one pass of the native addon, on threads. tfjs computes it as `Step`,
 * `Cast` and `Multiply`: three single-threaded passes over every activation map of a CNN, and
 * three dispatches per ReLU in every training step. Without the addon, tfjs's wasm kernels stay
 * in use: a JavaScript loop was 20× slower than them (40 ms against 2 ms for a 128 × 26 × 26 × 32
 * map).
 */
const reluGrad: tf.KernelFunc = ({ inputs, backend }) => {
  const native = activeNativeAddon();
  if (native === undefined) throw new Error(`tripletjs: ${RELU_GRAD} needs the native kernels, which are not active`);
  const wasm = backend as BackendWasm;
  const { dy, x } = inputs as { dy: tf.TensorInfo; x: tf.TensorInfo };
  const out = wasm.makeOutput([...x.shape], 'float32');
  const [dys, xs, dxs] = [dy, x, out].map((t) => wasm.typedArrayFromHeap(t) as Float32Array) as [Float32Array, Float32Array, Float32Array];
  native.reluGrad(dys, xs, dxs);
  return out;
};

/**
 * Registers {@link RELU_GRAD} on the wasm backend and a `Relu` gradient that uses it for float32
 * while the native kernels are active, and tfjs's formula otherwise (idempotent).
 */
export function installReluGradient(): void {
  if (tf.getKernel(RELU_GRAD, 'wasm') !== undefined) return;
  tf.registerKernel({ kernelName: RELU_GRAD, backendName: 'wasm', kernelFunc: reluGrad });
  tf.registerGradient({
    kernelName: tf.Relu,
    inputsToSave: ['x'],
    gradFunc: (dy, saved) => {
      const [x] = saved as [tf.Tensor];
      const fused = x!.dtype === 'float32' && tf.getBackend() === 'wasm' && activeNativeAddon() !== undefined;
      return {
        x: () => (fused ? (tf.engine().runKernel(RELU_GRAD, { dy: dy as tf.Tensor, x: x! }) as tf.Tensor) : tf.mul(dy as tf.Tensor, tf.cast(tf.step(x!), 'float32'))),
      };
    },
  });
}
