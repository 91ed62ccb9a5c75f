import type { tf } from '../tf.js';
import { checkEmbeddings, readLabels, type LabelsInput } from '../common/batch.js';
import { require } from '../common/errors.js';
import type { Tuples } from '../common/tuples.js';
import type { BaseDistance, BatchMatrix } from '../distances/base-distance.js';
import { LpDistance } from '../distances/lp-distance.js';
import { releaseMatrix } from '../distances/matrix-pool.js';

/** What a miner selects from: the oriented distance matrix (smaller = closer) and the labels. */
export interface MiningBatch {
  /** Row-major rows × cols matrix, similarities negated so that smaller means closer. */
  readonly distances: Float32Array;
  readonly rows: number;
  readonly cols: number;
  /** Embedding dimension. */
  readonly dims: number;
  /** Labels of the anchors (rows). */
  readonly labels: Int32Array;
  /** Labels of the reference set (columns); the same array as `labels` when `sameSet`. */
  readonly refLabels: Int32Array;
  /** True when the reference set is the batch itself, so that an example is not its own positive. */
  readonly sameSet: boolean;
}

/**
 * A miner picks informative tuples from a batch. The distance matrix is made with TensorFlow.js
 * (one matrix product) and read back once; selection then runs over plain typed arrays, with no
 * tensor larger than B × R and no gradient bookkeeping (mining is not differentiated).
 */
export abstract class BaseMiner<T extends Tuples> {
  /** The distance the miner selects by. */
  readonly distance: BaseDistance;

  protected constructor(distance: BaseDistance | undefined) {
    this.distance = distance ?? new LpDistance();
  }

  /**
   * Selects tuples from `embeddings` (B × D) with `labels`. With `ref` and `refLabels`, positives
   * and negatives come from the reference set (e.g. a memory bank) and indices point into it.
   */
  mine(embeddings: tf.Tensor2D, labels: LabelsInput, ref?: tf.Tensor2D, refLabels?: LabelsInput): T {
    const rows = checkEmbeddings(embeddings);
    const anchorLabels = readLabels(labels, rows);
    let cols = rows;
    let referenceLabels = anchorLabels;
    if (ref !== undefined) {
      cols = checkEmbeddings(ref, 'reference embeddings');
      require(refLabels !== undefined, 'refLabels must be given with reference embeddings');
      require(
        ref.shape[1] === embeddings.shape[1],
        () => `reference embeddings have dimension ${ref.shape[1]} but embeddings have ${embeddings.shape[1]}`,
      );
      referenceLabels = readLabels(refLabels, cols, 'reference embeddings');
    }
    const distances = this.distance.orientedMatrix(embeddings, ref);
    const tuples = this.select({
      distances,
      rows,
      cols,
      dims: embeddings.shape[1],
      labels: anchorLabels,
      refLabels: referenceLabels,
      sameSet: ref === undefined,
    });
    releaseMatrix(distances);
    return tuples;
  }

  /**
   * Selects tuples from a batch's own matrix already read with this miner's distance (a loss
   * given the miner passes its {@link BatchMatrix}), so that the matrix is made once per step.
   * `labels` must be checked already (one per row).
   */
  mineBatch(matrix: Pick<BatchMatrix, 'values' | 'rows' | 'dims'>, labels: Int32Array): T {
    const { values, rows, dims } = matrix;
    return this.select({ distances: values, rows, cols: rows, dims, labels, refLabels: labels, sameSet: true });
  }

  /** The selection proper, on the batch read to the CPU. */
  protected abstract select(batch: MiningBatch): T;
}
