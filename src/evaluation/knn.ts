import { require, requireNumber } from '../common/errors.js';
import { defaultBlockRows, forEachDotBlock, squaredNorms } from './dot-blocks.js';
import { checkDims, checkEmbeddingRows, checkMetric, type EvaluationMetric } from './inputs.js';
import { selectSmallest } from './selection.js';
import { forEachRow, type RankingRow } from './relevance.js';

/** Options of {@link nearestNeighbors} and {@link forEachNearestNeighbors}. */
export interface NearestNeighborOptions {
  /**
   * The queries ARE the references (same rows, same order): leave-one-out, a query never returns
   * itself. Default false.
   */
  excludeSelf?: boolean;
  /** Default `'euclidean'`. */
  metric?: EvaluationMetric;
  /**
   * Query rows per block of distances. By default as many as keep a block within 64 MB
   * (2^24 / references rows).
   */
  chunkRows?: number;
}

/** The k nearest references of every query, sorted by increasing distance (ties by lower index). */
export interface NearestNeighbors {
  /** `queries × k`, row-major: reference indices. */
  indices: Int32Array;
  /** `queries × k`, row-major: the matching distances. */
  distances: Float32Array;
}

/**
 * Exact k-nearest neighbours of every query row among the reference rows (both row-major
 * Float32Arrays, `dims` wide).
 *
 * Distances come from matrix products (TensorFlow.js), a block of query rows at a time, and the k
 * nearest of each query are picked by quickselect, so a query costs O(R + k log k) after its
 * distances, never a full sort of the R references. Ties (equal computed distances) go to the
 * lower index. Memory: one transposed copy of the references on the backend, one 64 MB block of
 * distances, 12 bytes per reference of selection scratch, and the `queries × k` result (use
 * {@link forEachNearestNeighbors} to stream instead when k is large).
 */
export function nearestNeighbors(
  queries: Float32Array,
  references: Float32Array,
  dims: number,
  k: number,
  options: NearestNeighborOptions = {},
): NearestNeighbors {
  const search = checkSearch(queries, references, dims, k, options);
  const indices = new Int32Array(search.queryCount * k);
  const distances = new Float32Array(indices.length);
  scan(search, k, (query, ids, dist) => {
    indices.set(ids, query * k);
    distances.set(dist, query * k);
  });
  return { indices, distances };
}

/**
 * Like {@link nearestNeighbors}, but hands each query's neighbour list to `visit` as it is found
 * instead of keeping them all. `indices` and `distances` (length k, sorted) are reused for the
 * next query: copy them to keep them. Queries are visited in order.
 */
export function forEachNearestNeighbors(
  queries: Float32Array,
  references: Float32Array,
  dims: number,
  k: number,
  options: NearestNeighborOptions,
  visit: (query: number, indices: Int32Array, distances: Float32Array) => void,
): void {
  scan(checkSearch(queries, references, dims, k, options), k, visit);
}

/**
 * A block of queries' ranking keys against every reference, computed on demand from the block's
 * dot products: for query `firstRow + r`, `key(j) = base[j] − scale · dots[r · columns + j]`
 * increases with the distance to reference j (|r|² − 2q·r for Euclidean, since |q|² is the same
 * for all of a query's references; −cos for cosine).
 */
export interface RankingBlock {
  firstRow: number;
  rows: number;
  /** See {@link DotBlock.dots}: valid only during the visit, and no TensorFlow.js op inside it. */
  dots: Float32Array;
  base: Float64Array;
  scale: number;
}

/**
 * Hands `visit` the {@link RankingBlock}s of all queries, in order, 64 MB of dot products at a
 * time. What to select from the keys is the caller's: {@link forEachNearestNeighbors} keeps the
 * k nearest, the retrieval metrics need only the labels of the first R. `options.excludeSelf` is
 * checked but not applied: a row still holds the query's own key.
 */
export function forEachRankingBlock(
  queries: Float32Array,
  references: Float32Array,
  dims: number,
  options: NearestNeighborOptions,
  visit: (block: RankingBlock) => void,
): void {
  rankingBlocks(checkSearch(queries, references, dims, undefined, options), visit);
}

/** Validated inputs of one search. */
interface Search {
  queries: Float32Array;
  references: Float32Array;
  dims: number;
  queryCount: number;
  referenceCount: number;
  /** References a query is ranked against: all, or all but itself. */
  candidates: number;
  excludeSelf: boolean;
  euclidean: boolean;
  blockRows: number;
}

/** Checks the inputs of a search; `k` is checked against the candidates when given. */
function checkSearch(
  queries: Float32Array,
  references: Float32Array,
  dims: number,
  k: number | undefined,
  options: NearestNeighborOptions,
): Search {
  require(options !== null && typeof options === 'object', 'nearest-neighbour options must be an object');
  const metric = checkMetric(options.metric);
  checkDims(dims);
  const queryCount = checkEmbeddingRows(queries, dims, 'queries');
  const referenceCount = checkEmbeddingRows(references, dims, 'references');
  const excludeSelf = options.excludeSelf ?? false;
  require(
    !excludeSelf || queryCount === referenceCount,
    () => `excludeSelf needs the queries to be the references, but there are ${queryCount} queries and ${referenceCount} references`,
  );
  const candidates = referenceCount - (excludeSelf ? 1 : 0);
  if (k !== undefined) {
    requireNumber('k', k, { integer: true, min: 1 });
    require(
      k <= candidates,
      () => `k = ${k} but each query has only ${candidates} candidate references${excludeSelf ? ' (itself excluded)' : ''}`,
    );
  }
  const blockRows =
    options.chunkRows === undefined
      ? defaultBlockRows(referenceCount)
      : requireNumber('chunkRows', options.chunkRows, { integer: true, min: 1 });
  return { queries, references, dims, queryCount, referenceCount, candidates, excludeSelf, euclidean: metric === 'euclidean', blockRows };
}

/** Computes the dot products block by block and visits each block's ranking keys. */
function rankingBlocks(search: Search, visit: (block: RankingBlock) => void): void {
  const { queries, references, dims, referenceCount, euclidean, blockRows } = search;
  const base = euclidean ? squaredNorms(references, dims) : new Float64Array(referenceCount);
  const scale = euclidean ? 2 : 1;
  forEachDotBlock(queries, references, dims, { normalize: !euclidean, blockRows }, ({ firstRow, rows, dots }) =>
    visit({ firstRow, rows, dots, base, scale }),
  );
}

/** Selects each query's k nearest from its ranking row. */
function scan(search: Search, k: number, visit: (query: number, indices: Int32Array, distances: Float32Array) => void): void {
  const { queries, dims, referenceCount, candidates, excludeSelf, euclidean } = search;
  const keys = new Float64Array(referenceCount);
  const ids = new Int32Array(referenceCount);
  const topIds = ids.subarray(0, k);
  const topDistances = new Float32Array(k);
  const visitRow = ({ query, dots, offset, base, scale }: RankingRow): void => {
    for (let j = 0; j < referenceCount; j++) {
      keys[j] = base[j]! - scale * dots[offset + j]!;
      ids[j] = j;
    }
    if (excludeSelf) {
      // Order does not matter before selection: the last candidate takes the query's place.
      keys[query] = keys[candidates]!;
      ids[query] = ids[candidates]!;
    }
    selectSmallest(keys, ids, candidates, k);
    if (euclidean) {
      let queryNorm = 0;
      for (let d = 0, o = query * dims; d < dims; d++, o++) queryNorm += queries[o]! * queries[o]!;
      for (let t = 0; t < k; t++) topDistances[t] = Math.sqrt(Math.max(0, queryNorm + keys[t]!));
    } else {
      for (let t = 0; t < k; t++) topDistances[t] = Math.min(2, Math.max(0, 1 + keys[t]!));
    }
    visit(query, topIds, topDistances);
  };
  rankingBlocks(search, (block) => forEachRow(block, 0, block.rows, referenceCount, visitRow));
}
