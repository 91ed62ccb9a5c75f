import type { tfl } from '../tf.js';
import { readImage } from '../data/read-image.js';
import { embed } from './embed.js';
import { modelInputFormat } from './model-config.js';
import type { ModelMetadata } from './model-format.js';

/**
 * Embeds image files with a saved model: each file decoded and brought to the input the model's
 * metadata declares (size, channels, crop or letterbox), then embedded in batches. Returns the embeddings row-major, one row
 * per file. A missing or corrupt file is a one-line error naming it.
 */
export async function embedFiles(model: tfl.LayersModel, metadata: Pick<ModelMetadata, 'preprocessing'>, files: readonly string[]): Promise<Float32Array> {
  const format = modelInputFormat(metadata.preprocessing);
  const perImage = format.height * format.width * format.channels;
  const pixels = new Uint8Array(files.length * perImage);
  for (const [i, file] of files.entries()) pixels.set((await readImage(file, format)).pixels, i * perImage);
  return embed(model, pixels, files.length);
}
