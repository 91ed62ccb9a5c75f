import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { tf, type tfl } from '../tf.js';
import { require, TripletjsInputError } from '../common/errors.js';
import { writeDirectoryAtomic } from '../common/atomic-files.js';
import { VERSION } from '../version.js';
import { checkMetadata, deserialiseModel, modelFingerprint, MODEL_FILES, parseJson, type LoadedModel, type ModelMetadata } from './model-format.js';
import { graphTrunks } from './graph-trunk-layer.js';
import { readArtifacts, readModelJson } from './backbone-file.js';

export { MODEL_FILES, type LoadedModel, type ModelMetadata };

/**
 * Saves `model` to `directory` in the TensorFlow.js layers format (`model.json` + `weights.bin`,
 * loadable by `tf.loadLayersModel` in a browser) with `tripletjs.json` beside them; a graph trunk
 * is kept as the graph model it was (`trunk/model.json` + its weights, unchanged). The directory
 * is replaced atomically and flushed to the disk. Returns the model's fingerprint (as
 * {@link loadModel} gives it).
 */
export async function saveModel(
  model: tfl.LayersModel,
  directory: string,
  metadata: Omit<ModelMetadata, 'format' | 'formatVersion' | 'libraryVersion' | 'createdAt'>,
): Promise<string> {
  let fingerprint = '';
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
        const trunks = graphTrunks(model);
        require(new Set(trunks.map((trunk) => trunk.file)).size === trunks.length, 'the model holds several graph trunks saved to the same file: give each its own file');
        for (const trunk of trunks) {
          const { weightSpecs, weightData: trunkWeights, ...graph } = trunk.graph.artifacts;
          const path = join(temporary, trunk.file);
          await mkdir(dirname(path), { recursive: true });
          await writeFile(path, JSON.stringify({ ...graph, weightsManifest: [{ paths: [`./${MODEL_FILES.weights}`], weights: weightSpecs ?? [] }] }));
          await writeFile(join(dirname(path), MODEL_FILES.weights), new Uint8Array(trunkWeights === undefined ? new ArrayBuffer(0) : tf.io.CompositeArrayBuffer.join(trunkWeights)));
        }
        fingerprint = await modelFingerprint(artifacts.modelTopology!, weightData, trunks.map((trunk) => trunk.graph.artifacts));
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
  return fingerprint;
}

/** Checks, without loading anything, that `directory` exists and is a directory (as a model directory must). */
export async function checkModelDirectory(directory: string): Promise<void> {
  const isDirectory = await stat(directory).then((s) => s.isDirectory(), () => false);
  require(isDirectory, `no model directory at ${directory} (triplet train --out DIR saves one to DIR/model)`);
}

/**
 * Loads a model saved by {@link saveModel}. Every way it can fail (missing directory, a model
 * from another tool, truncated or corrupt weights) gives a {@link TripletjsInputError} that says
 * what is wrong with which file.
 */
export async function loadModel(directory: string): Promise<LoadedModel> {
  await checkModelDirectory(directory);
  const metadataPath = join(directory, MODEL_FILES.metadata);
  const metadata = await readJson<ModelMetadata>(metadataPath, `${directory} is not a tripletjs model: ${MODEL_FILES.metadata} is missing (was it saved by another tool?)`);
  checkMetadata(metadata, metadataPath);
  const topologyPath = join(directory, MODEL_FILES.topology);
  const topology = await readJson<{ modelTopology?: object; weightsManifest?: Array<{ weights: tf.io.WeightsManifestEntry[] }> }>(
    topologyPath,
    `${directory} has no ${MODEL_FILES.topology}`,
  );
  require(topology.modelTopology !== undefined && Array.isArray(topology.weightsManifest), `${topologyPath} is not a TensorFlow.js layers model`);
  const weightsPath = join(directory, MODEL_FILES.weights);
  const weights = await readFile(weightsPath).catch(() => {
    throw new TripletjsInputError(`${weightsPath} is missing: the model directory is incomplete`);
  });
  return deserialiseModel(
    {
      modelTopology: topology.modelTopology,
      weightSpecs: topology.weightsManifest.flatMap((group) => group.weights),
      weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength),
    },
    metadata,
    directory,
    async (file) => {
      const path = join(directory, file);
      return readArtifacts(path, await readModelJson(path, 'the graph trunk'), "the graph trunk's");
    },
  );
}

async function readJson<T>(path: string, missing: string): Promise<T> {
  const text = await readFile(path, 'utf8').catch(() => {
    throw new TripletjsInputError(missing);
  });
  return parseJson<T>(text, path);
}
