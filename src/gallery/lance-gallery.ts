import { require } from '../common/errors.js';
import { importOptional } from '../common/optional-module.js';
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

type LanceModule = typeof import('@lancedb/lancedb');
type ArrowModule = typeof import('apache-arrow');
type Connection = Awaited<ReturnType<LanceModule['connect']>>;
type Table = Awaited<ReturnType<Connection['openTable']>>;

const ITEMS = 'items';
const META = 'meta';
const FORMAT = 'tripletjs-gallery-lance-1';
/** From this many rows an approximate index (IVF + HNSW, scalar-quantised) pays; below it Lance scans. */
export const LANCE_INDEX_FROM = 100_000;
const LANCE_NPROBES = 32;
const LANCE_REFINE = 4;

interface Row {
  id: string;
  label: string;
  metadata: string | null;
  thumbnail: Uint8Array | null;
  vector: Float32Array | { toArray(): Float32Array };
  _distance?: number;
}

/**
 * The gallery on LanceDB: a table on local disk, or on object storage (`s3://…`, `gs://…`,
 * `az://…`), so that several service replicas share one gallery. Every add is one Lance commit
 * (all or nothing); every query sees the latest commit. Searches are exact scans below
 * {@link LANCE_INDEX_FROM} rows and use an IVF-HNSW index above it (built by {@link flush}; rows
 * added since are scanned). `@lancedb/lancedb` and `apache-arrow` are optional dependencies.
 */
export class LanceGallery implements Gallery {
  readonly fingerprint: string;
  readonly dims: number;
  readonly location: string;
  private readonly connection: Connection;
  private readonly table: Table;

  private constructor(location: string, connection: Connection, table: Table, identity: GalleryIdentity) {
    this.location = location;
    this.connection = connection;
    this.table = table;
    this.fingerprint = identity.fingerprint;
    this.dims = identity.dims;
  }

  /** Opens (or creates, for `identity`'s model) the gallery at `uri`: a folder or an object-store URI. */
  static async open(uri: string, identity: GalleryIdentity): Promise<LanceGallery> {
    const purpose = 'a LanceDB gallery';
    const [lancedb, arrow] = await Promise.all([importOptional<LanceModule>('@lancedb/lancedb', purpose), importOptional<ArrowModule>('apache-arrow', purpose)]);
    const connection = await lancedb.connect(uri);
    const names = await connection.tableNames();
    if (!names.includes(META)) {
      require(!names.includes(ITEMS), `${uri} holds an items table but no meta table: it is not a tripletjs gallery`);
      const items = new arrow.Schema([
        new arrow.Field('id', new arrow.Utf8(), false),
        new arrow.Field('label', new arrow.Utf8(), false),
        new arrow.Field('metadata', new arrow.Utf8(), true),
        new arrow.Field('thumbnail', new arrow.Binary(), true),
        new arrow.Field('vector', new arrow.FixedSizeList(identity.dims, new arrow.Field('item', new arrow.Float32(), true)), false),
      ]);
      await connection.createEmptyTable(ITEMS, items, { mode: 'create' });
      await connection.createTable(META, [{ format: FORMAT, fingerprint: identity.fingerprint, dims: identity.dims, model: identity.model ?? '' }], { mode: 'create' });
    }
    const [meta] = (await (await connection.openTable(META)).query().toArray()) as Array<{ format: string; fingerprint: string; dims: number; model: string }>;
    require(meta?.format === FORMAT, `${uri} is not a tripletjs gallery of this version`);
    checkIdentity({ fingerprint: meta.fingerprint, dims: Number(meta.dims), model: meta.model || undefined }, identity, uri);
    return new LanceGallery(uri, connection, await connection.openTable(ITEMS), identity);
  }

  async add(items: readonly NewGalleryItem[]): Promise<string[]> {
    const ids = idsForAdd(items, this.dims);
    const given = items.flatMap((item) => (item.id !== undefined ? [item.id] : []));
    if (given.length > 0) {
      const taken = await this.table.countRows(`id IN (${given.map(quote).join(', ')})`);
      require(taken === 0, `an id of this add is already in the gallery (${given.join(', ').slice(0, 200)}): nothing was added`);
    }
    await this.table.add(
      items.map((item, i) => ({
        id: ids[i]!,
        label: item.label,
        metadata: item.metadata === undefined ? null : JSON.stringify(item.metadata),
        thumbnail: item.thumbnail ?? null,
        vector: Array.from(item.embedding),
      })),
    );
    return ids;
  }

  async remove(id: string): Promise<boolean> {
    require(typeof id === 'string', 'the id to remove must be a string');
    if ((await this.table.countRows(`id = ${quote(id)}`)) === 0) return false;
    await this.table.delete(`id = ${quote(id)}`);
    return true;
  }

  async get(id: string): Promise<GalleryItem | undefined> {
    const [row] = (await this.table.query().where(`id = ${quote(id)}`).limit(1).toArray()) as Row[];
    if (row === undefined) return undefined;
    return {
      id: row.id,
      label: row.label,
      ...(row.metadata !== null ? { metadata: JSON.parse(row.metadata) as Record<string, unknown> } : {}),
      embedding: vectorOf(row),
      ...(row.thumbnail ? { thumbnail: new Uint8Array(row.thumbnail) } : {}),
    };
  }

  async count(): Promise<number> {
    return this.table.countRows();
  }

  async labels(): Promise<LabelCount[]> {
    const counts = new Map<string, number>();
    for (const row of (await this.table.query().select(['label']).toArray()) as Array<{ label: string }>) counts.set(row.label, (counts.get(row.label) ?? 0) + 1);
    return [...counts].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([label, count]) => ({ label, count }));
  }

  async list(options: GalleryListOptions = {}): Promise<Array<Omit<GalleryItem, 'embedding' | 'thumbnail'>>> {
    const { limit, offset } = listWindow(options);
    let query = this.table.query().select(['id', 'label', 'metadata']).limit(limit).offset(offset);
    if (options.label !== undefined) query = query.where(`label = ${quote(options.label)}`);
    const rows = (await query.toArray()) as Row[];
    return rows.map((row) => ({ id: row.id, label: row.label, ...(row.metadata !== null ? { metadata: JSON.parse(row.metadata) as Record<string, unknown> } : {}) }));
  }

  async search(vector: Float32Array, k: number, options: GallerySearchOptions = {}): Promise<GalleryHit[]> {
    checkVector(vector, this.dims, 'the query');
    checkK(k);
    let query = this.table.vectorSearch(Array.from(vector)).distanceType('l2').select(['id', 'label', 'metadata', '_distance']).limit(k);
    if (options.labels !== undefined) query = query.where(options.labels.length === 0 ? 'false' : `label IN (${options.labels.map(quote).join(', ')})`);
    // With an index: more partitions than Lance's default, and the candidates re-ranked by their
    // full vectors, for recall@10 above 0.95 (BENCHMARKS.md).
    query = options.exact ? query.bypassVectorIndex() : query.nprobes(LANCE_NPROBES).refineFactor(LANCE_REFINE);
    const rows = (await query.toArray()) as Row[];
    // Lance's l2 is the squared distance.
    return rows.map((row) => ({
      id: row.id,
      label: row.label,
      distance: Math.sqrt(Math.max(0, row._distance!)),
      ...(row.metadata !== null ? { metadata: JSON.parse(row.metadata) as Record<string, unknown> } : {}),
    }));
  }

  async *entries(): AsyncIterable<Pick<GalleryItem, 'id' | 'label' | 'embedding'>> {
    for (const row of (await this.table.query().select(['id', 'label', 'vector']).toArray()) as Row[]) {
      yield { id: row.id, label: row.label, embedding: vectorOf(row) };
    }
  }

  /** Builds the approximate index once the table is large enough, and folds new rows into an existing one. */
  async flush(): Promise<void> {
    const indices = await this.table.listIndices();
    if (indices.some((index) => index.columns.includes('vector'))) {
      await this.table.optimize();
    } else if ((await this.table.countRows()) >= LANCE_INDEX_FROM) {
      const lancedb = await importOptional<LanceModule>('@lancedb/lancedb', 'a LanceDB gallery');
      await this.table.createIndex('vector', { config: lancedb.Index.hnswSq({ distanceType: 'l2' }) });
    }
  }

  async close(): Promise<void> {
    this.table.close();
    this.connection.close();
  }
}

/** A string literal of Lance's SQL filters. */
function quote(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

function vectorOf(row: Row): Float32Array {
  const vector = row.vector instanceof Float32Array ? row.vector : Float32Array.from(row.vector.toArray());
  return vector;
}
