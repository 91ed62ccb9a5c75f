import { tfl } from '../tf.js';
import { require, requireNumber } from '../common/errors.js';
import { L2Normalize } from './l2-normalize-layer.js';
import { Resize } from './resize-layer.js';
import { backboneNetwork, type BackboneConfig } from './backbone.js';
import type { PretrainedGraph } from './graph-trunk-layer.js';
import { DEFAULT_FITTING, type ImageFitting, type ImageFormat } from '../data/image-format.js';

/** A multilayer perceptron on the flattened image. */
export interface MlpConfig {
  readonly kind: 'mlp';
  /** Widths of the hidden ReLU layers (default [256, 128]). */
  readonly hidden?: readonly number[];
  /** Embedding dimension (default 64). */
  readonly embeddingDim?: number;
}

/** A small CNN: blocks of conv 3×3 → batch-norm → ReLU → max-pool 2, then pooling to a vector. */
export interface CnnConfig {
  readonly kind: 'cnn';
  /** Filters of each block (default [32, 64, 128]). */
  readonly filters?: readonly number[];
  /**
   * How the last feature map becomes a vector: `average` (global average pooling, the default,
   * position-free) or `flatten` (keeps where features are, for aligned images such as faces).
   */
  readonly pooling?: 'average' | 'flatten';
  /** Embedding dimension (default 64). */
  readonly embeddingDim?: number;
}

/** One network of an {@link EnsembleConfig}, with the image size it sees. */
export interface EnsembleMember {
  readonly network: MlpConfig | CnnConfig;
  /** Size this member resizes its input to (default: the model's input as it is). */
  readonly resizeTo?: readonly [number, number];
}

/**
 * Several networks side by side, each trained with its own loss on the same batches; the embedding
 * is their L2-normalised embeddings concatenated and divided by √(members), so it is a unit vector
 * and its squared distances are the members' averaged. Different networks (an MLP on small images
 * next to a CNN on larger ones) make different mistakes, which the average partly cancels.
 */
export interface EnsembleConfig {
  readonly kind: 'ensemble';
  readonly members: readonly EnsembleMember[];
}

/**
 * A network built in code (any TensorFlow.js layers model), recorded so: it cannot be rebuilt from
 * a config, but its saved topology loads like any other (its own custom layers registered).
 */
export interface CustomConfig {
  readonly kind: 'custom';
  /** The network's name, for the record. */
  readonly name: string;
  readonly embeddingDim: number;
}

/** Which network maps an image to its embedding. */
export type ModelConfig = MlpConfig | CnnConfig | EnsembleConfig | BackboneConfig | CustomConfig;

/**
 * Embedding dimension of each independently trained part of `config`: one entry, or one per
 * ensemble member. A backbone with no head has its trunk's: build the model and read its output.
 */
export function memberDimensions(config: ModelConfig): number[] {
  require(config.kind !== 'backbone' || config.head !== 'none', "a backbone with no head embeds in its trunk's feature size: build the model and read its output's");
  const members: ReadonlyArray<{ embeddingDim?: number }> = config.kind === 'ensemble' ? config.members.map((member) => member.network) : [config];
  return members.map((network) => requireNumber('embeddingDim', network.embeddingDim ?? 64, { integer: true, min: 1 }));
}

/** Dimension of the embedding a model built from `config` outputs. */
export function embeddingDimension(config: ModelConfig): number {
  return memberDimensions(config).reduce((sum, dims) => sum + dims, 0);
}

/** How raw 8-bit images become model inputs; stored with the model so that it is applied the same way later. */
export interface Preprocessing {
  /** Image size the dataset provides: height, width, channels. */
  readonly inputShape: readonly [number, number, number];
  /** Size the model resizes to before its first layer (default: no resizing). */
  readonly resizeTo?: readonly [number, number];
  /**
   * How an image file of another size is brought to `inputShape` (crop, letterbox or stretch, and
   * the background). Absent in models saved before it was recorded: those stretched ('fill').
   */
  readonly fitting?: ImageFitting;
}

/** The format an image file is brought to before it enters a model with this preprocessing. */
export function modelInputFormat(preprocessing: Preprocessing): ImageFormat & { readonly channels: 1 | 3 } {
  const [height, width, channels] = preprocessing.inputShape;
  return { height, width, channels: channels as 1 | 3, ...(preprocessing.fitting ?? { fit: 'fill', background: DEFAULT_FITTING.background }) };
}

/**
 * A network built in code, ready to train as an embedding: one input of `preprocessing`'s image
 * size (pixels / 255), one output of one vector per image, L2-normalised (a normalising layer is
 * added unless the network ends with one, so that distances and thresholds mean what they mean for
 * every other model). Its weights are used as they are, and trained in place.
 */
export function customEmbeddingNetwork(network: tfl.LayersModel, preprocessing: Preprocessing): { model: tfl.LayersModel; config: CustomConfig } {
  require(network.inputs.length === 1 && network.outputs.length === 1, () => `the network '${network.name}' has ${network.inputs.length} inputs and ${network.outputs.length} outputs: an embedding network has one of each`);
  const input = network.inputs[0]!.shape.slice(1);
  require(
    input.length === 3 && input.every((side, i) => side === preprocessing.inputShape[i]),
    () => `the network '${network.name}' takes inputs of [${input.map(String).join(', ')}] but the images are ${preprocessing.inputShape.join(' × ')} (height × width × channels, pixels / 255)`,
  );
  const output = network.outputs[0]!.shape;
  require(output.length === 2 && typeof output[1] === 'number', () => `the network '${network.name}' outputs [${output.map(String).join(', ')}]: an embedding network outputs one vector per image (batch × dimensions)`);
  const model = network.layers.at(-1) instanceof L2Normalize ? network : tfl.model({ inputs: network.inputs, outputs: new L2Normalize({}).apply(network.outputs[0]!) as tfl.SymbolicTensor, name: network.name });
  return { model, config: { kind: 'custom', name: network.name, embeddingDim: output[1] } };
}

/**
 * Builds the embedding network: pixels / 255 in (height × width × channels, values in [0, 1]),
 * one L2-normalised embedding out. Resizing, if asked, is a layer of the model itself, so a saved
 * model takes the dataset's image size in Node and in the browser.
 *
 * Weights are initialised from `seed`, so the same seed gives the same network; a backbone's
 * trunk comes with its weights (`trunk`, read by `loadBackbone`).
 */
export function createModel(config: ModelConfig, preprocessing: Preprocessing, seed: number, trunk?: tfl.LayersModel | PretrainedGraph): tfl.LayersModel {
  const [height, width, channels] = preprocessing.inputShape;
  for (const [name, value] of [['height', height], ['width', width], ['channels', channels]] as const) {
    requireNumber(`input ${name}`, value, { integer: true, min: 1 });
  }
  require(config.kind !== 'custom', () => `the network '${(config as CustomConfig).name}' was built in code: it has no config to build it from (give the network itself)`);
  let layer = 0;
  // tfjs treats a seed of 0 as "no seed" (Math.random): derive a non-zero seed per layer.
  const nextSeed = (): number => ((Math.imul(seed ^ 0x5bd1e995, 0x27d4eb2d) + Math.imul(++layer, 0x9e3779b9)) | 0) || 1;
  // The input layer fixes the image size the saved model takes.
  const input = tfl.input({ shape: [height, width, channels] });
  const images = resized(input, preprocessing.resizeTo);
  if (config.kind === 'backbone') {
    require(trunk !== undefined, 'a backbone model needs its trunk: read it with loadBackbone(config.path), or build it in code');
    return tfl.model({ inputs: input, outputs: backboneNetwork(config, trunk, images, nextSeed) });
  }
  if (config.kind !== 'ensemble') return tfl.model({ inputs: input, outputs: embeddingNetwork(config, images, nextSeed) });
  require(Array.isArray(config.members) && config.members.length >= 2, 'an ensemble needs at least two members');
  const embeddings = config.members.map((member) => embeddingNetwork(member.network, resized(images, member.resizeTo), nextSeed));
  // Unit vectors concatenated have norm √(members): normalising again divides by exactly that.
  const joined = tfl.layers.concatenate().apply(embeddings) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: new L2Normalize({}).apply(joined) as tfl.SymbolicTensor });
}

function resized(images: tfl.SymbolicTensor, size: readonly [number, number] | undefined): tfl.SymbolicTensor {
  if (!size) return images;
  const [height, width] = size;
  return new Resize({ height: requireNumber('resize height', height, { integer: true, min: 1 }), width: requireNumber('resize width', width, { integer: true, min: 1 }) }).apply(images) as tfl.SymbolicTensor;
}

/** An MLP or a CNN from `images` to its L2-normalised embedding. */
function embeddingNetwork(config: MlpConfig | CnnConfig, images: tfl.SymbolicTensor, nextSeed: () => number): tfl.SymbolicTensor {
  const embeddingDim = requireNumber('embeddingDim', config.embeddingDim ?? 64, { integer: true, min: 1 });
  const initializer = () => tfl.initializers.heNormal({ seed: nextSeed() });
  const layers: tfl.layers.Layer[] = [];
  if (config.kind === 'mlp') {
    layers.push(tfl.layers.flatten());
    for (const units of config.hidden ?? [256, 128]) {
      requireNumber('hidden layer width', units, { integer: true, min: 1 });
      layers.push(tfl.layers.dense({ units, activation: 'relu', kernelInitializer: initializer() }));
    }
  } else {
    require(config.kind === 'cnn', () => `unknown model kind '${(config as { kind: string }).kind}' (expected mlp, cnn, ensemble or backbone)`);
    for (const filters of config.filters ?? [32, 64, 128]) {
      requireNumber('CNN filters', filters, { integer: true, min: 1 });
      layers.push(tfl.layers.conv2d({ filters, kernelSize: 3, padding: 'same', useBias: false, kernelInitializer: initializer() }));
      // Momentum 0.9, not the default 0.99: small datasets take few steps, and the moving statistics
      // used at inference must catch up with the weights within them.
      layers.push(tfl.layers.batchNormalization({ momentum: 0.9 }));
      layers.push(tfl.layers.activation({ activation: 'relu' }));
      layers.push(tfl.layers.maxPooling2d({ poolSize: 2 }));
    }
    const pooling = config.pooling ?? 'average';
    require(pooling === 'average' || pooling === 'flatten', `unknown CNN pooling '${pooling}' (expected average or flatten)`);
    layers.push(pooling === 'average' ? tfl.layers.globalAveragePooling2d({}) : tfl.layers.flatten());
  }
  layers.push(tfl.layers.dense({ units: embeddingDim, kernelInitializer: tfl.initializers.glorotUniform({ seed: nextSeed() }) }));
  layers.push(new L2Normalize({}));
  return layers.reduce((tensor, next) => next.apply(tensor) as tfl.SymbolicTensor, images);
}
