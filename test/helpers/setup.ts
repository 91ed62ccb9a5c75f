import { tf } from '../../src/tf.js';
import { initBackend } from '../../src/engine/index.js';
import { SeededRandom } from '../../src/common/random.js';
import type { Matrix } from './reference.js';

/** Every test file runs on the backend users get by default (wasm), or TRIPLETJS_BACKEND. */
export const backend = await initBackend();

/** Seeded standard-normal matrix (Box–Muller), as nested arrays. */
export function randomMatrix(rows: number, cols: number, seed: number): Matrix {
  const random = new SeededRandom(seed);
  return Array.from({ length: rows }, () =>
    Array.from({ length: cols }, () => {
      const u = 1 - random.float();
      return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random.float());
    }),
  );
}

/** The float32 values a tensor made from `x` really holds, as float64 numbers. */
export function asFloat32(x: Matrix): Matrix {
  return x.map((row) => Array.from(Float32Array.from(row)));
}

export function toTensor(x: Matrix): tf.Tensor2D {
  return tf.tensor2d(x, [x.length, x[0]!.length], 'float32');
}

export function toMatrix(t: tf.Tensor): Matrix {
  return t.arraySync() as Matrix;
}

/** Label layouts that matter: P×K, uneven random classes, singletons, one class, all distinct. */
export function labelLayouts(size: number, seed: number): Record<string, number[]> {
  const random = new SeededRandom(seed);
  const k = 4;
  return {
    'P×K': Array.from({ length: size }, (_, i) => Math.floor(i / k)),
    'uneven random': Array.from({ length: size }, () => random.int(Math.max(2, Math.floor(size / 5)))),
    'with singletons': Array.from({ length: size }, (_, i) => (i < size / 2 ? i % 3 : 100 + i)),
    'one class': Array.from({ length: size }, () => 7),
    'all distinct': Array.from({ length: size }, (_, i) => i),
  };
}

/** |a − b| ≤ 1e-5·|b| + 1e-6: 1e-5 relative, with an absolute floor for values near zero. */
export function closeTo(actual: number, expected: number, relative = 1e-5, absolute = 1e-6): boolean {
  return Math.abs(actual - expected) <= relative * Math.abs(expected) + absolute;
}

/** Runs f and checks that it leaves no tensor behind other than those it returns. */
export function liveTensors(): number {
  return tf.memory().numTensors;
}
