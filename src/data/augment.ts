import { require, requireNumber } from '../common/errors.js';
import type { SeededRandom } from '../common/random.js';
import type { Dataset } from './dataset.js';

/** Options of {@link augmentBatch}. */
export interface AugmentOptions {
  /**
   * Largest shift, as a fraction of the side (default 0.1, at most 0.5): the image is padded with
   * zeros by `round(maxShift · side)` pixels on each side and cropped back at a random offset.
   */
  maxShift?: number;
}

/** `value / 255` for every byte, so conversion is one table look-up per pixel. */
const UNIT = Float32Array.from({ length: 256 }, (_, v) => v / 255);

/**
 * The images at `indices` as model inputs, unchanged: a `B × H × W × C` Float32Array of
 * pixels / 255 in [0, 1], row-major (feed it as `tf.tensor4d(x, [B, H, W, C])`).
 */
export function toInputs(dataset: Dataset, indices: ArrayLike<number>): Float32Array {
  const pixels = pixelsPerImage(dataset);
  const out = new Float32Array(indices.length * pixels);
  for (let b = 0; b < indices.length; b++) {
    const from = checkedIndex(dataset, indices[b]!) * pixels;
    for (let i = 0; i < pixels; i++) out[b * pixels + i] = UNIT[dataset.images[from + i]!]!;
  }
  return out;
}

/**
 * The images at `indices` as model inputs (like {@link toInputs}), each lightly and independently
 * augmented: a mirror image with probability ½ when the dataset is flip-invariant (never
 * otherwise), then a random shift of up to `maxShift` of the side in each direction, the uncovered
 * border filled with 0. Per image, `random` draws the flip (only for flip-invariant datasets), then
 * the vertical and the horizontal offset: the same seed gives the same batch.
 */
export function augmentBatch(
  dataset: Dataset,
  indices: ArrayLike<number>,
  random: SeededRandom,
  options: AugmentOptions = {},
): Float32Array {
  const maxShift = requireNumber('maxShift', options.maxShift ?? 0.1, { min: 0, max: 0.5 });
  const { height, width, channels } = dataset.shape;
  const pixels = pixelsPerImage(dataset);
  const padY = Math.round(maxShift * height);
  const padX = Math.round(maxShift * width);
  const out = new Float32Array(indices.length * pixels);
  for (let b = 0; b < indices.length; b++) {
    const from = checkedIndex(dataset, indices[b]!) * pixels;
    const flip = dataset.flipInvariant && random.int(2) === 1;
    const dy = random.int(2 * padY + 1) - padY;
    const dx = random.int(2 * padX + 1) - padX;
    // Output (y, x) shows source (y + dy, x + dx) of the (possibly mirrored) image.
    const x0 = Math.max(0, -dx);
    const x1 = Math.min(width, width - dx);
    for (let y = Math.max(0, -dy); y < Math.min(height, height - dy); y++) {
      const rowIn = from + (y + dy) * width * channels;
      const rowOut = b * pixels + y * width * channels;
      for (let x = x0; x < x1; x++) {
        const sx = flip ? width - 1 - (x + dx) : x + dx;
        for (let c = 0; c < channels; c++) out[rowOut + x * channels + c] = UNIT[dataset.images[rowIn + sx * channels + c]!]!;
      }
    }
  }
  return out;
}

function pixelsPerImage(dataset: Dataset): number {
  return dataset.shape.height * dataset.shape.width * dataset.shape.channels;
}

function checkedIndex(dataset: Dataset, index: number): number {
  require(Number.isInteger(index) && index >= 0 && index < dataset.size, () => `index ${index} is not an image of ${dataset.name} (0–${dataset.size - 1})`);
  return index;
}
