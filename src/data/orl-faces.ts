import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TripletjsInputError } from '../common/errors.js';
import { createDataset } from './create-dataset.js';
import type { InMemoryDataset } from './dataset.js';
import { packageDataPath } from './package-data.js';
import { decodePgm } from './pgm.js';
import { unseenClassesSplit } from './splits.js';

const PEOPLE = 40;
const IMAGES_PER_PERSON = 10;
/** Folds of unseen people; fold `f` holds out people `10f+1 … 10f+10`. */
const FOLDS = 4;
const PEOPLE_PER_FOLD = PEOPLE / FOLDS;
/** People of the other 30 who validate instead of training (a seeded draw per fold). */
const VALIDATION_PEOPLE = 5;

/**
 * The ORL faces (Olivetti Research Laboratory, Cambridge, 1992–1994; `data/orl-faces/README.md`):
 * 40 people `s1`…`s40` (classes in numeric order) × 10 photos, 112×92 grey, shipped with the
 * package. Image `10·(p − 1) + (i − 1)` is `s<p>/<i>.pgm`. Flip-invariant (a mirrored face is the
 * same person).
 *
 * Splits test on people never seen in training, each of their 100 photos queried against the other
 * 99 (leave-one-out): fold `f` (0–3) tests on `s<10f+1>`…`s<10f+10>`; of the other 30, five drawn
 * by a seeded shuffle validate (leave-one-out among their 50 photos) and 25 train. The default
 * fold 3 tests on s31–s40.
 */
export async function loadOrlFaces(directory = packageDataPath('orl-faces')): Promise<InMemoryDataset> {
  const paths: string[] = [];
  for (let person = 1; person <= PEOPLE; person++) {
    for (let image = 1; image <= IMAGES_PER_PERSON; image++) paths.push(join(directory, `s${person}`, `${image}.pgm`));
  }
  const decoded = await Promise.all(
    paths.map(async (path) => {
      const bytes = await readFile(path).catch((error: Error) => {
        throw new TripletjsInputError(`orl-faces: cannot read ${path} (${error.message}); the data folder is incomplete`);
      });
      return decodePgm(bytes, path);
    }),
  );
  const { width, height } = decoded[0]!;
  const images = new Uint8Array(paths.length * width * height);
  decoded.forEach((image, i) => {
    if (image.width !== width || image.height !== height) {
      throw new TripletjsInputError(`orl-faces: ${paths[i]} is ${image.width}×${image.height}, ${paths[0]} is ${width}×${height}`);
    }
    images.set(image.pixels, i * width * height);
  });
  const labels = Int32Array.from(paths, (_, i) => Math.floor(i / IMAGES_PER_PERSON));
  return createDataset({
    name: 'orl-faces',
    shape: { height, width, channels: 1 },
    classNames: Array.from({ length: PEOPLE }, (_, c) => `s${c + 1}`),
    labels,
    images,
    paths,
    flipInvariant: true,
    folds: FOLDS,
    defaultFold: FOLDS - 1,
    makeSplit: (fold) => {
      const first = fold * PEOPLE_PER_FOLD;
      const last = first + PEOPLE_PER_FOLD - 1;
      return unseenClassesSplit({
        labels,
        isTest: (label) => label >= first && label <= last,
        validationClasses: VALIDATION_PEOPLE,
        describe: ({ train, validation, test }) =>
          `train on ${train.length} people, validate on ${names(validation)}, test on the unseen ${people(test[0]!, test.at(-1)!)} (leave-one-out)`,
      });
    },
  });
}

/** "s4, s9, s17" for class indices. */
function names(classes: number[]): string {
  return classes.map((c) => `s${c + 1}`).join(', ');
}

/** "s<a+1>–s<b+1>" for class indices a ≤ b, "" for an empty range. */
function people(a: number, b: number): string {
  return a > b ? '' : `s${a + 1}–s${b + 1}`;
}
