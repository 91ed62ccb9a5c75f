/**
 * The ReLU gradient (src/engine/relu-gradient.ts) against the definition dy · step(x): the native
 * kernel, small and large enough for the addon's threads, and tfjs's formula without it.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../src/tf.js';
import { SeededRandom } from '../src/common/random.js';
import { RELU_GRAD } from '../src/engine/relu-gradient.js';
import { nativeKernelsActive, setNativeKernels } from '../src/engine/native-kernels.js';
import { backend, liveTensors } from './helpers/setup.js';

/** Seeded values in [−1, 1), with exact zeros, a NaN and infinities among them. */
function inputs(size: number, seed: number): Float32Array {
  const random = new SeededRandom(seed);
  const values = Float32Array.from({ length: size }, () => 2 * random.float() - 1);
  for (let i = 0; i < size; i += 97) values[i] = 0;
  values[1] = NaN;
  values[2] = Infinity;
  values[3] = -Infinity;
  return values;
}

/** dy · step(x) in float64, step(NaN) = NaN. */
function expected(dy: Float32Array, x: Float32Array): number[] {
  return Array.from(x, (v, i) => dy[i]! * (Number.isNaN(v) ? NaN : v > 0 ? 1 : 0));
}

const nativeAtStart = nativeKernelsActive();
const paths = backend !== 'wasm' ? [] : nativeAtStart ? [true, false] : [false];

describe('ReLU gradient', () => {
  for (const native of paths) {
    for (const size of [1_000, 300_000]) {
      it(`is dy · step(x) for ${size} values (${native ? 'native kernel' : "tfjs's formula"})`, () => {
        setNativeKernels(native);
        try {
          const before = liveTensors();
          const x = inputs(size, size);
          const dy = inputs(size, size + 1).map((v) => (Number.isFinite(v) ? v : 0.5));
          dy[5] = Infinity; // at x ≤ 0 too: ∞ · 0 is NaN, as tfjs's own gradient gives
          x[5] = -0.5;
          const gradient = tf.tidy(() => {
            const dyTensor = tf.tensor1d(dy);
            return tf.grad((input: tf.Tensor) => tf.mul(tf.relu(input), dyTensor))(tf.tensor1d(x)).dataSync();
          });
          const reference = expected(dy, x);
          for (let i = 0; i < size; i++) {
            const [a, e] = [gradient[i]!, reference[i]!];
            assert.ok(Number.isNaN(e) ? Number.isNaN(a) : a === Math.fround(e), `dx[${i}] = ${a}, expected ${e} (x ${x[i]}, dy ${dy[i]})`);
          }
          assert.equal(liveTensors(), before);
        } finally {
          setNativeKernels(nativeAtStart);
        }
      });
    }
  }

  it('replaces tfjs\'s Step, Cast and Multiply by one kernel', { skip: !nativeAtStart }, async () => {
    const x = tf.tensor2d([[-1, 2], [3, -4]]);
    const profile = await tf.profile(() => tf.grad((input: tf.Tensor) => tf.relu(input))(x));
    assert.ok(profile.kernelNames.includes(RELU_GRAD), profile.kernelNames.join(', '));
    assert.ok(!profile.kernelNames.includes('Step'), profile.kernelNames.join(', '));
    assert.deepEqual(Array.from((profile.result as tf.Tensor).dataSync()), [0, 1, 1, 0]);
    tf.dispose([x, profile.result as tf.Tensor]);
  });
});
