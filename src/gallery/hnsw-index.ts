import { createHash } from 'node:crypto';
import { readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Index, MetricKind } from 'usearch';
import { syncPath, writeFileAtomic } from '../common/atomic-files.js';
import type { IndexMatches } from './exact-index.js';

/** The graph's settings: enough for recall@10 ≥ 0.95 at a million vectors (BENCHMARKS.md). */
export const HNSW_SETTINGS = { connectivity: 16, expansionAdd: 128, expansionSearch: 64 } as const;

/** What is written beside an index file, to trust it again later. */
export interface HnswManifest {
  readonly format: 'tripletjs-hnsw';
  readonly dims: number;
  /** The store's generation the file is up to date with, and the largest key in it. */
  readonly generation: number;
  readonly maxKey: number;
  readonly size: number;
  /** SHA-256 of the index file: usearch aborts the process on a truncated file, so it is checked before loading. */
  readonly sha256: string;
  readonly settings: typeof HNSW_SETTINGS;
}

/**
 * An HNSW graph (usearch) over a gallery's vectors, keyed by the store's integer keys, with
 * Euclidean distances. It is a cache of the store: written to a file beside it atomically (a
 * temporary file, flushed, renamed) with a manifest saying which generation of the store it
 * holds, and rebuilt from the store when that file is missing, stale beyond repair or corrupt.
 */
export class HnswIndex {
  readonly dims: number;
  private readonly index: Index;

  private constructor(dims: number, index: Index) {
    this.dims = dims;
    this.index = index;
  }

  /** An empty index. */
  static create(dims: number): HnswIndex {
    const index = new Index({
      dimensions: dims,
      metric: MetricKind.L2sq,
      connectivity: HNSW_SETTINGS.connectivity,
      expansion_add: HNSW_SETTINGS.expansionAdd,
      expansion_search: HNSW_SETTINGS.expansionSearch,
      multi: false,
    } as ConstructorParameters<typeof Index>[0]);
    return new HnswIndex(dims, index);
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
    if (manifest?.format !== 'tripletjs-hnsw' || manifest.dims !== dims) return undefined;
    if (JSON.stringify(manifest.settings) !== JSON.stringify(HNSW_SETTINGS)) return undefined;
    const bytes = await readFile(path).catch(() => undefined);
    if (bytes === undefined || createHash('sha256').update(bytes).digest('hex') !== manifest.sha256) return undefined;
    const loaded = HnswIndex.create(dims);
    loaded.index.load(path);
    if (loaded.index.dimensions() !== dims || loaded.index.size() !== manifest.size) return undefined;
    return { index: loaded, manifest };
  }

  get size(): number {
    return this.index.size();
  }

  /** Adds vectors (row-major, one per key) under new keys. */
  add(keys: readonly number[], vectors: Float32Array): void {
    if (keys.length === 0) return;
    this.index.add(BigUint64Array.from(keys, (key) => BigInt(key)), vectors, 1);
  }

  remove(key: number): void {
    this.index.remove(BigInt(key));
  }

  /** The `k` nearest keys, nearest first, with Euclidean distances. */
  search(query: Float32Array, k: number): IndexMatches {
    const matches = this.index.search(query, Math.min(k, this.index.size()), 1);
    return { keys: Array.from(matches.keys, Number), distances: Array.from(matches.distances, (d) => Math.sqrt(Math.max(0, d))) };
  }

  /**
   * Writes the index to `path` and its manifest beside it, each atomically and flushed: the
   * manifest last, so that a manifest always describes a complete file.
   */
  async save(path: string, state: { generation: number; maxKey: number }): Promise<void> {
    const temporary = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
    try {
      this.index.save(temporary);
      await syncPath(temporary);
      const sha256 = createHash('sha256').update(await readFile(temporary)).digest('hex');
      await rm(manifestPath(path), { force: true });
      await rename(temporary, path);
      await syncPath(dirname(path));
      const manifest: HnswManifest = { format: 'tripletjs-hnsw', dims: this.dims, ...state, size: this.size, sha256, settings: HNSW_SETTINGS };
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

