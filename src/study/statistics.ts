/** Mean and spread of a set of runs' values. */
export interface MeanStd {
  readonly mean: number;
  /** Sample standard deviation (divides by n − 1); NaN for a single value. */
  readonly std: number;
  readonly n: number;
}

/** The mean and sample standard deviation of `values`, or undefined when there are none. */
export function meanStd(values: readonly number[]): MeanStd | undefined {
  const n = values.length;
  if (n === 0) return undefined;
  const mean = values.reduce((sum, v) => sum + v, 0) / n;
  const squares = values.reduce((sum, v) => sum + (v - mean) ** 2, 0);
  return { mean, std: n > 1 ? Math.sqrt(squares / (n - 1)) : NaN, n };
}
