import { require } from '../common/errors.js';
import { forEachDotBlock, defaultBlockRows, squaredNorms } from '../evaluation/dot-blocks.js';

/** How spread out the classes of a set of embeddings are (see {@link classSpread}). */
export interface ClassSpread {
  /**
   * Per-class spread averaged over the classes: for each class with at least two members, the
   * mean distance between its members divided by the mean distance from its members to every
   * embedding of another class. 0 = each class is a point; about 1 = classes are not separated.
   */
  readonly spread: number;
  /** Mean Euclidean distance over all same-class pairs. */
  readonly meanIntraDistance: number;
  /** Mean Euclidean distance over all pairs of different classes. */
  readonly meanInterDistance: number;
}

/**
 * Measures the spread of the classes in `embeddings` (row-major, `dims` wide) over every pair
 * (exact; the products come from TensorFlow.js in blocks of at most 64 MB, the sums are float64).
 */
export function classSpread(embeddings: Float32Array, labels: Int32Array, dims: number): ClassSpread {
  const count = labels.length;
  require(count >= 2 && embeddings.length === count * dims, () => `classSpread needs at least 2 embeddings of ${dims} values, one label each`);
  let classes = 0;
  for (const label of labels) classes = Math.max(classes, label + 1);
  const intraSum = new Float64Array(classes);
  const intraCount = new Float64Array(classes);
  const interSum = new Float64Array(classes);
  const interCount = new Float64Array(classes);
  const norms = squaredNorms(embeddings, dims);
  forEachDotBlock(embeddings, embeddings, dims, { normalize: false, blockRows: defaultBlockRows(count), upperTriangle: true }, (block) => {
    for (let r = 0; r < block.rows; r++) {
      const i = block.firstRow + r;
      const a = labels[i]!;
      const row = r * block.columns;
      // The block's columns start after its first row: later rows skip up to their own index.
      for (let c = i + 1 - block.firstColumn; c < block.columns; c++) {
        const j = block.firstColumn + c;
        const distance = Math.sqrt(Math.max(0, norms[i]! + norms[j]! - 2 * block.dots[row + c]!));
        const b = labels[j]!;
        if (a === b) {
          intraSum[a]! += distance;
          intraCount[a]!++;
        } else {
          interSum[a]! += distance;
          interCount[a]!++;
          interSum[b]! += distance;
          interCount[b]!++;
        }
      }
    }
  });
  let ratioSum = 0;
  let ratioClasses = 0;
  for (let c = 0; c < classes; c++) {
    if (intraCount[c]! === 0 || interCount[c]! === 0) continue;
    const inter = interSum[c]! / interCount[c]!;
    ratioSum += inter > 0 ? intraSum[c]! / intraCount[c]! / inter : 1;
    ratioClasses++;
  }
  require(ratioClasses > 0, 'classSpread needs a class with two members and another class');
  const total = (values: Float64Array): number => values.reduce((s, v) => s + v, 0);
  return {
    spread: ratioSum / ratioClasses,
    meanIntraDistance: total(intraSum) / total(intraCount),
    // Each inter-class pair was added to both of its classes.
    meanInterDistance: total(interSum) / total(interCount),
  };
}
