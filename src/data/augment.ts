import { require, requireNumber } from '../common/errors.js';
import type { SeededRandom } from '../common/random.js';
import { inMemory, type Dataset, type ImageShape } from './dataset.js';
import { checkIndex } from './pixels.js';

/** Options of {@link augmentBatch}. Every transformation but the shift is off by default. */
export interface AugmentOptions {
  /**
   * Largest shift, as a fraction of the side (default 0.1, at most 0.5): a whole number of pixels,
   * up to `round(maxShift · side)` in each direction, the uncovered border filled with 0.
   */
  maxShift?: number;
  /** Largest zoom in or out, as a fraction (default 0; 0.1 draws a scale in [0.9, 1.1]), about the centre. */
  maxScale?: number;
  /** Largest rotation about the centre, in degrees (default 0, at most 45). */
  maxRotation?: number;
  /**
   * Largest change of brightness and of contrast, as a fraction (default 0): pixel values v in
   * [0, 1] become `(v − ½)·c + ½ + b`, clamped to [0, 1], with c in [1 − j, 1 + j] and b in [−j, j].
   */
  maxLighting?: number;
}

/** `options` with their defaults filled in; throws a clear error for a value out of range. */
export function checkAugmentOptions(options: AugmentOptions): Required<AugmentOptions> {
  return {
    maxShift: requireNumber('maxShift', options.maxShift ?? 0.1, { min: 0, max: 0.5 }),
    maxScale: requireNumber('maxScale', options.maxScale ?? 0, { min: 0, max: 0.5 }),
    maxRotation: requireNumber('maxRotation', options.maxRotation ?? 0, { min: 0, max: 45 }),
    maxLighting: requireNumber('maxLighting', options.maxLighting ?? 0, { min: 0, max: 1 }),
  };
}

/** `value / 255` for every byte, so conversion is one table look-up per pixel. */
const UNIT = Float32Array.from({ length: 256 }, (_, v) => v / 255);

/**
 * The images at `indices` of an in-memory dataset as model inputs, unchanged: a `B × H × W × C`
 * Float32Array of pixels / 255 in [0, 1], row-major (feed it as `tf.tensor4d(x, [B, H, W, C])`).
 * For a streamed dataset, read the pixels (`await dataset.read(indices)`) and use {@link pixelsToInputs}.
 */
export function toInputs(dataset: Dataset, indices: ArrayLike<number>): Float32Array {
  const images = inMemory(dataset, 'toInputs').images;
  const pixels = pixelsPerImage(dataset.shape);
  const out = new Float32Array(indices.length * pixels);
  for (let b = 0; b < indices.length; b++) {
    const from = checkIndex(dataset.name, dataset.size, indices[b]!) * pixels;
    for (let i = 0; i < pixels; i++) out[b * pixels + i] = UNIT[images[from + i]!]!;
  }
  return out;
}

/** Pixels (e.g. a batch from `dataset.read`) as model inputs: pixel / 255 for every byte, as {@link toInputs}. */
export function pixelsToInputs(pixels: Uint8Array): Float32Array {
  const out = new Float32Array(pixels.length);
  for (let i = 0; i < pixels.length; i++) out[i] = UNIT[pixels[i]!]!;
  return out;
}

/**
 * The images at `indices` as model inputs (like {@link toInputs}), each augmented independently:
 * a mirror image with probability ½ when the dataset is flip-invariant (never otherwise), a random
 * whole-pixel shift of up to `maxShift` of the side, and, when asked, a zoom, a rotation (both about
 * the image centre, sampled bilinearly) and a change of lighting. Whatever leaves the image is
 * filled with 0.
 *
 * Per image, `random` draws the flip (flip-invariant datasets only), the vertical and the
 * horizontal offset, then the scale, the angle, the contrast and the brightness of the options that
 * are on: the same seed gives the same batch, and a run with only shifts draws what it always drew.
 */
export function augmentBatch(
  dataset: Dataset,
  indices: ArrayLike<number>,
  random: SeededRandom,
  options: AugmentOptions = {},
): Float32Array {
  const images = inMemory(dataset, 'augmentBatch').images;
  const pixels = pixelsPerImage(dataset.shape);
  const offsets = Array.from({ length: indices.length }, (_, b) => checkIndex(dataset.name, dataset.size, indices[b]!) * pixels);
  return augment(images, offsets, dataset.shape, dataset.flipInvariant, random, options);
}

/**
 * A batch of pixels (e.g. from `dataset.read(indices)`: `B` images of `shape`, one after the
 * other) as augmented model inputs: exactly what {@link augmentBatch} gives for the same images,
 * random source and options.
 */
export function augmentPixels(
  pixels: Uint8Array,
  shape: ImageShape,
  flipInvariant: boolean,
  random: SeededRandom,
  options: AugmentOptions = {},
): Float32Array {
  const size = pixelsPerImage(shape);
  require(pixels.length % size === 0, () => `${pixels.length} bytes are not whole images of ${shape.height}×${shape.width}×${shape.channels}`);
  const offsets = Array.from({ length: pixels.length / size }, (_, b) => b * size);
  return augment(pixels, offsets, shape, flipInvariant, random, options);
}

/** Augments the images of `source` that start at `offsets` (see {@link augmentBatch}). */
function augment(
  source: Uint8Array,
  offsets: readonly number[],
  shape: ImageShape,
  flipInvariant: boolean,
  random: SeededRandom,
  options: AugmentOptions,
): Float32Array {
  const checked = checkAugmentOptions(options);
  return applyAugmentation(source, offsets, shape, drawAugmentation(offsets.length, shape, flipInvariant, random, checked), checked);
}

/** Values drawn per image by {@link drawAugmentation}: flip (0 or 1), dy, dx, scale, angle (radians), contrast, brightness. */
export const AUGMENTATION_DRAWS = 7;

/**
 * The random part of augmenting `count` images (see {@link augmentBatch}), drawn from `random` in
 * augmentBatch's order, {@link AUGMENTATION_DRAWS} values per image. With
 * {@link applyAugmentation}, the batch can be augmented elsewhere (a decoding worker) and still be
 * exactly augmentBatch's.
 */
export function drawAugmentation(count: number, { height, width }: ImageShape, flipInvariant: boolean, random: SeededRandom, options: Required<AugmentOptions>): Float64Array {
  const { maxShift, maxScale, maxRotation, maxLighting } = options;
  const padY = Math.round(maxShift * height);
  const padX = Math.round(maxShift * width);
  const between = (spread: number): number => (spread > 0 ? (2 * random.float() - 1) * spread : 0);
  const draws = new Float64Array(count * AUGMENTATION_DRAWS);
  for (let b = 0; b < count; b++) {
    const at = b * AUGMENTATION_DRAWS;
    draws[at] = flipInvariant && random.int(2) === 1 ? 1 : 0;
    draws[at + 1] = random.int(2 * padY + 1) - padY;
    draws[at + 2] = random.int(2 * padX + 1) - padX;
    draws[at + 3] = 1 + between(maxScale);
    draws[at + 4] = (between(maxRotation) * Math.PI) / 180;
    draws[at + 5] = 1 + between(maxLighting);
    draws[at + 6] = between(maxLighting);
  }
  return draws;
}

/** The images of `source` that start at `offsets`, augmented by `draws` (from {@link drawAugmentation}) as model inputs. */
export function applyAugmentation(source: Uint8Array, offsets: readonly number[], { height, width, channels }: ImageShape, draws: Float64Array, { maxLighting }: Pick<Required<AugmentOptions>, 'maxLighting'>): Float32Array {
  const pixels = height * width * channels;
  const out = new Float32Array(offsets.length * pixels);
  for (let b = 0; b < offsets.length; b++) {
    const image = offsets[b]!;
    const at = b * AUGMENTATION_DRAWS;
    const flip = draws[at] === 1;
    const dy = draws[at + 1]!;
    const dx = draws[at + 2]!;
    const scale = draws[at + 3]!;
    const angle = draws[at + 4]!;
    const contrast = draws[at + 5]!;
    const brightness = draws[at + 6]!;
    // Output (y, x) shows source (cy, cx) + R(−angle)·((y, x) − centre)/scale + (dy, dx) of the
    // (possibly mirrored) image. Without zoom or rotation the source is a whole pixel, and the
    // bilinear weights 1 and 0 read it exactly.
    const cos = Math.cos(angle) / scale;
    const sin = Math.sin(angle) / scale;
    const centreY = (height - 1) / 2;
    const centreX = (width - 1) / 2;
    const sample = (sy: number, sx: number, c: number): number => {
      if (sy < 0 || sy >= height || sx < 0 || sx >= width) return 0;
      return UNIT[source[image + (sy * width + (flip ? width - 1 - sx : sx)) * channels + c]!]!;
    };
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const sy = centreY + cos * (y - centreY) + sin * (x - centreX) + dy;
        const sx = centreX - sin * (y - centreY) + cos * (x - centreX) + dx;
        const y0 = Math.floor(sy);
        const x0 = Math.floor(sx);
        const fy = sy - y0;
        const fx = sx - x0;
        for (let c = 0; c < channels; c++) {
          const top = sample(y0, x0, c) * (1 - fx) + sample(y0, x0 + 1, c) * fx;
          const bottom = sample(y0 + 1, x0, c) * (1 - fx) + sample(y0 + 1, x0 + 1, c) * fx;
          const value = top * (1 - fy) + bottom * fy;
          out[b * pixels + (y * width + x) * channels + c] = maxLighting > 0 ? Math.min(1, Math.max(0, (value - 0.5) * contrast + 0.5 + brightness)) : value;
        }
      }
    }
  }
  return out;
}

function pixelsPerImage(shape: ImageShape): number {
  return shape.height * shape.width * shape.channels;
}
