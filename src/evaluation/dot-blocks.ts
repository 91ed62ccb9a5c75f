import { tf } from '../tf.js';
import { nativeKernelsActive } from '../engine/index.js';

/**
 * Bytes one block of dot products may take (float32). MNIST test → train (10,000 × 60,000) then
 * runs in blocks of 279 query rows: the whole 2.4 GB matrix never exists at once.
 */
const BLOCK_BYTES = 64 * 1024 * 1024;

/** Query rows per block so that a block against `columns` references stays within 64 MB. */
export function defaultBlockRows(columns: number): number {
  return Math.max(1, Math.floor(BLOCK_BYTES / 4 / columns));
}

/** One block of dot products: rows `firstRow ..` of the queries against columns `firstColumn ..` of the references. */
export interface DotBlock {
  firstRow: number;
  rows: number;
  firstColumn: number;
  columns: number;
  /**
   * `rows × columns`, row-major: `dots[r * columns + c]` is query `firstRow + r` · reference
   * `firstColumn + c`. On the wasm backend a view of its heap: valid only during the visit, and
   * only while the visit runs no TensorFlow.js op (a new tensor may grow the heap, which
   * detaches the view).
   */
  dots: Float32Array;
}

/** Options of {@link forEachDotBlock}. */
export interface DotBlockOptions {
  /** L2-normalise rows first, so that the dot product is the cosine similarity. */
  normalize: boolean;
  /** Query rows per block. */
  blockRows: number;
  /**
   * The queries are the references and only pairs i < j are wanted: the block starting at row s
   * covers columns s + 1 .. (about half the work of the full square).
   */
  upperTriangle?: boolean;
}

/**
 * Computes the dot products of every query row with every reference row (both row-major,
 * `dims` wide, already validated) with TensorFlow.js, a block of query rows at a time, and hands
 * each block to `visit` as a Float32Array (see {@link DotBlock.dots}: no TensorFlow.js op inside
 * `visit`). The references are uploaded once; no tensor outlives the call.
 */
export function forEachDotBlock(
  queries: Float32Array,
  references: Float32Array,
  dims: number,
  options: DotBlockOptions,
  visit: (block: DotBlock) => void,
): void {
  const queryCount = queries.length / dims;
  const referenceCount = references.length / dims;
  // The native product (OpenBLAS) takes the references as they are, multiplied transposed. The
  // wasm matmul is fast only on plain operands (ARCHITECTURE.md), so without the native kernels
  // the references are transposed explicitly, once, in JS: the backend then holds a single copy
  // of them (the wasm heap never shrinks: its peak is the process's for good). The JS transpose
  // of MNIST's 60,000 × 784 references took about 1 s, which the native path skips.
  const plain = nativeKernelsActive();
  const prepared = plain ? (options.normalize ? normalizeRows(references, dims) : references) : transposeRows(references, dims, options.normalize);
  const stored = tf.tensor2d(prepared, plain ? [referenceCount, dims] : [dims, referenceCount]);
  try {
    for (let firstRow = 0; firstRow < queryCount; firstRow += options.blockRows) {
      const rows = Math.min(options.blockRows, queryCount - firstRow);
      const firstColumn = options.upperTriangle ? firstRow + 1 : 0;
      const columns = referenceCount - firstColumn;
      if (columns <= 0) break;
      const block = queries.subarray(firstRow * dims, (firstRow + rows) * dims);
      const product = tf.tidy(() => {
        const q = tf.tensor2d(options.normalize ? normalizeRows(block, dims) : block, [rows, dims]);
        if (plain) return tf.matMul(q, firstColumn === 0 ? stored : tf.slice(stored, [firstColumn, 0], [columns, dims]), false, true);
        return tf.matMul(q, firstColumn === 0 ? stored : tf.slice(stored, [0, firstColumn], [dims, columns]));
      });
      try {
        visit({ firstRow, rows, firstColumn, columns, dots: readFloats(product) });
      } finally {
        product.dispose();
      }
    }
  } finally {
    stored.dispose();
  }
}

/**
 * The values of a float32 tensor, without a copy when the backend keeps them in its heap (wasm).
 * wasm's `dataSync` copies with `HEAPU8.slice`, measured at 320–420 ms per 64 MB block here:
 * more than the product itself: 12 s of a profiled 10,000 × 60,000 evaluation.
 */
function readFloats(tensor: tf.Tensor): Float32Array {
  const backend = tf.backend() as unknown as { typedArrayFromHeap?: (info: tf.Tensor) => Float32Array };
  return typeof backend.typedArrayFromHeap === 'function' ? backend.typedArrayFromHeap(tensor) : (tensor.dataSync() as Float32Array);
}

/** The squared L2 norm of every row, accumulated in float64. */
export function squaredNorms(values: Float32Array, dims: number): Float64Array {
  const rows = values.length / dims;
  const out = new Float64Array(rows);
  for (let i = 0, o = 0; i < rows; i++) {
    let sum = 0;
    for (let d = 0; d < dims; d++, o++) sum += values[o]! * values[o]!;
    out[i] = sum;
  }
  return out;
}

/** A copy of the rows, each divided by its L2 norm (norm floored at 1e-12: an all-zero row stays zero). */
export function normalizeRows(values: Float32Array, dims: number): Float32Array {
  const out = new Float32Array(values.length);
  for (let o = 0; o < values.length; o += dims) {
    const scale = inverseNorm(values, o, dims);
    for (let d = 0; d < dims; d++) out[o + d] = values[o + d]! * scale;
  }
  return out;
}

/** The `dims × rows` transpose of a row-major matrix, rows L2-normalised first if asked. */
function transposeRows(values: Float32Array, dims: number, normalize: boolean): Float32Array {
  const rows = values.length / dims;
  const out = new Float32Array(values.length);
  for (let j = 0, o = 0; j < rows; j++, o += dims) {
    const scale = normalize ? inverseNorm(values, o, dims) : 1;
    for (let d = 0; d < dims; d++) out[d * rows + j] = values[o + d]! * scale;
  }
  return out;
}

/** 1 / the L2 norm of the row at `offset`, the norm floored at 1e-12. */
function inverseNorm(values: Float32Array, offset: number, dims: number): number {
  let sum = 0;
  for (let d = offset; d < offset + dims; d++) sum += values[d]! * values[d]!;
  return 1 / Math.max(Math.sqrt(sum), 1e-12);
}
