import { tf } from '../tf.js';
import { selectSmallest } from '../evaluation/selection.js';
import { activeNativeAddon } from '../engine/native-kernels.js';

/** Keys and Euclidean distances of a search, nearest first. */
export interface IndexMatches {
  readonly keys: number[];
  readonly distances: number[];
}

/**
 * Every vector of a gallery in memory, searched exactly: one matrix product of the query against
 * all rows (the native addon's OpenBLAS when it is active; otherwise the backend's product, the
 * rows kept on the backend between searches and uploaded again only after a change), then a
 * quickselect of the k nearest. Serves small galleries, exact
 * searches and searches restricted to some rows, where an approximate index has nothing to offer.
 */
export class ExactIndex {
  readonly dims: number;
  private vectors: Float32Array;
  private norms: Float64Array;
  private keys: number[] = [];
  private readonly rowOf = new Map<number, number>();
  private onBackend: tf.Tensor2D | undefined;

  constructor(dims: number, capacity = 1024) {
    this.dims = dims;
    this.vectors = new Float32Array(Math.max(1, capacity) * dims);
    this.norms = new Float64Array(Math.max(1, capacity));
  }

  get size(): number {
    return this.keys.length;
  }

  has(key: number): boolean {
    return this.rowOf.has(key);
  }

  /** Adds `vector` under `key` (a key not in the index). */
  add(key: number, vector: Float32Array): void {
    const row = this.keys.length;
    if ((row + 1) * this.dims > this.vectors.length) this.grow(2 * (row + 1));
    this.vectors.set(vector, row * this.dims);
    let norm = 0;
    for (const v of vector) norm += v * v;
    this.norms[row] = norm;
    this.keys.push(key);
    this.rowOf.set(key, row);
    this.changed();
  }

  /** Removes `key`; the last row takes its place. */
  remove(key: number): boolean {
    const row = this.rowOf.get(key);
    if (row === undefined) return false;
    const last = this.keys.length - 1;
    if (row !== last) {
      this.vectors.copyWithin(row * this.dims, last * this.dims, (last + 1) * this.dims);
      this.norms[row] = this.norms[last]!;
      this.keys[row] = this.keys[last]!;
      this.rowOf.set(this.keys[row]!, row);
    }
    this.keys.pop();
    this.rowOf.delete(key);
    this.changed();
    return true;
  }

  /** The `k` nearest rows to `query` among those whose key `allowed` accepts (default: all). */
  search(query: Float32Array, k: number, allowed?: (key: number) => boolean): IndexMatches {
    const n = this.keys.length;
    if (n === 0) return { keys: [], distances: [] };
    const dots = this.products(query, n);
    let queryNorm = 0;
    for (const v of query) queryNorm += v * v;
    const squared = new Float64Array(n);
    const rows = new Int32Array(n);
    let candidates = 0;
    for (let row = 0; row < n; row++) {
      if (allowed && !allowed(this.keys[row]!)) continue;
      squared[candidates] = queryNorm + this.norms[row]! - 2 * dots[row]!;
      rows[candidates++] = row;
    }
    const count = Math.min(k, candidates);
    selectSmallest(squared, rows, candidates, count);
    const keys: number[] = [];
    const distances: number[] = [];
    for (let i = 0; i < count; i++) {
      keys.push(this.keys[rows[i]!]!);
      distances.push(Math.sqrt(Math.max(0, squared[i]!)));
    }
    return { keys, distances };
  }

  /** The dot products of `query` with the first `n` rows: one BLAS product (sgemv-shaped). */
  private products(query: Float32Array, n: number): Float32Array {
    const native = activeNativeAddon();
    if (native !== undefined) {
      // Straight to the addon's sgemm on these arrays: no tensor, no kernel dispatch, no copy.
      const out = new Float32Array(n);
      native.matMul(query, this.vectors.subarray(0, n * this.dims), out, Int32Array.of(1, 1, 1, 1, n, this.dims, 0, 1), null, 0);
      return out;
    }
    this.onBackend ??= tf.keep(tf.tensor2d(this.vectors.subarray(0, n * this.dims), [n, this.dims]));
    const matrix = this.onBackend;
    return tf.tidy(() => tf.matMul(tf.tensor2d(query, [1, this.dims]), matrix, false, true).dataSync() as Float32Array);
  }

  /** Frees the copy on the backend. */
  dispose(): void {
    this.changed();
  }

  private changed(): void {
    this.onBackend?.dispose();
    this.onBackend = undefined;
  }

  private grow(rows: number): void {
    const vectors = new Float32Array(rows * this.dims);
    vectors.set(this.vectors);
    this.vectors = vectors;
    const norms = new Float64Array(rows);
    norms.set(this.norms);
    this.norms = norms;
  }
}
