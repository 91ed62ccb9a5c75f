export { encodeNpy, decodeNpy } from './npy.js';
export { saveGallery, loadGallery, searchGallery, galleryIndexPath, type Gallery, type SearchHit } from './gallery.js';
