/**
 * The training steps the benchmarks time (bench/cnn-step.ts, bench/speed.ts): the CNN
 * and MLP, a batch of 128 seeded normal inputs with P × K = 32 × 4 labels, a batch-hard triplet
 * loss (margin 0.2) on L2-normalised embeddings, and one Adam update through
 * `optimizer.minimize`. bench/torch-peer.cpp is the same step in libtorch.
 */
import { tf, tfl } from '../src/tf.js';
import { BatchHardMiner } from '../src/miners/index.js';
import { TripletMarginLoss } from '../src/losses/index.js';
import { FusedAdam } from '../src/training/fused-adam.js';
import { l2Normalize } from '../src/engine/index.js';

/** Examples per step. */
export const BATCH = 128;
const PER_CLASS = 4;

/** conv32 3×3 relu → maxpool 2 → conv64 3×3 relu → maxpool 2 → flatten → dense128 relu → dense64. */
export function cnn(): tfl.Sequential {
  return tfl.sequential({
    layers: [
      tfl.layers.conv2d({ inputShape: [28, 28, 1], filters: 32, kernelSize: 3, activation: 'relu' }),
      tfl.layers.maxPooling2d({ poolSize: 2 }),
      tfl.layers.conv2d({ filters: 64, kernelSize: 3, activation: 'relu' }),
      tfl.layers.maxPooling2d({ poolSize: 2 }),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: 128, activation: 'relu' }),
      tfl.layers.dense({ units: 64 }),
    ],
  });
}

/** 784-256-128-64, relu between. */
export function mlp(): tfl.Sequential {
  return tfl.sequential({
    layers: [
      tfl.layers.dense({ inputShape: [784], units: 256, activation: 'relu' }),
      tfl.layers.dense({ units: 128, activation: 'relu' }),
      tfl.layers.dense({ units: 64 }),
    ],
  });
}

/** P × K = 32 × 4: classes in contiguous blocks, as a P × K sampler yields them. */
const labels = Int32Array.from({ length: BATCH }, (_, i) => Math.floor(i / PER_CLASS));
const miner = new BatchHardMiner();
const loss = new TripletMarginLoss({ margin: 0.2 });

/** A model with its optimiser and a fixed batch; `step()` returns the loss. */
export interface Trainer {
  readonly name: string;
  readonly model: tfl.Sequential;
  step(): number;
  dispose(): void;
}

/** One Adam step of `model` on a fixed batch of `inputShape`. */
export function trainer(name: string, model: tfl.Sequential, inputShape: number[]): Trainer {
  const x = tf.tidy(() => tf.randomNormal(inputShape, 0, 1, 'float32', 7));
  const optimizer = new FusedAdam(1e-3);
  const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
  return {
    name,
    model,
    step(): number {
      const cost = optimizer.minimize(
        () => {
          // The models end unnormalised, as the CNN; tripletjs's own L2 normalisation follows.
          const embeddings = l2Normalize(model.apply(x, { training: true }) as tf.Tensor2D);
          return loss.compute(embeddings, labels, miner);
        },
        true,
        variables,
      );
      const value = cost!.dataSync()[0]!;
      cost!.dispose();
      return value;
    },
    dispose(): void {
      x.dispose();
      optimizer.dispose();
      model.dispose();
    },
  };
}
