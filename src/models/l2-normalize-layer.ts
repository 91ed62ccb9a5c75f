import { tf, tfl } from '../tf.js';

/**
 * Divides each embedding by its L2 norm, so embeddings lie on the unit sphere. A registered,
 * serialisable layer: saved models load back with it in Node and in the browser.
 */
export class L2Normalize extends tfl.layers.Layer {
  static readonly className = 'L2Normalize';

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0]! : inputs;
      // Floored norm: an all-zero embedding stays zero instead of becoming NaN.
      return tf.div(x, tf.sqrt(tf.maximum(tf.sum(tf.square(x), -1, true), 1e-24)));
    });
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape | tfl.Shape[] {
    return inputShape;
  }
}

tf.serialization.registerClass(L2Normalize);
