import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { tf } from '../tf.js';
import { activeNativeAddon } from './native-kernels.js';

/** Name of the kernel {@link installReluGradient} registers. */
export const RELU_GRAD = 'TripletjsReluGrad';

/** Name of the kernel {@link installClipGradient} registers. */
export const CLIP_GRAD = 'TripletjsClipGrad';

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

/**
 * dx = dy where clipValueMin ≤ x ≤ clipValueMax, else 0, in one threaded pass of the addon. tfjs
 * computes it as `GreaterEqual`, `LessEqual`, `LogicalAnd`, `ZerosLike` and `Select`: five
 * single-threaded passes, which in a MobileNetV2 fine-tuning step (a ReLU6 is a Relu then a
 * ClipByValue) took a third of the trained stage's kernel time.
 */
const clipGrad: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const native = activeNativeAddon();
  if (native === undefined) throw new Error(`tripletjs: ${CLIP_GRAD} needs the native kernels, which are not active`);
  const wasm = backend as BackendWasm;
  const { dy, x } = inputs as { dy: tf.TensorInfo; x: tf.TensorInfo };
  const { clipValueMin, clipValueMax } = attrs as unknown as tf.ClipByValueAttrs;
  const out = wasm.makeOutput([...x.shape], 'float32');
  const [dys, xs, dxs] = [dy, x, out].map((t) => wasm.typedArrayFromHeap(t) as Float32Array) as [Float32Array, Float32Array, Float32Array];
  native.clipGrad(dys, xs, dxs, clipValueMin, clipValueMax);
  return out;
};

/**
 * Registers {@link CLIP_GRAD} on the wasm backend and a `ClipByValue` gradient that uses it for
 * float32 while the native kernels are active, and tfjs's formula otherwise (idempotent).
 */
export function installClipGradient(): void {
  if (tf.getKernel(CLIP_GRAD, 'wasm') !== undefined) return;
  tf.registerKernel({ kernelName: CLIP_GRAD, backendName: 'wasm', kernelFunc: clipGrad });
  tf.registerGradient({
    kernelName: tf.ClipByValue,
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved as [tf.Tensor];
      const { clipValueMin, clipValueMax } = attrs as unknown as tf.ClipByValueAttrs;
      const fused = x!.dtype === 'float32' && (dy as tf.Tensor).dtype === 'float32' && tf.getBackend() === 'wasm' && activeNativeAddon() !== undefined;
      return {
        x: () =>
          fused
            ? (tf.engine().runKernel(CLIP_GRAD, { dy: dy as tf.Tensor, x: x! }, { clipValueMin, clipValueMax } as unknown as tf.NamedAttrMap) as tf.Tensor)
            : tf.where(tf.logicalAnd(tf.greaterEqual(x!, clipValueMin), tf.lessEqual(x!, clipValueMax)), dy as tf.Tensor, tf.zerosLike(dy as tf.Tensor)),
      };
    },
  });
}
