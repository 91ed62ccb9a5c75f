/** The indices of each label, for enumerating positives without scanning the whole batch. */
export class LabelGroups {
  private readonly groups = new Map<number, Int32Array>();

  constructor(labels: Int32Array) {
    const lists = new Map<number, number[]>();
    for (let i = 0; i < labels.length; i++) {
      const label = labels[i]!;
      let list = lists.get(label);
      if (list === undefined) lists.set(label, (list = []));
      list.push(i);
    }
    for (const [label, list] of lists) this.groups.set(label, Int32Array.from(list));
  }

  /** The indices carrying `label` (empty when none does). */
  of(label: number): Int32Array {
    return this.groups.get(label) ?? EMPTY;
  }

  /** Number of distinct labels. */
  get size(): number {
    return this.groups.size;
  }
}

const EMPTY = new Int32Array(0);

/** The two kinds of tuples losses are computed over. */
export type TupleKind = 'triplet' | 'pair';

/**
 * The number of valid tuples in a batch with `labels`: anchor–positive–negative triplets (from
 * the class sizes), or ordered pairs of distinct examples (every one is a positive or a negative).
 */
export function countValidTuples(labels: Int32Array, kind: TupleKind): number {
  const total = labels.length;
  if (kind === 'pair') return total * (total - 1);
  let count = 0;
  for (const size of classSizes(labels)) count += size * (size - 1) * (total - size);
  return count;
}

function classSizes(labels: Int32Array): number[] {
  const sizes = new Map<number, number>();
  for (const label of labels) sizes.set(label, (sizes.get(label) ?? 0) + 1);
  return [...sizes.values()];
}

/**
 * Calls `visit(a, p)` for every anchor–positive pair: `p` indexes the reference set, has the
 * anchor's label, and is not the anchor itself when the reference set is the batch. Consumers
 * loop over the negatives (`refLabels[n] !== labels[a]`) themselves: that inner loop runs once per
 * triplet, and written in place it stays monomorphic and fast where a per-triplet callback shared
 * by several consumers would not.
 */
export function forEachAnchorPositive(
  labels: Int32Array,
  refLabels: Int32Array,
  sameSet: boolean,
  visit: (anchor: number, positive: number) => void,
): void {
  const groups = new LabelGroups(refLabels);
  for (let a = 0; a < labels.length; a++) {
    const positives = groups.of(labels[a]!);
    for (let i = 0; i < positives.length; i++) {
      const p = positives[i]!;
      if (!(sameSet && p === a)) visit(a, p);
    }
  }
}

/** Calls `visit(a, b, same)` for every ordered pair (a from the batch, b from the reference set, a ≠ b in the same set). */
export function forEachPair(
  labels: Int32Array,
  refLabels: Int32Array,
  sameSet: boolean,
  visit: (a: number, b: number, sameLabel: boolean) => void,
): void {
  const cols = refLabels.length;
  for (let a = 0; a < labels.length; a++) {
    const label = labels[a]!;
    for (let b = 0; b < cols; b++) if (!(sameSet && a === b)) visit(a, b, refLabels[b] === label);
  }
}
