/**
 * An error in what the caller passed (shapes, values, options), with a message that says what is
 * wrong and what to do. Thrown before any tensor work starts, so nothing is left half-done.
 */
export class TripletjsInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TripletjsInputError';
  }
}

/** Throws a {@link TripletjsInputError} with `message` unless `condition` holds. */
export function require(condition: boolean, message: string | (() => string)): asserts condition {
  if (!condition) throw new TripletjsInputError(typeof message === 'string' ? message : message());
}

/** Checks that an option is a finite number, optionally within bounds. */
export function requireNumber(
  name: string,
  value: number,
  bounds: { min?: number; max?: number; integer?: boolean; exclusiveMin?: boolean } = {},
): number {
  require(typeof value === 'number' && Number.isFinite(value), `${name} must be a finite number, got ${String(value)}`);
  if (bounds.integer) require(Number.isInteger(value), `${name} must be an integer, got ${value}`);
  if (bounds.min !== undefined) {
    const ok = bounds.exclusiveMin ? value > bounds.min : value >= bounds.min;
    require(ok, `${name} must be ${bounds.exclusiveMin ? '>' : '>='} ${bounds.min}, got ${value}`);
  }
  if (bounds.max !== undefined) require(value <= bounds.max, `${name} must be <= ${bounds.max}, got ${value}`);
  return value;
}
