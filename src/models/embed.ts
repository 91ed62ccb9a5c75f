import { tf, tfl } from '../tf.js';
import { require } from '../common/errors.js';
import { GraphTrunk } from './graph-trunk-layer.js';

/**
 * Runs `model` on `count` images (`count × height × width × channels`) in batches and returns its
 * outputs row-major (`count × dims`, an output of several axes flattened). 8-bit pixels are
 * divided by 255; float pixels are taken as already in [0, 1]. Only one batch of tensors lives at
 * a time; batches are as large as the model's largest activation allows (see {@link batchSizeFor}).
 */
export function embed(model: tfl.LayersModel, images: Uint8Array | Float32Array, count: number, batchSize = batchSizeFor(model)): Float32Array {
  const inputShape = model.inputs[0]!.shape.slice(1) as number[];
  const perImage = inputShape.reduce((a, b) => a * b, 1);
  require(images.length === count * perImage, () => `expected ${count} images of ${inputShape.join('×')} (${count * perImage} values), got ${images.length}`);
  const dims = (model.outputs[0]!.shape.slice(1) as number[]).reduce((a, b) => a * b, 1);
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

/** Values of activations one batch may hold at its largest layer (a pretrained trunk at 224 × 224 takes far fewer images at once than a small network). */
const ACTIVATION_BUDGET = 1 << 25;
/** Images per batch through a graph model, whose inner activations are not known before it runs. */
const GRAPH_BATCH = 32;

/** Images per batch: 256, or fewer, so that the model's largest activation over a batch stays within a fixed budget. */
export function batchSizeFor(model: tfl.LayersModel): number {
  const size = (shape: tfl.Shape): number => shape.slice(1).reduce<number>((a, b) => a * (b ?? 1), 1);
  const largest = (m: tfl.LayersModel): number =>
    Math.max(
      ...m.layers.map((layer) => {
        if (layer instanceof tfl.LayersModel) return largest(layer);
        if (layer instanceof GraphTrunk) return ACTIVATION_BUDGET / GRAPH_BATCH;
        // Every place the layer is used (a trunk run at another size uses its layers twice).
        return Math.max(...layer.inboundNodes.flatMap((node) => node.outputTensors.map((tensor) => size(tensor.shape))));
      }),
    );
  return Math.max(1, Math.min(256, Math.floor(ACTIVATION_BUDGET / largest(model))));
}
