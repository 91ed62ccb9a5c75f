import { tf } from '../tf.js';
import { activeNativeAddon } from '../engine/native-kernels.js';

/** Keys and Euclidean distances of a search, nearest first. */
export interface IndexMatches {
  readonly keys: number[];
  readonly distances: number[];
}

/**
 * Every vector of a gallery in memory, searched exactly: one matrix product of the query against
 * all rows (the native addon's OpenBLAS when it is active; otherwise the backend's product, the
 * rows kept on the backend between searches and uploaded again only after a change), then one
 * pass that keeps the k nearest. Serves small galleries, exact
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
    // The k nearest by a bounded max-heap over one pass: most rows are rejected by one comparison
    // with the heap's top, and nothing of the size of the gallery is allocated.
    const size = Math.min(k, n);
    const heapKeys = new Float64Array(size);
    const heapRows = new Int32Array(size);
    let filled = 0;
    for (let row = 0; row < n; row++) {
      const squared = queryNorm + this.norms[row]! - 2 * dots[row]!;
      if (filled === size && !(squared < heapKeys[0]! || (squared === heapKeys[0]! && row < heapRows[0]!))) continue;
      if (allowed && !allowed(this.keys[row]!)) continue;
      if (filled < size) {
        siftUp(heapKeys, heapRows, filled++, squared, row);
      } else {
        siftDown(heapKeys, heapRows, size, squared, row);
      }
    }
    const order = Array.from({ length: filled }, (_, i) => i).sort((a, b) => heapKeys[a]! - heapKeys[b]! || heapRows[a]! - heapRows[b]!);
    return {
      keys: order.map((i) => this.keys[heapRows[i]!]!),
      distances: order.map((i) => Math.sqrt(Math.max(0, heapKeys[i]!))),
    };
  }

  /** The dot products of `query` with the first `n` rows: one BLAS matrix–vector product. */
  private products(query: Float32Array, n: number): Float32Array {
    const native = activeNativeAddon();
    if (native !== undefined) {
      // Straight to the addon's sgemv on these arrays: no tensor, no kernel dispatch, no copy.
      const out = new Float32Array(n);
      native.matVec(this.vectors.subarray(0, n * this.dims), query, out, n, this.dims);
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

/** Whether (a, rowA) comes after (b, rowB): farther, or as far with a larger row (ties go to the lower row). */
function after(a: number, rowA: number, b: number, rowB: number): boolean {
  return a > b || (a === b && rowA > rowB);
}

/** Inserts (key, row) into a max-heap of `position` entries. */
function siftUp(keys: Float64Array, rows: Int32Array, position: number, key: number, row: number): void {
  let i = position;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (after(key, row, keys[parent]!, rows[parent]!)) {
      keys[i] = keys[parent]!;
      rows[i] = rows[parent]!;
      i = parent;
    } else break;
  }
  keys[i] = key;
  rows[i] = row;
}

/** Replaces the top of a full max-heap of `size` entries with (key, row). */
function siftDown(keys: Float64Array, rows: Int32Array, size: number, key: number, row: number): void {
  let i = 0;
  for (;;) {
    const left = 2 * i + 1;
    if (left >= size) break;
    const right = left + 1;
    const larger = right < size && after(keys[right]!, rows[right]!, keys[left]!, rows[left]!) ? right : left;
    if (!after(keys[larger]!, rows[larger]!, key, row)) break;
    keys[i] = keys[larger]!;
    rows[i] = rows[larger]!;
    i = larger;
  }
  keys[i] = key;
  rows[i] = row;
}
