import { require } from '../common/errors.js';
import type { Gallery, GalleryIdentity } from './gallery.js';
import { LanceGallery } from './lance-gallery.js';
import { SqliteGallery } from './sqlite-gallery.js';

/** The stores a gallery can live in. */
export type GalleryStore = 'sqlite' | 'lance';

/**
 * Which store a gallery location names: `lance:<folder>` or an object-store URI (`s3://`, `gs://`,
 * `az://`) is LanceDB; any other path is an SQLite file (conventionally `*.db`).
 */
export function galleryStoreOf(location: string): { store: GalleryStore; path: string } {
  require(typeof location === 'string' && location !== '', 'a gallery location must be a non-empty path or URI');
  if (location.startsWith('lance:')) return { store: 'lance', path: location.slice('lance:'.length) };
  if (/^(s3|gs|az):\/\//.test(location)) return { store: 'lance', path: location };
  return { store: 'sqlite', path: location };
}

/**
 * Opens the gallery at `location` (see {@link galleryStoreOf}), creating it for the model of
 * `identity` when it does not exist, and refusing it when it holds another model's embeddings.
 */
export async function openGallery(location: string, identity: GalleryIdentity): Promise<Gallery & { flush(): Promise<void> }> {
  const { store, path } = galleryStoreOf(location);
  return store === 'lance' ? LanceGallery.open(path, identity) : SqliteGallery.open(path, identity);
}
