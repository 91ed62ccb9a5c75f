/**
 * Galleries: persistent, searchable sets of one model's embeddings (SQLite + HNSW on one machine,
 * LanceDB for several), verification and open-set identification, and the `.npy` embedding files
 * of `triplet embed`.
 */
export type { Gallery, GalleryItem, NewGalleryItem, GalleryHit, GallerySearchOptions, GalleryIdentity, LabelCount } from './gallery.js';
export { openGallery, galleryStoreOf, type GalleryStore } from './open-gallery.js';
export { SqliteGallery, EXACT_BELOW } from './sqlite-gallery.js';
export { LanceGallery, LANCE_INDEX_FROM } from './lance-gallery.js';
export { ExactIndex } from './exact-index.js';
export { HnswIndex, HNSW_SETTINGS } from './hnsw-index.js';
export { verifyEmbeddings, identify, type Verdict, type Identification } from './identify.js';
export { encodeNpy, decodeNpy } from './npy.js';
export { saveEmbeddingsFile, loadEmbeddingsFile, searchEmbeddingsFile, checkEmbeddingsModel, embeddingsIndexPath, type EmbeddingsFile, type EmbeddingsHit } from './embeddings-file.js';
export { enrollImages, enrollDataset, type ImageToEnroll } from './enroll.js';
export { galleryMap, type GalleryMap } from './map.js';
