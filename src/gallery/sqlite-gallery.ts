import { mkdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { require, TripletjsInputError } from '../common/errors.js';
import { ExactIndex, type IndexMatches } from './exact-index.js';
import {
  checkIdentity,
  checkK,
  checkVector,
  idsForAdd,
  listWindow,
  type Gallery,
  type GalleryHit,
  type GalleryIdentity,
  type GalleryItem,
  type GalleryListOptions,
  type GallerySearchOptions,
  type LabelCount,
  type NewGalleryItem,
} from './gallery.js';
import { HnswIndex, manifestPath } from './hnsw-index.js';

const FORMAT = 'tripletjs-gallery-sqlite-1';
/** Below this many entries a search scans them all: exact, and as fast as the graph. */
export const EXACT_BELOW = 10_000;
/** Largest metadata, as JSON. */
const METADATA_BYTES = 16_384;

interface ItemRow {
  key: number;
  id: string;
  label: string;
  metadata: string | null;
  embedding?: Buffer;
  thumbnail?: Buffer | null;
}

/**
 * The embedded gallery: SQLite (better-sqlite3) is the source of truth, in WAL mode with full
 * synchronous commits, so a write is on the disk when its promise resolves and survives a killed
 * process or a power cut; vectors are float32 blobs. Searches run in memory: an exact scan of
 * every vector below {@link EXACT_BELOW} entries (and for exact or label-restricted searches), an
 * HNSW graph (hnswlib-node) above it, kept in `<path>.hnsw` and brought up to date from the store when
 * it is opened (new rows added, removed ones, recorded as tombstones, removed), or rebuilt when
 * that file is missing or corrupt. One process writes a gallery at a time.
 */
export class SqliteGallery implements Gallery {
  readonly fingerprint: string;
  readonly dims: number;
  readonly location: string;
  private readonly db: Database.Database;
  private readonly exact: ExactIndex;
  private readonly labelOf = new Map<number, string>();
  private hnsw: HnswIndex | undefined;
  private generation: number;
  private indexSaved: boolean;

  private constructor(location: string, db: Database.Database, identity: GalleryIdentity, generation: number) {
    this.location = location;
    this.db = db;
    this.fingerprint = identity.fingerprint;
    this.dims = identity.dims;
    this.exact = new ExactIndex(identity.dims);
    this.generation = generation;
    this.indexSaved = true;
  }

  /** Opens the gallery at `path`, creating it for `identity`'s model if the file does not exist. */
  static async open(path: string, identity: GalleryIdentity): Promise<SqliteGallery> {
    mkdirSync(dirname(path), { recursive: true });
    let db: Database.Database;
    try {
      db = new Database(path);
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.pragma('busy_timeout = 5000');
      db.exec(`
        CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS items (
          key INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, label TEXT NOT NULL,
          metadata TEXT, embedding BLOB NOT NULL, thumbnail BLOB);
        CREATE INDEX IF NOT EXISTS items_by_label ON items (label);
        CREATE TABLE IF NOT EXISTS tombstones (key INTEGER PRIMARY KEY, generation INTEGER NOT NULL);`);
    } catch (error) {
      throw new TripletjsInputError(`${path} is not a tripletjs gallery: ${(error as Error).message}`);
    }
    try {
      const meta = new Map((db.prepare('SELECT name, value FROM meta').all() as Array<{ name: string; value: string }>).map((r) => [r.name, r.value]));
      if (meta.size === 0) {
        const insert = db.prepare('INSERT INTO meta (name, value) VALUES (?, ?)');
        db.transaction(() => {
          insert.run('format', FORMAT);
          insert.run('fingerprint', identity.fingerprint);
          insert.run('dims', String(identity.dims));
          insert.run('model', identity.model ?? '');
          insert.run('generation', '0');
        })();
        meta.set('generation', '0');
      } else {
        require(meta.get('format') === FORMAT, `${path} is not a tripletjs gallery of this version (format ${meta.get('format') ?? 'unknown'})`);
        checkIdentity({ fingerprint: meta.get('fingerprint')!, dims: Number(meta.get('dims')), model: meta.get('model') || undefined }, identity, path);
      }
      const gallery = new SqliteGallery(path, db, identity, Number(meta.get('generation')));
      await gallery.loadIndexes();
      return gallery;
    } catch (error) {
      db.close();
      throw error;
    }
  }

  private get indexPath(): string {
    return `${this.location}.hnsw`;
  }

  /** Reads every vector into the exact index, then loads (and updates) or builds the graph. */
  private async loadIndexes(): Promise<void> {
    for (const row of this.db.prepare('SELECT key, label, embedding FROM items ORDER BY key').iterate() as IterableIterator<ItemRow>) {
      this.exact.add(row.key, vectorOf(row.embedding!, this.dims));
      this.labelOf.set(row.key, row.label);
    }
    if (this.exact.size < EXACT_BELOW) return;
    const saved = await HnswIndex.load(this.indexPath, this.dims);
    if (saved === undefined) {
      this.buildGraph();
      return;
    }
    this.hnsw = saved.index;
    const { generation, maxKey } = saved.manifest;
    if (generation === this.generation) return;
    // Catch up with the writes made since the file was saved.
    const removed = this.db.prepare('SELECT key FROM tombstones WHERE generation > ? AND key <= ?').pluck().all(generation, maxKey) as number[];
    for (const key of removed) this.hnsw.remove(key);
    const added = this.db.prepare('SELECT key, embedding FROM items WHERE key > ? ORDER BY key').all(maxKey) as ItemRow[];
    this.hnsw.add(added.map((row) => row.key), concatenate(added.map((row) => vectorOf(row.embedding!, this.dims)), this.dims));
    this.indexSaved = false;
  }

  private buildGraph(): void {
    this.hnsw = HnswIndex.create(this.dims);
    const keys: number[] = [];
    const vectors: Float32Array[] = [];
    for (const row of this.db.prepare('SELECT key, embedding FROM items ORDER BY key').iterate() as IterableIterator<ItemRow>) {
      keys.push(row.key);
      vectors.push(vectorOf(row.embedding!, this.dims));
    }
    this.hnsw.add(keys, concatenate(vectors, this.dims));
    this.indexSaved = false;
  }

  async add(items: readonly NewGalleryItem[]): Promise<string[]> {
    const ids = idsForAdd(items, this.dims);
    const metadata = items.map((item, i) => {
      const text = item.metadata === undefined ? null : JSON.stringify(item.metadata);
      require(text === null || Buffer.byteLength(text) <= METADATA_BYTES, `item ${i}: metadata is larger than ${METADATA_BYTES} bytes of JSON`);
      return text;
    });
    const insert = this.db.prepare('INSERT INTO items (id, label, metadata, embedding, thumbnail) VALUES (?, ?, ?, ?, ?)');
    const keys: number[] = [];
    try {
      this.db.transaction(() => {
        items.forEach((item, i) => {
          const { embedding, thumbnail } = item;
          const blob = Buffer.from(embedding.buffer, embedding.byteOffset, embedding.byteLength);
          keys.push(Number(insert.run(ids[i], item.label, metadata[i], blob, thumbnail ? Buffer.from(thumbnail) : null).lastInsertRowid));
        });
        this.bumpGeneration();
      })();
    } catch (error) {
      const taken = (error as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE';
      if (taken) throw new TripletjsInputError(`an id of this add is already in the gallery (${ids.join(', ').slice(0, 200)}): nothing was added`);
      throw error;
    }
    // Committed: the memory indexes follow the store.
    items.forEach((item, i) => {
      this.exact.add(keys[i]!, item.embedding);
      this.labelOf.set(keys[i]!, item.label);
    });
    if (this.hnsw) this.hnsw.add(keys, concatenate(items.map((item) => item.embedding), this.dims));
    else if (this.exact.size >= EXACT_BELOW) this.buildGraph();
    this.indexSaved = false;
    return ids;
  }

  async remove(id: string): Promise<boolean> {
    require(typeof id === 'string', 'the id to remove must be a string');
    const key = this.db.transaction(() => {
      const found = this.db.prepare('SELECT key FROM items WHERE id = ?').pluck().get(id) as number | undefined;
      if (found === undefined) return undefined;
      this.db.prepare('DELETE FROM items WHERE key = ?').run(found);
      this.bumpGeneration();
      this.db.prepare('INSERT INTO tombstones (key, generation) VALUES (?, ?)').run(found, this.generation);
      return found;
    })();
    if (key === undefined) return false;
    this.exact.remove(key);
    this.labelOf.delete(key);
    this.hnsw?.remove(key);
    this.indexSaved = false;
    return true;
  }

  async get(id: string): Promise<GalleryItem | undefined> {
    const row = this.db.prepare('SELECT key, id, label, metadata, embedding, thumbnail FROM items WHERE id = ?').get(id) as ItemRow | undefined;
    if (row === undefined) return undefined;
    return {
      id: row.id,
      label: row.label,
      ...(row.metadata !== null ? { metadata: JSON.parse(row.metadata) as Record<string, unknown> } : {}),
      embedding: vectorOf(row.embedding!, this.dims),
      ...(row.thumbnail ? { thumbnail: new Uint8Array(row.thumbnail) } : {}),
    };
  }

  async count(): Promise<number> {
    return this.exact.size;
  }

  async labels(): Promise<LabelCount[]> {
    return this.db.prepare('SELECT label, COUNT(*) AS count FROM items GROUP BY label ORDER BY label').all() as LabelCount[];
  }

  async list(options: GalleryListOptions = {}): Promise<Array<Omit<GalleryItem, 'embedding' | 'thumbnail'>>> {
    const { limit, offset } = listWindow(options);
    const rows = (
      options.label === undefined
        ? this.db.prepare('SELECT id, label, metadata FROM items ORDER BY key LIMIT ? OFFSET ?').all(limit, offset)
        : this.db.prepare('SELECT id, label, metadata FROM items WHERE label = ? ORDER BY key LIMIT ? OFFSET ?').all(options.label, limit, offset)
    ) as ItemRow[];
    return rows.map((row) => ({ id: row.id, label: row.label, ...(row.metadata !== null ? { metadata: JSON.parse(row.metadata) as Record<string, unknown> } : {}) }));
  }

  async search(vector: Float32Array, k: number, options: GallerySearchOptions = {}): Promise<GalleryHit[]> {
    checkVector(vector, this.dims, 'the query');
    checkK(k);
    let matches: IndexMatches;
    if (options.labels !== undefined) {
      const wanted = new Set(options.labels);
      matches = this.exact.search(vector, k, (key) => wanted.has(this.labelOf.get(key)!));
    } else if (options.exact || this.hnsw === undefined) {
      matches = this.exact.search(vector, k);
    } else {
      matches = this.hnsw.search(vector, k);
    }
    if (matches.keys.length === 0) return [];
    const rows = this.db
      .prepare(`SELECT key, id, label, metadata FROM items WHERE key IN (${matches.keys.map(() => '?').join(',')})`)
      .all(...matches.keys) as ItemRow[];
    const byKey = new Map(rows.map((row) => [row.key, row]));
    return matches.keys.flatMap((key, i) => {
      const row = byKey.get(key);
      if (row === undefined) return [];
      return [{ id: row.id, label: row.label, distance: matches.distances[i]!, ...(row.metadata !== null ? { metadata: JSON.parse(row.metadata) as Record<string, unknown> } : {}) }];
    });
  }

  async *entries(): AsyncIterable<Pick<GalleryItem, 'id' | 'label' | 'embedding'>> {
    for (const row of this.db.prepare('SELECT id, label, embedding FROM items ORDER BY key').iterate() as IterableIterator<ItemRow>) {
      yield { id: row.id, label: row.label, embedding: vectorOf(row.embedding!, this.dims) };
    }
  }

  /** Writes the graph to its file when it changed since it was last written (the store needs nothing: it is always on disk). */
  async flush(): Promise<void> {
    if (this.hnsw === undefined) {
      // No graph to keep up to date: an old file of one (from when the gallery was larger) would be stale.
      await Promise.all([rm(this.indexPath, { force: true }), rm(manifestPath(this.indexPath), { force: true })]);
      this.db.prepare('DELETE FROM tombstones').run();
      return;
    }
    if (this.indexSaved) return;
    const generation = this.generation;
    const maxKey = (this.db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'items'").pluck().get() as number | undefined) ?? 0;
    await this.hnsw.save(this.indexPath, { generation, maxKey });
    this.db.prepare('DELETE FROM tombstones WHERE generation <= ?').run(generation);
    this.indexSaved = this.generation === generation;
  }

  async close(): Promise<void> {
    await this.flush();
    this.exact.dispose();
    this.db.close();
  }

  private bumpGeneration(): void {
    this.generation++;
    this.db.prepare("UPDATE meta SET value = ? WHERE name = 'generation'").run(String(this.generation));
  }
}

/** A float32 view of a blob (copied when the blob is not 4-byte aligned), checked to hold `dims` values. */
function vectorOf(blob: Buffer, dims: number): Float32Array {
  require(blob.byteLength === dims * 4, `a stored embedding has ${blob.byteLength} bytes, expected ${dims * 4}: the gallery is corrupt`);
  return blob.byteOffset % 4 === 0 ? new Float32Array(blob.buffer, blob.byteOffset, dims) : new Float32Array(Uint8Array.from(blob).buffer);
}

function concatenate(vectors: readonly Float32Array[], dims: number): Float32Array {
  const out = new Float32Array(vectors.length * dims);
  vectors.forEach((vector, i) => out.set(vector, i * dims));
  return out;
}
