import { tf, type tfl } from '../tf.js';
import type { Dataset } from '../data/dataset.js';
import { augmentBatch, toInputs, type AugmentOptions } from '../data/augment.js';
import type { SeededRandom } from '../common/random.js';
import { embedImages } from './evaluate-split.js';

/**
 * The inputs of a training step's trained stage. For a model on a frozen trunk part, the batch's
 * images go through the frozen stage outside the gradient tape (so that none of its activations is
 * kept for a backward pass); when the images are not augmented, that stage's outputs are computed
 * once for every training image and kept (a frozen stage gives the same output every epoch). For
 * any other model, the inputs are the images.
 */
export class StepInputs {
  private constructor(
    private readonly dataset: Dataset,
    private readonly augment: false | Required<AugmentOptions>,
    private readonly frozen: tfl.LayersModel | undefined,
    /** Frozen-stage outputs of the cached images, row i for dataset index `rows` maps to. */
    private readonly cache: { readonly rows: Map<number, number>; readonly values: Float32Array; readonly shape: number[] } | undefined,
  ) {}

  /** Caches the frozen stage's outputs for `trainIndices` when `frozen` is given, `cache` is on and there is no augmentation. */
  static create(dataset: Dataset, augment: false | Required<AugmentOptions>, frozen: tfl.LayersModel | undefined, cache: boolean, trainIndices: Int32Array): StepInputs {
    if (frozen === undefined || augment !== false || !cache) return new StepInputs(dataset, augment, frozen, undefined);
    const values = embedImages(frozen, dataset, trainIndices);
    const rows = new Map(Array.from(trainIndices, (index, row) => [index, row]));
    return new StepInputs(dataset, augment, frozen, { rows, values, shape: frozen.outputs[0]!.shape.slice(1) as number[] });
  }

  /** Whether the frozen stage's outputs are cached. */
  get cached(): boolean {
    return this.cache !== undefined;
  }

  /** The trained stage's input for the images at dataset `indices` (a new tensor: the caller disposes it). */
  batch(indices: Int32Array, random: SeededRandom): tf.Tensor {
    const { height, width, channels } = this.dataset.shape;
    if (this.cache) {
      const { rows, values, shape } = this.cache;
      const size = values.length / rows.size;
      const out = new Float32Array(indices.length * size);
      indices.forEach((index, i) => {
        const row = rows.get(index)!;
        out.set(values.subarray(row * size, (row + 1) * size), i * size);
      });
      return tf.tensor(out, [indices.length, ...shape]);
    }
    const pixels = this.augment === false ? toInputs(this.dataset, indices) : augmentBatch(this.dataset, indices, random, this.augment);
    const frozen = this.frozen;
    return tf.tidy(() => {
      const images = tf.tensor4d(pixels, [indices.length, height, width, channels]);
      return frozen ? (frozen.apply(images, { training: false }) as tf.Tensor) : images;
    });
  }
}
