import { tf, type tfl } from '../tf.js';
import { require } from '../common/errors.js';

/**
 * Embeds `count` images (`count × height × width × channels`) in batches and returns the
 * embeddings row-major (`count × dims`). 8-bit pixels are divided by 255; float pixels are taken
 * as already in [0, 1]. Only one batch of tensors lives at a time.
 */
export function embed(model: tfl.LayersModel, images: Uint8Array | Float32Array, count: number, batchSize = 256): Float32Array {
  const inputShape = model.inputs[0]!.shape.slice(1) as number[];
  const perImage = inputShape.reduce((a, b) => a * b, 1);
  require(images.length === count * perImage, () => `expected ${count} images of ${inputShape.join('×')} (${count * perImage} values), got ${images.length}`);
  const outputShape = model.outputs[0]!.shape;
  const dims = outputShape[outputShape.length - 1]!;
  const out = new Float32Array(count * dims);
  for (let start = 0; start < count; start += batchSize) {
    const size = Math.min(batchSize, count - start);
    const values = tf.tidy(() => {
      const slice = images.subarray(start * perImage, (start + size) * perImage);
      const values = slice instanceof Uint8Array ? Float32Array.from(slice, (v) => v / 255) : slice;
      const batch = tf.tensor(values, [size, ...inputShape]);
      return (model.predict(batch) as tf.Tensor).dataSync();
    });
    out.set(values, start * dims);
  }
  return out;
}
