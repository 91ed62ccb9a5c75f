import { SeededRandom } from '../common/random.js';
import type { DatasetSplit } from './dataset.js';

/** `count` consecutive indices from `start`. */
function range(start: number, count: number): Int32Array {
  const indices = new Int32Array(count);
  for (let i = 0; i < count; i++) indices[i] = start + i;
  return indices;
}

/**
 * The classic split of a dataset stored as its training images followed by its test images (MNIST
 * order): train on the first `trainCount`, then query each test image against the training images.
 */
export function trainTestSplit(trainCount: number, size: number, description: string): DatasetSplit {
  return {
    description,
    train: range(0, trainCount),
    evaluation: { queries: range(trainCount, size - trainCount), references: range(0, trainCount) },
  };
}

/**
 * Generalisation to new classes: train on every image whose class is seen, evaluate on the images
 * of the unseen classes, each ranked against the others (leave-one-out, no references).
 */
export function unseenClassesSplit(
  labels: Int32Array,
  isUnseen: (label: number) => boolean,
  description: string,
): DatasetSplit {
  const train: number[] = [];
  const queries: number[] = [];
  for (let i = 0; i < labels.length; i++) (isUnseen(labels[i]!) ? queries : train).push(i);
  return { description, train: Int32Array.from(train), evaluation: { queries: Int32Array.from(queries) } };
}

/**
 * Known classes, new images: of each class with `n ≥ 2` images, `max(1, round(fraction · n))`
 * chosen by a seeded shuffle are held out as queries; the rest train and serve as references. A
 * class with one image keeps it for training. Indices come out ascending.
 */
export function heldOutPerClassSplit(
  labels: Int32Array,
  classCount: number,
  fraction: number,
  seed: number,
  description: string,
): DatasetSplit {
  const members: number[][] = Array.from({ length: classCount }, () => []);
  for (let i = 0; i < labels.length; i++) members[labels[i]!]!.push(i);
  const random = new SeededRandom(seed);
  const heldOut = new Uint8Array(labels.length);
  for (const indices of members) {
    if (indices.length < 2) continue;
    const shuffled = random.shuffle(Int32Array.from(indices));
    const count = Math.max(1, Math.round(fraction * indices.length));
    for (let j = 0; j < count; j++) heldOut[shuffled[j]!] = 1;
  }
  const train: number[] = [];
  const queries: number[] = [];
  for (let i = 0; i < labels.length; i++) (heldOut[i] ? queries : train).push(i);
  return {
    description,
    train: Int32Array.from(train),
    evaluation: { queries: Int32Array.from(queries), references: Int32Array.from(train) },
  };
}
