import { tf } from '../tf.js';
import { ADAM_UPDATE, type AdamUpdateAttrs } from '../engine/adam-kernel.js';

/** The state tfjs's `AdamOptimizer` keeps private, read here to update it in place of it. */
interface AdamState {
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
  accumulatedFirstMoment: Array<{ originalName: string; variable: tf.Variable } | undefined>;
  accumulatedSecondMoment: Array<{ originalName: string; variable: tf.Variable } | undefined>;
}

/**
 * tfjs's Adam with each weight's update fused into one kernel ({@link ADAM_UPDATE}) on the wasm
 * backend; elsewhere it is tfjs's own. Same formula, same state under the same names, so
 * `getWeights`/`setWeights` (checkpoints) and `setLearningRate` behave as with `tf.train.adam`.
 */
export class FusedAdam extends tf.AdamOptimizer {
  /** Factors of the learning rate for some variables, by name (a pretrained trunk learning slower than its head). */
  private scales = new Map<string, number>();

  constructor(learningRate: number, beta1 = 0.9, beta2 = 0.999, epsilon?: number) {
    super(learningRate, beta1, beta2, epsilon);
  }

  /** Multiplies the learning rate of the named variables by their factor (the others keep it). */
  setLearningRateScales(scales: ReadonlyMap<string, number>): void {
    this.scales = new Map(scales);
  }

  override applyGradients(variableGradients: Parameters<tf.AdamOptimizer['applyGradients']>[0]): void {
    if (tf.getBackend() !== 'wasm' || tf.getKernel(ADAM_UPDATE, 'wasm') === undefined) {
      if ([...this.scales.values()].some((scale) => scale !== 1)) throw new Error('tripletjs: per-variable learning rates need the wasm backend');
      super.applyGradients(variableGradients);
      return;
    }
    const state = this as unknown as AdamState;
    const names = Array.isArray(variableGradients) ? variableGradients.map((v) => v.name) : Object.keys(variableGradients);
    const attrs: AdamUpdateAttrs = {
      learningRate: this.learningRate,
      beta1: this.beta1,
      beta2: this.beta2,
      epsilon: this.epsilon,
      correction1: 1 - state.accBeta1.dataSync()[0]!,
      correction2: 1 - state.accBeta2.dataSync()[0]!,
    };
    tf.tidy(() => {
      names.forEach((name, i) => {
        const value = tf.engine().registeredVariables[name]!;
        // Created lazily under tfjs's names, as its Adam does.
        const moment = (suffix: string) => ({ originalName: `${name}/${suffix}`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) });
        state.accumulatedFirstMoment[i] ??= moment('m');
        state.accumulatedSecondMoment[i] ??= moment('v');
        const gradient = Array.isArray(variableGradients) ? variableGradients[i]!.tensor : variableGradients[name];
        if (gradient === undefined || gradient === null) return;
        const first = state.accumulatedFirstMoment[i]!.variable;
        const second = state.accumulatedSecondMoment[i]!.variable;
        const inputs = { value, m: first, v: second, gradient };
        const scale = this.scales.get(name) ?? 1;
        const own = scale === 1 ? attrs : { ...attrs, learningRate: attrs.learningRate * scale };
        const [newValue, newFirst, newSecond] = tf.engine().runKernel(ADAM_UPDATE, inputs, own as unknown as tf.NamedAttrMap) as tf.Tensor[];
        first.assign(newFirst!);
        second.assign(newSecond!);
        value.assign(newValue!);
      });
      state.accBeta1.assign(tf.mul(state.accBeta1, this.beta1));
      state.accBeta2.assign(tf.mul(state.accBeta2, this.beta2));
    });
    this.incrementIterations();
  }
}
