import { tf } from '../tf.js';
import { require } from '../common/errors.js';
import { l2Normalize } from './safe-ops.js';

/**
 * A distance (or similarity) between embeddings: turns a batch into its pairwise matrix.
 *
 * Subclasses implement {@link BaseDistance.compute} on already-normalised inputs. Everything is
 * differentiable with finite gradients, including at zero distance.
 */
export abstract class BaseDistance {
  /** A short name for logs and reports. */
  abstract readonly name: string;
  /** True for similarities, where a larger value means closer. */
  abstract readonly isInverted: boolean;
  /** Whether rows are L2-normalised before the matrix is made. */
  readonly normalizeEmbeddings: boolean;

  protected constructor(normalizeEmbeddings: boolean) {
    this.normalizeEmbeddings = normalizeEmbeddings;
  }

  /**
   * The matrix of distances between the rows of `embeddings` (B × D) and the rows of `ref`
   * (R × D), B × R. Without `ref`, the batch against itself (B × B, zero diagonal for
   * distances).
   */
  pairwise(embeddings: tf.Tensor2D, ref?: tf.Tensor2D): tf.Tensor2D {
    const check = (t: tf.Tensor, what: string): void =>
      require(
        t instanceof tf.Tensor && t.rank === 2,
        () => `${what} must be a 2-D tensor (batch × dimension), got shape [${(t as tf.Tensor)?.shape?.join(', ')}]`,
      );
    check(embeddings, 'embeddings');
    if (ref !== undefined) {
      check(ref, 'reference embeddings');
      require(
        ref.shape[1] === embeddings.shape[1],
        () => `reference embeddings have dimension ${ref.shape[1]} but embeddings have ${embeddings.shape[1]}`,
      );
    }
    return tf.tidy(() => {
      const x = this.normalizeEmbeddings ? l2Normalize(embeddings) : embeddings;
      if (ref === undefined) return this.compute(x, x, true);
      return this.compute(x, this.normalizeEmbeddings ? l2Normalize(ref) : ref, false);
    });
  }

  /**
   * The pairwise matrix read into a Float32Array (row-major), oriented so that smaller always
   * means closer: similarities are negated. Miners and losses select on these values, which
   * lets one code path serve distances and similarities.
   */
  orientedMatrix(embeddings: tf.Tensor2D, ref?: tf.Tensor2D): Float32Array {
    const matrix = this.pairwise(embeddings, ref);
    try {
      return this.orient(matrix.dataSync());
    } finally {
      matrix.dispose();
    }
  }

  /** A copy of `values` oriented so that smaller means closer (see {@link orientedMatrix}). */
  orient(values: Float32Array | Uint8Array | Int32Array): Float32Array {
    const out = Float32Array.from(values);
    if (this.isInverted) for (let i = 0; i < out.length; i++) out[i] = -out[i]!;
    return out;
  }

  /** The pairwise matrix of `x` (B × D) and `ref` (R × D); `sameSet` when `ref` is `x`. */
  protected abstract compute(x: tf.Tensor2D, ref: tf.Tensor2D, sameSet: boolean): tf.Tensor2D;
}
