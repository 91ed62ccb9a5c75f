import { tf } from '../tf.js';

/** Arrays kept for reuse, at most. */
const POOL_LIMIT = 8;
/** Arrays shorter than this are allocated afresh: the pool is for B × B matrices and large batches. */
const POOL_MIN_LENGTH = 1 << 16;

const pool: Float32Array[] = [];

/**
 * A Float32Array of `length` elements, reused from earlier steps when one was given back
 * ({@link releaseMatrix}); zero-filled only when `zeroed`. On the machines this was measured on,
 * the first write to freshly allocated memory costs about 15 µs per page (50–90 ms for a
 * 2048 × 2048 float32 matrix), rewriting the same memory 0.6 ms: training steps of one batch
 * size allocate the same B × B arrays again and again.
 */
export function takeMatrix(length: number, zeroed: boolean): Float32Array {
  const index = pool.findIndex((array) => array.length === length);
  if (index < 0) return new Float32Array(length);
  const array = pool.splice(index, 1)[0]!;
  if (zeroed) array.fill(0);
  return array;
}

/** Gives an array from {@link takeMatrix} back for reuse; the caller must not use it afterwards. */
export function releaseMatrix(array: Float32Array): void {
  if (array.length < POOL_MIN_LENGTH || pool.includes(array)) return;
  pool.push(array);
  if (pool.length > POOL_LIMIT) pool.shift();
}

/**
 * The values of a float32 tensor without a copy where the backend allows it: on the wasm backend
 * a view of its heap, valid only until the next tensor allocation (use it at once); elsewhere
 * `dataSync`. Read-only.
 */
export function viewTensor(t: tf.Tensor): Float32Array {
  const backend = tf.backend() as unknown as { typedArrayFromHeap?: (info: tf.TensorInfo) => Float32Array };
  if (typeof backend.typedArrayFromHeap === 'function' && t.dtype === 'float32') {
    return backend.typedArrayFromHeap({ dataId: t.dataId, shape: t.shape, dtype: t.dtype });
  }
  return t.dataSync() as Float32Array;
}

/** The values of a float32 tensor, copied into a reused array of the pool. */
export function readMatrix(t: tf.Tensor): Float32Array {
  const out = takeMatrix(t.size, false);
  out.set(viewTensor(t));
  return out;
}
