import { releaseMatrix, takeMatrix } from './matrix-pool.js';

/**
 * Coefficients are kept dense when (entries × dimension) exceeds this many times the matrix's
 * size. The sparse gradient costs about 2·D JavaScript operations per entry; the dense one a few
 * JavaScript passes over the B × B matrix and one B × B × D product on the BLAS.
 */
const DENSE_WORK_PER_ELEMENT = 4;

/**
 * Coefficients on the entries of a rows × cols matrix: the derivative of a sum of per-tuple
 * values with respect to each entry they read. Kept as a list of (entry, coefficient) while the
 * tuples are few (batch-hard: 2 per anchor), as a dense array when they are many (batch-all).
 */
export class PairCoefficients {
  /** Rows of the matrix. */
  readonly rows: number;
  /** Columns of the matrix. */
  readonly cols: number;
  /** Row-major coefficients, when dense. */
  readonly dense: Float32Array | undefined;
  /** Every coefficient is multiplied by this (a reducer's scale, applied without a pass over them). */
  multiplier = 1;
  private entries: Int32Array;
  private values: Float64Array;
  private size = 0;

  private constructor(rows: number, cols: number, dense: Float32Array | undefined, capacity: number) {
    this.rows = rows;
    this.cols = cols;
    this.dense = dense;
    this.entries = new Int32Array(capacity);
    this.values = new Float64Array(capacity);
  }

  /**
   * Coefficients for about `expectedEntries` additions on a rows × cols matrix of `dims`-dimensional
   * rows: dense when that many entries would cost more to differentiate one by one.
   */
  static forEntries(rows: number, cols: number, dims: number, expectedEntries: number): PairCoefficients {
    return expectedEntries * dims > rows * cols * DENSE_WORK_PER_ELEMENT
      ? new PairCoefficients(rows, cols, takeMatrix(rows * cols, true), 0)
      : new PairCoefficients(rows, cols, undefined, Math.max(16, Math.min(expectedEntries, 1 << 20)));
  }

  /** Adds `coefficient` to entry `index` (row-major). */
  add(index: number, coefficient: number): void {
    if (this.dense !== undefined) {
      this.dense[index]! += coefficient;
      return;
    }
    if (this.size === this.entries.length) this.grow();
    this.entries[this.size] = index;
    this.values[this.size++] = coefficient;
  }

  /** {@link add} of `coefficients[k]` to entry `indices[k]` for every k, in order. */
  addAll(indices: Int32Array, coefficients: Float64Array): void {
    if (this.dense !== undefined) {
      for (let k = 0; k < indices.length; k++) this.dense[indices[k]!]! += coefficients[k]!;
      return;
    }
    while (this.size + indices.length > this.entries.length) this.grow();
    this.entries.set(indices, this.size);
    this.values.set(coefficients, this.size);
    this.size += indices.length;
  }

  /**
   * Sets entry `index` to `coefficient`, for an entry not touched before (then the same as
   * {@link add}, but a plain store into a dense array rather than a read-modify-write).
   */
  set(index: number, coefficient: number): void {
    if (this.dense !== undefined) this.dense[index] = coefficient;
    else if (coefficient !== 0) this.add(index, coefficient);
  }

  /**
   * The stored entries of a sparse list (entries may repeat; coefficients without
   * {@link multiplier}): `indices[k]`, `values[k]` for k < `length`. Empty when dense.
   */
  sparse(): { readonly indices: Int32Array; readonly values: Float64Array; readonly length: number } {
    return { indices: this.entries, values: this.values, length: this.size };
  }

  /**
   * `Σ scale × coefficients` over `terms` on one matrix, reusing the first term's storage (the
   * terms are not used afterwards; each has multiplier 1). Dense when any term is.
   */
  static combine(terms: ReadonlyArray<readonly [PairCoefficients, number]>): PairCoefficients {
    const [first, firstScale] = terms[0]!;
    if (terms.length === 1) {
      first.multiplier *= firstScale;
      return first;
    }
    const anyDense = terms.some(([t]) => t.dense !== undefined);
    const out = anyDense && first.dense === undefined ? new PairCoefficients(first.rows, first.cols, takeMatrix(first.rows * first.cols, true), 0) : first;
    if (out === first) out.scale(firstScale);
    for (const [term, scale] of out === first ? terms.slice(1) : terms) {
      if (scale === 0) continue;
      if (term.dense !== undefined) {
        const target = out.dense!;
        const source = term.dense;
        for (let i = 0; i < source.length; i++) target[i]! += scale * source[i]!;
        releaseMatrix(source);
      } else {
        const { indices, values, length } = term.sparse();
        for (let k = 0; k < length; k++) out.add(indices[k]!, scale * values[k]!);
      }
    }
    return out;
  }

  private scale(factor: number): void {
    if (factor === 1) return;
    if (this.dense !== undefined) {
      const dense = this.dense;
      for (let i = 0; i < dense.length; i++) dense[i]! *= factor;
    } else {
      for (let k = 0; k < this.size; k++) this.values[k]! *= factor;
    }
  }

  private grow(): void {
    const entries = new Int32Array(this.entries.length * 2);
    entries.set(this.entries);
    const values = new Float64Array(this.values.length * 2);
    values.set(this.values);
    this.entries = entries;
    this.values = values;
  }
}
