/** First position in `values[0, length)` (sorted ascending) whose value is > `x`. */
export function upperBound(values: Float64Array, x: number, length: number = values.length): number {
  let lo = 0;
  let hi = length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (values[mid]! > x) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** Smallest table: five branch-free steps place a value among up to 31 keys. */
const MIN_TABLE_SIZE = 32;

/**
 * A few sorted keys (one anchor's positives) among which many values (its negatives) are placed.
 * The keys are padded with +∞ to a power of two, so that the search is a fixed number of
 * comparison steps whose results are added rather than branched on: about 3× faster than a
 * binary search over a B × B matrix, whose branches the processor cannot predict.
 */
export class ThresholdTable {
  /** The keys; fill `keys[0, count)` and call {@link ThresholdTable.sort}. */
  readonly keys: Float64Array;
  private readonly size: number;

  /** A table for up to `capacity` keys. */
  constructor(capacity: number) {
    let size = MIN_TABLE_SIZE;
    while (size <= capacity) size *= 2;
    this.size = size;
    this.keys = new Float64Array(size);
  }

  /**
   * Sorts `keys[0, count)` ascending, applying the same moves to `payload` (equal keys keep their
   * order), and pads the rest with +∞. Insertion sort: the keys are few.
   */
  sort(count: number, payload: Int32Array): void {
    const keys = this.keys;
    for (let i = 1; i < count; i++) {
      const key = keys[i]!;
      const item = payload[i]!;
      let j = i - 1;
      while (j >= 0 && keys[j]! > key) {
        keys[j + 1] = keys[j]!;
        payload[j + 1] = payload[j]!;
        j--;
      }
      keys[j + 1] = key;
      payload[j + 1] = item;
    }
    keys.fill(Infinity, count);
  }

  /** The number of keys below `x`. */
  countBelow(x: number): number {
    const k = this.keys;
    let g = 0;
    for (let step = this.size >> 1; step > 16; step >>= 1) g += +(k[g + step - 1]! < x) * step;
    g += +(k[g + 15]! < x) << 4;
    g += +(k[g + 7]! < x) << 3;
    g += +(k[g + 3]! < x) << 2;
    g += +(k[g + 1]! < x) << 1;
    return g + +(k[g]! < x);
  }

}
