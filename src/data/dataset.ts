import { TripletjsInputError } from '../common/errors.js';
import type { AugmentOptions } from './augment.js';
import type { ImageFitting } from './image-format.js';

/** Height, width and channels of every image of a dataset. */
export interface ImageShape {
  readonly height: number;
  readonly width: number;
  readonly channels: number;
}

/**
 * How a dataset is evaluated: queries are ranked against references. Without references, every
 * query is ranked against the other queries (leave-one-out), as for unseen classes.
 */
export interface EvaluationProtocol {
  /** Dataset indices of the queries. */
  readonly queries: Int32Array;
  /** Dataset indices of the references (the gallery); absent for leave-one-out among the queries. */
  readonly references?: Int32Array;
}

/**
 * How the test relates to training: `unseen-classes` tests on classes no image of which was
 * trained on; `held-out` tests on new images of the classes trained on.
 */
export type SplitProtocol = 'unseen-classes' | 'held-out';

/**
 * A documented, reproducible three-way split. Training sees only `train`; every choice (early
 * stopping, the checkpoint kept, the verification threshold, a recipe) is made on `validation`;
 * `test` is evaluated once, at the end, and reported. The three share no image, and under
 * `unseen-classes` no class.
 */
export interface DatasetSplit {
  /** One line a report can print, e.g. "train on 25 of s1–s30, validate on the other 5, test on the unseen s31–s40". */
  readonly description: string;
  readonly protocol: SplitProtocol;
  /** Dataset indices used for training. */
  readonly train: Int32Array;
  /** Evaluated during training and for choices; absent when the data is too small to hold one out. */
  readonly validation?: EvaluationProtocol;
  /** Evaluated once, at the end. */
  readonly test: EvaluationProtocol;
}

/**
 * A labelled image dataset of 8-bit pixels: held in memory (`images`), or streamed from its files
 * (`streamed`: the pixels of a batch are decoded when {@link Dataset.read} asks for them). Labels,
 * class names and paths are always in memory (they are small).
 *
 * Every image has `shape`, row-major, height × width × channels bytes.
 */
export interface Dataset {
  /** The name it is loaded by, e.g. `orl-faces`, `mnist`, `folder:/path`. */
  readonly name: string;
  readonly shape: ImageShape;
  /** Class names; label `i` is `classNames[i]`. */
  readonly classNames: readonly string[];
  /** One label per image. */
  readonly labels: Int32Array;
  /** All pixels, `size × height × width × channels` bytes, when held in memory; absent for a streamed dataset (use `read`). */
  readonly images?: Uint8Array;
  /** Whether the pixels are read from files batch by batch rather than held in memory. */
  readonly streamed: boolean;
  /**
   * The pixels of the images at `indices`, in that order: `indices.length × height × width ×
   * channels` bytes, a new array the caller owns. An index out of range, a file that cannot be
   * decoded (unless the dataset was loaded with `skipUnreadable`), or a read after `close` is an error.
   */
  read(indices: ArrayLike<number>): Promise<Uint8Array>;
  /**
   * Optional: the images at `indices` as model inputs (pixels / 255, `B × H × W × C` floats),
   * augmented by `augmentation` when given, made where the pixels are decoded (a streamed folder's
   * worker threads) so that the main thread, busy with training steps, does not do it. Equal, bit
   * for bit, to `pixelsToInputs` / `applyAugmentation` of `read(indices)`.
   */
  readInputs?(indices: ArrayLike<number>, augmentation?: BatchAugmentation): Promise<Float32Array>;
  /** Releases what reading holds (decoding threads, open files); nothing for an in-memory dataset. */
  close(): Promise<void>;
  /** Number of images. */
  readonly size: number;
  /** Source file of each image, where images come from files (folder datasets). */
  readonly paths?: readonly string[];
  /** Whether a horizontal flip keeps the class (faces, objects: yes; digits, characters: no). */
  readonly flipInvariant: boolean;
  /** Number of folds `split` accepts (`0 … folds − 1`); absent means one. */
  readonly folds?: number;
  /** The options it was loaded with, beyond its name (folder datasets: size, channels, split, seed), so that it can be loaded the same way again. */
  readonly options?: Readonly<Record<string, unknown>>;
  /**
   * How image files of other sizes were brought to `shape`, saved with a model so that files it
   * embeds later are brought to its input the same way; absent when the images come at their size.
   */
  readonly fitting?: ImageFitting;
  /** Things worth telling the user that did not stop loading (e.g. a class with a single image). */
  readonly warnings?: readonly string[];
  /** The default split, or a numbered fold where the dataset defines several. */
  split(fold?: number): DatasetSplit;
}

/** A dataset whose pixels are all in memory. */
export interface InMemoryDataset extends Dataset {
  readonly images: Uint8Array;
  readonly streamed: false;
}

/** `dataset` if its pixels are in memory; else a one-line error saying that `what` needs them there. */
export function inMemory(dataset: Dataset, what = 'this'): InMemoryDataset {
  if (dataset.images === undefined) {
    throw new TripletjsInputError(`${what} needs every image of ${dataset.name} in memory, and it is streamed: load it without stream (or use an async reader)`);
  }
  return dataset as InMemoryDataset;
}

/** A batch's augmentation: the values drawn for each image (`drawAugmentation`) and the options. */
export interface BatchAugmentation {
  readonly draws: Float64Array;
  readonly options: Required<AugmentOptions>;
}
