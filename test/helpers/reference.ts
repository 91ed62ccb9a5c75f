/**
 * Plain brute-force references: nested loops over every anchor, positive and negative, in
 * float64, written from the definitions and sharing no code with the library.
 */

export type Matrix = number[][];

export interface DistanceSpec {
  kind: 'lp' | 'dot';
  normalize: boolean;
  p?: number;
  power?: number;
}

export function normalizeRows(x: Matrix): Matrix {
  return x.map((row) => {
    const norm = Math.sqrt(row.reduce((s, v) => s + v * v, 0));
    return row.map((v) => v / Math.max(norm, 1e-12));
  });
}

/** The pairwise matrix between rows of x and rows of y. */
export function referenceMatrix(x: Matrix, y: Matrix, spec: DistanceSpec): Matrix {
  const xs = spec.normalize ? normalizeRows(x) : x;
  const ys = spec.normalize ? normalizeRows(y) : y;
  return xs.map((a) =>
    ys.map((b) => {
      if (spec.kind === 'dot') return a.reduce((s, v, d) => s + v * b[d]!, 0);
      const p = spec.p ?? 2;
      const sum = a.reduce((s, v, d) => s + Math.abs(v - b[d]!) ** p, 0);
      return sum ** ((spec.power ?? 1) / p);
    }),
  );
}

export interface Triplet {
  a: number;
  p: number;
  n: number;
}

/** Every valid triplet, by brute force over all index triples. */
export function allTriplets(labels: number[]): Triplet[] {
  const out: Triplet[] = [];
  for (let a = 0; a < labels.length; a++)
    for (let p = 0; p < labels.length; p++)
      for (let n = 0; n < labels.length; n++)
        if (a !== p && labels[a] === labels[p] && labels[a] !== labels[n]) out.push({ a, p, n });
  return out;
}

export type ReducerName = 'mean' | 'avg-non-zero' | 'sum';

export function reduce(values: number[], reducer: ReducerName): number {
  const sum = values.reduce((s, v) => s + v, 0);
  if (reducer === 'sum') return sum;
  const count = reducer === 'mean' ? values.length : values.filter((v) => v > 0).length;
  return count === 0 ? 0 : sum / count;
}

export interface TripletLossSpec {
  margin: number;
  swap: boolean;
  smooth: boolean;
  inverted: boolean;
  reducer: ReducerName;
}

/** The triplet loss from its definition, on a distance (or similarity) matrix. */
export function referenceTripletLoss(D: Matrix, triplets: Triplet[], spec: TripletLossSpec): number {
  const values = triplets.map(({ a, p, n }) => {
    let ap = D[a]![p]!;
    let an = D[a]![n]!;
    if (spec.swap) an = spec.inverted ? Math.max(an, D[p]![n]!) : Math.min(an, D[p]![n]!);
    const violation = (spec.inverted ? an - ap : ap - an) + spec.margin;
    return spec.smooth ? Math.log(1 + Math.exp(violation)) : Math.max(0, violation);
  });
  return reduce(values, spec.reducer);
}

export interface Pair {
  a: number;
  b: number;
}

/** Every ordered pair with the same label (positive) and with different labels (negative). */
export function allPairs(labels: number[]): { positive: Pair[]; negative: Pair[] } {
  const positive: Pair[] = [];
  const negative: Pair[] = [];
  for (let a = 0; a < labels.length; a++)
    for (let b = 0; b < labels.length; b++) {
      if (a === b) continue;
      (labels[a] === labels[b] ? positive : negative).push({ a, b });
    }
  return { positive, negative };
}

export interface ContrastiveSpec {
  posMargin: number;
  negMargin: number;
  inverted: boolean;
  reducer: ReducerName;
}

export function referenceContrastiveLoss(D: Matrix, positive: Pair[], negative: Pair[], spec: ContrastiveSpec): number {
  const pos = positive.map(({ a, b }) => Math.max(0, spec.inverted ? spec.posMargin - D[a]![b]! : D[a]![b]! - spec.posMargin));
  const neg = negative.map(({ a, b }) => Math.max(0, spec.inverted ? D[a]![b]! - spec.negMargin : spec.negMargin - D[a]![b]!));
  return reduce(pos, spec.reducer) + reduce(neg, spec.reducer);
}

/** Central finite differences of f at x, in float64. */
export function finiteDifferenceGradient(f: (x: Matrix) => number, x: Matrix, h = 1e-6): Matrix {
  return x.map((row, i) =>
    row.map((_, d) => {
      const plus = x.map((r) => r.slice());
      const minus = x.map((r) => r.slice());
      plus[i]![d]! += h;
      minus[i]![d]! -= h;
      return (f(plus) - f(minus)) / (2 * h);
    }),
  );
}

// ---- miners, brute force over all triplets of a given (oriented: smaller = closer) matrix ----

/** TripletMarginMiner's rule: keep (a,p,n) by m = d(a,n) − d(a,p). */
export function referenceTripletMarginMiner(D: Matrix, labels: number[], margin: number, type: string): Triplet[] {
  return allTriplets(labels).filter(({ a, p, n }) => {
    const m = D[a]![n]! - D[a]![p]!;
    if (type === 'all') return m <= margin;
    if (type === 'hard') return m <= margin && m <= 0;
    if (type === 'semihard') return m <= margin && m > 0;
    return m > margin;
  });
}

/** For each anchor: the farthest positive and the closest negative (lowest index on ties). */
export function referenceBatchHard(D: Matrix, labels: number[]): Triplet[] {
  const out: Triplet[] = [];
  for (let a = 0; a < labels.length; a++) {
    let p = -1;
    let n = -1;
    for (let j = 0; j < labels.length; j++) {
      if (j !== a && labels[j] === labels[a] && (p < 0 || D[a]![j]! > D[a]![p]!)) p = j;
      if (labels[j] !== labels[a] && (n < 0 || D[a]![j]! < D[a]![n]!)) n = j;
    }
    if (p >= 0 && n >= 0) out.push({ a, p, n });
  }
  return out;
}

/** For each (a,p): closest negative farther than p, else the farthest negative (lowest index on ties). */
export function referenceSemiHard(D: Matrix, labels: number[], margin = Infinity): Triplet[] {
  const out: Triplet[] = [];
  for (let a = 0; a < labels.length; a++)
    for (let p = 0; p < labels.length; p++) {
      if (p === a || labels[p] !== labels[a]) continue;
      let outside = -1;
      let farthest = -1;
      for (let n = 0; n < labels.length; n++) {
        if (labels[n] === labels[a]) continue;
        if (D[a]![n]! > D[a]![p]! && (outside < 0 || D[a]![n]! < D[a]![outside]!)) outside = n;
        if (farthest < 0 || D[a]![n]! > D[a]![farthest]!) farthest = n;
      }
      const n = outside >= 0 ? outside : farthest;
      if (n >= 0 && D[a]![n]! - D[a]![p]! < margin) out.push({ a, p, n });
    }
  return out;
}

/** Hard pairs: positives farther than posThreshold, negatives closer than negThreshold. */
export function referencePairMargin(D: Matrix, labels: number[], posThreshold: number, negThreshold: number) {
  const { positive, negative } = allPairs(labels);
  return {
    positive: positive.filter(({ a, b }) => D[a]![b]! > posThreshold),
    negative: negative.filter(({ a, b }) => D[a]![b]! < negThreshold),
  };
}

/**
 * Multi-similarity pairs, straight from the definition over oriented distances: a negative closer
 * than the anchor's farthest positive + ε, a positive farther than its closest negative − ε.
 */
export function referenceMultiSimilarity(D: Matrix, labels: number[], epsilon: number) {
  const { positive, negative } = allPairs(labels);
  const farthestPositive = (a: number) => Math.max(...positive.filter((p) => p.a === a).map(({ b }) => D[a]![b]!));
  const closestNegative = (a: number) => Math.min(...negative.filter((n) => n.a === a).map(({ b }) => D[a]![b]!));
  // An anchor with no positive (or no negative) gets ±Infinity here, and so no pair.
  const usable = (a: number) => Number.isFinite(farthestPositive(a)) && Number.isFinite(closestNegative(a));
  return {
    positive: positive.filter(({ a, b }) => usable(a) && D[a]![b]! + epsilon > closestNegative(a)),
    negative: negative.filter(({ a, b }) => usable(a) && D[a]![b]! - epsilon < farthestPositive(a)),
  };
}
