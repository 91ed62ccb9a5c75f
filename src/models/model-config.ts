import { tfl } from '../tf.js';
import { require, requireNumber } from '../common/errors.js';
import { L2Normalize } from './l2-normalize-layer.js';
import { Resize } from './resize-layer.js';

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

/** Which network maps an image to its embedding. */
export type ModelConfig = MlpConfig | CnnConfig;

/** How raw 8-bit images become model inputs; stored with the model so that it is applied the same way later. */
export interface Preprocessing {
  /** Image size the dataset provides: height, width, channels. */
  readonly inputShape: readonly [number, number, number];
  /** Size the model resizes to before its first layer (default: no resizing). */
  readonly resizeTo?: readonly [number, number];
}

/**
 * Builds the embedding network: pixels / 255 in (height × width × channels, values in [0, 1]),
 * one L2-normalised embedding out. Resizing, if asked, is a layer of the model itself, so a saved
 * model takes the dataset's image size in Node and in the browser.
 *
 * Weights are initialised from `seed`, so the same seed gives the same network.
 */
export function createModel(config: ModelConfig, preprocessing: Preprocessing, seed: number): tfl.Sequential {
  const [height, width, channels] = preprocessing.inputShape;
  for (const [name, value] of [['height', height], ['width', width], ['channels', channels]] as const) {
    requireNumber(`input ${name}`, value, { integer: true, min: 1 });
  }
  const embeddingDim = requireNumber('embeddingDim', config.embeddingDim ?? 64, { integer: true, min: 1 });
  let layer = 0;
  // tfjs treats a seed of 0 as "no seed" (Math.random): derive a non-zero seed per layer.
  const nextSeed = (): number => ((Math.imul(seed ^ 0x5bd1e995, 0x27d4eb2d) + Math.imul(++layer, 0x9e3779b9)) | 0) || 1;
  const initializer = () => tfl.initializers.heNormal({ seed: nextSeed() });
  const model = tfl.sequential();
  // The input layer fixes the image size the saved model takes.
  model.add(tfl.layers.inputLayer({ inputShape: [height, width, channels] }));
  if (preprocessing.resizeTo) {
    const [h, w] = preprocessing.resizeTo;
    model.add(new Resize({ height: requireNumber('resize height', h, { integer: true, min: 1 }), width: requireNumber('resize width', w, { integer: true, min: 1 }) }));
  }
  if (config.kind === 'mlp') {
    model.add(tfl.layers.flatten());
    for (const units of config.hidden ?? [256, 128]) {
      requireNumber('hidden layer width', units, { integer: true, min: 1 });
      model.add(tfl.layers.dense({ units, activation: 'relu', kernelInitializer: initializer() }));
    }
  } else {
    require(config.kind === 'cnn', () => `unknown model kind '${(config as { kind: string }).kind}' (expected mlp or cnn)`);
    for (const filters of config.filters ?? [32, 64, 128]) {
      requireNumber('CNN filters', filters, { integer: true, min: 1 });
      model.add(tfl.layers.conv2d({ filters, kernelSize: 3, padding: 'same', useBias: false, kernelInitializer: initializer() }));
      // Momentum 0.9, not the default 0.99: small datasets take few steps, and the moving statistics
      // used at inference must catch up with the weights within them.
      model.add(tfl.layers.batchNormalization({ momentum: 0.9 }));
      model.add(tfl.layers.activation({ activation: 'relu' }));
      model.add(tfl.layers.maxPooling2d({ poolSize: 2 }));
    }
    const pooling = config.pooling ?? 'average';
    require(pooling === 'average' || pooling === 'flatten', `unknown CNN pooling '${pooling}' (expected average or flatten)`);
    model.add(pooling === 'average' ? tfl.layers.globalAveragePooling2d({}) : tfl.layers.flatten());
  }
  model.add(tfl.layers.dense({ units: embeddingDim, kernelInitializer: tfl.initializers.glorotUniform({ seed: nextSeed() }) }));
  model.add(new L2Normalize({}));
  return model;
}
