import { readFile } from 'node:fs/promises';
import { require, TripletjsInputError } from '../common/errors.js';
import { writeFileAtomic } from '../common/atomic-files.js';
import { nearestNeighbors } from '../evaluation/knn.js';
import { decodeNpy, encodeNpy } from './npy.js';

/** Embeddings with what each row is: a searchable gallery. */
export interface EmbeddingsFile {
  /** Row-major `size × dims`. */
  readonly embeddings: Float32Array;
  readonly dims: number;
  /** Per row: its label (index into `classNames`, −1 for an unlabelled image) and its source (file path or dataset index). */
  readonly labels: Int32Array;
  readonly sources: readonly string[];
  readonly classNames: readonly string[];
  /** The model directory the embeddings came from. */
  readonly model: string;
  /** The fingerprint of that model (`LoadedModel.fingerprint`): only its embeddings can be searched here. */
  readonly fingerprint: string;
}

interface EmbeddingsIndexFile {
  readonly format: 'tripletjs-gallery';
  readonly model: string;
  readonly fingerprint?: string;
  readonly classNames: readonly string[];
  readonly rows: ReadonlyArray<{ readonly label: number; readonly source: string }>;
}

/** The JSON file beside `FILE.npy`. */
export function embeddingsIndexPath(npyPath: string): string {
  return npyPath.replace(/\.npy$/i, '') + '.json';
}

/** Writes `FILE.npy` (float32, row-major, readable by numpy) and `FILE.json` (labels, sources), each atomically. */
export async function saveEmbeddingsFile(path: string, gallery: EmbeddingsFile): Promise<void> {
  require(/\.npy$/i.test(path), `the embeddings file must end in .npy, got ${path}`);
  const rows = gallery.labels.length;
  await writeFileAtomic(path, encodeNpy(gallery.embeddings, rows, gallery.dims));
  const index: EmbeddingsIndexFile = {
    format: 'tripletjs-gallery',
    model: gallery.model,
    fingerprint: gallery.fingerprint,
    classNames: gallery.classNames,
    rows: Array.from(gallery.labels, (label, i) => ({ label, source: gallery.sources[i]! })),
  };
  await writeFileAtomic(embeddingsIndexPath(path), JSON.stringify(index));
}

/** Reads a gallery written by {@link saveEmbeddingsFile}, with a clear error for a missing or corrupt file. */
export async function loadEmbeddingsFile(path: string): Promise<EmbeddingsFile> {
  const bytes = await readFile(path).catch(() => {
    throw new TripletjsInputError(`no gallery at ${path} (make one with: triplet embed --model DIR --input DATA --out ${path})`);
  });
  const { values, rows, cols } = decodeNpy(bytes, path);
  const indexPath = embeddingsIndexPath(path);
  let index: EmbeddingsIndexFile;
  try {
    index = JSON.parse(await readFile(indexPath, 'utf8')) as EmbeddingsIndexFile;
  } catch {
    throw new TripletjsInputError(`${indexPath} is missing or not valid JSON: it must sit beside ${path}`);
  }
  require(index.format === 'tripletjs-gallery' && Array.isArray(index.rows), `${indexPath} is not a tripletjs gallery index`);
  require(index.rows.length === rows, `${indexPath} lists ${index.rows.length} rows but ${path} has ${rows}`);
  require(
    typeof index.fingerprint === 'string',
    `${indexPath} does not say which model made its embeddings (made by an older tripletjs): embed the images again with triplet embed`,
  );
  return {
    embeddings: values,
    dims: cols,
    labels: Int32Array.from(index.rows, (r) => r.label),
    sources: index.rows.map((r) => r.source),
    classNames: index.classNames,
    model: index.model,
    fingerprint: index.fingerprint,
  };
}

/**
 * Checks that `gallery` was embedded by the model of `fingerprint`: embeddings of another model,
 * even of the same dimension, live in another space, and a search across them returns nonsense.
 */
export function checkEmbeddingsModel(gallery: EmbeddingsFile, fingerprint: string, model: string): void {
  require(
    gallery.fingerprint === fingerprint,
    `the gallery was embedded by another model (${gallery.model}, ${gallery.fingerprint.slice(0, 19)}…) than ${model} (${fingerprint.slice(0, 19)}…): embed the gallery again with this model`,
  );
}

/** One search hit. */
export interface EmbeddingsHit {
  readonly rank: number;
  readonly distance: number;
  readonly label: string;
  readonly source: string;
}

/** The `k` gallery rows nearest to `query` (one embedding), by Euclidean distance. */
export function searchEmbeddingsFile(gallery: EmbeddingsFile, query: Float32Array, k: number): EmbeddingsHit[] {
  require(query.length === gallery.dims, `the query embedding has ${query.length} dimensions but the gallery has ${gallery.dims}: was it made with another model?`);
  const { indices, distances } = nearestNeighbors(query, gallery.embeddings, gallery.dims, Math.min(k, gallery.labels.length));
  return Array.from(indices, (row, i) => ({
    rank: i + 1,
    distance: distances[i]!,
    label: gallery.labels[row]! < 0 ? '' : gallery.classNames[gallery.labels[row]!] ?? String(gallery.labels[row]),
    source: gallery.sources[row]!,
  }));
}
