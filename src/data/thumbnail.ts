import { PNG } from 'pngjs';
import type { DecodedImage } from './image-file.js';
import { resizeImage } from './resize.js';

/**
 * A PNG of `image` no larger than `longSide` pixels on its longer side (aspect kept), to show an
 * enrolled image without keeping the original. The TensorFlow.js backend must be ready.
 */
export function thumbnailPng(image: DecodedImage, longSide = 96): Uint8Array {
  const scale = Math.min(1, longSide / Math.max(image.width, image.height));
  const small = resizeImage(image, Math.max(1, Math.round(image.height * scale)), Math.max(1, Math.round(image.width * scale)));
  const png = new PNG({ width: small.width, height: small.height, colorType: small.channels === 1 ? 0 : 2, inputColorType: small.channels === 1 ? 0 : 2, inputHasAlpha: false });
  png.data = Buffer.from(small.pixels.buffer, small.pixels.byteOffset, small.pixels.byteLength);
  return new Uint8Array(PNG.sync.write(png, { colorType: small.channels === 1 ? 0 : 2, inputColorType: small.channels === 1 ? 0 : 2, inputHasAlpha: false }));
}
