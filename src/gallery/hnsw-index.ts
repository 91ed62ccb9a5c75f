import { createHash } from 'node:crypto';
import { readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import hnswlib from 'hnswlib-node';
import { require } from '../common/errors.js';
import { syncPath, writeFileAtomic } from '../common/atomic-files.js';
import type { IndexMatches } from './exact-index.js';

/** The graph's settings: recall@10 of 1.0 up to a million vectors in the benchmark (BENCHMARKS.md). */
export const HNSW_SETTINGS = { connectivity: 16, expansionAdd: 128, expansionSearch: 64 } as const;

/** hnswlib's labels are 32-bit: store keys above this cannot be indexed. */
const LARGEST_KEY = 2 ** 32 - 1;

/** What is written beside an index file, to trust it again later. */
export interface HnswManifest {
  readonly format: 'tripletjs-hnsw';
  readonly library: 'hnswlib';
  readonly dims: number;
  /** The store's generation the file is up to date with, and the largest key in it. */
  readonly generation: number;
  readonly maxKey: number;
  /** Live entries (hnswlib counts removed ones too). */
  readonly size: number;
  /** SHA-256 of the index file, checked before it is loaded. */
  readonly sha256: string;
  readonly settings: typeof HNSW_SETTINGS;
}

type Graph = InstanceType<typeof hnswlib.HierarchicalNSW>;

/**
 * An HNSW graph (hnswlib-node, which measured faster than usearch here: BENCHMARKS.md) over a
 * gallery's vectors, keyed by the store's integer keys, with Euclidean distances. It is a cache of
 * the store: written to a file beside it atomically (a temporary file, flushed, renamed) with a
 * manifest saying which generation of the store it holds, and rebuilt from the store when that
 * file is missing, stale beyond repair or corrupt.
 */
export class HnswIndex {
  readonly dims: number;
  private readonly graph: Graph;
  private live: number;

  private constructor(dims: number, graph: Graph, live: number) {
    this.dims = dims;
    this.graph = graph;
    this.live = live;
  }

  /** An empty index with room for `capacity` vectors (it grows as needed). */
  static create(dims: number, capacity = 1024): HnswIndex {
    const graph = new hnswlib.HierarchicalNSW('l2', dims);
    graph.initIndex({ maxElements: Math.max(16, capacity), m: HNSW_SETTINGS.connectivity, efConstruction: HNSW_SETTINGS.expansionAdd, randomSeed: 100 });
    graph.setEf(HNSW_SETTINGS.expansionSearch);
    return new HnswIndex(dims, graph, 0);
  }

  /**
   * The index saved at `path`, if its manifest is there, matches `dims` and the settings, and the
   * file's hash matches the manifest; otherwise undefined (the caller rebuilds).
   */
  static async load(path: string, dims: number): Promise<{ index: HnswIndex; manifest: HnswManifest } | undefined> {
    const manifest = await readFile(manifestPath(path), 'utf8').then(
      (text) => JSON.parse(text) as HnswManifest,
      () => undefined,
    );
    if (manifest?.format !== 'tripletjs-hnsw' || manifest.library !== 'hnswlib' || manifest.dims !== dims) return undefined;
    if (JSON.stringify(manifest.settings) !== JSON.stringify(HNSW_SETTINGS)) return undefined;
    const bytes = await readFile(path).catch(() => undefined);
    if (bytes === undefined || createHash('sha256').update(bytes).digest('hex') !== manifest.sha256) return undefined;
    const graph = new hnswlib.HierarchicalNSW('l2', dims);
    try {
      graph.readIndexSync(path);
    } catch {
      return undefined;
    }
    // The search breadth is a setting of the object, not of the file.
    graph.setEf(HNSW_SETTINGS.expansionSearch);
    return { index: new HnswIndex(dims, graph, manifest.size), manifest };
  }

  get size(): number {
    return this.live;
  }

  /** Adds vectors (row-major, one per key) under new keys. */
  add(keys: readonly number[], vectors: Float32Array): void {
    if (keys.length === 0) return;
    const needed = this.graph.getCurrentCount() + keys.length;
    if (needed > this.graph.getMaxElements()) this.graph.resizeIndex(Math.max(needed, 2 * this.graph.getMaxElements()));
    keys.forEach((key, i) => {
      require(Number.isInteger(key) && key >= 0 && key <= LARGEST_KEY, `key ${key} cannot be indexed (hnswlib's labels are 32-bit)`);
      this.graph.addPoint(Array.from(vectors.subarray(i * this.dims, (i + 1) * this.dims)), key);
    });
    this.live += keys.length;
  }

  remove(key: number): void {
    try {
      this.graph.markDelete(key);
      this.live--;
    } catch {
      // Not in the graph (added after it was saved and never caught up): nothing to remove.
    }
  }

  /** The `k` nearest keys, nearest first, with Euclidean distances. */
  search(query: Float32Array, k: number): IndexMatches {
    const count = Math.min(k, this.live);
    if (count === 0) return { keys: [], distances: [] };
    const { neighbors, distances } = this.graph.searchKnn(Array.from(query), count);
    return { keys: neighbors, distances: distances.map((d) => Math.sqrt(Math.max(0, d))) };
  }

  /**
   * Writes the index to `path` and its manifest beside it, each atomically and flushed: the
   * manifest last, so that a manifest always describes a complete file.
   */
  async save(path: string, state: { generation: number; maxKey: number }): Promise<void> {
    const temporary = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
    try {
      this.graph.writeIndexSync(temporary);
      await syncPath(temporary);
      const sha256 = createHash('sha256').update(await readFile(temporary)).digest('hex');
      await rm(manifestPath(path), { force: true });
      await rename(temporary, path);
      await syncPath(dirname(path));
      const manifest: HnswManifest = { format: 'tripletjs-hnsw', library: 'hnswlib', dims: this.dims, ...state, size: this.size, sha256, settings: HNSW_SETTINGS };
      await writeFileAtomic(manifestPath(path), JSON.stringify(manifest));
    } finally {
      await rm(temporary, { force: true });
    }
  }
}

/** The manifest beside an index file. */
export function manifestPath(path: string): string {
  return `${path}.json`;
}
