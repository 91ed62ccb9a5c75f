import { require } from '../common/errors.js';
import type { Gallery, GalleryHit } from './gallery.js';

/** The answer to "are these the same?". */
export interface Verdict {
  /** Euclidean distance between the two embeddings. */
  readonly distance: number;
  /** The model's threshold (chosen on validation pairs). */
  readonly threshold: number;
  /** distance ≤ threshold. */
  readonly same: boolean;
}

/** Verifies two embeddings of one model against its threshold. */
export function verifyEmbeddings(a: Float32Array, b: Float32Array, threshold: number): Verdict {
  require(a.length === b.length && a.length > 0, `the two embeddings have ${a.length} and ${b.length} values`);
  require(Number.isFinite(threshold), 'the model has no verification threshold (it was saved without a validation split)');
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += (a[i]! - b[i]!) ** 2;
  const distance = Math.sqrt(sum);
  return { distance, threshold, same: distance <= threshold };
}

/** Open-set identification: the nearest entry's label, or null when even it is farther than the threshold. */
export interface Identification {
  /** The identity, or null for "unknown". */
  readonly label: string | null;
  /** Distance to the nearest entry (undefined for an empty gallery). */
  readonly distance?: number;
  readonly threshold: number;
  /** The nearest entry, known or not. */
  readonly nearest?: GalleryHit;
}

/**
 * Identifies `embedding` in `gallery`: its nearest entry's label when within `threshold`,
 * "unknown" (null) otherwise or when the gallery is empty, as face-api.js's FaceMatcher does.
 */
export async function identify(gallery: Gallery, embedding: Float32Array, threshold: number): Promise<Identification> {
  require(Number.isFinite(threshold), 'the model has no verification threshold (it was saved without a validation split)');
  const [nearest] = await gallery.search(embedding, 1);
  if (nearest === undefined) return { label: null, threshold };
  return { label: nearest.distance <= threshold ? nearest.label : null, distance: nearest.distance, threshold, nearest };
}
