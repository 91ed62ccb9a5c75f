/**
 * tripletjs in a browser: load a model saved by `models.saveModel` in Node from a URL and embed
 * images with it. The layers and the embedding code are the ones Node uses (imported, not copied),
 * so a model gives the same embeddings in both.
 *
 * Bundled by `npm run build` into `build/browser/tripletjs.js` (ES module, TensorFlow.js
 * included). Nothing here may import a Node-only module (fs, path, sharp…): the bundler would fail.
 *
 * ```js
 * import { initWasmBackend, loadModelFromUrl, embedPixels } from './tripletjs.js';
 * await initWasmBackend('/wasm/');
 * const { model, metadata } = await loadModelFromUrl('/models/faces/model.json');
 * const embeddings = embedPixels(model, pixels, count); // 8-bit pixels, count × H × W × C
 * ```
 *
 * @packageDocumentation
 */
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { tf, tfl } from './tf.js';
import { require, TripletjsInputError } from './common/errors.js';
import { installWasmKernels } from './engine/wasm-kernels.js';
import { checkMetadata, deserialiseModel, MODEL_FILES, parseJson, type LoadedModel, type ModelMetadata } from './models/model-format.js';

export { tf, tfl, TripletjsInputError };
export type { LoadedModel, ModelMetadata };
// Importing the custom layers registers them, so that saved models deserialise.
export { L2Normalize } from './models/l2-normalize-layer.js';
export { Resize, type ResizeConfig } from './models/resize-layer.js';
/**
 * Embeds `count` images (`count × height × width × channels`, the model's input size) and returns
 * the embeddings row-major (`count × dims`): 8-bit pixels are divided by 255, as in Node. The same
 * function as `models.embed`.
 */
export { embed as embedPixels } from './models/embed.js';

/**
 * Starts the wasm backend, the one tripletjs uses in Node (with the same own kernels), so that
 * embeddings agree with Node's. `wasmDirectory` is the URL, ending in `/`, where the `.wasm` files
 * of `@tensorflow/tfjs-backend-wasm/dist/` are served. Call it once, before loading a model.
 *
 * Throws instead of letting TensorFlow.js fall back to its slow cpu backend without a word.
 */
export async function initWasmBackend(wasmDirectory: string): Promise<void> {
  setWasmPaths(wasmDirectory);
  const started = await tf.setBackend('wasm');
  await tf.ready();
  if (!started || tf.getBackend() !== 'wasm') {
    throw new Error(`tripletjs: the wasm backend did not start (active: '${tf.getBackend()}'); are the .wasm files served under ${wasmDirectory}?`);
  }
  installWasmKernels();
}

/**
 * Loads a model saved by `models.saveModel` from the URL of its `model.json`, with the
 * `tripletjs.json` metadata beside it. A missing file, a model from another tool, or truncated or
 * corrupt weights reject with a {@link TripletjsInputError} that names the file, never a model
 * with garbage weights.
 */
export async function loadModelFromUrl(url: string | URL): Promise<LoadedModel> {
  const modelUrl = new URL(url, location.href);
  const metadataUrl = new URL(MODEL_FILES.metadata, modelUrl);
  const metadata = await fetchJson<ModelMetadata>(metadataUrl, `${modelUrl.href} is not a tripletjs model: ${metadataUrl.href} is missing`);
  checkMetadata(metadata, metadataUrl.href);
  let artifacts: tf.io.ModelArtifacts;
  try {
    artifacts = await tf.io.http(modelUrl.href).load!(); // an http handler always loads
  } catch (error) {
    throw new TripletjsInputError(`${modelUrl.href} could not be loaded: ${(error as Error).message}`);
  }
  require(artifacts.modelTopology !== undefined, `${modelUrl.href} is not a TensorFlow.js layers model`);
  const weightData = artifacts.weightData === undefined ? new ArrayBuffer(0) : tf.io.CompositeArrayBuffer.join(artifacts.weightData);
  return deserialiseModel({ modelTopology: artifacts.modelTopology, weightSpecs: artifacts.weightSpecs ?? [], weightData }, metadata, modelUrl.href, async (file) => {
    const url = new URL(file, modelUrl).href;
    try {
      return await tf.io.http(url).load!();
    } catch (error) {
      throw new TripletjsInputError(`${url} could not be loaded: ${(error as Error).message}`);
    }
  });
}

async function fetchJson<T>(url: URL, missing: string): Promise<T> {
  const response = await fetch(url).catch((error: Error) => {
    throw new TripletjsInputError(`${missing} (${error.message})`);
  });
  require(response.ok, `${missing} (HTTP ${response.status})`);
  return parseJson<T>(await response.text(), url.href);
}
