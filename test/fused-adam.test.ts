/**
 * FusedAdam (src/training/fused-adam.ts, kernel in src/engine/adam-kernel.ts) against tfjs's own
 * Adam on the same weights and gradients: same values, same state under the same names, and a
 * restored state continues the same way.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../src/tf.js';
import { SeededRandom } from '../src/common/random.js';
import { ADAM_UPDATE } from '../src/engine/adam-kernel.js';
import { FusedAdam } from '../src/training/fused-adam.js';
import { nativeKernelsActive, setNativeKernels } from '../src/engine/native-kernels.js';
import { backend, liveTensors } from './helpers/setup.js';

const SHAPES = [[7, 5], [3], [2, 3, 3, 4]];

/** Seeded values in [−scale, scale). */
function values(size: number, seed: number, scale = 1): Float32Array {
  const random = new SeededRandom(seed);
  return Float32Array.from({ length: size }, () => scale * (2 * random.float() - 1));
}

/** Weights named `prefix/i`, the same values for every prefix. */
function weights(prefix: string): tf.Variable[] {
  return SHAPES.map((shape, i) => tf.variable(tf.tensor(values(shape.reduce((a, b) => a * b, 1), 10 + i), shape), true, `${prefix}/${i}`));
}

/** Step `step`'s gradients for `variables` (the same for every optimiser). */
function gradients(variables: tf.Variable[], step: number): Array<{ name: string; tensor: tf.Tensor }> {
  return variables.map((v, i) => ({ name: v.name, tensor: tf.tensor(values(v.size, 100 * step + i, 0.5), v.shape) }));
}

function assertClose(actual: tf.Tensor, expected: tf.Tensor, context: string): void {
  const [a, e] = [actual.dataSync(), expected.dataSync()];
  assert.equal(a.length, e.length, context);
  for (let i = 0; i < a.length; i++) {
    assert.ok(Math.abs(a[i]! - e[i]!) <= 1e-6 + 1e-5 * Math.abs(e[i]!), `${context}[${i}]: ${a[i]} vs ${e[i]}`);
  }
}

function run(optimizer: tf.Optimizer, variables: tf.Variable[], steps: number[]): void {
  for (const step of steps) {
    const grads = gradients(variables, step);
    optimizer.applyGradients(grads);
    tf.dispose(grads.map((g) => g.tensor));
  }
}

// The update runs in the native addon when its kernels are active, else in JavaScript: both paths.
const paths = nativeKernelsActive() ? [true, false] : [false];

describe('FusedAdam', () => {
  for (const native of paths) {
    it(`gives tf.train.adam's weights and state over several steps, learning rate changes included (${native ? 'native' : 'JavaScript'} update)`, async () => {
      setNativeKernels(native);
      const [fusedWeights, stockWeights] = [weights('fused'), weights('stock')];
      const [fused, stock] = [new FusedAdam(0.01), tf.train.adam(0.01)];
      run(fused, fusedWeights, [1, 2, 3]);
      run(stock, stockWeights, [1, 2, 3]);
      for (const optimizer of [fused, stock]) (optimizer as unknown as { learningRate: number }).learningRate = 0.003;
      const before = liveTensors();
      run(fused, fusedWeights, [4, 5]);
      assert.equal(liveTensors(), before, 'a step leaves no tensor behind');
      run(stock, stockWeights, [4, 5]);
      fusedWeights.forEach((w, i) => assertClose(w, stockWeights[i]!, `weight ${i}`));
      const [fusedState, stockState] = [await fused.getWeights(), await stock.getWeights()];
      assert.deepEqual(fusedState.map((s) => s.name.replace('fused', 'X')), stockState.map((s) => s.name.replace('stock', 'X')));
      fusedState.forEach((s, i) => assertClose(s.tensor, stockState[i]!.tensor, s.name));
      tf.dispose([...fusedWeights, ...stockWeights]);
      fused.dispose();
      stock.dispose();
      setNativeKernels(paths[0]!);
    });
  }

  it('continues from restored state as the original does (checkpoints)', async () => {
    const [original, restoredWeights] = [weights('a'), weights('a2')];
    const first = new FusedAdam(0.01);
    run(first, original, [1, 2, 3]);
    restoredWeights.forEach((w, i) => w.assign(original[i]!));
    const second = new FusedAdam(0.01);
    const state = await first.getWeights();
    await second.setWeights(state.map((s) => ({ name: s.name.replace(/^a\//, 'a2/'), tensor: s.tensor })));
    run(first, original, [4, 5]);
    run(second, restoredWeights, [4, 5]);
    original.forEach((w, i) => assertClose(restoredWeights[i]!, w, `weight ${i}`));
    tf.dispose([...original, ...restoredWeights]);
    first.dispose();
    second.dispose();
  });

  it('runs one fused kernel per weight on wasm', { skip: backend === 'wasm' ? false : `backend ${backend}` }, async () => {
    const variables = weights('k');
    const optimizer = new FusedAdam(0.01);
    const grads = gradients(variables, 1);
    const profile = await tf.profile(() => optimizer.applyGradients(grads));
    assert.equal(profile.kernels.filter((k) => k.name === ADAM_UPDATE).length, variables.length);
    tf.dispose([...variables, ...grads.map((g) => g.tensor)]);
    optimizer.dispose();
  });
});
