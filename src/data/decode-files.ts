import { readFile } from 'node:fs/promises';
import { TripletjsInputError } from '../common/errors.js';
import { ImageCache, type CacheFormat, type CacheSlot } from './image-cache.js';
import { applyAugmentation, pixelsToInputs } from './augment.js';
import type { BatchAugmentation } from './dataset.js';
import { decodeImage, withChannels } from './image-file.js';

/** One file of a batch to decode, and where its cached record is (when there is a cache). */
export interface FileToDecode {
  readonly path: string;
  readonly cache?: CacheSlot;
}

/** What {@link decodeFiles} gives back. */
export interface DecodedFiles {
  /** The images one after the other, `height × width × channels` bytes each; a failed one is zeros. */
  readonly pixels: Uint8Array;
  /** Positions (in the files asked) that could not be decoded, with a one-line reason naming the file. */
  readonly failures: Array<{ readonly position: number; readonly message: string }>;
  /** How many came from the cache. */
  readonly cacheHits: number;
}

/** Files decoded at once (sharp decodes on libuv's thread pool, four threads by default). */
const AT_ONCE = 4;

/**
 * Decodes `files` to `format`, exactly as the in-memory folder loader does (sharp via
 * {@link decodeImage}, then the channels settled by {@link withChannels}), reading and writing
 * the cache when it is given. Runs on the main thread or in a decoding worker.
 */
export async function decodeFiles(files: readonly FileToDecode[], format: CacheFormat, cache?: ImageCache): Promise<DecodedFiles> {
  const size = format.height * format.width * format.channels;
  const pixels = new Uint8Array(files.length * size);
  const failures: Array<{ position: number; message: string }> = [];
  let cacheHits = 0;
  const one = async (position: number): Promise<void> => {
    const { path, cache: slot } = files[position]!;
    const key = cache && slot ? await cache.keyOf(path) : undefined;
    if (key && slot) {
      const cached = await cache!.read(slot, key);
      if (cached) {
        pixels.set(cached, position * size);
        cacheHits++;
        return;
      }
    }
    let image;
    try {
      const bytes = await readFile(path).catch((error: Error) => {
        throw new TripletjsInputError(`cannot read ${path} (${error.message})`);
      });
      const decoded = await decodeImage(bytes, path, format.resize ? { height: format.height, width: format.width, fit: format.fit as 'cover', background: format.background } : undefined, format.background);
      if (decoded.height !== format.height || decoded.width !== format.width) {
        throw new TripletjsInputError(`${path} is ${decoded.height}×${decoded.width}, the dataset's images are ${format.height}×${format.width} (height×width); give a target size to resize them all`);
      }
      image = withChannels(decoded, format.channels).pixels;
    } catch (error) {
      if (!(error instanceof TripletjsInputError)) throw error;
      failures.push({ position, message: error.message });
      return;
    }
    pixels.set(image, position * size);
    if (key && slot) await cache!.write(slot, key, image);
  };
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(AT_ONCE, files.length) }, async () => {
      while (next < files.length) await one(next++);
    }),
  );
  failures.sort((a, b) => a.position - b.position);
  return { pixels, failures, cacheHits };
}

/** A decoding request: files, and whether to answer with model inputs (augmented by the given draws) rather than pixels. */
export interface DecodeRequest {
  readonly files: readonly FileToDecode[];
  readonly inputs?: { readonly augmentation?: BatchAugmentation };
}

/** The answer to a {@link DecodeRequest}: pixels, or model inputs (a failed image's are zeros). */
export interface DecodeAnswer {
  readonly pixels?: Uint8Array;
  readonly inputs?: Float32Array;
  readonly failures: DecodedFiles['failures'];
  readonly cacheHits: number;
}

/** Decodes a request's files and, when asked, makes them model inputs (see `Dataset.readInputs`). */
export async function answer(request: DecodeRequest, format: CacheFormat, cache?: ImageCache): Promise<DecodeAnswer> {
  const decoded = await decodeFiles(request.files, format, cache);
  if (!request.inputs) return decoded;
  const { failures, cacheHits } = decoded;
  const shape = { height: format.height, width: format.width, channels: format.channels };
  const size = format.height * format.width * format.channels;
  const augmentation = request.inputs.augmentation;
  const inputs = augmentation
    ? applyAugmentation(decoded.pixels, Array.from(request.files, (_, b) => b * size), shape, augmentation.draws, augmentation.options)
    : pixelsToInputs(decoded.pixels);
  return { inputs, failures, cacheHits };
}
