import { SeededRandom } from '../common/random.js';
import type { DatasetSplit } from './dataset.js';

/**
 * The seed of every built-in split's validation choice. It is a property of the split, not of a
 * training run: runs with different seeds are compared on the same train / validation / test sets.
 */
export const SPLIT_SEED = 0;

/** Ascending indices `i` of `labels` for which `keep(labels[i])`. */
function indicesWhere(labels: Int32Array, keep: (label: number) => boolean): Int32Array {
  const out: number[] = [];
  for (let i = 0; i < labels.length; i++) if (keep(labels[i]!)) out.push(i);
  return Int32Array.from(out);
}

/** What {@link unseenClassesSplit} is told. */
export interface UnseenClassesParts {
  readonly labels: Int32Array;
  /** The classes tested on; no image of theirs is trained or validated on. */
  readonly isTest: (label: number) => boolean;
  /** How many of the other classes validate (0: no validation split). */
  readonly validationClasses: number;
  /** Seed of the choice of validation classes (default {@link SPLIT_SEED}). */
  readonly seed?: number;
  /** The split's one-line description, given the classes of each part (ascending). */
  readonly describe: (parts: { readonly train: number[]; readonly validation: number[]; readonly test: number[] }) => string;
}

/**
 * Generalisation to new classes: test on every image of the test classes, leave-one-out among them
 * (no references); validate the same way on `validationClasses` classes drawn by a seeded shuffle
 * from the others; train on the rest. Train, validation and test share no class.
 */
export function unseenClassesSplit(parts: UnseenClassesParts): DatasetSplit {
  const { labels, isTest, validationClasses, seed = SPLIT_SEED } = parts;
  const present = [...new Set(labels)].sort((a, b) => a - b);
  const test = present.filter(isTest);
  const others = Int32Array.from(present.filter((label) => !isTest(label)));
  const validation = new Set(new SeededRandom(seed).shuffle(others).subarray(0, validationClasses));
  const validationList = [...validation].sort((a, b) => a - b);
  const train = present.filter((label) => !isTest(label) && !validation.has(label));
  return {
    description: parts.describe({ train, validation: validationList, test }),
    protocol: 'unseen-classes',
    train: indicesWhere(labels, (label) => !isTest(label) && !validation.has(label)),
    ...(validation.size > 0 ? { validation: { queries: indicesWhere(labels, (label) => validation.has(label)) } } : {}),
    test: { queries: indicesWhere(labels, isTest) },
  };
}

/**
 * Of `candidates` (ascending dataset indices), per class `max(1, round(fraction · n))` chosen by
 * `random`, for classes with at least `minimum` candidates; ascending.
 */
function drawPerClass(candidates: Int32Array, labels: Int32Array, fraction: number, minimum: number, random: SeededRandom): Set<number> {
  const members = new Map<number, number[]>();
  for (const i of candidates) {
    const label = labels[i]!;
    if (!members.has(label)) members.set(label, []);
    members.get(label)!.push(i);
  }
  const drawn = new Set<number>();
  for (const label of [...members.keys()].sort((a, b) => a - b)) {
    const indices = members.get(label)!;
    if (indices.length < minimum) continue;
    const shuffled = random.shuffle(Int32Array.from(indices));
    const count = Math.max(1, Math.round(fraction * indices.length));
    for (let j = 0; j < count; j++) drawn.add(shuffled[j]!);
  }
  return drawn;
}

function without(indices: Int32Array, removed: Set<number>): Int32Array {
  return indices.filter((i) => !removed.has(i));
}

/**
 * The classic split of a dataset stored as its training images followed by its test images (MNIST
 * order): query each test image against the training images. A seeded `validationFraction` of
 * each class's training images is held out of training to validate the same way (queried against
 * the images that train).
 */
export function trainTestSplit(
  labels: Int32Array,
  trainCount: number,
  validationFraction: number,
  describe: (counts: { readonly train: number; readonly validation: number; readonly test: number }) => string,
  seed = SPLIT_SEED,
): DatasetSplit {
  const given = Int32Array.from({ length: trainCount }, (_, i) => i);
  const validation = drawPerClass(given, labels, validationFraction, 2, new SeededRandom(seed));
  const train = without(given, validation);
  return {
    description: describe({ train: train.length, validation: validation.size, test: labels.length - trainCount }),
    protocol: 'held-out',
    train,
    validation: { queries: Int32Array.from([...validation].sort((a, b) => a - b)), references: train },
    test: { queries: Int32Array.from({ length: labels.length - trainCount }, (_, i) => trainCount + i), references: train },
  };
}

/**
 * Known classes, new images: of each class with `n ≥ 2` images, `max(1, round(testFraction · n))`
 * chosen by a shuffle seeded with `seed` are test queries; then, of each class with at least 2
 * images left, `max(1, round(validationFraction · n))` of those left validate. Both are queried
 * against the images that train (the rest). A class with one image keeps it for training.
 * Indices come out ascending.
 */
export function heldOutPerClassSplit(
  labels: Int32Array,
  testFraction: number,
  validationFraction: number,
  seed: number,
  description: string,
): DatasetSplit {
  const random = new SeededRandom(seed);
  const all = Int32Array.from({ length: labels.length }, (_, i) => i);
  const test = drawPerClass(all, labels, testFraction, 2, random);
  const rest = without(all, test);
  const validation = drawPerClass(rest, labels, validationFraction, 2, random);
  const train = without(rest, validation);
  const sorted = (set: Set<number>): Int32Array => Int32Array.from([...set].sort((a, b) => a - b));
  return {
    description,
    protocol: 'held-out',
    train,
    ...(validation.size > 0 ? { validation: { queries: sorted(validation), references: train } } : {}),
    test: { queries: sorted(test), references: train },
  };
}
