import { readdir, readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { TripletjsInputError } from '../common/errors.js';
import { compareCodePoints } from './code-point-order.js';
import { decodeImage, IMAGE_EXTENSIONS, withChannels, type DecodedImage } from './image-file.js';
import { resizeImage } from './resize.js';

/**
 * Reads one image file and brings it to a model's input size: decoded, converted to `channels`,
 * resized (bilinear). A missing, corrupt or foreign file is a one-line error naming it. The
 * TensorFlow.js backend must be ready.
 */
export async function readImageAs(path: string, height: number, width: number, channels: 1 | 3): Promise<DecodedImage> {
  return asModelInput(await readImage(path), height, width, channels);
}

/** Reads and decodes one image file, with a one-line error naming it. */
export async function readImage(path: string): Promise<DecodedImage> {
  const bytes = await readFile(path).catch((error: Error) => {
    throw new TripletjsInputError(`cannot read the image ${path} (${error.message})`);
  });
  return decodeImage(bytes, path);
}

/** A decoded image brought to a model's input: converted to `channels`, resized (bilinear). */
export function asModelInput(image: DecodedImage, height: number, width: number, channels: 1 | 3): DecodedImage {
  return resizeImage(withChannels(image, channels), height, width);
}

/** The PNG, JPEG and PGM files directly inside `directory` (hidden ones skipped), in code-point order. */
export async function listImageFiles(directory: string): Promise<string[]> {
  const files = (await readdir(directory)).filter((file) => !file.startsWith('.') && IMAGE_EXTENSIONS.includes(extname(file).toLowerCase()));
  return files.sort(compareCodePoints).map((file) => join(directory, file));
}
