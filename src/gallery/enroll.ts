import { basename, dirname } from 'node:path';
import type { tfl } from '../tf.js';
import type { Dataset } from '../data/dataset.js';
import { fitImage, thumbnailPng, type DecodedImage } from '../data/image-file.js';
import { embed } from '../models/embed.js';
import { modelInputFormat } from '../models/model-config.js';
import type { ModelMetadata } from '../models/model-format.js';
import type { Gallery } from './gallery.js';

/** An image to enroll, as decoded, with what it shows. */
export interface ImageToEnroll {
  readonly image: DecodedImage;
  readonly label: string;
  readonly id?: string;
  readonly metadata?: Readonly<Record<string, unknown>>;
}

/**
 * Enrolls images in `gallery`: each brought to the model's input (its saved preprocessing),
 * embedded in one batch, kept as a small PNG thumbnail, and added in one all-or-nothing add.
 * Returns the ids of the new entries.
 */
export async function enrollImages(gallery: Gallery, model: tfl.LayersModel, metadata: Pick<ModelMetadata, 'preprocessing'>, images: readonly ImageToEnroll[]): Promise<string[]> {
  const format = modelInputFormat(metadata.preprocessing);
  const perImage = format.height * format.width * format.channels;
  const pixels = new Uint8Array(images.length * perImage);
  for (const [i, { image }] of images.entries()) pixels.set((await fitImage(image, format)).pixels, i * perImage);
  const embeddings = embed(model, pixels, images.length);
  const dims = embeddings.length / Math.max(1, images.length);
  const thumbnails = await Promise.all(images.map(({ image }) => thumbnailPng(image)));
  return gallery.add(
    images.map(({ label, id, metadata: extra }, i) => ({
      label,
      embedding: embeddings.slice(i * dims, (i + 1) * dims),
      thumbnail: thumbnails[i]!,
      ...(id !== undefined ? { id } : {}),
      ...(extra !== undefined ? { metadata: extra } : {}),
    })),
  );
}

/**
 * Enrolls images of a dataset (at `indices`, read 256 at a time, so a streamed dataset streams), labelled by their class names, in batches of 256
 * (each batch all or nothing). Ids are `<class folder>/<file>` for images from files, else
 * `<dataset>-<index>`. Returns how many were enrolled.
 */
export async function enrollDataset(gallery: Gallery, model: tfl.LayersModel, metadata: Pick<ModelMetadata, 'preprocessing'>, dataset: Dataset, indices: Int32Array): Promise<number> {
  const { height, width, channels } = dataset.shape;
  const perImage = height * width * channels;
  const idOf = (i: number): string => {
    const path = dataset.paths?.[i];
    return path !== undefined ? `${basename(dirname(path))}/${basename(path)}` : `${dataset.name.replace(/[^\w.-]+/g, '_')}-${i}`;
  };
  for (let start = 0; start < indices.length; start += 256) {
    const chunk = indices.subarray(start, start + 256);
    const pixels = await dataset.read(chunk);
    await enrollImages(
      gallery,
      model,
      metadata,
      Array.from(chunk, (i, j) => ({
        image: { height, width, channels: channels as 1 | 3, pixels: pixels.subarray(j * perImage, (j + 1) * perImage) },
        label: dataset.classNames[dataset.labels[i]!]!,
        id: idOf(i),
        metadata: { source: dataset.paths?.[i] ?? `${dataset.name}#${i}` },
      })),
    );
  }
  return indices.length;
}
