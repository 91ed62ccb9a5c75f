import { tf } from '../tf.js';

/**
 * Gradients registered in place of tfjs's own where those are slow on this engine.
 *
 * `Mean`: tfjs multiplies the incoming gradient by `tf.ones(x.shape)`, an x-sized array filled
 * one element at a time in JavaScript and then copied to the backend. Batch normalisation takes
 * two means over every activation map, so in a CNN step this filling was the largest single cost
 * (a quarter of the step on the 32-64-128 faces/Fashion CNN). Broadcasting the scaled gradient
 * with `Tile` gives the same values without the ones.
 */
export function installGradients(): void {
  tf.registerGradient({
    kernelName: tf.Mean,
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved as [tf.Tensor];
      const axes = tf.util.parseAxisParam((attrs as unknown as tf.MeanAttrs).axis, x!.shape);
      const keptShape = x!.shape.map((size, axis) => (axes.includes(axis) ? 1 : size));
      const count = axes.reduce((product, axis) => product * x!.shape[axis]!, 1);
      return {
        x: () => tf.broadcastTo(tf.div(tf.reshape(dy as tf.Tensor, keptShape), count), x!.shape),
      };
    },
  });
}
