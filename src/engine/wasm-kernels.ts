import { tf } from '../tf.js';
import { installConvKernels } from './conv-kernels.js';
import { installDepthwiseGradients } from './depthwise-kernels.js';

type KernelFunc = tf.KernelConfig['kernelFunc'];
type TensorInfo = tf.TensorInfo;

let installed = false;

/**
 * Replaces the wasm backend's `BatchMatMul` with one that transposes its operands explicitly.
 *
 * Measured here (tfjs-backend-wasm 4.22, SIMD, 2048×128 · 128×2048): the plain product takes
 * 46 ms, with `transposeB` 515 ms and with `transposeA` 1,667 ms. Autodiff of every matrix
 * product asks for transposed operands, so without this a backward pass is 10–30× slower.
 * Transposing the operand first costs O(size of that operand).
 *
 * Then installs the training kernels of ./conv-kernels.ts: the missing `Conv2DBackpropFilter`,
 * a faster and correct `MaxPoolGrad`, and faster `Conv2DBackpropInput`, `Sum`, `Mean` and
 * `Identity`; and the missing gradients of depthwise convolutions (./depthwise-kernels.ts).
 */
export function installWasmKernels(): void {
  if (installed) return;
  const matMul = tf.getKernel('BatchMatMul', 'wasm');
  const transpose = tf.getKernel('Transpose', 'wasm');
  if (matMul === undefined || transpose === undefined) {
    throw new Error('tripletjs: the wasm backend has no BatchMatMul or Transpose kernel to wrap');
  }
  const original = matMul.kernelFunc;
  const transposeFunc = transpose.kernelFunc;
  const swapLastTwo = (x: TensorInfo, backend: tf.KernelBackend): TensorInfo => {
    const rank = x.shape.length;
    const perm = [...Array(rank).keys()];
    perm[rank - 2] = rank - 1;
    perm[rank - 1] = rank - 2;
    return transposeFunc({ inputs: { x }, backend, attrs: { perm } }) as TensorInfo;
  };
  const wrapped: KernelFunc = ({ inputs, backend: anyBackend, attrs }) => {
    const backend = anyBackend as tf.KernelBackend;
    const { transposeA, transposeB } = attrs as { transposeA: boolean; transposeB: boolean };
    if (!transposeA && !transposeB) return original({ inputs, backend, attrs });
    const { a, b } = inputs as { a: TensorInfo; b: TensorInfo };
    const temporaries: TensorInfo[] = [];
    const aPlain = transposeA ? swapLastTwo(a, backend) : a;
    const bPlain = transposeB ? swapLastTwo(b, backend) : b;
    if (transposeA) temporaries.push(aPlain);
    if (transposeB) temporaries.push(bPlain);
    const out = original({
      inputs: { a: aPlain, b: bPlain },
      backend,
      attrs: { ...attrs, transposeA: false, transposeB: false },
    });
    for (const t of temporaries) backend.disposeData(t.dataId);
    return out;
  };
  tf.unregisterKernel('BatchMatMul', 'wasm');
  tf.registerKernel({ ...matMul, kernelFunc: wrapped });
  installConvKernels();
  installDepthwiseGradients();
  installed = true;
}
