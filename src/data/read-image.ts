import { readdir, readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { TripletjsInputError } from '../common/errors.js';
import { compareCodePoints } from './code-point-order.js';
import { decodeImage, type DecodedImage } from './image-file.js';
import { DEFAULT_FITTING, IMAGE_EXTENSIONS, type ImageFormat } from './image-format.js';

/**
 * Reads one image file, decoded (see {@link decodeImage}) and, given a `format`, brought to it in
 * the same pass. A missing, corrupt or foreign file is a one-line error naming it.
 */
export async function readImage(path: string, format?: ImageFormat, background = DEFAULT_FITTING.background): Promise<DecodedImage> {
  const bytes = await readFile(path).catch((error: Error) => {
    throw new TripletjsInputError(`cannot read the image ${path} (${error.message})`);
  });
  return decodeImage(bytes, path, format, background);
}

/** The image files directly inside `directory` (hidden ones skipped), in code-point order. */
export async function listImageFiles(directory: string): Promise<string[]> {
  const files = (await readdir(directory)).filter((file) => !file.startsWith('.') && IMAGE_EXTENSIONS.includes(extname(file).toLowerCase()));
  return files.sort(compareCodePoints).map((file) => join(directory, file));
}
