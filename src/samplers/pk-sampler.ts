import { require, requireNumber } from '../common/errors.js';
import { SeededRandom } from '../common/random.js';

/** Options of {@link PKSampler}. */
export interface PKSamplerOptions {
  /** One integer (int32) label per dataset example; example `i` has label `labels[i]`. */
  labels: ArrayLike<number>;
  /** Classes per batch (integer >= 2: an anchor needs a negative). The classes of one batch are always distinct. */
  p: number;
  /** Examples per class in a batch (integer >= 2: a class needs a positive pair). */
  k: number;
  /** Seed of the sampler; together with the epoch index it fixes every batch. Default 0. */
  seed?: number;
  /**
   * What to do with classes that have fewer than `k` examples: `'replace'` (default) fills their
   * `k` entries with repeats, each example as often as the others ± 1; `'skip'` leaves them out.
   */
  smallClasses?: 'replace' | 'skip';
}

/**
 * Batches of `p` distinct classes × `k` examples each, as in Hermans, Beyer & Leibe, "In Defense of
 * the Triplet Loss for Person Re-Identification" (2017): every batch has positives and negatives
 * for every anchor, which batch-hard / batch-all mining needs.
 *
 * An epoch is balanced over examples, not over classes: class `c` with `n_c` examples gets
 * `ceil(n_c / k)` slots (one slot = `k` of its examples in one batch), so over an epoch every
 * example is visited about once, whatever the class sizes. Within a class the examples are dealt
 * from shuffled passes over all of them, so their visit counts differ by at most one (before the
 * few slots dropped to make whole batches). The slots are then spread over a fixed number of batches
 * ({@link batchesPerEpoch}, the most that can be built from them with distinct classes per batch),
 * choosing the classes of each batch at random in proportion to their remaining slots.
 *
 * Every epoch is a pure function of `(seed, epochIndex)`: no state is carried from one call to the
 * next, so a training run resumed at epoch `e` sees exactly the data order it would have seen.
 */
export class PKSampler {
  /** Examples per batch: `p * k`. */
  readonly batchSize: number;
  /** Number of batches that {@link epoch} returns, the same for every epoch. */
  readonly batchesPerEpoch: number;
  /** The labels that take part in sampling (after `smallClasses: 'skip'`), ascending. */
  readonly classes: Int32Array;

  private readonly p: number;
  private readonly k: number;
  private readonly seed: number;
  private readonly datasetSize: number;
  /** Dataset indices grouped by class: class `j` owns `members[offsets[j] .. offsets[j+1])`. */
  private readonly members: Int32Array;
  private readonly offsets: Int32Array;
  /** Slots of class `j` per epoch before trimming: `ceil(n_j / k)`. */
  private readonly slots: Int32Array;

  /** Validates the options and fixes the class structure; throws a TripletjsInputError on bad input. */
  constructor(options: PKSamplerOptions) {
    require(options !== null && typeof options === 'object', 'PKSampler needs an options object { labels, p, k }');
    const { labels, p, k, seed = 0, smallClasses = 'replace' } = options;
    require(
      labels !== null && labels !== undefined && typeof labels.length === 'number',
      'labels must be an array-like of integer labels (one per dataset example)',
    );
    require(labels.length > 0, 'labels is empty: PKSampler needs at least one labelled example');
    requireNumber('p', p, { integer: true, min: 1 });
    require(p >= 2, 'p = 1 gives batches of one class, without a single negative: use p >= 2');
    requireNumber('k', k, { integer: true, min: 1 });
    require(
      k >= 2,
      'k = 1 gives batches without a single positive pair, which is useless for metric learning: use k >= 2 (typically 4)',
    );
    requireNumber('seed', seed, { integer: true });
    require(
      smallClasses === 'replace' || smallClasses === 'skip',
      () => `smallClasses must be 'replace' or 'skip', got ${String(smallClasses)}`,
    );

    // Count per label first (one pass, also validating), then fill a CSR layout: no per-class arrays.
    const counts = new Map<number, number>();
    for (let i = 0; i < labels.length; i++) {
      const label = labels[i]!;
      require(
        typeof label === 'number' && Number.isInteger(label) && label >= -0x80000000 && label <= 0x7fffffff,
        () => `labels must be int32 integers, but labels[${i}] = ${String(label)}`,
      );
      counts.set(label, (counts.get(label) ?? 0) + 1);
    }
    const allClasses = Int32Array.from(counts.keys()).sort();
    const eligible = allClasses.filter((c) => smallClasses === 'replace' || counts.get(c)! >= k);
    const skipped = allClasses.length - eligible.length;
    require(eligible.length >= p, () => {
      let message =
        `PKSampler needs at least p = ${p} classes, but only ${eligible.length} of the ${allClasses.length} ` +
        `classes in labels can be sampled`;
      if (skipped > 0) message += ` (${skipped} have fewer than k = ${k} examples and are skipped)`;
      message += `: lower p to at most ${eligible.length}`;
      if (skipped > 0) message += ` or use smallClasses: 'replace' to include the small classes`;
      return message;
    });

    const classCount = eligible.length;
    const position = new Map<number, number>();
    const offsets = new Int32Array(classCount + 1);
    const slots = new Int32Array(classCount);
    for (let j = 0; j < classCount; j++) {
      const n = counts.get(eligible[j]!)!;
      position.set(eligible[j]!, j);
      offsets[j + 1] = offsets[j]! + n;
      slots[j] = Math.ceil(n / k);
    }
    const members = new Int32Array(offsets[classCount]!);
    const fill = offsets.slice(0, classCount);
    for (let i = 0; i < labels.length; i++) {
      const j = position.get(labels[i]!);
      if (j !== undefined) members[fill[j]!++] = i;
    }

    this.p = p;
    this.k = k;
    this.seed = seed;
    this.datasetSize = labels.length;
    this.members = members;
    this.offsets = offsets;
    this.slots = slots;
    this.classes = eligible;
    this.batchSize = p * k;
    this.batchesPerEpoch = maxBatches(slots, p);
  }

  /**
   * The batches of one epoch, as Int32Array of dataset indices (length `p*k`, class-major: `k` of
   * one class, then `k` of the next ...). Deterministic given `(seed, epochIndex)`, independent of
   * which epochs were asked before — so a resumed training gets the same data order.
   */
  epoch(epochIndex: number): Int32Array[] {
    requireNumber('epochIndex', epochIndex, { integer: true, min: 0 });
    const { p, k, slots } = this;
    const classCount = slots.length;
    const batchCount = this.batchesPerEpoch;
    const rng = new SeededRandom(epochSeed(this.seed, epochIndex));

    // Slots actually used this epoch: a class cannot appear twice in a batch, so at most one slot
    // per batch; the few surplus slots (< p) are dropped uniformly at random so no class is
    // systematically the one left out.
    const remaining = new Int32Array(classCount);
    let total = 0;
    for (let j = 0; j < classCount; j++) total += remaining[j] = Math.min(slots[j]!, batchCount);
    const weights = new Fenwick(remaining);
    for (let excess = total - p * batchCount; excess > 0; excess--) {
      const j = weights.find(rng.int(weights.total));
      remaining[j]!--;
      weights.add(j, -1);
    }

    // Invariant at the start of each batch, with R batches left: sum(remaining) = p*R and every
    // remaining[j] <= R. A class with remaining[j] = R must go into this batch or it could no
    // longer fit; there are at most p such classes and at least p classes with slots left, so the
    // batch can always be completed and the invariant holds for R-1. Hence exactly batchCount batches.
    const byRemaining = new Map<number, Set<number>>();
    for (let j = 0; j < classCount; j++) if (remaining[j]! > 0) bucket(byRemaining, remaining[j]!).add(j);

    const queues = new ClassQueues(this.members, this.offsets, this.datasetSize, rng);
    const chosen = new Int32Array(p);
    const batches: Int32Array[] = [];
    for (let left = batchCount; left > 0; left--) {
      let m = 0;
      for (const j of byRemaining.get(left) ?? []) chosen[m++] = j;
      // Take the chosen classes out of the draw so the batch's classes stay distinct.
      for (let i = 0; i < m; i++) weights.add(chosen[i]!, -remaining[chosen[i]!]!);
      while (m < p) {
        const j = weights.find(rng.int(weights.total));
        chosen[m++] = j;
        weights.add(j, -remaining[j]!);
      }
      for (let i = 0; i < p; i++) {
        const j = chosen[i]!;
        const r = remaining[j]!;
        byRemaining.get(r)!.delete(j);
        if (r > 1) bucket(byRemaining, r - 1).add(j);
        remaining[j] = r - 1;
        weights.add(j, r - 1);
      }
      // Forced classes were taken first; shuffle so position in the batch carries no meaning.
      rng.shuffle(chosen);
      const batch = new Int32Array(p * k);
      for (let i = 0; i < p; i++) queues.deal(chosen[i]!, k, batch, i * k);
      batches.push(batch);
    }
    return batches;
  }
}

/**
 * The largest B such that B batches of p distinct classes can be made from the slots: B is
 * feasible iff sum_j min(slots_j, B) >= p*B (each class gives at most one slot per batch; then
 * dealing the slots class by class round-robin over the batches fills them). The left side minus
 * p*B is concave in B and 0 at B = 0, so the feasible B form an interval and bisection finds its end.
 */
function maxBatches(slots: Int32Array, p: number): number {
  const feasible = (b: number): boolean => {
    let sum = 0;
    for (let j = 0; j < slots.length; j++) sum += Math.min(slots[j]!, b);
    return sum >= p * b;
  };
  let total = 0;
  for (let j = 0; j < slots.length; j++) total += slots[j]!;
  let lo = 0;
  let hi = Math.floor(total / p);
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (feasible(mid)) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

function bucket(map: Map<number, Set<number>>, key: number): Set<number> {
  let set = map.get(key);
  if (set === undefined) map.set(key, (set = new Set()));
  return set;
}

/** murmur3's 32-bit finaliser: spreads every input bit over the output. */
function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h | 0;
}

/**
 * A seed for one epoch from (seed, epoch). Hashed rather than e.g. `seed + epoch`, so that epoch 1
 * of seed 0 is not epoch 0 of seed 1. The high bits of large values are folded in too.
 */
function epochSeed(seed: number, epoch: number): number {
  let h = mix32((seed | 0) ^ 0x9e3779b9);
  h = mix32(h ^ (Math.floor(seed / 0x100000000) | 0));
  h = mix32(h ^ mix32((epoch | 0) + 0x632be5ab));
  h = mix32(h ^ (Math.floor(epoch / 0x100000000) | 0));
  return h;
}

/** Non-negative integer weights with O(log n) update and weighted draw (a Fenwick tree). */
class Fenwick {
  private readonly tree: Float64Array;
  private readonly top: number;
  total = 0;

  constructor(weights: ArrayLike<number>) {
    const n = weights.length;
    this.tree = new Float64Array(n + 1);
    for (let i = 0; i < n; i++) this.add(i, weights[i]!);
    let top = 1;
    while (top * 2 <= n) top *= 2;
    this.top = top;
  }

  add(index: number, delta: number): void {
    this.total += delta;
    for (let i = index + 1; i < this.tree.length; i += i & -i) this.tree[i]! += delta;
  }

  /** The index whose cumulative range contains `target` (0 <= target < total). */
  find(target: number): number {
    let pos = 0;
    for (let step = this.top; step > 0; step >>= 1) {
      const next = pos + step;
      if (next < this.tree.length && this.tree[next]! <= target) {
        pos = next;
        target -= this.tree[next]!;
      }
    }
    return pos;
  }
}

/**
 * Per-class queues of dataset indices for one epoch. Each class deals its examples in shuffled
 * passes over all of them, so within a class visit counts differ by at most one. When a pass runs
 * out in the middle of a class's k entries, the next pass puts the examples already in those
 * entries last, so a batch repeats an example only when the class has fewer than k.
 */
class ClassQueues {
  private readonly queues = new Map<number, { order: Int32Array; next: number }>();
  private readonly inChunk: Uint8Array;

  constructor(
    private readonly members: Int32Array,
    private readonly offsets: Int32Array,
    datasetSize: number,
    private readonly rng: SeededRandom,
  ) {
    this.inChunk = new Uint8Array(datasetSize);
  }

  /** Writes `count` examples of class `j` into `out[at .. at+count)`. */
  deal(j: number, count: number, out: Int32Array, at: number): void {
    let queue = this.queues.get(j);
    if (queue === undefined) {
      // Created lazily and empty, so the first take starts with a fresh pass like every later one.
      queue = { order: this.members.slice(this.offsets[j]!, this.offsets[j + 1]!), next: Infinity };
      this.queues.set(j, queue);
    }
    for (let t = 0; t < count; t++) {
      if (queue.next >= queue.order.length) this.newPass(queue, out, at, t);
      out[at + t] = queue.order[queue.next++]!;
    }
  }

  private newPass(queue: { order: Int32Array; next: number }, out: Int32Array, at: number, taken: number): void {
    const order = queue.order;
    this.rng.shuffle(order);
    if (taken > 0) {
      // Stable partition: examples not yet in this chunk first, both parts keep their random order.
      for (let t = 0; t < taken; t++) this.inChunk[out[at + t]!] = 1;
      const fresh: number[] = [];
      const repeated: number[] = [];
      for (let i = 0; i < order.length; i++) (this.inChunk[order[i]!] ? repeated : fresh).push(order[i]!);
      order.set(fresh, 0);
      order.set(repeated, fresh.length);
      for (let t = 0; t < taken; t++) this.inChunk[out[at + t]!] = 0;
    }
    queue.next = 0;
  }
}
