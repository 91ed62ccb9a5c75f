import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { tf, tfl } from '../tf.js';
import { require, TripletjsInputError } from '../common/errors.js';

/**
 * Reads a TensorFlow.js layers model (`model.json` and the weight files its manifest names, beside
 * it) to serve as a trunk. A graph model, a missing or truncated file is a one-line error.
 */
export async function loadBackbone(path: string): Promise<tfl.LayersModel> {
  const text = await readFile(path, 'utf8').catch((error: Error) => {
    throw new TripletjsInputError(`cannot read the backbone ${path} (${error.message})`);
  });
  let json: { format?: string; modelTopology?: unknown; weightsManifest?: Array<{ paths: string[]; weights: tf.io.WeightsManifestEntry[] }> };
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new TripletjsInputError(`the backbone ${path} is not JSON (${(error as Error).message})`);
  }
  require(json.format !== 'graph-model', `the backbone ${path} is a graph model: only TensorFlow.js layers models can be a trunk here`);
  require(json.modelTopology !== undefined && Array.isArray(json.weightsManifest), `the backbone ${path} is not a TensorFlow.js layers model (no modelTopology and weightsManifest)`);
  const shards: Uint8Array[] = [];
  for (const group of json.weightsManifest) {
    for (const file of group.paths) {
      shards.push(
        await readFile(join(dirname(path), file)).catch((error: Error) => {
          throw new TripletjsInputError(`cannot read the backbone's weights ${join(dirname(path), file)} (${error.message})`);
        }),
      );
    }
  }
  // The file's trainable flags belong to the trunk's own training (nsfwjs's MobileNetV2 marks its
  // ImageNet blocks not trainable); what trains here is decided by freezeUpTo. A layer built as not
  // trainable would keep its weights out of the trainable ones for good, so every layer is built trainable.
  markTrainable(json.modelTopology);
  const weightData = Buffer.concat(shards);
  const weightSpecs = json.weightsManifest.flatMap((group) => group.weights);
  try {
    return await tfl.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology as object, weightSpecs, weightData: weightData.buffer.slice(weightData.byteOffset, weightData.byteOffset + weightData.byteLength) }));
  } catch (error) {
    throw new TripletjsInputError(`the backbone ${path} could not be loaded: ${(error as Error).message.split('\n')[0]}`);
  }
}

function markTrainable(node: unknown): void {
  if (Array.isArray(node)) node.forEach(markTrainable);
  else if (node !== null && typeof node === 'object') {
    const record = node as Record<string, unknown>;
    if (typeof record.trainable === 'boolean') record.trainable = true;
    Object.values(record).forEach(markTrainable);
  }
}
