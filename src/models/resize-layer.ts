import { tf, tfl } from '../tf.js';

/** Configuration of {@link Resize}. */
export interface ResizeConfig {
  readonly height: number;
  readonly width: number;
}

/**
 * Bilinear resizing of NHWC images to a fixed size, as a serialisable layer, so that a saved model
 * takes the dataset's raw image size. tfjs-layers 4.22 has a `resizing` layer, but it hands its
 * input list to `resizeBilinear` unwrapped and fails, and reports a wrong output shape.
 */
export class Resize extends tfl.layers.Layer {
  static readonly className = 'TripletjsResize';
  private readonly height: number;
  private readonly width: number;

  constructor(config: ResizeConfig & { inputShape?: number[] }) {
    super(config);
    this.height = config.height;
    this.width = config.width;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = (Array.isArray(inputs) ? inputs[0]! : inputs) as tf.Tensor4D;
    return tf.image.resizeBilinear(x, [this.height, this.width]);
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tfl.Shape;
    return [shape[0]!, this.height, this.width, shape[3]!];
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), height: this.height, width: this.width };
  }
}

tf.serialization.registerClass(Resize);
