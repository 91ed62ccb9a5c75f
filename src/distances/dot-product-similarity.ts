import { tf } from '../tf.js';
import { BaseDistance, type GramForm } from './base-distance.js';

/** Options of {@link DotProductSimilarity}. */
export interface DotProductSimilarityOptions {
  /** L2-normalise rows first (default true, which makes it the cosine similarity). */
  normalizeEmbeddings?: boolean;
}

/** The dot product `x·y` as a similarity (larger means closer). */
export class DotProductSimilarity extends BaseDistance {
  readonly name: string = 'dot-product';
  readonly isInverted = true;

  constructor({ normalizeEmbeddings = true }: DotProductSimilarityOptions = {}) {
    super(normalizeEmbeddings);
  }

  protected compute(x: tf.Tensor2D, ref: tf.Tensor2D): tf.Tensor2D {
    return tf.matMul(x, tf.transpose(ref));
  }

  protected override gramForm(): GramForm {
    return DOT_PRODUCT_FORM;
  }
}

/** The matrix is the Gram matrix itself: `∂(x_i·x_j)/∂x_i = x_j`. */
const DOT_PRODUCT_FORM: GramForm = { difference: false, power: 0, fromGram: (gram, out) => out.set(gram), factor: () => 1 };
