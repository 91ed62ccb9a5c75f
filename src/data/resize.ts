import { tf } from '../tf.js';
import type { DecodedImage } from './image-file.js';

/**
 * The image resized to `height × width` by bilinear interpolation (`tf.image.resizeBilinear`,
 * half-pixel centres), rounded back to bytes. Returns the image itself when it already has that size.
 * The TensorFlow.js backend must be ready (`await tf.ready()`).
 */
export function resizeImage(image: DecodedImage, height: number, width: number): DecodedImage {
  if (image.height === height && image.width === width) return image;
  const resized = tf.tidy(() => {
    const input = tf.tensor3d(image.pixels, [image.height, image.width, image.channels], 'float32');
    return tf.image.resizeBilinear(input, [height, width], false, true).dataSync();
  });
  // Bilinear values are convex combinations of bytes, so rounding keeps them in 0–255.
  const pixels = new Uint8Array(resized.length);
  for (let i = 0; i < resized.length; i++) pixels[i] = Math.round(resized[i]!);
  return { width, height, channels: image.channels, pixels };
}
