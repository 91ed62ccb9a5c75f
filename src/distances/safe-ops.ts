import { tf } from '../tf.js';

/**
 * `x ** exponent` for `x >= 0`, with a gradient of 0 where `x == 0`.
 *
 * The true derivative of `sqrt` (and of any power below 1) is infinite at 0, and identical
 * embeddings do give a zero distance: autodiff would turn it into NaN weights. At 0 the
 * sub-gradient 0 is as valid as any and keeps training finite.
 */
export function safePow(x: tf.Tensor, exponent: number): tf.Tensor {
  // tfjs types customGrad's variadic arguments loosely; this op has one input and the save function.
  const op = tf.customGrad(((input: tf.Tensor, save: tf.GradSaveFunc) => {
    const value = exponent === 0.5 ? tf.sqrt(input) : tf.pow(input, exponent);
    save([input]);
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const base = saved[0]!;
        const positive = tf.greater(base, 0);
        const safeBase = tf.where(positive, base, tf.onesLike(base));
        const derivative = tf.mul(exponent, tf.pow(safeBase, exponent - 1));
        return tf.mul(dy, tf.where(positive, derivative, tf.zerosLike(base)));
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return op(x);
}
