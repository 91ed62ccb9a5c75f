import { DotProductSimilarity } from './dot-product-similarity.js';

/** The cosine similarity: the dot product of L2-normalised rows (larger means closer). */
export class CosineSimilarity extends DotProductSimilarity {
  override readonly name = 'cosine';

  constructor() {
    super({ normalizeEmbeddings: true });
  }
}
