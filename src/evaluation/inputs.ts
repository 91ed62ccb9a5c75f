import { require, requireNumber, TripletjsInputError } from '../common/errors.js';

/**
 * How evaluation compares embeddings: `'euclidean'` is the L2 distance on the raw rows,
 * `'cosine'` is `1 − cos(a, b)` (rows L2-normalised first; an all-zero row is at distance 1 from
 * everything).
 */
export type EvaluationMetric = 'euclidean' | 'cosine';

/** Checks a metric name (`undefined` means the default, `'euclidean'`, as in PML's AccuracyCalculator). */
export function checkMetric(metric: EvaluationMetric | undefined): EvaluationMetric {
  if (metric === undefined) return 'euclidean';
  require(
    metric === 'euclidean' || metric === 'cosine',
    () => `metric must be 'euclidean' or 'cosine', got '${String(metric)}'`,
  );
  return metric;
}

/** Checks the embedding dimension: a positive integer. */
export function checkDims(dims: number): number {
  return requireNumber('dims', dims, { integer: true, min: 1 });
}

/**
 * Checks an embedding matrix given row-major as a flat Float32Array of `rows × dims` finite values
 * and returns its number of rows. `what` names it in messages ("queries", "references").
 */
export function checkEmbeddingRows(values: Float32Array, dims: number, what: string): number {
  require(values instanceof Float32Array, `${what} must be a Float32Array (rows × dims, row-major)`);
  require(values.length > 0, `${what} is empty: evaluation needs at least one embedding`);
  require(
    values.length % dims === 0,
    () => `${what} has ${values.length} values, not a multiple of dims = ${dims}: check that dims is the embedding dimension`,
  );
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i]!)) {
      const row = Math.floor(i / dims);
      throw new TripletjsInputError(
        `${what} contain ${values[i]} at row ${row}, column ${i - row * dims}: embeddings must be finite`,
      );
    }
  }
  return values.length / dims;
}
