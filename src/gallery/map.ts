import { PCA } from 'ml-pca';
import type { Gallery } from './gallery.js';

/** A gallery drawn in two dimensions. */
export interface GalleryMap {
  readonly points: Array<{ readonly id: string; readonly label: string; readonly x: number; readonly y: number }>;
  /** Share of the variance each of the two axes explains. */
  readonly explained: [number, number];
  /** Entries in the gallery; the map shows at most `limit` of them. */
  readonly total: number;
}

/**
 * The first `limit` entries of a gallery projected on their two principal components (PCA, a
 * linear and repeatable view: clusters that look apart are apart in the embedding).
 */
export async function galleryMap(gallery: Gallery, limit = 5000): Promise<GalleryMap> {
  const rows: Array<{ id: string; label: string; embedding: Float32Array }> = [];
  for await (const entry of gallery.entries()) {
    if (rows.length >= limit) break;
    rows.push(entry);
  }
  const total = await gallery.count();
  if (rows.length < 3) return { points: rows.map(({ id, label }) => ({ id, label, x: 0, y: 0 })), explained: [0, 0], total };
  const pca = new PCA(rows.map((row) => Array.from(row.embedding)), { center: true, scale: false });
  const projected = pca.predict(rows.map((row) => Array.from(row.embedding)), { nComponents: 2 }).to2DArray();
  const variance = pca.getExplainedVariance();
  return {
    points: rows.map(({ id, label }, i) => ({ id, label, x: projected[i]![0]!, y: projected[i]![1] ?? 0 })),
    explained: [variance[0] ?? 0, variance[1] ?? 0],
    total,
  };
}
