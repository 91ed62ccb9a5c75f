/**
 * Labelled image datasets of 8-bit pixels (`loadDataset`), held in memory or streamed from a folder
 * batch by batch (`read`), their documented splits, and batches of model inputs with optional
 * light augmentation (`toInputs`, `augmentBatch`, `pixelsToInputs`, `augmentPixels`).
 */
export type { BatchAugmentation, Dataset, DatasetSplit, EvaluationProtocol, ImageShape, InMemoryDataset, SplitProtocol } from './dataset.js';
export { inMemory } from './dataset.js';
export { Prefetcher } from './prefetch.js';
export { WorkerPool } from './worker-pool.js';
export { DEFAULT_WORKERS, defaultStreamBudget } from './folder-stream.js';
export { SPLIT_SEED } from './splits.js';
export { loadDataset, checkDatasetName, DATASET_NAMES, type LoadDatasetOptions } from './registry.js';
export { loadOrlFaces } from './orl-faces.js';
export { loadMnist } from './mnist.js';
export { loadFashionMnist, FASHION_MNIST_DIRECTORY, FASHION_MNIST_CLASSES } from './fashion-mnist.js';
export { loadQuickDraw } from './quickdraw.js';
export { loadFolder, type FolderOptions, type FolderSplit } from './folder.js';
export { applyAugmentation, augmentBatch, augmentPixels, AUGMENTATION_DRAWS, checkAugmentOptions, drawAugmentation, pixelsToInputs, toInputs, type AugmentOptions } from './augment.js';
export { createDataset, type DatasetParts } from './create-dataset.js';
export { decodePgm, type GreyImage } from './pgm.js';
export { decodeIdx, type IdxArray } from './idx.js';
export { decodeImage, fitImage, thumbnailPng, withChannels, type DecodedImage } from './image-file.js';
export { checkFitting, DEFAULT_FITTING, IMAGE_EXTENSIONS, type ImageFit, type ImageFitting, type ImageFormat } from './image-format.js';
export { readImage, listImageFiles } from './read-image.js';
