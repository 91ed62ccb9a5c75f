import { tf } from '../tf.js';
import { require } from '../common/errors.js';
import type { NativeAddon } from '../engine/native-addon.js';
import { activeNativeAddon } from '../engine/native-kernels.js';
import { l2Normalize } from '../engine/l2-normalize.js';
import { PairCoefficients } from './pair-coefficients.js';
import { readMatrix, releaseMatrix, takeMatrix, viewTensor } from './matrix-pool.js';

/**
 * How a distance follows from the Gram matrix `x_i·y_j` of its (normalised) rows and their squared
 * norms. Such a distance is read with one product on the BLAS and a pass in JavaScript, and
 * differentiated in closed form, without autodiff over B × B tensors.
 */
export interface GramForm {
  /** Writes the distance's (not oriented) values made from the Gram entries `gram` into `out`. */
  fromGram(gram: Float32Array, out: Float32Array, rowNorms: Float64Array, colNorms: Float64Array, sameSet: boolean): void;
  /**
   * True when `∂value_ij/∂x_i = f·(x_i − x_j)` (a distance of the difference), false when
   * `∂value_ij/∂x_i = f·x_j` (a product).
   */
  readonly difference: boolean;
  /** The factor `f` of an entry whose value is `value`. */
  factor(value: number): number;
  /**
   * The same form for the native kernels: the power p of `value = |x − y|^p` for a difference,
   * 0 for the product `x·y` itself.
   */
  readonly power: number;
}

/**
 * The oriented matrix of a batch against itself, read to the CPU, with the means to differentiate
 * a function of it (see {@link BaseDistance.readBatch}).
 */
export interface BatchMatrix {
  /** Row-major B × B values, similarities negated so that smaller means closer. */
  readonly values: Float32Array;
  /** Batch size B. */
  readonly rows: number;
  /** Embedding dimension. */
  readonly dims: number;
  /**
   * A scalar tensor holding `value`, whose gradient with respect to the embeddings is that of
   * `Σ coefficients ⊙ matrix` (the coefficients being derivatives with respect to the oriented
   * values). Call it once, in the scope that differentiates. Once the gradient has been
   * computed, `values` goes back to a pool of reused arrays: do not keep it.
   */
  scalar(value: number, coefficients: PairCoefficients): tf.Scalar;
}

/** Rows read to the CPU: normalised when the distance normalises, with their original norms. */
interface ReadRows {
  readonly values: Float32Array;
  readonly rows: number;
  /** `max(|x|, 1e-12)` of the original rows (for the normalisation's gradient), when normalised. */
  readonly norms: Float64Array | undefined;
  /** Squared norms of the rows in `values`. */
  readonly squaredNorms: Float64Array;
}

/**
 * A distance (or similarity) between embeddings: turns a batch into its pairwise matrix.
 *
 * Subclasses implement {@link BaseDistance.compute} on already-normalised inputs. Everything is
 * differentiable with finite gradients, including at zero distance.
 */
export abstract class BaseDistance {
  /** A short name for logs and reports. */
  abstract readonly name: string;
  /** True for similarities, where a larger value means closer. */
  abstract readonly isInverted: boolean;
  /** Whether rows are L2-normalised before the matrix is made. */
  readonly normalizeEmbeddings: boolean;

  protected constructor(normalizeEmbeddings: boolean) {
    this.normalizeEmbeddings = normalizeEmbeddings;
  }

  /**
   * True when `other` computes the same matrix (same class, options and normalisation), so that
   * a matrix read with one serves the other.
   */
  sameAs(other: BaseDistance): boolean {
    return other === this || (other.constructor === this.constructor && other.name === this.name && other.normalizeEmbeddings === this.normalizeEmbeddings);
  }

  /**
   * The matrix of distances between the rows of `embeddings` (B × D) and the rows of `ref`
   * (R × D), B × R. Without `ref`, the batch against itself (B × B, zero diagonal for
   * distances).
   */
  pairwise(embeddings: tf.Tensor2D, ref?: tf.Tensor2D): tf.Tensor2D {
    const check = (t: tf.Tensor, what: string): void =>
      require(
        t instanceof tf.Tensor && t.rank === 2,
        () => `${what} must be a 2-D tensor (batch × dimension), got shape [${(t as tf.Tensor)?.shape?.join(', ')}]`,
      );
    check(embeddings, 'embeddings');
    if (ref !== undefined) {
      check(ref, 'reference embeddings');
      require(
        ref.shape[1] === embeddings.shape[1],
        () => `reference embeddings have dimension ${ref.shape[1]} but embeddings have ${embeddings.shape[1]}`,
      );
    }
    return tf.tidy(() => {
      const x = this.normalizeEmbeddings ? l2Normalize(embeddings) : embeddings;
      if (ref === undefined) return this.compute(x, x, true);
      return this.compute(x, this.normalizeEmbeddings ? l2Normalize(ref) : ref, false);
    });
  }

  /**
   * The pairwise matrix read into a Float32Array (row-major), oriented so that smaller always
   * means closer: similarities are negated. Miners and losses select on these values, which
   * lets one code path serve distances and similarities. The caller owns the array.
   */
  orientedMatrix(embeddings: tf.Tensor2D, ref?: tf.Tensor2D): Float32Array {
    const form = this.gramForm();
    if (form !== undefined) {
      const x = this.readRows(embeddings);
      const y = ref === undefined ? x : this.readRows(ref);
      const values = this.gramMatrix(form, x, y, ref === undefined, embeddings.shape[1]);
      releaseMatrix(x.values);
      releaseMatrix(y.values);
      return values;
    }
    const matrix = this.pairwise(embeddings, ref);
    try {
      return this.orient(matrix.dataSync());
    } finally {
      matrix.dispose();
    }
  }

  /**
   * The oriented matrix of `embeddings` (B × D) against itself, read once, with a way to make a
   * differentiable scalar of it. Distances with a {@link GramForm} (Euclidean, powers of it, dot
   * products) are differentiated in closed form: the gradient of `Σ c_ij·value_ij` is, row by
   * row, a sum over the entries with a coefficient (sparse) or one B × B × D matrix product
   * (dense), followed by the normalisation's gradient, all outside autodiff. Other distances keep
   * their B × B tensor and let autodiff carry the coefficients through it.
   */
  readBatch(embeddings: tf.Tensor2D): BatchMatrix {
    const rows = embeddings.shape[0];
    const dims = embeddings.shape[1];
    const sign = this.isInverted ? -1 : 1;
    const form = this.gramForm();
    if (form === undefined) {
      const matrix = this.pairwise(embeddings);
      return {
        values: this.orient(matrix.dataSync()),
        rows,
        dims,
        scalar: (value, coefficients) => {
          const op = tf.customGrad(((m: tf.Tensor) => ({
            value: tf.scalar(value),
            gradFunc: (dy: tf.Tensor) => tf.mul(dy, tf.tensor(denseCoefficients(coefficients, sign), m.shape)),
          })) as Parameters<typeof tf.customGrad>[0]);
          return op(matrix) as tf.Scalar;
        },
      };
    }
    const x = this.readRows(embeddings);
    const values = this.gramMatrix(form, x, x, true, dims);
    return {
      values,
      rows,
      dims,
      scalar: (value, coefficients) => {
        const op = tf.customGrad(((_embeddings: tf.Tensor) => ({
          value: tf.scalar(value),
          gradFunc: (dy: tf.Tensor) => {
            const gradient = gramGradient(form, x, dims, values, coefficients, sign);
            releaseMatrix(values);
            releaseMatrix(x.values);
            const result = tf.tidy(() => tf.mul(dy, tf.tensor2d(gradient, [rows, dims])));
            releaseMatrix(gradient);
            return result;
          },
        })) as Parameters<typeof tf.customGrad>[0]);
        return op(embeddings) as tf.Scalar;
      },
    };
  }

  /** A copy of `values` oriented so that smaller means closer (see {@link orientedMatrix}). */
  orient(values: Float32Array | Uint8Array | Int32Array): Float32Array {
    const out = Float32Array.from(values);
    if (this.isInverted) for (let i = 0; i < out.length; i++) out[i] = -out[i]!;
    return out;
  }

  /** The pairwise matrix of `x` (B × D) and `ref` (R × D); `sameSet` when `ref` is `x`. */
  protected abstract compute(x: tf.Tensor2D, ref: tf.Tensor2D, sameSet: boolean): tf.Tensor2D;

  /** The distance's {@link GramForm}, when it has one (default: none). */
  protected gramForm(): GramForm | undefined {
    return undefined;
  }

  /**
   * The rows of `t` read to the CPU (in arrays of the matrix pool), L2-normalised (norm floored at
   * 1e-12) when the distance normalises; by the native addon when its kernels are active.
   */
  private readRows(t: tf.Tensor2D): ReadRows {
    const [rows, dims] = t.shape;
    const norms = this.normalizeEmbeddings ? new Float64Array(rows) : undefined;
    const squaredNorms = new Float64Array(rows);
    const native = activeNativeAddon();
    if (native !== undefined) {
      const values = takeMatrix(rows * dims, false);
      native.normalizeRows(viewTensor(t), dims, values, norms ?? null, squaredNorms);
      return { values, rows, norms, squaredNorms };
    }
    const raw = readMatrix(t);
    const values = this.normalizeEmbeddings ? takeMatrix(rows * dims, false) : raw;
    for (let i = 0; i < rows; i++) {
      const start = i * dims;
      let sum = 0;
      for (let d = start; d < start + dims; d++) sum += raw[d]! * raw[d]!;
      if (norms !== undefined) {
        // As l2Normalize: x / sqrt(max(|x|², 1e-24)).
        const norm = Math.sqrt(Math.max(sum, 1e-24));
        norms[i] = norm;
        sum = 0;
        for (let d = start; d < start + dims; d++) {
          const v = (values[d] = raw[d]! / norm);
          sum += v * v;
        }
      }
      squaredNorms[i] = sum;
    }
    if (values !== raw) releaseMatrix(raw);
    return { values, rows, norms, squaredNorms };
  }

  /** The oriented matrix of `x` against `ref` from one product on the engine and a pass in JavaScript (or the addon). */
  private gramMatrix(form: GramForm, x: ReadRows, ref: ReadRows, sameSet: boolean, dims: number): Float32Array {
    const gram = tf.tidy(() => {
      const left = tf.tensor2d(x.values, [x.rows, dims]);
      const right = sameSet ? left : tf.tensor2d(ref.values, [ref.rows, dims]);
      return tf.matMul(left, right, false, true);
    });
    const values = takeMatrix(gram.size, false);
    const native = activeNativeAddon();
    if (native !== undefined) {
      native.gramToMatrix(viewTensor(gram), values, x.squaredNorms, ref.squaredNorms, form.power, sameSet, this.isInverted);
    } else {
      form.fromGram(viewTensor(gram), values, x.squaredNorms, ref.squaredNorms, sameSet);
      if (this.isInverted) for (let i = 0; i < values.length; i++) values[i] = -values[i]!;
    }
    gram.dispose();
    return values;
  }
}

/** The coefficients as a dense row-major Float32Array, times `sign` (dense coefficients are scaled in place). */
function denseCoefficients(coefficients: PairCoefficients, sign: number): Float32Array {
  const out = coefficients.dense ?? new Float32Array(coefficients.rows * coefficients.cols);
  // Empty when dense.
  const { indices, values, length } = coefficients.sparse();
  for (let k = 0; k < length; k++) out[indices[k]!]! += values[k]!;
  const scale = sign * coefficients.multiplier;
  if (scale !== 1) for (let i = 0; i < out.length; i++) out[i] = scale * out[i]!;
  return out;
}

/**
 * The gradient of `Σ c_ij·oriented_ij` with respect to the original rows, in closed form. With
 * `w_ij = c_ij·f_ij` (f from the {@link GramForm}), row i of the gradient with respect to the read
 * rows x is `sign·Σ_j (w_ij + w_ji)·(x_i − x_j)` for a distance and `sign·Σ_j (w_ij + w_ji)·x_j`
 * for a product; then the normalisation's gradient `(g − x·(x·g)) / |x_original|`. Sparse
 * coefficients are visited one by one (O(entries·D)); dense ones become `S = W + Wᵀ` in one pass,
 * and `S·x` is one product on the engine. With the native kernels all of it runs in the addon.
 * The result is an array of the matrix pool.
 */
function gramGradient(form: GramForm, x: ReadRows, dims: number, values: Float32Array, coefficients: PairCoefficients, sign: number): Float32Array {
  const native = activeNativeAddon();
  if (native !== undefined) return nativeGramGradient(native, form, x, dims, values, coefficients, sign);
  const rows = x.rows;
  const xs = x.values;
  // Σ_j (w_ij + w_ji), for the x_i term of a distance.
  const rowWeights = new Float64Array(rows);
  const dense = coefficients.dense;
  const products = dense === undefined ? sparseProducts(form, x, dims, values, coefficients, sign, rowWeights) : denseProducts(form, x, dims, values, dense, sign, rowWeights);
  const scale = sign * coefficients.multiplier;
  const other = form.difference ? -scale : scale;
  const self = form.difference ? scale : 0;
  const norms = x.norms;
  // In place: row i of `products` becomes row i of the gradient.
  for (let i = 0; i < rows; i++) {
    const start = i * dims;
    const own = self * rowWeights[i]!;
    for (let d = start; d < start + dims; d++) products[d] = own * xs[d]! + other * products[d]!;
    if (norms === undefined) continue;
    let dot = 0;
    // Below the 1e-12 floor the norm is a constant: no projection.
    if (norms[i]! > 1e-12) for (let d = start; d < start + dims; d++) dot += xs[d]! * products[d]!;
    const inverse = 1 / norms[i]!;
    for (let d = start; d < start + dims; d++) products[d] = (products[d]! - dot * xs[d]!) * inverse;
  }
  return products;
}

/** `Σ_j (w_ij + w_ji)·x_j` over sparse coefficients, one entry at a time; adds each w to both rows' weights. */
function sparseProducts(form: GramForm, x: ReadRows, dims: number, values: Float32Array, coefficients: PairCoefficients, sign: number, rowWeights: Float64Array): Float32Array {
  const rows = x.rows;
  const xs = x.values;
  const products = takeMatrix(rows * dims, true);
  const { indices, values: entries, length } = coefficients.sparse();
  for (let k = 0; k < length; k++) {
    const index = indices[k]!;
    const w = entries[k]! * form.factor(sign * values[index]!);
    if (w === 0) continue;
    const i = Math.floor(index / rows);
    const j = index - i * rows;
    rowWeights[i]! += w;
    rowWeights[j]! += w;
    const bi = i * dims;
    const bj = j * dims;
    for (let d = 0; d < dims; d++) {
      products[bi + d]! += w * xs[bj + d]!;
      products[bj + d]! += w * xs[bi + d]!;
    }
  }
  return products;
}

/** Side of the square tiles of the symmetric pass: a tile and its transpose stay in cache. */
const SYMMETRIC_TILE = 64;

/**
 * `S·x` with `S = W + Wᵀ` and `w_ij = c_ij·f_ij`, made in place over the dense coefficients (given
 * back to the pool): `Σ_j (w_ij + w_ji)·x_j` is one B × B × D product rather than `W·x + Wᵀ·x`.
 * Pairs (i ≤ j) are visited by tiles; adds S's row sums to the weights.
 */
function denseProducts(form: GramForm, x: ReadRows, dims: number, values: Float32Array, dense: Float32Array, sign: number, rowWeights: Float64Array): Float32Array {
  const rows = x.rows;
  const weight = (index: number): number => {
    const c = dense[index]!;
    return c === 0 ? 0 : c * form.factor(sign * values[index]!);
  };
  for (let tileRow = 0; tileRow < rows; tileRow += SYMMETRIC_TILE) {
    const rowEnd = Math.min(rows, tileRow + SYMMETRIC_TILE);
    for (let tileCol = tileRow; tileCol < rows; tileCol += SYMMETRIC_TILE) {
      const colEnd = Math.min(rows, tileCol + SYMMETRIC_TILE);
      for (let i = tileRow; i < rowEnd; i++) {
        for (let j = Math.max(i, tileCol); j < colEnd; j++) {
          const upper = i * rows + j;
          const lower = j * rows + i;
          const s = i === j ? 2 * weight(upper) : weight(upper) + weight(lower);
          dense[upper] = s;
          dense[lower] = s;
          rowWeights[i]! += s;
          if (i !== j) rowWeights[j]! += s;
        }
      }
    }
  }
  const product = tf.tidy(() => tf.matMul(tf.tensor2d(dense, [rows, rows]), tf.tensor2d(x.values, [rows, dims])));
  releaseMatrix(dense);
  const products = readMatrix(product);
  product.dispose();
  return products;
}

/** {@link gramGradient} in the native addon: the same passes, on threads, and the dense product on its BLAS. */
function nativeGramGradient(
  native: NativeAddon,
  form: GramForm,
  x: ReadRows,
  dims: number,
  values: Float32Array,
  coefficients: PairCoefficients,
  sign: number,
): Float32Array {
  const gradient = takeMatrix(x.rows * dims, false);
  const norms = x.norms ?? null;
  const dense = coefficients.dense;
  if (dense === undefined) {
    const { indices, values: entries, length } = coefficients.sparse();
    native.gramGradientSparse(values, indices.subarray(0, length), entries.subarray(0, length), x.values, dims, norms, gradient, form.power, sign, coefficients.multiplier);
  } else {
    native.gramGradientDense(values, dense, x.values, dims, norms, gradient, form.power, sign, coefficients.multiplier);
    releaseMatrix(dense);
  }
  return gradient;
}
