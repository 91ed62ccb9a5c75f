import { open, readFile } from 'node:fs/promises';
import { availableParallelism, totalmem } from 'node:os';
import { dirname } from 'node:path';
import sharp from 'sharp';
import { require, requireNumber, TripletjsInputError } from '../common/errors.js';
import type { BatchAugmentation, Dataset, DatasetSplit } from './dataset.js';
import { applyAugmentation, AUGMENTATION_DRAWS, pixelsToInputs } from './augment.js';
import { answer, type DecodeAnswer, type DecodeRequest, type FileToDecode } from './decode-files.js';
import { cacheFolder, classCacheFile, ImageCache, type CacheFormat } from './image-cache.js';
import type { ImageFitting } from './image-format.js';
import { decodePgm } from './pgm.js';
import { checkIndex } from './pixels.js';
import { WorkerPool } from './worker-pool.js';

/**
 * Decoding workers of a streamed folder dataset unless told otherwise: one per core, at most 4.
 * Measured on 2 shared cores (BENCHMARKS.md, "Streaming a folder larger than memory"), training the
 * CNN at 64 × 64: with sharp on the main thread (0 workers) the step waited 28% of its time for
 * data, as a synchronous step holds the event loop that starts the next decodes and the augmentation
 * runs there too; with 1 or 2 workers, which decode and augment on threads of their own, 1.8–2.7%
 * (mostly the first step's, when nothing was read ahead and the workers start). 1 and 2 workers
 * did not differ beyond noise on 2 cores; more cores give more decoding threads.
 */
export const DEFAULT_WORKERS = Math.max(1, Math.min(4, availableParallelism()));

/** `stream: 'auto'` streams above this many bytes of decoded pixels: 2 GiB or a quarter of the memory, the smaller. */
export function defaultStreamBudget(): number {
  return Math.min(2 * 1024 ** 3, totalmem() / 4);
}

/** Decoded bytes of a folder's images at the target size (or the first image's), with `channels` (or 3). */
export async function decodedBytes(paths: readonly string[], target: { height: number; width: number } | undefined, channels: 1 | 3 | undefined): Promise<number> {
  const size = target ?? (paths.length > 0 ? await headerOf(paths[0]!) : { height: 0, width: 0 });
  return paths.length * size.height * size.width * (channels ?? 3);
}

/** What {@link streamFolder} needs from `loadFolder`: the listing and the checked options. */
export interface StreamFolderParts {
  readonly path: string;
  readonly name: string;
  readonly classNames: readonly string[];
  readonly paths: readonly string[];
  readonly labelsOfPaths: readonly number[];
  readonly warnings: string[];
  readonly target: { height: number; width: number } | undefined;
  readonly channels: 1 | 3 | undefined;
  readonly fitting: ImageFitting;
  readonly flipInvariant: boolean;
  readonly options: { skipUnreadable?: boolean; cacheDir?: string; workers?: number };
  /** Options recorded with the dataset, besides size, channels and fitting. */
  readonly recordedOptions: Readonly<Record<string, unknown>>;
  readonly makeSplit: (labels: Int32Array) => DatasetSplit;
}

/** Files per decoding request: a batch is cut into about this many files per worker. */
const MIN_PER_REQUEST = 8;

/**
 * A folder dataset whose pixels are decoded when a batch is read (see `loadFolder`'s `stream`),
 * in a pool of worker threads, through the on-disk cache when there is one. The listing, labels
 * and split are the in-memory loader's, so the same options give the same indices, split and
 * (with `channels` given) the same pixels.
 *
 * Headers are checked at listing time (sharp's metadata: the format, size and channel count,
 * without decoding the pixels) when something depends on them: without a target size (every image
 * must have the first one's), without `channels` (grey when every file is single-channel, else
 * RGB: unlike the in-memory loader, an RGB file of grey pixels counts as RGB), or with
 * `skipUnreadable` (files whose header cannot be read are left out, with a warning, so the dataset
 * is consistent from the start). A file that fails later, at batch time (e.g. a truncated body
 * behind a good header), stops the run with a one-line error naming it; with `skipUnreadable` it is
 * instead replaced by the next image of its class in listing order that decodes (the same one
 * every time), so batches keep their shape and labels, and a warning is added to `warnings`.
 */
export async function streamFolder(parts: StreamFolderParts): Promise<Dataset> {
  const { name, classNames, target, fitting, flipInvariant, options } = parts;
  const workers = requireNumber('workers', options.workers ?? DEFAULT_WORKERS, { integer: true, min: 0, max: 64 });
  const warnings = parts.warnings;
  let paths = parts.paths;
  let labelsOfPaths = parts.labelsOfPaths;
  let channels = parts.channels;
  let size = target;
  if (target === undefined || channels === undefined || options.skipUnreadable) {
    const headers = await checkHeaders(paths, name, options.skipUnreadable === true);
    const kept = paths.flatMap((_, i) => (headers.ok[i] ? [i] : []));
    if (kept.length < paths.length) {
      warnings.push(`skipped ${paths.length - kept.length} images whose header cannot be read (skipUnreadable): ${headers.failures.slice(0, 3).join('; ')}${headers.failures.length > 3 ? '; …' : ''}`);
      paths = kept.map((i) => paths[i]!);
      labelsOfPaths = kept.map((i) => labelsOfPaths[i]!);
    }
    const info = kept.map((i) => headers.ok[i]!);
    if (size === undefined) {
      const first = info[0]!;
      const other = info.findIndex((h) => h.height !== first.height || h.width !== first.width);
      require(
        other < 0,
        () =>
          `${name}: images have different sizes: ${paths[0]} is ${first.height}×${first.width}, ${paths[other]} is ${info[other]!.height}×${info[other]!.width} (height×width); pass { height, width } to resize them all`,
      );
      size = { height: first.height, width: first.width };
    }
    channels ??= info.every((h) => h.channels === 1) ? 1 : 3;
  }
  const labels = Int32Array.from(labelsOfPaths);
  const counts = new Int32Array(classNames.length);
  for (const label of labels) counts[label]!++;
  for (const [label, className] of classNames.entries()) {
    require(counts[label]! > 0, `${name}: no image of class '${className}' could be read`);
    if (counts[label] === 1) warnings.push(`class '${className}' has a single image (${paths[labels.indexOf(label)]}): it never has a positive`);
  }
  const { height, width } = size!;
  const format: CacheFormat = { height, width, channels, fit: fitting.fit, background: fitting.background, resize: target !== undefined };
  const reader = new FolderReader(name, paths, labels, format, workers, options.cacheDir, options.skipUnreadable === true, warnings);
  const split = parts.makeSplit(labels);
  return {
    name,
    shape: { height, width, channels },
    classNames,
    labels,
    streamed: true,
    size: paths.length,
    paths,
    flipInvariant,
    folds: 1,
    warnings,
    options: { height, width, channels, ...fitting, ...parts.recordedOptions },
    fitting,
    read: (indices) => reader.read(indices),
    readInputs: (indices, augmentation) => reader.readInputs(indices, augmentation),
    close: () => reader.close(),
    split(fold = 0) {
      requireNumber(`${name} split fold`, fold, { integer: true, min: 0, max: 0 });
      return split;
    },
  };
}

/** Reads batches of a streamed folder: decoding requests spread over the workers, replacements of unreadable files. */
class FolderReader {
  private readonly pool: WorkerPool<DecodeRequest, DecodeAnswer> | undefined;
  private readonly cache: ImageCache | undefined;
  private readonly slots: Array<FileToDecode['cache']>;
  /** Indices whose file failed at batch time (skipUnreadable), and the index read instead. */
  private readonly replacements = new Map<number, number>();
  /** Indices whose file failed at batch time (skipUnreadable), replaced or not yet. */
  private readonly unreadable = new Set<number>();
  private closed = false;

  constructor(
    private readonly name: string,
    private readonly paths: readonly string[],
    private readonly labels: Int32Array,
    private readonly format: CacheFormat,
    workers: number,
    cacheDir: string | undefined,
    private readonly skipUnreadable: boolean,
    private readonly warnings: string[],
  ) {
    const useCache = cacheDir !== undefined;
    this.pool = workers > 0 ? new WorkerPool(new URL('./decode-worker.js', import.meta.url), workers, { format, cache: useCache }, `${name}: image decoding worker`) : undefined;
    this.cache = useCache && workers === 0 ? new ImageCache(format) : undefined;
    // Each image's record: its class folder's record file, at its position in the class.
    const folder = useCache ? cacheFolder(cacheDir, format) : undefined;
    const position = new Map<string, number>();
    this.slots = paths.map((path) => {
      if (folder === undefined) return undefined;
      const directory = dirname(path);
      const slot = position.get(directory) ?? 0;
      position.set(directory, slot + 1);
      return { file: classCacheFile(folder, directory), slot };
    });
  }

  async read(indices: ArrayLike<number>): Promise<Uint8Array> {
    if (this.closed) throw new Error(`${this.name} is closed`);
    const size = this.format.height * this.format.width * this.format.channels;
    const wanted = Array.from({ length: indices.length }, (_, b) => this.replacements.get(checkIndex(this.name, this.paths.length, indices[b]!)) ?? indices[b]!);
    const unique = [...new Set(wanted)];
    const pixels = await this.decode(unique);
    const at = new Map(unique.map((index, i) => [index, i]));
    const out = new Uint8Array(indices.length * size);
    for (let b = 0; b < wanted.length; b++) {
      const i = at.get(wanted[b]!)!;
      out.set(pixels.subarray(i * size, (i + 1) * size), b * size);
    }
    return out;
  }

  /** The images at `indices` as model inputs, augmented by `augmentation`, made in the workers (see `Dataset.readInputs`). */
  async readInputs(indices: ArrayLike<number>, augmentation?: BatchAugmentation): Promise<Float32Array> {
    if (this.closed) throw new Error(`${this.name} is closed`);
    const size = this.format.height * this.format.width * this.format.channels;
    const wanted = Array.from({ length: indices.length }, (_, b) => this.replacements.get(checkIndex(this.name, this.paths.length, indices[b]!)) ?? indices[b]!);
    const parts = await this.decodeFiles(wanted.map((i) => this.fileOf(i)), { ...(augmentation ? { augmentation } : {}) });
    const out = new Float32Array(indices.length * size);
    let offset = 0;
    const failures: Array<{ position: number; message: string }> = [];
    for (const part of parts) {
      out.set(part.result.inputs!, offset * size);
      for (const failure of part.result.failures) failures.push({ position: offset + failure.position, message: failure.message });
      offset += part.count;
    }
    if (failures.length === 0) return out;
    if (!this.skipUnreadable) throw new TripletjsInputError(`${this.name}: ${failures[0]!.message}${failures.length > 1 ? ` (and ${failures.length - 1} more in this batch)` : ''}`);
    // The replacement's pixels (see decode), made inputs here with the failed image's draws.
    const shape = { height: this.format.height, width: this.format.width, channels: this.format.channels };
    for (const { position } of failures) {
      const pixels = await this.read([indices[position]!]);
      const draws = augmentation?.draws.slice(position * AUGMENTATION_DRAWS, (position + 1) * AUGMENTATION_DRAWS);
      out.set(draws ? applyAugmentation(pixels, [0], shape, draws, augmentation!.options) : pixelsToInputs(pixels), position * size);
    }
    return out;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.pool?.close();
    await this.cache?.close();
  }

  /** The pixels of `indices` (distinct), replacing unreadable files when asked. */
  private async decode(indices: number[]): Promise<Uint8Array> {
    const size = this.format.height * this.format.width * this.format.channels;
    const parts = await this.decodeFiles(indices.map((i) => this.fileOf(i)));
    const pixels = new Uint8Array(indices.length * size);
    let offset = 0;
    const failures: Array<{ position: number; message: string }> = [];
    for (const part of parts) {
      pixels.set(part.result.pixels!, offset * size);
      for (const failure of part.result.failures) failures.push({ position: offset + failure.position, message: failure.message });
      offset += part.count;
    }
    if (failures.length === 0) return pixels;
    if (!this.skipUnreadable) throw new TripletjsInputError(`${this.name}: ${failures[0]!.message}${failures.length > 1 ? ` (and ${failures.length - 1} more in this batch)` : ''}`);
    // Replace each failed image by the next image of its class (listing order, wrapping) that decodes.
    // The replacement depends only on which files are unreadable, not on when that was found out.
    for (const { position } of failures) this.unreadable.add(indices[position]!);
    for (const { position, message } of failures) {
      const index = indices[position]!;
      let replacement = index;
      for (;;) {
        replacement = this.nextOfClass(replacement);
        require(replacement !== index, () => `${this.name}: no image of ${dirname(this.paths[index]!)} can be decoded (the last: ${message})`);
        if (this.unreadable.has(replacement)) continue;
        const [decoded] = await this.decodeFiles([this.fileOf(replacement)]);
        if (decoded!.result.failures.length > 0) {
          this.unreadable.add(replacement);
          continue;
        }
        pixels.set(decoded!.result.pixels!, position * size);
        break;
      }
      if (!this.replacements.has(index)) this.warnings.push(`${message}: replaced by ${this.paths[replacement]} (same class; skipUnreadable)`);
      this.replacements.set(index, replacement);
    }
    return pixels;
  }

  private nextOfClass(index: number): number {
    const label = this.labels[index];
    for (let i = (index + 1) % this.paths.length; ; i = (i + 1) % this.paths.length) if (this.labels[i] === label) return i;
  }

  private fileOf(index: number): FileToDecode {
    const slot = this.slots[index];
    return { path: this.paths[index]!, ...(slot ? { cache: slot } : {}) };
  }

  /**
   * Decodes `files` in contiguous parts spread over the workers (or on this thread), as pixels,
   * or as model inputs (augmented by the draws of each part's images) when `inputs` is given.
   */
  private async decodeFiles(files: FileToDecode[], inputs?: { augmentation?: BatchAugmentation }): Promise<Array<{ count: number; result: DecodeAnswer }>> {
    const request = (start: number, end: number): DecodeRequest => {
      const augmentation = inputs?.augmentation;
      return {
        files: files.slice(start, end),
        ...(inputs
          ? { inputs: augmentation ? { augmentation: { draws: augmentation.draws.slice(start * AUGMENTATION_DRAWS, end * AUGMENTATION_DRAWS), options: augmentation.options } } : {} }
          : {}),
      };
    };
    if (this.pool === undefined) return [{ count: files.length, result: await answer(request(0, files.length), this.format, this.cache) }];
    const parts = Math.max(1, Math.min(this.pool.size, Math.floor(files.length / MIN_PER_REQUEST)));
    const per = Math.ceil(files.length / parts);
    const starts = Array.from({ length: parts }, (_, p) => p * per).filter((start) => start < files.length);
    return Promise.all(starts.map(async (start) => ({ count: Math.min(per, files.length - start), result: await this.pool!.run(request(start, start + per)) })));
  }
}

/** Height, width (EXIF orientation applied) and channel count of an image file, from its header. */
async function headerOf(path: string): Promise<{ height: number; width: number; channels: 1 | 3 }> {
  const handle = await open(path, 'r');
  const start = new Uint8Array(2);
  try {
    await handle.read(start, 0, 2, 0);
  } finally {
    await handle.close();
  }
  if (start[0] === 0x50 && (start[1] === 0x35 || start[1] === 0x32)) {
    const grey = decodePgm(await readFile(path), path);
    return { height: grey.height, width: grey.width, channels: 1 };
  }
  const metadata = await sharp(path).metadata();
  const { width, height } = metadata.autoOrient ?? metadata;
  require(width > 0 && height > 0, `${path}: the header gives no size`);
  return { height, width, channels: metadata.channels <= 2 ? 1 : 3 };
}

/** Headers of every file (see {@link headerOf}), 16 at a time; an unreadable one fails, or is listed when skipping. */
async function checkHeaders(
  paths: readonly string[],
  name: string,
  skip: boolean,
): Promise<{ ok: Array<{ height: number; width: number; channels: 1 | 3 } | undefined>; failures: string[] }> {
  const ok: Array<{ height: number; width: number; channels: 1 | 3 } | undefined> = new Array(paths.length);
  const failures: string[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < paths.length) {
        const i = next++;
        try {
          ok[i] = await headerOf(paths[i]!);
        } catch (error) {
          const message = `${paths[i]}: not an image tripletjs reads, or its header is corrupt (${(error as Error).message.split('\n')[0]})`;
          if (!skip) throw new TripletjsInputError(`${name}: ${message}`);
          failures.push(message);
        }
      }
    }),
  );
  return { ok, failures };
}
