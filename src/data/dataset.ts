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
 * A labelled image dataset, decoded once and held in memory as 8-bit pixels.
 *
 * `images` holds `size` images of `shape`, row-major, height × width × channels each.
 */
export interface Dataset {
  /** The name it is loaded by, e.g. `orl-faces`, `mnist`, `folder:/path`. */
  readonly name: string;
  readonly shape: ImageShape;
  /** Class names; label `i` is `classNames[i]`. */
  readonly classNames: readonly string[];
  /** One label per image. */
  readonly labels: Int32Array;
  /** All pixels, `size × height × width × channels` bytes. */
  readonly images: Uint8Array;
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
