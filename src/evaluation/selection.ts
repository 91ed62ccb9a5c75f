/**
 * Partial selection on parallel arrays of keys and indices, ordered by (key, index): the smaller
 * key first, the lower index on equal keys. Indices are distinct, so the order is strict and
 * quickselect needs no special care for duplicates.
 */

/** Insertion sort takes over below this many elements. */
const SMALL = 16;

/**
 * Moves the `k` smallest of the first `n` (key, index) pairs to the front, in increasing order.
 * Quickselect (expected O(n)) then a quicksort of the first `k` (O(k log k)): the other n − k
 * entries are never sorted. The rest of the arrays is left in an unspecified order.
 */
export function selectSmallest(keys: Float64Array, ids: Int32Array, n: number, k: number): void {
  const count = Math.min(k, n);
  if (count <= 0) return;
  if (count < n) select(keys, ids, 0, n - 1, count - 1);
  sortRange(keys, ids, 0, count - 1);
}

/** Quickselect: afterwards position `target` holds what a full sort would put there, smaller pairs before it. */
function select(keys: Float64Array, ids: Int32Array, lo: number, hi: number, target: number): void {
  while (hi > lo) {
    const p = partition(keys, ids, lo, hi);
    if (p === target) return;
    if (p < target) lo = p + 1;
    else hi = p - 1;
  }
}

/** Quicksort of positions lo..hi (inclusive), recursing into the smaller side so the stack stays O(log n). */
function sortRange(keys: Float64Array, ids: Int32Array, lo: number, hi: number): void {
  while (hi - lo > SMALL) {
    const p = partition(keys, ids, lo, hi);
    if (p - lo < hi - p) {
      sortRange(keys, ids, lo, p - 1);
      lo = p + 1;
    } else {
      sortRange(keys, ids, p + 1, hi);
      hi = p - 1;
    }
  }
  for (let i = lo + 1; i <= hi; i++) {
    const key = keys[i]!;
    const id = ids[i]!;
    let j = i - 1;
    while (j >= lo && (keys[j]! > key || (keys[j] === key && ids[j]! > id))) {
      keys[j + 1] = keys[j]!;
      ids[j + 1] = ids[j]!;
      j--;
    }
    keys[j + 1] = key;
    ids[j + 1] = id;
  }
}

/**
 * Lomuto partition of lo..hi around the median of the first, middle and last pairs (which keeps
 * already-sorted input, common with ties broken by index, at O(n log n) rather than O(n²)).
 * Returns the pivot's final position.
 */
function partition(keys: Float64Array, ids: Int32Array, lo: number, hi: number): number {
  const mid = (lo + hi) >>> 1;
  if (before(keys, ids, mid, lo)) swap(keys, ids, mid, lo);
  if (before(keys, ids, hi, lo)) swap(keys, ids, hi, lo);
  if (before(keys, ids, mid, hi)) swap(keys, ids, mid, hi);
  const pivotKey = keys[hi]!;
  const pivotId = ids[hi]!;
  let store = lo;
  for (let i = lo; i < hi; i++) {
    const key = keys[i]!;
    if (key < pivotKey || (key === pivotKey && ids[i]! < pivotId)) {
      swap(keys, ids, i, store);
      store++;
    }
  }
  swap(keys, ids, store, hi);
  return store;
}

function before(keys: Float64Array, ids: Int32Array, a: number, b: number): boolean {
  return keys[a]! < keys[b]! || (keys[a] === keys[b] && ids[a]! < ids[b]!);
}

function swap(keys: Float64Array, ids: Int32Array, a: number, b: number): void {
  const key = keys[a]!;
  keys[a] = keys[b]!;
  keys[b] = key;
  const id = ids[a]!;
  ids[a] = ids[b]!;
  ids[b] = id;
}
