import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { TripletjsInputError } from '../common/errors.js';
import { createDataset } from './create-dataset.js';
import type { InMemoryDataset } from './dataset.js';
import { decodeIdx, type IdxArray } from './idx.js';
import { trainTestSplit } from './splits.js';

/** Share of each class's training images held out to validate. */
const VALIDATION_FRACTION = 1 / 12;

/** Where an MNIST-format dataset is and what it holds. */
export interface IdxDatasetSource {
  name: string;
  /** Folder with `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`, `t10k-…` (the MNIST names). */
  directory: string;
  /** Whether the files are gzipped (names end in `.gz`). */
  gzipped: boolean;
  classNames: readonly string[];
  flipInvariant: boolean;
}

/**
 * Loads a dataset in the MNIST layout (four IDX files) as one dataset: the training images first,
 * then the test images. Split: a seeded twelfth of each class's training images validates, the
 * rest train; each test image (and each validation image) is queried against the images that
 * train (test → train).
 */
export async function loadIdxDataset(source: IdxDatasetSource): Promise<InMemoryDataset> {
  const read = async (stem: string): Promise<IdxArray> => {
    const file = join(source.directory, stem + (source.gzipped ? '.gz' : ''));
    const raw = await readFile(file).catch((error: Error) => {
      throw new TripletjsInputError(`${source.name}: cannot read ${file} (${error.message})`);
    });
    let bytes: Uint8Array = raw;
    if (source.gzipped) {
      try {
        bytes = gunzipSync(raw);
      } catch (error) {
        throw new TripletjsInputError(`${file}: cannot gunzip (${(error as Error).message}); the file is corrupt or truncated`);
      }
    }
    return decodeIdx(bytes, file);
  };
  const [trainImages, trainLabels, testImages, testLabels] = await Promise.all([
    read('train-images-idx3-ubyte'),
    read('train-labels-idx1-ubyte'),
    read('t10k-images-idx3-ubyte'),
    read('t10k-labels-idx1-ubyte'),
  ]);
  const [trainCount, height, width] = imageDims(trainImages, trainLabels, source, 'train');
  const [testCount, testHeight, testWidth] = imageDims(testImages, testLabels, source, 't10k');
  if (testHeight !== height || testWidth !== width) {
    throw new TripletjsInputError(`${source.name}: training images are ${height}×${width}, test images ${testHeight}×${testWidth}`);
  }
  const size = trainCount + testCount;
  const images = new Uint8Array(size * height * width);
  images.set(trainImages.data);
  images.set(testImages.data, trainImages.data.length);
  const labels = new Int32Array(size);
  labels.set(trainLabels.data);
  labels.set(testLabels.data, trainCount);
  return createDataset({
    name: source.name,
    shape: { height, width, channels: 1 },
    classNames: source.classNames,
    labels,
    images,
    flipInvariant: source.flipInvariant,
    makeSplit: () =>
      trainTestSplit(labels, trainCount, VALIDATION_FRACTION, ({ train, validation, test }) =>
        `train on ${train} of the ${trainCount} training images, validate on the other ${validation} (a twelfth of each class, seeded), test on the ${test} test images; each queried against the images that train (test → train)`,
      ),
  });
}

/** [count, height, width] of an images/labels pair, after checking that they belong together. */
function imageDims(images: IdxArray, labels: IdxArray, source: IdxDatasetSource, part: string): [number, number, number] {
  if (images.dims.length !== 3 || labels.dims.length !== 1 || images.dims[0] !== labels.dims[0]) {
    throw new TripletjsInputError(
      `${source.name}: ${part} images (${images.dims.join('×')}) and labels (${labels.dims.join('×')}) do not match`,
    );
  }
  return images.dims as [number, number, number];
}
