import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tf, tfl } from '../tf.js';
import { require, TripletjsInputError } from '../common/errors.js';
import { writeDirectoryAtomic } from '../common/atomic-files.js';
import { VERSION } from '../version.js';
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

/** File names inside a model directory. */
export const MODEL_FILES = { topology: 'model.json', weights: 'weights.bin', metadata: 'tripletjs.json' } as const;

/**
 * Saves `model` to `directory` in the TensorFlow.js layers format (`model.json` + `weights.bin`,
 * loadable by `tf.loadLayersModel` in a browser) with `tripletjs.json` beside them. The directory
 * is replaced atomically.
 */
export async function saveModel(
  model: tfl.LayersModel,
  directory: string,
  metadata: Omit<ModelMetadata, 'format' | 'formatVersion' | 'libraryVersion' | 'createdAt'>,
): Promise<void> {
  await writeDirectoryAtomic(directory, async (temporary) => {
    await model.save({
      save: async (artifacts) => {
        const weightData = artifacts.weightData ? tf.io.CompositeArrayBuffer.join(artifacts.weightData) : new ArrayBuffer(0);
        const topology = {
          modelTopology: artifacts.modelTopology,
          format: 'layers-model',
          generatedBy: `tripletjs ${VERSION}`,
          convertedBy: null,
          weightsManifest: [{ paths: [`./${MODEL_FILES.weights}`], weights: artifacts.weightSpecs ?? [] }],
        };
        await writeFile(join(temporary, MODEL_FILES.topology), JSON.stringify(topology));
        await writeFile(join(temporary, MODEL_FILES.weights), new Uint8Array(weightData));
        return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
      },
    });
    const full: ModelMetadata = {
      format: 'tripletjs-model',
      formatVersion: 1,
      libraryVersion: VERSION,
      createdAt: new Date().toISOString(),
      ...metadata,
    };
    await writeFile(join(temporary, MODEL_FILES.metadata), JSON.stringify(full, null, 2));
  });
}

/** A loaded model with its metadata. */
export interface LoadedModel {
  readonly model: tfl.LayersModel;
  readonly metadata: ModelMetadata;
}

/**
 * Loads a model saved by {@link saveModel}. Every way it can fail (missing directory, a model
 * from another tool, truncated or corrupt weights) gives a {@link TripletjsInputError} that says
 * what is wrong with which file.
 */
export async function loadModel(directory: string): Promise<LoadedModel> {
  const isDirectory = await stat(directory).then((s) => s.isDirectory(), () => false);
  require(isDirectory, `no model directory at ${directory} (train one with: triplet train --out ${directory})`);
  const metadata = await readJson<ModelMetadata>(join(directory, MODEL_FILES.metadata), `${directory} is not a tripletjs model: ${MODEL_FILES.metadata} is missing (was it saved by another tool?)`);
  require(metadata.format === 'tripletjs-model', `${join(directory, MODEL_FILES.metadata)} is not tripletjs model metadata`);
  require(metadata.formatVersion === 1, `${directory} was saved in model format ${metadata.formatVersion}; this tripletjs (${VERSION}) reads format 1`);
  const topology = await readJson<{ modelTopology?: object; weightsManifest?: Array<{ weights: tf.io.WeightsManifestEntry[] }> }>(
    join(directory, MODEL_FILES.topology),
    `${directory} has no ${MODEL_FILES.topology}`,
  );
  require(topology.modelTopology !== undefined && Array.isArray(topology.weightsManifest), `${join(directory, MODEL_FILES.topology)} is not a TensorFlow.js layers model`);
  const weightSpecs = topology.weightsManifest.flatMap((group) => group.weights);
  const weightsPath = join(directory, MODEL_FILES.weights);
  const weights = await readFile(weightsPath).catch(() => {
    throw new TripletjsInputError(`${weightsPath} is missing: the model directory is incomplete`);
  });
  const expectedBytes = weightSpecs.reduce((sum, spec) => sum + spec.shape.reduce((a, b) => a * b, 1) * 4, 0);
  require(
    weights.byteLength === expectedBytes,
    `${weightsPath} is ${weights.byteLength} bytes but ${MODEL_FILES.topology} describes ${expectedBytes}: the weights file is truncated or corrupt`,
  );
  const weightData = weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength);
  let model: tfl.LayersModel;
  try {
    model = await tfl.loadLayersModel({ load: async () => ({ modelTopology: topology.modelTopology, weightSpecs, weightData }) });
  } catch (error) {
    throw new TripletjsInputError(`${join(directory, MODEL_FILES.topology)} could not be loaded: ${(error as Error).message}`);
  }
  const output = model.outputs[0]!.shape;
  require(output[output.length - 1] === metadata.embeddingDim, `${directory}: the model outputs ${output[output.length - 1]} dimensions but its metadata says ${metadata.embeddingDim}`);
  for (const value of weightsSample(model)) {
    require(Number.isFinite(value), `${weightsPath} holds NaN or Infinity: the weights are corrupt`);
  }
  return { model, metadata };
}

/** Every weight value (models here are small: a full scan is cheap next to loading). */
function* weightsSample(model: tfl.LayersModel): Generator<number> {
  for (const weight of model.getWeights()) yield* weight.dataSync();
}

async function readJson<T>(path: string, missing: string): Promise<T> {
  const text = await readFile(path, 'utf8').catch(() => {
    throw new TripletjsInputError(missing);
  });
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new TripletjsInputError(`${path} is not valid JSON: the file is corrupt or truncated`);
  }
}
