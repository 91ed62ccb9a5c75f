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

/** A documented, reproducible split: what to train on and how to evaluate. */
export interface DatasetSplit {
  /** One line a report can print, e.g. "train s1–s30, test on the unseen s31–s40 (leave-one-out)". */
  readonly description: string;
  /** Dataset indices used for training. */
  readonly train: Int32Array;
  /** Held-out evaluation. */
  readonly evaluation: EvaluationProtocol;
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
  /** Things worth telling the user that did not stop loading (e.g. a class with a single image). */
  readonly warnings?: readonly string[];
  /** The default split, or a numbered fold where the dataset defines several. */
  split(fold?: number): DatasetSplit;
}
