import { randomUUID } from 'node:crypto';
import { require } from '../common/errors.js';

/** One entry of a gallery. */
export interface GalleryItem {
  /** Unique within the gallery. */
  readonly id: string;
  /** The identity or class it shows. */
  readonly label: string;
  /** Free JSON data of the caller's (e.g. the source file). */
  readonly metadata?: Readonly<Record<string, unknown>>;
  /** The model's unit embedding, `dims` values. */
  readonly embedding: Float32Array;
  /** A small image to show for it (PNG bytes), when enrolled from an image. */
  readonly thumbnail?: Uint8Array;
}

/** An entry to add: without an id, the gallery makes one. */
export type NewGalleryItem = Omit<GalleryItem, 'id'> & { readonly id?: string };

/** One search result, nearest first. */
export interface GalleryHit {
  readonly id: string;
  readonly label: string;
  /** Euclidean distance between the query and the entry's embedding. */
  readonly distance: number;
  readonly metadata?: Readonly<Record<string, unknown>>;
}

/** Options of {@link Gallery.search}. */
export interface GallerySearchOptions {
  /** Only entries with one of these labels. */
  readonly labels?: readonly string[];
  /** Scan every entry instead of the approximate index (always so for small galleries). */
  readonly exact?: boolean;
}

/** Options of {@link Gallery.list}. */
export interface GalleryListOptions {
  readonly label?: string;
  readonly limit?: number;
  readonly offset?: number;
}

/** Checks the paging of a list: limit 1–10,000 (default 1000), offset ≥ 0. */
export function listWindow(options: GalleryListOptions): { limit: number; offset: number } {
  const { limit = 1000, offset = 0 } = options;
  require(Number.isInteger(limit) && limit >= 1 && limit <= 10_000, `limit must be an integer from 1 to 10000, got ${limit}`);
  require(Number.isInteger(offset) && offset >= 0, `offset must be a non-negative integer, got ${offset}`);
  return { limit, offset };
}

/** How many entries a label has. */
export interface LabelCount {
  readonly label: string;
  readonly count: number;
}

/**
 * A persistent set of embeddings of one model, searchable by nearest neighbours. Every write is
 * all-or-nothing and durable once its promise resolves. A gallery is tied to the model that made
 * its embeddings (its fingerprint): opening it with another model is an error, since embeddings of
 * different models are not comparable.
 */
export interface Gallery {
  /** The fingerprint of the model whose embeddings it holds. */
  readonly fingerprint: string;
  /** Embedding dimension. */
  readonly dims: number;
  /** Where it is stored. */
  readonly location: string;
  /** Adds entries in one transaction and returns their ids; a bad entry or a taken id adds none. */
  add(items: readonly NewGalleryItem[]): Promise<string[]>;
  /** Removes an entry; false when there is none with this id. */
  remove(id: string): Promise<boolean>;
  get(id: string): Promise<GalleryItem | undefined>;
  count(): Promise<number>;
  /** Labels with their number of entries, in label order. */
  labels(): Promise<LabelCount[]>;
  /** Entries (without embeddings), in insertion order: all, or one label's; at most `limit` (default 1000) after `offset`. */
  list(options?: GalleryListOptions): Promise<Array<Omit<GalleryItem, 'embedding' | 'thumbnail'>>>;
  /** The `k` entries nearest to `vector`, nearest first. */
  search(vector: Float32Array, k: number, options?: GallerySearchOptions): Promise<GalleryHit[]>;
  /** Every entry's id, label and embedding, in insertion order (for maps and exports). */
  entries(): AsyncIterable<Pick<GalleryItem, 'id' | 'label' | 'embedding'>>;
  /** Saves what is kept in memory (the index) and releases the store. */
  close(): Promise<void>;
}

/** What a gallery is created with, and checked against when it is opened again. */
export interface GalleryIdentity {
  /** The model fingerprint (`LoadedModel.fingerprint`). */
  readonly fingerprint: string;
  readonly dims: number;
  /** The model's directory, for messages. */
  readonly model?: string;
}

const ID_PATTERN = /^[\w.:@/+-]{1,200}$/;

/** Checks one entry to add: id, label, finite embedding of the right length, JSON metadata. */
export function checkNewItem(item: NewGalleryItem, dims: number, position: number): void {
  const where = `item ${position}`;
  require(item !== null && typeof item === 'object', `${where} must be an object { label, embedding, id?, metadata? }`);
  require(item.id === undefined || (typeof item.id === 'string' && ID_PATTERN.test(item.id)), () => `${where}: id must be 1–200 letters, digits or . _ : @ / + -, got ${JSON.stringify(item.id)}`);
  require(typeof item.label === 'string' && item.label.length > 0 && item.label.length <= 200, `${where}: label must be a non-empty string of at most 200 characters`);
  checkVector(item.embedding, dims, `${where}: embedding`);
  require(item.metadata === undefined || (item.metadata !== null && typeof item.metadata === 'object' && !Array.isArray(item.metadata)), `${where}: metadata must be a JSON object`);
}

/** Checks a batch to add (at least one entry, each valid, no id twice) and returns its ids, made where not given. */
export function idsForAdd(items: readonly NewGalleryItem[], dims: number): string[] {
  require(Array.isArray(items) && items.length > 0, 'add needs at least one item');
  items.forEach((item, i) => checkNewItem(item, dims, i));
  const ids = items.map((item) => item.id ?? randomUUID());
  const duplicate = ids.find((id, i) => ids.indexOf(id) !== i);
  require(duplicate === undefined, `id ${duplicate} appears twice in one add`);
  return ids;
}

/** Checks a query or stored vector: `dims` finite values. */
export function checkVector(vector: Float32Array, dims: number, what = 'the vector'): void {
  require(vector instanceof Float32Array, `${what} must be a Float32Array`);
  require(vector.length === dims, () => `${what} has ${vector.length} values, the gallery's model embeds in ${dims}`);
  for (let i = 0; i < vector.length; i++) require(Number.isFinite(vector[i]!), () => `${what} holds ${vector[i]} at position ${i}`);
}

/** Checks `k` of a search. */
export function checkK(k: number): void {
  require(Number.isInteger(k) && k >= 1 && k <= 1000, `k must be an integer from 1 to 1000, got ${k}`);
}

/** Checks that a stored gallery belongs to the model it is opened with. */
export function checkIdentity(stored: GalleryIdentity, asked: GalleryIdentity, location: string): void {
  require(
    stored.fingerprint === asked.fingerprint,
    `${location} holds embeddings of another model (${stored.model ?? stored.fingerprint.slice(0, 19) + '…'}) than ${asked.model ?? asked.fingerprint.slice(0, 19) + '…'}: use a new gallery, or enroll its images again with this model`,
  );
  require(stored.dims === asked.dims, `${location} holds ${stored.dims}-dimensional embeddings, the model makes ${asked.dims}`);
}
