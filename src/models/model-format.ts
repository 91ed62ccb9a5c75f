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
import { bindGraph, configText, GraphTrunk, PretrainedGraph, unbindGraph, type ConfigText } from './graph-trunk-layer.js';

/** Everything needed to use a saved model again, stored beside it as `tripletjs.json`. */
export interface ModelMetadata {
  readonly format: 'tripletjs-model';
  readonly formatVersion: 1;
  /** Version of tripletjs that wrote it. */
  readonly libraryVersion: string;
  readonly config: ModelConfig;
  readonly preprocessing: Preprocessing;
  readonly embeddingDim: number;
  /** The dataset trained on and how it was split (see {@link DatasetRecord}). */
  readonly dataset?: DatasetRecord;
  /** The training arguments, as given. */
  readonly training?: Readonly<Record<string, unknown>>;
  /** The "same or not" decision, with its threshold chosen on validation pairs. */
  readonly verification?: VerificationRecord;
  /** Validation metrics (of the epoch kept) and test metrics (measured once, at the end). */
  readonly metrics?: Readonly<Record<string, unknown>>;
  readonly createdAt: string;
}

/** The dataset a model was trained on, enough to load it again the same way and to know which classes it saw. */
export interface DatasetRecord {
  readonly name: string;
  readonly classNames: readonly string[];
  /** The split's description. */
  readonly split: string;
  /** Whether the test classes were unseen in training or the test images were new images of them. */
  readonly protocol?: 'unseen-classes' | 'held-out';
  /** The fold of the split (null: the dataset's default). */
  readonly fold?: number | null;
  /** Options the dataset was loaded with (folder datasets: size, channels, split, seed). */
  readonly options?: Readonly<Record<string, unknown>>;
  /** Classes of the training, validation and test parts. */
  readonly trainClasses?: readonly string[];
  readonly validationClasses?: readonly string[];
  readonly testClasses?: readonly string[];
}

/** How a model decides "same or not": Euclidean distance ≤ threshold. */
export interface VerificationRecord {
  /** Distance threshold between unit embeddings. */
  readonly threshold: number;
  /** Where it was chosen: always validation pairs, never the test. */
  readonly chosenOn: 'validation';
  /** The criterion: the best balanced accuracy, (TPR + TNR) / 2, over the validation pairs. */
  readonly criterion: 'balanced-accuracy';
  /** That balanced accuracy, on the validation pairs. */
  readonly validationBalancedAccuracy: number;
}

/** A loaded model with its metadata. */
export interface LoadedModel {
  readonly model: tfl.LayersModel;
  readonly metadata: ModelMetadata;
  /**
   * What identifies these weights: a hash of the topology and weight files. Embeddings are only
   * comparable between models of the same fingerprint.
   */
  readonly fingerprint: string;
}

/** File names inside a model directory. */
export const MODEL_FILES = { topology: 'model.json', weights: 'weights.bin', metadata: 'tripletjs.json' } as const;

/** Checks that `metadata` (read from `where`) is tripletjs model metadata of a format this version reads. */
export function checkMetadata(metadata: ModelMetadata, where: string): void {
  require(metadata !== null && typeof metadata === 'object' && metadata.format === 'tripletjs-model', `${where} is not tripletjs model metadata`);
  require(metadata.formatVersion === 1, `${where} was saved in model format ${metadata.formatVersion}; this tripletjs reads format 1`);
}

/** Bytes the weights a manifest lists take in their files (quantised weights take 1 or 2 bytes a value). */
export function weightBytes(specs: readonly tf.io.WeightsManifestEntry[]): number {
  const bytesPerValue = (spec: tf.io.WeightsManifestEntry): number => {
    const stored = spec.quantization?.dtype ?? spec.dtype;
    return stored === 'uint8' || stored === 'bool' ? 1 : stored === 'uint16' || stored === 'float16' ? 2 : 4;
  };
  return specs.reduce((sum, spec) => sum + tf.util.sizeFromShape(spec.shape) * bytesPerValue(spec), 0);
}

/** Reads the artifacts of a graph model a saved model keeps, from its path relative to the saved model's `model.json`. */
export type GraphReader = (file: string) => Promise<tf.io.ModelArtifacts>;

/**
 * Builds the model from its topology and weights, after checking that the weights are as long as
 * the manifest says, then checks the output size against the metadata and that every weight is
 * finite. A graph trunk (a {@link GraphTrunk} layer) is read by `readGraph` and loaded first.
 * `where` names the model in errors.
 */
export async function deserialiseModel(
  artifacts: { modelTopology: object; weightSpecs: tf.io.WeightsManifestEntry[]; weightData: ArrayBuffer },
  metadata: ModelMetadata,
  where: string,
  readGraph: GraphReader,
): Promise<LoadedModel> {
  const expectedBytes = weightBytes(artifacts.weightSpecs);
  require(
    artifacts.weightData.byteLength === expectedBytes,
    `the weights of ${where} are ${artifacts.weightData.byteLength} bytes but its ${MODEL_FILES.topology} describes ${expectedBytes}: the weights file is truncated or corrupt`,
  );
  // Each graph trunk's layer config gets a binding to its loaded graph (on a copy: the fingerprint is of the file's topology).
  const topology = structuredClone(artifacts.modelTopology);
  const trunks: Array<{ graph: PretrainedGraph; binding: string }> = [];
  let model: tfl.LayersModel;
  try {
    for (const config of graphTrunkConfigs(topology)) {
      const file = configText(config.file as ConfigText);
      const graph = await PretrainedGraph.load(await readGraph(file), `${where}: ${file}`);
      const binding = bindGraph(graph);
      config.binding = binding;
      trunks.push({ graph, binding });
    }
    model = await tfl.loadLayersModel(tf.io.fromMemory({ ...artifacts, modelTopology: topology }));
  } catch (error) {
    trunks.forEach(({ graph }) => graph.model.dispose());
    throw error instanceof TripletjsInputError ? error : new TripletjsInputError(`${where} could not be loaded: ${(error as Error).message}`);
  } finally {
    trunks.forEach(({ binding }) => unbindGraph(binding));
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
  return { model, metadata, fingerprint: await modelFingerprint(artifacts.modelTopology, artifacts.weightData, trunks.map(({ graph }) => graph.artifacts)) };
}

/** The configs of the GraphTrunk layers in a layers model's topology (nested models included), to be given their graphs. */
function graphTrunkConfigs(node: unknown): Array<Record<string, unknown>> {
  if (Array.isArray(node)) return node.flatMap(graphTrunkConfigs);
  if (node === null || typeof node !== 'object') return [];
  const record = node as Record<string, unknown>;
  if (record.class_name === GraphTrunk.className && record.config !== null && typeof record.config === 'object') return [record.config as Record<string, unknown>];
  return Object.values(record).flatMap(graphTrunkConfigs);
}

/**
 * `sha256:<hex>` of a model's topology (as JSON) and weight bytes, then those of its graph trunks'
 * if it has any, the same in Node and browsers (WebCrypto): two models embed alike only if their
 * fingerprints are equal.
 */
export async function modelFingerprint(modelTopology: object, weightData: ArrayBuffer, graphTrunks: readonly tf.io.ModelArtifacts[] = []): Promise<string> {
  const parts: Uint8Array[] = [new TextEncoder().encode(JSON.stringify(modelTopology)), new Uint8Array(weightData)];
  for (const trunk of graphTrunks) {
    parts.push(new TextEncoder().encode(JSON.stringify(trunk.modelTopology)));
    if (trunk.weightData !== undefined) parts.push(new Uint8Array(tf.io.CompositeArrayBuffer.join(trunk.weightData)));
  }
  const bytes = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  parts.reduce((offset, part) => (bytes.set(part, offset), offset + part.length), 0);
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return `sha256:${Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}

/** Parses `text` (the contents of `where`) as JSON, with a clear error for a corrupt file. */
export function parseJson<T>(text: string, where: string): T {
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new TripletjsInputError(`${where} is not valid JSON: the file is corrupt or truncated`);
  }
}
