import { statSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { require, requireNumber, TripletjsInputError } from '../common/errors.js';
import { compareCodePoints } from './code-point-order.js';
import { createDataset } from './create-dataset.js';
import type { Dataset, DatasetSplit, InMemoryDataset } from './dataset.js';
import { decodedBytes, defaultStreamBudget, streamFolder } from './folder-stream.js';
import { decodeImage, withChannels, type DecodedImage } from './image-file.js';
import { checkFitting, IMAGE_EXTENSIONS, type ImageFit } from './image-format.js';
import { heldOutPerClassSplit, unseenClassesSplit } from './splits.js';

/**
 * How a folder dataset is split:
 * - `'unseen-classes'` (default): classes in code-point order, the last ⌈25%⌉ of them are unseen
 *   and tested leave-one-out among their images; of the others, max(2, round(20%)) drawn by a
 *   shuffle seeded with `seed` validate the same way (none when fewer than 4), and the rest train.
 *   Needs at least 2 classes.
 * - `'held-out'`: every class is trained on; of each class with n ≥ 2 images, max(1, round(0.2 n))
 *   chosen by a shuffle seeded with `seed` are test queries, then of each class with 2 or more
 *   left, max(1, round(0.1 n)) validate; both are queried against the rest, which train. A class
 *   with one image keeps it for training.
 */
export type FolderSplit = 'unseen-classes' | 'held-out';

/** Options of {@link loadFolder}. */
export interface FolderOptions {
  /** Target height; with `width`, every image is brought to it (see `fit`). Default: the first image's. */
  height?: number;
  /** Target width; give both or neither. */
  width?: number;
  /** 1 = grey (RGB converted by luma), 3 = RGB (grey repeated). Default: 1 if every image is grey, else 3. */
  channels?: 1 | 3;
  /** How an image of another shape is brought to the target size (default `'cover'`: centre crop). */
  fit?: ImageFit;
  /** Colour `#rrggbb` under transparent pixels and letterbox bars (default white). */
  background?: string;
  /** The split protocol (default `'unseen-classes'`). */
  split?: FolderSplit;
  /** Seed of the `'held-out'` split (default 0). */
  seed?: number;
  /** Skip images that cannot be decoded (truncated, corrupt, foreign), with a warning, rather than fail (default false). */
  skipUnreadable?: boolean;
  /**
   * Whether a mirrored image keeps its class, which lets augmentation flip (default false: right
   * for faces and objects, wrong for digits and text; the cautious choice only loses augmentation).
   */
  flipInvariant?: boolean;
  /**
   * Whether to decode the images batch by batch as they are read (`true`), once into memory
   * (`false`, the default), or to stream when the decoded images would take more than
   * `streamAbove` bytes (`'auto'`). A streamed dataset has no `images`: read batches with
   * `dataset.read(indices)` (training, evaluation and `embed` do), and close it when done.
   */
  stream?: boolean | 'auto';
  /** With `stream: 'auto'`: stream above this many bytes of decoded pixels (default: 2 GiB or a quarter of the machine's memory, the smaller). */
  streamAbove?: number;
  /** Streamed datasets: a folder for an on-disk cache of decoded, fitted images (default: none, every read decodes). */
  cacheDir?: string;
  /** Streamed datasets: decoding worker threads (default: see `DEFAULT_WORKERS`; 0 decodes on the main thread, with sharp's own threads). */
  workers?: number;
}

/** Options that choose how pixels are read, not which: left out of the dataset's recorded options. */
const READING_OPTIONS: readonly (keyof FolderOptions)[] = ['stream', 'streamAbove', 'cacheDir', 'workers'];
const OPTION_NAMES: readonly (keyof FolderOptions)[] = ['height', 'width', 'channels', 'fit', 'background', 'split', 'seed', 'flipInvariant', 'skipUnreadable', ...READING_OPTIONS];
/** Images decoded at once (sharp decodes on libuv's thread pool). */
const DECODING_AT_ONCE = 8;
const UNSEEN_FRACTION = 0.25;
const HELD_OUT_FRACTION = 0.2;
const VALIDATION_FRACTION = 0.1;
const VALIDATION_CLASS_FRACTION = 0.2;

/**
 * A dataset from a folder with one sub-folder per class (classes in code-point order of their
 * names), holding JPEG, PNG, WebP, TIFF, AVIF, GIF or PGM images (files in code-point order; hidden
 * entries skipped, other files skipped with a warning), decoded by {@link decodeImage}: EXIF
 * orientation applied, transparency flattened on `background`, brought to the target size by `fit`. Every problem is a one-line {@link TripletjsInputError}: a missing
 * path, not a directory, no class sub-folders, a class without images, an image that cannot be
 * decoded (naming the file), images of different sizes without a target size (naming two of them).
 * A class with a single image is allowed and reported in `warnings`.
 *
 * `name` is what the dataset is called, e.g. `folder:<path>`.
 *
 * With `stream` (see {@link FolderOptions.stream} and `streamFolder`), only the listing, labels
 * and split are held: the pixels of a batch are decoded when `dataset.read(indices)` asks for
 * them, in worker threads, through an optional on-disk cache, and are the in-memory load's pixels
 * bit for bit (give `channels`: without it, a streamed folder decides grey or RGB from the files'
 * headers, the in-memory load from their pixels). Streaming is not the default, because the
 * in-memory dataset decodes each file once for the whole run and its type promises `images`;
 * `'auto'` streams only when the decoded images would exceed a memory budget (the CLI's default).
 */
export async function loadFolder(path: string, options?: FolderOptions & { stream?: false }, name?: string): Promise<InMemoryDataset>;
export async function loadFolder(path: string, options?: FolderOptions, name?: string): Promise<Dataset>;
export async function loadFolder(path: string, options: FolderOptions = {}, name = `folder:${path}`): Promise<Dataset> {
  for (const key of Object.keys(options)) {
    require(OPTION_NAMES.includes(key as keyof FolderOptions), () => `unknown folder dataset option '${key}' (known: ${OPTION_NAMES.join(', ')})`);
  }
  const { channels, split = 'unseen-classes', seed = 0, flipInvariant = false } = options;
  require(channels === undefined || channels === 1 || channels === 3, () => `channels must be 1 or 3, got ${String(channels)}`);
  require(split === 'unseen-classes' || split === 'held-out', () => `split must be 'unseen-classes' or 'held-out', got '${String(split)}'`);
  requireNumber('seed', seed, { integer: true });
  require((options.height === undefined) === (options.width === undefined), 'give both height and width to resize, or neither');
  const target = options.height === undefined ? undefined : { height: checkSide('height', options.height), width: checkSide('width', options.width!) };
  const fitting = checkFitting(options);

  checkFolderPath(path, name);
  const { classNames, paths, labelsOfPaths, warnings } = await listFolder(path, name, split);
  const stream = options.stream ?? false;
  require(stream === true || stream === false || stream === 'auto', () => `stream must be true, false or 'auto', got ${String(stream)}`);
  if (stream === true || (stream === 'auto' && (await decodedBytes(paths, target, channels)) > (options.streamAbove ?? defaultStreamBudget()))) {
    return streamFolder({
      path,
      name,
      classNames,
      paths,
      labelsOfPaths,
      warnings,
      target,
      channels,
      fitting,
      flipInvariant,
      options,
      recordedOptions: { split, seed, flipInvariant, ...(options.skipUnreadable ? { skipUnreadable: true } : {}) },
      makeSplit: (labels) => folderSplit(split, labels, classNames, seed),
    });
  }
  require(stream !== false || (options.cacheDir === undefined && options.workers === undefined), 'cacheDir and workers apply to a streamed folder dataset (stream: true or auto)');

  // Images are brought to the target size as they are decoded, so that memory stays about the
  // size of the final dataset. Channels are settled at the end (grey unless any is RGB).
  const read = async (file: string): Promise<DecodedImage> => {
    const bytes = await readFile(file).catch((error: Error) => {
      throw new TripletjsInputError(`${name}: cannot read ${file} (${error.message})`);
    });
    return decodeImage(bytes, file, target ? { ...target, ...fitting } : undefined, fitting.background);
  };
  const decoded: Array<DecodedImage | undefined> = [];
  const unreadable: string[] = [];
  // Without a target size, the first image sets it and every other must match it.
  let size: { height: number; width: number; from: string } | undefined = target ? { ...target, from: '' } : undefined;
  for (let start = 0; start < paths.length; start += DECODING_AT_ONCE) {
    const chunk = paths.slice(start, start + DECODING_AT_ONCE);
    const results = await Promise.allSettled(chunk.map(read));
    for (const [j, result] of results.entries()) {
      if (result.status === 'rejected') {
        if (!(options.skipUnreadable && result.reason instanceof TripletjsInputError)) throw result.reason;
        unreadable.push((result.reason as Error).message);
        continue;
      }
      const image = result.value;
      size ??= { height: image.height, width: image.width, from: chunk[j]! };
      if (image.height !== size.height || image.width !== size.width) {
        throw new TripletjsInputError(
          `${name}: images have different sizes: ${size.from} is ${size.height}×${size.width}, ${chunk[j]} is ${image.height}×${image.width} (height×width); pass { height, width } to resize them all`,
        );
      }
      decoded[start + j] = image;
    }
  }
  if (unreadable.length > 0) {
    warnings.push(`skipped ${unreadable.length} images that cannot be read (skipUnreadable): ${unreadable.slice(0, 3).join('; ')}${unreadable.length > 3 ? '; …' : ''}`);
  }
  const kept = paths.flatMap((_, i) => (decoded[i] ? [i] : []));
  const labels = Int32Array.from(kept, (i) => labelsOfPaths[i]!);
  const counts = new Int32Array(classNames.length);
  for (const label of labels) counts[label]!++;
  for (const [label, className] of classNames.entries()) {
    require(counts[label]! > 0, `${name}: no image of class '${className}' could be read (${unreadable.length} unreadable images skipped)`);
    if (counts[label] === 1) warnings.push(`class '${className}' has a single image (${paths[kept[labels.indexOf(label)]!]}): it never has a positive`);
  }
  const { height, width } = size!;
  const images = kept.map((i) => decoded[i]!);
  const outChannels = channels ?? (images.every((image) => image.channels === 1) ? 1 : 3);
  const pixels = height * width * outChannels;
  const allPixels = new Uint8Array(images.length * pixels);
  images.forEach((image, i) => allPixels.set(withChannels(image, outChannels).pixels, i * pixels));

  return createDataset({
    name,
    shape: { height, width, channels: outChannels },
    classNames,
    labels,
    images: allPixels,
    paths: kept.map((i) => paths[i]!),
    flipInvariant,
    warnings,
    options: { height, width, channels: outChannels, ...fitting, split, seed, flipInvariant, ...(options.skipUnreadable ? { skipUnreadable: true } : {}) },
    fitting,
    makeSplit: () => folderSplit(split, labels, classNames, seed),
  });
}

/** The classes (code-point order), image files (code-point order within a class) and their labels of a folder dataset. */
export async function listFolder(
  path: string,
  name: string,
  split: FolderSplit,
): Promise<{ classNames: string[]; paths: string[]; labelsOfPaths: number[]; warnings: string[] }> {
  const classNames: string[] = [];
  for (const entry of await readdir(path)) {
    if (!entry.startsWith('.') && (await stat(join(path, entry))).isDirectory()) classNames.push(entry);
  }
  classNames.sort(compareCodePoints);
  require(classNames.length > 0, `${name}: ${path} has no class sub-folders (put the images of each class in ${path}/<class>/)`);
  if (split === 'unseen-classes') {
    require(classNames.length >= 2, `${name}: the 'unseen-classes' split needs at least 2 classes, ${path} has 1 (use split: 'held-out')`);
  }

  const warnings: string[] = [];
  const paths: string[] = [];
  const labelsOfPaths: number[] = [];
  const ignored: string[] = [];
  for (const [label, className] of classNames.entries()) {
    const directory = join(path, className);
    const files = (await readdir(directory)).filter((f) => !f.startsWith('.')).sort(compareCodePoints);
    const images = files.filter((f) => IMAGE_EXTENSIONS.includes(extname(f).toLowerCase()));
    const isImage = new Set(images);
    ignored.push(...files.filter((f) => !isImage.has(f)).map((f) => join(directory, f)));
    require(images.length > 0, `${name}: class folder ${directory} has no images (${IMAGE_EXTENSIONS.join(' ')})`);
    for (const file of images) {
      paths.push(join(directory, file));
      labelsOfPaths.push(label);
    }
  }
  if (ignored.length > 0) warnings.push(`skipped ${ignored.length} files without an image extension (${IMAGE_EXTENSIONS.join(' ')}), e.g. ${ignored[0]}`);

  return { classNames, paths, labelsOfPaths, warnings };
}

/** Checks that `path` is an existing directory, with errors that call the dataset `name`. */
export function checkFolderPath(path: string, name: string): void {
  const info = statSync(path, { throwIfNoEntry: false });
  require(info !== undefined, `${name}: ${path} does not exist`);
  require(info.isDirectory(), `${name}: ${path} is not a directory (expected one sub-folder of images per class)`);
}

function checkSide(what: string, value: number): number {
  return requireNumber(what, value, { integer: true, min: 1 });
}

function folderSplit(split: FolderSplit, labels: Int32Array, classNames: readonly string[], seed: number): DatasetSplit {
  const n = classNames.length;
  if (split === 'held-out') {
    return heldOutPerClassSplit(
      labels,
      HELD_OUT_FRACTION,
      VALIDATION_FRACTION,
      seed,
      `all ${n} classes; of each class about 20% test and 10% validate (seed ${seed}), queried against the rest, which train`,
    );
  }
  const firstUnseen = n - Math.ceil(UNSEEN_FRACTION * n);
  // Validation needs two classes (a different-class pair) and must leave two to train on.
  const validationClasses = firstUnseen >= 4 ? Math.max(2, Math.round(VALIDATION_CLASS_FRACTION * firstUnseen)) : 0;
  return unseenClassesSplit({
    labels,
    isTest: (label) => label >= firstUnseen,
    validationClasses,
    seed,
    describe: ({ train, validation, test }) =>
      `train on ${train.length} classes, ${validation.length > 0 ? `validate on ${validation.length} (${quoted(validation, classNames)}, seed ${seed})` : 'no validation (fewer than 4 classes before the test ones)'}, test on the ${test.length} unseen classes (${quoted(test, classNames)}; leave-one-out)`,
  });
}

/** `'a', 'b', 'c'` or `'a'…'z'` for many classes. */
function quoted(classes: number[], classNames: readonly string[]): string {
  const name = (c: number): string => `'${classNames[c]}'`;
  return classes.length <= 3 ? classes.map(name).join(', ') : `${name(classes[0]!)}…${name(classes.at(-1)!)}`;
}
