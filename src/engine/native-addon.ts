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
  /** OpenBLAS's build configuration, the core it dispatches to, and its thread count. */
  info(): { blas: string; core: string; threads: number };
  /** Threads for OpenBLAS and for the addon's own gathers and scatters. */
  setThreads(threads: number): void;
  /** `dims` = [batch, batchA, batchB, m, n, k, transposeA, transposeB]; activation 0 linear, 1 relu. */
  matMul(a: Float32Array, b: Float32Array, out: Float32Array, dims: Int32Array, bias: Float32Array | null, activation: number): void;
  /** NHWC convolution; `geometry` as made by `convGeometry` in native-kernels.ts. */
  conv2d(x: Float32Array, filter: Float32Array, out: Float32Array, geometry: Int32Array, bias: Float32Array | null, activation: number): void;
  /** dx of a convolution, from dy and the filter; `geometry` that of the forward convolution. */
  conv2dBackpropInput(dy: Float32Array, filter: Float32Array, dx: Float32Array, geometry: Int32Array): void;
  /** dW of a convolution, from x and dy; `geometry` that of the forward convolution. */
  conv2dBackpropFilter(x: Float32Array, dy: Float32Array, dw: Float32Array, geometry: Int32Array): void;
  /** Max pooling; `geometry` as for convolutions, with as many output as input channels. */
  maxPool(x: Float32Array, y: Float32Array, geometry: Int32Array): void;
  /** `y` is the forward output (the window maxima), when known. */
  maxPoolGrad(x: Float32Array, y: Float32Array | null, dy: Float32Array, dx: Float32Array, geometry: Int32Array): void;
  /** out = x ∘ v, v repeated over the rows of x; ∘ is + (op 0), · (1), x − v (2), v − x (3). */
  channelOp(x: Float32Array, v: Float32Array, out: Float32Array, op: number): void;
  /** out = (x − mean) · scale / sqrt(variance + epsilon) + offset, per channel (the last axis). */
  batchNorm(x: Float32Array, mean: Float32Array, variance: Float32Array, offset: Float32Array | null, scale: Float32Array | null, out: Float32Array, epsilon: number): void;
  /** out = x repeated reps[d] times along each axis d. */
  tile(x: Float32Array, out: Float32Array, shape: Int32Array, reps: Int32Array): void;
  /** out[j] = scale · Σ over the rows of x (rows of out.length values), in float64. */
  sumRows(x: Float32Array, out: Float32Array, scale: number): void;
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
