import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { tf } from '../tf.js';

/** Name of the forward kernel {@link installL2NormalizeKernels} registers. */
export const L2_NORMALIZE = 'TripletjsL2Normalize';
/** Name of its gradient kernel. */
export const L2_NORMALIZE_GRAD = 'TripletjsL2NormalizeGrad';

/** Floor of the squared norm: an all-zero row stays zero instead of becoming NaN. */
const SQUARED_NORM_FLOOR = 1e-24;

/** x / sqrt(max(Σx², floor)) along the last axis, as separate tfjs ops (any backend). */
function composite<T extends tf.Tensor>(x: T): T {
  return tf.tidy(() => tf.div(x, tf.sqrt(tf.maximum(tf.sum(tf.square(x), -1, true), SQUARED_NORM_FLOOR)))) as T;
}

/**
 * Each row (the last axis) of `x` divided by its L2 norm, the norm floored at 1e-12 so that an
 * all-zero row stays zero. Differentiable.
 *
 * On the wasm backend this is one kernel forward and one backward; as separate tfjs ops it is
 * five kernels forward and about fifteen backward, which in a small network's training step
 * were a fifth of all the kernels dispatched. Elsewhere (cpu, other dtypes) it is those ops.
 */
export function l2Normalize<T extends tf.Tensor>(x: T): T {
  if (x.dtype !== 'float32' || tf.getKernel(L2_NORMALIZE, tf.getBackend()) === undefined) return composite(x);
  return tf.engine().runKernel(L2_NORMALIZE, { x }) as T;
}

/** Float32Array views of tensors on the wasm heap, taken after every output is allocated. */
function views(backend: BackendWasm, ...infos: tf.TensorInfo[]): Float32Array[] {
  return infos.map((info) => backend.typedArrayFromHeap(info) as Float32Array);
}

/** Rows and row width of a tensor normalised along its last axis. */
function rowsOf(x: tf.TensorInfo): [number, number] {
  const width = x.shape.length === 0 ? 1 : x.shape[x.shape.length - 1]!;
  return [width === 0 ? 0 : tf.util.sizeFromShape(x.shape) / width, width];
}

/** The norm of row `r` of `values` (rows of `width`), floored, in float64. */
function rowNorm(values: Float32Array, r: number, width: number): { norm: number; floored: boolean } {
  let sum = 0;
  for (let j = r * width; j < (r + 1) * width; j++) sum += values[j]! * values[j]!;
  const floored = !(sum >= SQUARED_NORM_FLOOR) && !Number.isNaN(sum);
  return { norm: Math.sqrt(floored ? SQUARED_NORM_FLOOR : sum), floored };
}

const forward: tf.KernelFunc = ({ inputs, backend }) => {
  const wasm = backend as BackendWasm;
  const { x } = inputs as { x: tf.TensorInfo };
  const out = wasm.makeOutput([...x.shape], 'float32');
  const [xs, ys] = views(wasm, x, out) as [Float32Array, Float32Array];
  const [rows, width] = rowsOf(x);
  for (let r = 0; r < rows; r++) {
    const { norm } = rowNorm(xs, r, width);
    for (let j = r * width; j < (r + 1) * width; j++) ys[j] = xs[j]! / norm;
  }
  return out;
};

/**
 * dx = (dy − y·⟨dy, y⟩) / n per row, with y = x / n; where the norm is floored, n is a constant
 * and dx = dy / n (the gradient the composite ops give: `maximum` passes it to the floor).
 */
const backward: tf.KernelFunc = ({ inputs, backend }) => {
  const wasm = backend as BackendWasm;
  const { dy, x } = inputs as { dy: tf.TensorInfo; x: tf.TensorInfo };
  const out = wasm.makeOutput([...x.shape], 'float32');
  const [dys, xs, dxs] = views(wasm, dy, x, out) as [Float32Array, Float32Array, Float32Array];
  const [rows, width] = rowsOf(x);
  for (let r = 0; r < rows; r++) {
    const { norm, floored } = rowNorm(xs, r, width);
    let projection = 0;
    if (!floored) {
      for (let j = r * width; j < (r + 1) * width; j++) projection += dys[j]! * xs[j]!;
      projection /= norm * norm;
    }
    for (let j = r * width; j < (r + 1) * width; j++) dxs[j] = (dys[j]! - xs[j]! * projection) / norm;
  }
  return out;
};

/** Registers {@link L2_NORMALIZE}, its gradient kernel and its gradient on the wasm backend (idempotent). */
export function installL2NormalizeKernels(): void {
  if (tf.getKernel(L2_NORMALIZE, 'wasm') !== undefined) return;
  tf.registerKernel({ kernelName: L2_NORMALIZE, backendName: 'wasm', kernelFunc: forward });
  tf.registerKernel({ kernelName: L2_NORMALIZE_GRAD, backendName: 'wasm', kernelFunc: backward });
  tf.registerGradient({
    kernelName: L2_NORMALIZE,
    inputsToSave: ['x'],
    gradFunc: (dy, saved) => {
      const [x] = saved as [tf.Tensor];
      return { x: () => tf.engine().runKernel(L2_NORMALIZE_GRAD, { dy: dy as tf.Tensor, x: x! }) as tf.Tensor };
    },
  });
}
