import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { tf } from '../tf.js';
import { activeNativeAddon } from './native-kernels.js';

/** Name of the kernel {@link installAdamKernel} registers. */
export const ADAM_UPDATE = 'TripletjsAdamUpdate';

/** Attributes of {@link ADAM_UPDATE}: Adam's constants and this step's bias corrections. */
export interface AdamUpdateAttrs {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  /** 1 − beta1^t and 1 − beta2^t at this step. */
  correction1: number;
  correction2: number;
}

/**
 * One Adam step of one weight in a single pass over its values, first and second moments and
 * gradient, giving the new value, first and second moment (in that order) with tfjs's `AdamOptimizer`
 * formula. tfjs runs it as about ten elementwise kernels per weight, each a pass over the weight
 * and a dispatch: for a small network the update was a large part of the step. In the native
 * addon when its kernels are active (vectorised, on threads), else in JavaScript.
 */
const adamUpdate: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const wasm = backend as BackendWasm;
  const { value, m, v, gradient } = inputs as Record<'value' | 'm' | 'v' | 'gradient', tf.TensorInfo>;
  const { learningRate, beta1, beta2, epsilon, correction1, correction2 } = attrs as unknown as AdamUpdateAttrs;
  const outputs = [value, m, v].map((t) => wasm.makeOutput([...t.shape], 'float32'));
  const [x, first, second, g] = [value, m, v, gradient].map((t) => wasm.typedArrayFromHeap(t) as Float32Array) as [Float32Array, Float32Array, Float32Array, Float32Array];
  const [newX, newFirst, newSecond] = outputs.map((t) => wasm.typedArrayFromHeap(t) as Float32Array) as [Float32Array, Float32Array, Float32Array];
  // x − lr·(m/c1)/(√(v/c2) + ε), with the divisions by the corrections folded into constants.
  const keep1 = beta1;
  const take1 = 1 - beta1;
  const keep2 = beta2;
  const take2 = 1 - beta2;
  const step = learningRate / correction1;
  const scale2 = 1 / correction2;
  const native = activeNativeAddon();
  if (native !== undefined) {
    native.adamUpdate(x, first, second, g, newX, newFirst, newSecond, Float64Array.of(keep1, take1, keep2, take2, step, scale2, epsilon));
    return outputs;
  }
  for (let i = 0; i < x.length; i++) {
    const gi = g[i]!;
    const mi = first[i]! * keep1 + gi * take1;
    const vi = second[i]! * keep2 + gi * gi * take2;
    newFirst[i] = mi;
    newSecond[i] = vi;
    newX[i] = x[i]! - (step * mi) / (Math.sqrt(vi * scale2) + epsilon);
  }
  return outputs;
};

/** Registers {@link ADAM_UPDATE} on the wasm backend (idempotent). */
export function installAdamKernel(): void {
  if (tf.getKernel(ADAM_UPDATE, 'wasm') === undefined) tf.registerKernel({ kernelName: ADAM_UPDATE, backendName: 'wasm', kernelFunc: adamUpdate });
}
