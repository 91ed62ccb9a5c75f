import { require } from '../common/errors.js';

/**
 * The images at `indices` of `images` (`size` images of `pixels` bytes each), copied in that
 * order into a new array. An index that is not an image of `name` is a one-line error.
 */
export function gatherPixels(name: string, images: Uint8Array, pixels: number, size: number, indices: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(indices.length * pixels);
  for (let b = 0; b < indices.length; b++) {
    const index = checkIndex(name, size, indices[b]!);
    out.set(images.subarray(index * pixels, (index + 1) * pixels), b * pixels);
  }
  return out;
}

/** `index` if it is an image of a dataset of `size`; else a one-line error. */
export function checkIndex(name: string, size: number, index: number): number {
  require(Number.isInteger(index) && index >= 0 && index < size, () => `index ${index} is not an image of ${name} (0–${size - 1})`);
  return index;
}
