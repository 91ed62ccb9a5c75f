export { encodeNpy, decodeNpy } from './npy.js';
export { saveGallery, loadGallery, searchGallery, checkGalleryModel, galleryIndexPath, type Gallery, type SearchHit } from './gallery.js';
