/**
 * The saved-model format shared by Node (`model-files.ts`) and the browser (`browser.ts`): the
 * metadata, the file names, and the checks that turn a foreign, truncated or corrupt model into
 * one clear error. Nothing here touches the file system, so the browser bundle can include it.
 */
import { tf, tfl } from '../tf.js';
import { require, TripletjsInputError } from '../common/errors.js';
import type { ModelConfig, Preprocessing } from './model-config.js';
// The custom layers register themselves on import, so that saved models deserialise.
import './l2-normalize-layer.js';
import './resize-layer.js';

/** Everything needed to use a saved model again, stored beside it as `tripletjs.json`. */
export interface ModelMetadata {
  readonly format: 'tripletjs-model';
  readonly formatVersion: 1;
  /** Version of tripletjs that wrote it. */
  readonly libraryVersion: string;
  readonly config: ModelConfig;
  readonly preprocessing: Preprocessing;
  readonly embeddingDim: number;
  /** The dataset trained on: its name, class names and split. */
  readonly dataset?: { readonly name: string; readonly classNames: readonly string[]; readonly split: string };
  /** The training arguments, as given. */
  readonly training?: Readonly<Record<string, unknown>>;
  /** Held-out metrics measured at the end of training. */
  readonly metrics?: Readonly<Record<string, unknown>>;
  readonly createdAt: string;
}

/** A loaded model with its metadata. */
export interface LoadedModel {
  readonly model: tfl.LayersModel;
  readonly metadata: ModelMetadata;
}

/** File names inside a model directory. */
export const MODEL_FILES = { topology: 'model.json', weights: 'weights.bin', metadata: 'tripletjs.json' } as const;

/** Checks that `metadata` (read from `where`) is tripletjs model metadata of a format this version reads. */
export function checkMetadata(metadata: ModelMetadata, where: string): void {
  require(metadata !== null && typeof metadata === 'object' && metadata.format === 'tripletjs-model', `${where} is not tripletjs model metadata`);
  require(metadata.formatVersion === 1, `${where} was saved in model format ${metadata.formatVersion}; this tripletjs reads format 1`);
}

/**
 * Builds the model from its topology and weights, after checking that the weights are as long as
 * the manifest says (tripletjs saves float32 only: 4 bytes a value), then checks the output size
 * against the metadata and that every weight is finite. `where` names the model in errors.
 */
export async function deserialiseModel(
  artifacts: { modelTopology: object; weightSpecs: tf.io.WeightsManifestEntry[]; weightData: ArrayBuffer },
  metadata: ModelMetadata,
  where: string,
): Promise<tfl.LayersModel> {
  const expectedBytes = artifacts.weightSpecs.reduce((sum, spec) => sum + tf.util.sizeFromShape(spec.shape) * 4, 0);
  require(
    artifacts.weightData.byteLength === expectedBytes,
    `the weights of ${where} are ${artifacts.weightData.byteLength} bytes but its ${MODEL_FILES.topology} describes ${expectedBytes}: the weights file is truncated or corrupt`,
  );
  let model: tfl.LayersModel;
  try {
    model = await tfl.loadLayersModel(tf.io.fromMemory(artifacts));
  } catch (error) {
    throw new TripletjsInputError(`${where} could not be loaded: ${(error as Error).message}`);
  }
  try {
    const output = model.outputs[0]!.shape;
    require(output[output.length - 1] === metadata.embeddingDim, `${where}: the model outputs ${output[output.length - 1]} dimensions but its metadata says ${metadata.embeddingDim}`);
    // Models here are small: a full scan is cheap next to loading.
    require(
      model.getWeights().every((weight) => weight.dataSync().every(Number.isFinite)),
      `the weights of ${where} hold NaN or Infinity: the weights are corrupt`,
    );
  } catch (error) {
    model.dispose();
    throw error;
  }
  return model;
}

/** Parses `text` (the contents of `where`) as JSON, with a clear error for a corrupt file. */
export function parseJson<T>(text: string, where: string): T {
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new TripletjsInputError(`${where} is not valid JSON: the file is corrupt or truncated`);
  }
}
