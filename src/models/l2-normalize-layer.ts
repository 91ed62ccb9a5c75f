import { tf, tfl } from '../tf.js';
import { l2Normalize } from '../engine/l2-normalize.js';

/**
 * Divides each embedding by its L2 norm, so embeddings lie on the unit sphere. A registered,
 * serialisable layer: saved models load back with it in Node and in the browser.
 */
export class L2Normalize extends tfl.layers.Layer {
  static readonly className = 'L2Normalize';

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    // Floored norm: an all-zero embedding stays zero instead of becoming NaN.
    return l2Normalize(Array.isArray(inputs) ? inputs[0]! : inputs);
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape | tfl.Shape[] {
    return inputShape;
  }
}

tf.serialization.registerClass(L2Normalize);
