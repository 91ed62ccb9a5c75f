import { require, requireNumber } from '../common/errors.js';
import { defaultBlockRows, forEachDotBlock, squaredNorms } from './dot-blocks.js';
import { checkDims, checkEmbeddingRows, checkMetric, type EvaluationMetric } from './inputs.js';
import { selectSmallest } from './selection.js';

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
  scan(search, (query, ids, dist) => {
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
  scan(checkSearch(queries, references, dims, k, options), visit);
}

/** Validated inputs of one search. */
interface Search {
  queries: Float32Array;
  references: Float32Array;
  dims: number;
  k: number;
  queryCount: number;
  referenceCount: number;
  /** References a query is ranked against: all, or all but itself. */
  candidates: number;
  excludeSelf: boolean;
  euclidean: boolean;
  blockRows: number;
}

function checkSearch(
  queries: Float32Array,
  references: Float32Array,
  dims: number,
  k: number,
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
  requireNumber('k', k, { integer: true, min: 1 });
  require(
    k <= candidates,
    () => `k = ${k} but each query has only ${candidates} candidate references${excludeSelf ? ' (itself excluded)' : ''}`,
  );
  const blockRows =
    options.chunkRows === undefined
      ? defaultBlockRows(referenceCount)
      : requireNumber('chunkRows', options.chunkRows, { integer: true, min: 1 });
  return { queries, references, dims, k, queryCount, referenceCount, candidates, excludeSelf, euclidean: metric === 'euclidean', blockRows };
}

/** Computes the distances block by block and selects each query's k nearest. */
function scan(search: Search, visit: (query: number, indices: Int32Array, distances: Float32Array) => void): void {
  const { queries, references, dims, k, referenceCount, candidates, excludeSelf, euclidean, blockRows } = search;
  // Ranking key, increasing with the distance: |r|² − 2q·r (|q|² is the same for all of a
  // query's candidates, so it is added only to the k selected), or −cos for cosine.
  const keyBase = euclidean ? squaredNorms(references, dims) : new Float64Array(referenceCount);
  const keyScale = euclidean ? 2 : 1;
  const keys = new Float64Array(referenceCount);
  const ids = new Int32Array(referenceCount);
  const topIds = ids.subarray(0, k);
  const topDistances = new Float32Array(k);
  forEachDotBlock(queries, references, dims, { normalize: !euclidean, blockRows }, ({ firstRow, rows, dots }) => {
    for (let r = 0; r < rows; r++) {
      const query = firstRow + r;
      const offset = r * referenceCount;
      for (let j = 0; j < referenceCount; j++) {
        keys[j] = keyBase[j]! - keyScale * dots[offset + j]!;
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
    }
  });
}
