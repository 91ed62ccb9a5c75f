import { require, requireNumber } from '../common/errors.js';
import type { DatasetSplit, ImageShape, InMemoryDataset } from './dataset.js';
import { gatherPixels } from './pixels.js';
import type { ImageFitting } from './image-format.js';

/** What a loader knows about its dataset; {@link createDataset} checks it and adds `split`. */
export interface DatasetParts {
  name: string;
  shape: ImageShape;
  classNames: readonly string[];
  labels: Int32Array;
  images: Uint8Array;
  paths?: readonly string[];
  flipInvariant: boolean;
  warnings?: readonly string[];
  /** The load options that reproduce it (see `Dataset.options`). */
  options?: Readonly<Record<string, unknown>>;
  /** How files were brought to `shape` (see `Dataset.fitting`). */
  fitting?: ImageFitting;
  /** Number of folds (default 1). */
  folds?: number;
  /** The fold `split()` returns without an argument (default 0). */
  defaultFold?: number;
  /** Builds the split of a fold already checked to be in `0 … folds − 1`. */
  makeSplit: (fold: number) => DatasetSplit;
}

/**
 * A {@link Dataset} from decoded parts, after checking that they agree (pixel count, one label per
 * image, labels naming classes), so that a loader bug fails here rather than in training.
 */
export function createDataset(parts: DatasetParts): InMemoryDataset {
  const { name, shape, classNames, labels, images, paths, flipInvariant, warnings, options, fitting, makeSplit } = parts;
  const folds = parts.folds ?? 1;
  const defaultFold = parts.defaultFold ?? 0;
  const size = labels.length;
  const pixels = shape.height * shape.width * shape.channels;
  require(
    images.length === size * pixels,
    () => `${name}: ${images.length} pixel bytes for ${size} images of ${pixels} bytes each`,
  );
  require(paths === undefined || paths.length === size, () => `${name}: ${paths!.length} paths for ${size} images`);
  for (let i = 0; i < size; i++) {
    const label = labels[i]!;
    require(label >= 0 && label < classNames.length, () => `${name}: image ${i} has label ${label}, not a class index`);
  }
  return {
    name,
    shape,
    classNames,
    labels,
    images,
    streamed: false,
    size,
    flipInvariant,
    folds,
    paths,
    warnings,
    ...(options ? { options } : {}),
    ...(fitting ? { fitting } : {}),
    read: async (indices) => gatherPixels(name, images, pixels, size, indices),
    close: async () => {},
    split(fold = defaultFold) {
      requireNumber(`${name} split fold`, fold, { integer: true, min: 0, max: folds - 1 });
      return makeSplit(fold);
    },
  };
}
