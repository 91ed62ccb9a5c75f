import type { tfl } from '../tf.js';
import { readImageAs } from '../data/read-image.js';
import { embed } from './embed.js';
import type { ModelMetadata } from './model-format.js';

/**
 * Embeds image files with a saved model: each file decoded, converted and resized to the input the
 * model's metadata declares, then embedded in batches. Returns the embeddings row-major, one row
 * per file. A missing or corrupt file is a one-line error naming it.
 */
export async function embedFiles(model: tfl.LayersModel, metadata: Pick<ModelMetadata, 'preprocessing'>, files: readonly string[]): Promise<Float32Array> {
  const [height, width, channels] = metadata.preprocessing.inputShape;
  const perImage = height * width * channels;
  const pixels = new Uint8Array(files.length * perImage);
  for (const [i, file] of files.entries()) pixels.set((await readImageAs(file, height, width, channels as 1 | 3)).pixels, i * perImage);
  return embed(model, pixels, files.length);
}
