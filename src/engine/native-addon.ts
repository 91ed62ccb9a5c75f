/**
 * Loading the optional native kernel pack: the N-API addon `native/tripletjs_native.cc`, built
 * by `npm run build` against OpenBLAS (Debian `libopenblas-dev`). Node only; the browser bundle
 * never imports this file.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { fileURLToPath } from 'node:url';

/** The functions of the addon; every array is a view of the wasm heap or a small parameter array. */
export interface NativeAddon {
  /** OpenBLAS's build configuration, the core it dispatches to, its thread count, and whether convolutions run in oneDNN. */
  info(): { blas: string; core: string; threads: number; dnnl: boolean };
  /** Convolutions through oneDNN (when the addon was built with Debian libdnnl-dev) or im2col + OpenBLAS. */
  setDnnl(enabled: boolean): void;
  /** Threads for OpenBLAS and for the addon's own gathers and scatters. */
  setThreads(threads: number): void;
  /** `dims` = [batch, batchA, batchB, m, n, k, transposeA, transposeB]; activation 0 linear, 1 relu. */
  matMul(a: Float32Array, b: Float32Array, out: Float32Array, dims: Int32Array, bias: Float32Array | null, activation: number): void;
  /** out = a · x, for a row-major `rows × cols` matrix (sgemv on every thread). */
  matVec(a: Float32Array, x: Float32Array, out: Float32Array, rows: number, cols: number): void;
  /** NHWC convolution; `geometry` as made by `convGeometry` in native-kernels.ts. */
  conv2d(x: Float32Array, filter: Float32Array, out: Float32Array, geometry: Int32Array, bias: Float32Array | null, activation: number): void;
  /** dx of a convolution, from dy and the filter; `geometry` that of the forward convolution. */
  conv2dBackpropInput(dy: Float32Array, filter: Float32Array, dx: Float32Array, geometry: Int32Array): void;
  /** dW of a convolution, from x and dy; `geometry` that of the forward convolution. */
  conv2dBackpropFilter(x: Float32Array, dy: Float32Array, dw: Float32Array, geometry: Int32Array): void;
  /** Depthwise NHWC convolution, filter [KH, KW, Ci, M]; `geometry` as for convolutions, with Co = Ci × M. */
  depthwiseConv2d(x: Float32Array, filter: Float32Array, out: Float32Array, geometry: Int32Array): void;
  /** dx of a depthwise convolution, from dy and the filter. */
  depthwiseConv2dBackpropInput(dy: Float32Array, filter: Float32Array, dx: Float32Array, geometry: Int32Array): void;
  /** dW of a depthwise convolution, from x and dy. */
  depthwiseConv2dBackpropFilter(x: Float32Array, dy: Float32Array, dw: Float32Array, geometry: Int32Array): void;
  /** Max pooling; `geometry` as for convolutions, with as many output as input channels. */
  maxPool(x: Float32Array, y: Float32Array, geometry: Int32Array): void;
  /** `y` is the forward output (the window maxima), when known. */
  maxPoolGrad(x: Float32Array, y: Float32Array | null, dy: Float32Array, dx: Float32Array, geometry: Int32Array): void;
  /** out = x ∘ v, v repeated over the rows of x; ∘ is + (op 0), · (1), x − v (2), v − x (3). */
  channelOp(x: Float32Array, v: Float32Array, out: Float32Array, op: number): void;
  /**
   * One Adam step of one weight: m' = keep1·m + take1·g, v' = keep2·v + take2·g²,
   * x' = x − step·m' / (√(scale2·v') + epsilon), constants = [keep1, take1, keep2, take2, step, scale2, epsilon].
   */
  adamUpdate(x: Float32Array, m: Float32Array, v: Float32Array, g: Float32Array, newX: Float32Array, newM: Float32Array, newV: Float32Array, constants: Float64Array): void;
  /** dx = dy · step(x) (tfjs's ReLU gradient: dy where x > 0, dy · 0 where x ≤ 0, NaN where x is NaN). */
  reluGrad(dy: Float32Array, x: Float32Array, dx: Float32Array): void;
  /** dx = dy where lo ≤ x ≤ hi, else 0 (tfjs's ClipByValue gradient). */
  clipGrad(dy: Float32Array, x: Float32Array, dx: Float32Array, lo: number, hi: number): void;
  /** sums = [Σ dy per channel, Σ dy · (x − mean) per channel] over the rows of mean.length values (float64 sums). */
  batchNormGradSums(dy: Float32Array, x: Float32Array, mean: Float32Array, sums: Float32Array): void;
  /** out = (x − mean) · scale / sqrt(variance + epsilon) + offset, per channel (the last axis). */
  batchNorm(x: Float32Array, mean: Float32Array, variance: Float32Array, offset: Float32Array | null, scale: Float32Array | null, out: Float32Array, epsilon: number): void;
  /** out = x repeated reps[d] times along each axis d. */
  tile(x: Float32Array, out: Float32Array, shape: Int32Array, reps: Int32Array): void;
  /** out[j] = scale · Σ over the rows of x (rows of out.length values), in float64. */
  sumRows(x: Float32Array, out: Float32Array, scale: number): void;

  // Metric learning (native/metric_kernels.cc): each does a JavaScript pass of src/distances,
  // src/miners or src/losses on threads, with the same selections and counts (sums to rounding).

  /**
   * out = the rows of x (`dims` values each) over their norms (floored at 1e-12), the norms into
   * `norms`; or, with `norms` null, a copy of x. `squaredNorms` gets the squared norms of out's rows.
   */
  normalizeRows(x: Float32Array, dims: number, out: Float32Array, norms: Float64Array | null, squaredNorms: Float64Array): void;
  /**
   * out = the Euclidean distance raised to `power` from the Gram entries and squared row norms
   * (zero diagonal when `sameSet`), or the Gram entry itself for power 0; negated when `negate`.
   */
  gramToMatrix(gram: Float32Array, out: Float32Array, rowSquaredNorms: Float64Array, colSquaredNorms: Float64Array, power: number, sameSet: boolean, negate: boolean): void;
  /** BatchHardMiner's selection on an oriented rows × cols matrix (rows = labels.length, cols = refLabels.length). */
  batchHardMine(distances: Float32Array, labels: Int32Array, refLabels: Int32Array, sameSet: boolean): NativeTriplets;
  /** SemiHardMiner's selection; `margin` +∞ keeps every anchor–positive pair. */
  semiHardMine(distances: Float32Array, labels: Int32Array, refLabels: Int32Array, sameSet: boolean, margin: number): NativeTriplets;
  /**
   * The hinge loss over every valid triplet of a batch: sets the coefficients of the dense B × B
   * `coefficients` it touches and writes [sum, triplets, active incidences] into `totals`.
   */
  allTripletsHinge(distances: Float32Array, labels: Int32Array, margin: number, coefficients: Float32Array, totals: Float64Array): void;
  /**
   * The triplet margin loss over given triplets of a rows × rows oriented matrix, in order: the
   * values' [sum, triplets, non-zero values] into `totals`, and each non-zero slope added into
   * `dense` when given, else appended to the entry lists (`indices`, `coefficients`: 2 per
   * triplet at most). Returns the number of entries appended.
   */
  tripletMarginTerms(
    distances: Float32Array,
    rows: number,
    anchors: Int32Array,
    positives: Int32Array,
    negatives: Int32Array,
    margin: number,
    swap: boolean,
    smooth: boolean,
    dense: Float32Array | null,
    indices: Int32Array | null,
    coefficients: Float64Array | null,
    totals: Float64Array,
  ): number;
  /**
   * out = the gradient with respect to the rows of `Σ_k coefficients[k]·values[indices[k]]`
   * (B × B values; for the rest see {@link GramGradientRows}).
   */
  gramGradientSparse(values: Float32Array, indices: Int32Array, coefficients: Float64Array, ...rows: GramGradientRows): void;
  /** As {@link NativeAddon.gramGradientSparse} over dense B × B coefficients, which it overwrites. */
  gramGradientDense(values: Float32Array, coefficients: Float32Array, ...rows: GramGradientRows): void;
}

/**
 * The rows and form of a gradient of the addon: x the B × dims rows read, norms their original
 * norms when normalised (else null), out the B × dims gradient; `power` of the Euclidean distance,
 * or 0 for a product; `sign` −1 for similarities; `multiplier` scales every coefficient.
 */
export type GramGradientRows = [x: Float32Array, dims: number, norms: Float64Array | null, out: Float32Array, power: number, sign: number, multiplier: number];

/** Triplets made by the addon (new arrays). */
export interface NativeTriplets {
  readonly anchors: Int32Array;
  readonly positives: Int32Array;
  readonly negatives: Int32Array;
}

/** Where `npm run build` puts the addon (from build/src/engine/ back to the package root). */
export const NATIVE_ADDON_PATH = fileURLToPath(new URL('../../../native/build/Release/tripletjs_native.node', import.meta.url));

/** The addon, or why it could not be loaded. */
export type NativeLoadResult = { addon: NativeAddon } | { addon?: undefined; reason: string };

/** Loads the addon at `path` (default: the one `npm run build` makes); never throws. */
export function loadNativeAddon(path: string = NATIVE_ADDON_PATH): NativeLoadResult {
  if (!existsSync(path)) {
    return { reason: `${path} is not built (it needs Debian libopenblas-dev, then npm run build)` };
  }
  // OpenBLAS's idle threads busy-wait for 2^28 cycles after each product: between products that
  // takes a core from wasm's single-threaded kernels, and it cost about 40 % more CPU time per
  // CNN step here. 2^4 cycles makes them sleep at once. OpenBLAS reads this when it is loaded, so
  // only a value set before that counts.
  process.env.OPENBLAS_THREAD_TIMEOUT ??= '4';
  // The same for oneDNN's OpenMP threads (when the addon is built with it), which spin by default.
  process.env.OMP_WAIT_POLICY ??= 'PASSIVE';
  try {
    return { addon: createRequire(import.meta.url)(path) as NativeAddon };
  } catch (error) {
    return { reason: `cannot load ${path}: ${(error as Error).message}` };
  }
}

/**
 * Threads for the native kernels: `TRIPLETJS_THREADS` if set, else every core Node may use
 * (`os.availableParallelism()`, 2 on the project's machine).
 */
export function defaultNativeThreads(): number {
  const text = process.env.TRIPLETJS_THREADS;
  if (text === undefined || text === '') return os.availableParallelism();
  const threads = Number(text);
  if (!Number.isInteger(threads) || threads < 1) {
    throw new Error(`tripletjs: TRIPLETJS_THREADS must be a positive integer, got '${text}'`);
  }
  return threads;
}
