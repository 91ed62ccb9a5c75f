import { stat } from 'node:fs/promises';
import { TripletjsInputError } from '../common/errors.js';
import type { InMemoryDataset } from './dataset.js';
import { loadIdxDataset } from './idx-dataset.js';

/** Where the Debian package `dataset-fashion-mnist` installs the gzipped IDX files. */
export const FASHION_MNIST_DIRECTORY = '/usr/share/datasets/fashion-mnist';

/** The ten Fashion-MNIST classes, in label order. */
export const FASHION_MNIST_CLASSES = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
] as const;

/**
 * Fashion-MNIST (Xiao, Rasul & Vollgraf, Zalando 2017): 70,000 28×28 grey photos of clothing in ten
 * classes, in the MNIST layout and with the same split (train on the 60,000 training images; query
 * each of the 10,000 test images against them). Flip-invariant: a mirrored shoe is still a shoe.
 */
export async function loadFashionMnist(directory = FASHION_MNIST_DIRECTORY): Promise<InMemoryDataset> {
  const found = await stat(directory).then(
    (s) => s.isDirectory(),
    () => false,
  );
  if (!found) {
    throw new TripletjsInputError(
      `fashion-mnist: ${directory} not found; install the data with: sudo apt-get install dataset-fashion-mnist`,
    );
  }
  return loadIdxDataset({
    name: 'fashion-mnist',
    directory,
    gzipped: true,
    classNames: FASHION_MNIST_CLASSES,
    flipInvariant: true,
  });
}
