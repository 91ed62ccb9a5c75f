/** What a loss knows about its per-tuple values when it reduces them. */
export interface LossStatistics {
  /** Sum of the per-tuple loss values. */
  readonly sum: number;
  /** Number of tuples. */
  readonly count: number;
  /** Number of tuples whose loss is above zero (the "active" ones). */
  readonly nonzeroCount: number;
}

/**
 * Turns per-tuple loss values into one number.
 *
 * tripletjs reducers are linear in the per-tuple values: the result is `sum × scale`, with a
 * scale chosen from the counts (1/count for the mean, 1/nonzeroCount for the mean over active
 * tuples, 1 for the sum). The scale is treated as a constant in the gradient, as
 * pytorch-metric-learning does. Linearity lets a loss stream over millions of tuples without
 * storing one value per tuple.
 */
export interface Reducer {
  /** A short name for logs and reports. */
  readonly name: string;
  /** The factor that multiplies the sum of the per-tuple values; 0 when nothing counts. */
  scale(statistics: LossStatistics): number;
}
