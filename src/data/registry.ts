import { resolve } from 'node:path';
import { require } from '../common/errors.js';
import type { Dataset, InMemoryDataset } from './dataset.js';
import { loadFashionMnist } from './fashion-mnist.js';
import { checkFolderPath, loadFolder, type FolderOptions } from './folder.js';
import { loadMnist } from './mnist.js';
import { loadOrlFaces } from './orl-faces.js';
import { loadQuickDraw } from './quickdraw.js';

/** The names {@link loadDataset} accepts; `folder:<path>` stands for any folder of class sub-folders. */
export const DATASET_NAMES: readonly string[] = ['orl-faces', 'mnist', 'fashion-mnist', 'quickdraw', 'folder:<path>'];

/** Options of {@link loadDataset}; they apply to `folder:<path>` datasets only. */
export type LoadDatasetOptions = FolderOptions;

const FOLDER_PREFIX = 'folder:';

const BUILT_IN: Readonly<Record<string, () => Promise<InMemoryDataset>>> = {
  'orl-faces': () => loadOrlFaces(),
  mnist: loadMnist,
  'fashion-mnist': () => loadFashionMnist(),
  quickdraw: loadQuickDraw,
};

/** Decoded datasets of this process, by name (and resolved path and options for folders). */
const cache = new Map<string, Promise<Dataset>>();

/**
 * Checks a dataset name without loading anything: a built-in name, or `folder:<path>` naming an
 * existing directory. A {@link TripletjsInputError} says what is wrong.
 */
export function checkDatasetName(name: string): void {
  require(typeof name === 'string', () => `dataset name must be a string, got ${typeof name}`);
  if (name.startsWith(FOLDER_PREFIX)) {
    const path = name.slice(FOLDER_PREFIX.length);
    require(path !== '', `'${name}' needs a path after 'folder:', e.g. folder:./my-images`);
    checkFolderPath(path, name);
  } else {
    require(Object.hasOwn(BUILT_IN, name), () => `unknown dataset '${name}'; valid names: ${DATASET_NAMES.join(', ')}`);
  }
}

/**
 * Loads a dataset by name: `'orl-faces'`, `'mnist'`, `'fashion-mnist'`, `'quickdraw'` or
 * `'folder:<path>'` (see {@link loadFolder} for its options). Each dataset is decoded once per
 * process and then shared: treat its arrays as read-only. A folder is keyed by its resolved path
 * and the options as given, so a change to its files during the process is not seen. An unknown
 * name is a TripletjsInputError listing the valid ones; a failed load is not cached.
 *
 * A folder loaded with `stream: true` (or `'auto'`) is not shared: each call lists it again and
 * has its own decoding workers, which the caller ends with `dataset.close()`.
 */
export async function loadDataset(name: string, options?: LoadDatasetOptions & { stream?: false }): Promise<InMemoryDataset>;
export async function loadDataset(name: string, options?: LoadDatasetOptions): Promise<Dataset>;
export async function loadDataset(name: string, options: LoadDatasetOptions = {}): Promise<Dataset> {
  checkDatasetName(name);
  let key: string;
  let load: () => Promise<Dataset>;
  if (name.startsWith(FOLDER_PREFIX)) {
    const path = name.slice(FOLDER_PREFIX.length);
    key = `${FOLDER_PREFIX}${resolve(path)} ${JSON.stringify(options)}`;
    load = () => loadFolder(path, options, name);
    if (options.stream !== undefined && options.stream !== false) return load();
  } else {
    const given = Object.keys(options).filter((k) => options[k as keyof LoadDatasetOptions] !== undefined);
    require(given.length === 0, () => `option ${given.join(', ')} applies to folder:<path> datasets only, not to '${name}'`);
    key = name;
    load = BUILT_IN[name]!;
  }
  // The promise is cached before any await, so concurrent calls share one decode.
  let dataset = cache.get(key);
  if (dataset === undefined) {
    dataset = load();
    cache.set(key, dataset);
    dataset.catch(() => cache.delete(key));
  }
  return dataset;
}
