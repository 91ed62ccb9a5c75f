import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { tf, tfl } from '../tf.js';
import { require, TripletjsInputError } from '../common/errors.js';
import { PretrainedGraph } from './graph-trunk-layer.js';
import { weightBytes } from './model-format.js';

/**
 * Reads a TensorFlow.js model (`model.json` and the weight files its manifest names, beside it) to
 * serve as a trunk: a layers model (fine-tunable) or a graph model (a frozen feature extractor). A
 * missing, foreign or truncated file is a one-line error.
 */
export async function loadBackbone(path: string): Promise<tfl.LayersModel | PretrainedGraph> {
  const json = await readModelJson(path, 'the backbone');
  if (json.format === 'graph-model') return PretrainedGraph.load(await readArtifacts(path, json, "the backbone's"), path);
  require(json.modelTopology !== undefined && Array.isArray(json.weightsManifest), `the backbone ${path} is not a TensorFlow.js model (no modelTopology and weightsManifest)`);
  const { weightSpecs, weightData } = await readArtifacts(path, json, "the backbone's");
  // The file's trainable flags belong to the trunk's own training (nsfwjs's MobileNetV2 marks its
  // ImageNet blocks not trainable); what trains here is decided by freezeUpTo. A layer built as not
  // trainable would keep its weights out of the trainable ones for good, so every layer is built trainable.
  markTrainable(json.modelTopology);
  try {
    return await tfl.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology as object, weightSpecs, weightData }));
  } catch (error) {
    throw new TripletjsInputError(`the backbone ${path} could not be loaded: ${(error as Error).message.split('\n')[0]}`);
  }
}

/** A TensorFlow.js `model.json` read from `path`, or a one-line error calling it `what`. */
export async function readModelJson(path: string, what: string): Promise<tf.io.ModelJSON> {
  const text = await readFile(path, 'utf8').catch((error: Error) => {
    throw new TripletjsInputError(`cannot read ${what} ${path} (${error.message})`);
  });
  let json: tf.io.ModelJSON;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new TripletjsInputError(`${what} ${path} is not JSON (${(error as Error).message})`);
  }
  require(json !== null && typeof json === 'object' && json.modelTopology !== undefined, `${what} ${path} is not a TensorFlow.js model (no modelTopology)`);
  return json;
}

/** The artifacts of the model whose `model.json` at `path` is `json`: its weight files (beside it) read and joined. */
export async function readArtifacts(path: string, json: tf.io.ModelJSON, whose: string): Promise<tf.io.ModelArtifacts & { weightSpecs: tf.io.WeightsManifestEntry[]; weightData: ArrayBuffer }> {
  require(Array.isArray(json.weightsManifest), `${path} has no weightsManifest`);
  const artifacts = await tf.io.getModelArtifactsForJSON(json, async (manifest) => {
    const shards: Uint8Array[] = [];
    for (const file of manifest.flatMap((group) => group.paths)) {
      shards.push(
        await readFile(join(dirname(path), file)).catch((error: Error) => {
          throw new TripletjsInputError(`cannot read ${whose} weights ${join(dirname(path), file)} (${error.message})`);
        }),
      );
    }
    const joined = Buffer.concat(shards);
    return [manifest.flatMap((group) => group.weights), joined.buffer.slice(joined.byteOffset, joined.byteOffset + joined.byteLength)];
  });
  const weightData = tf.io.CompositeArrayBuffer.join(artifacts.weightData);
  const expected = weightBytes(artifacts.weightSpecs ?? []);
  require(weightData.byteLength === expected, `${whose} weights beside ${path} are ${weightData.byteLength} bytes but its manifest describes ${expected}: a weight file is truncated or corrupt`);
  return { ...artifacts, weightSpecs: artifacts.weightSpecs ?? [], weightData };
}

function markTrainable(node: unknown): void {
  if (Array.isArray(node)) node.forEach(markTrainable);
  else if (node !== null && typeof node === 'object') {
    const record = node as Record<string, unknown>;
    if (typeof record.trainable === 'boolean') record.trainable = true;
    Object.values(record).forEach(markTrainable);
  }
}
