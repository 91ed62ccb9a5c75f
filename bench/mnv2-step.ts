/**
 * The MobileNetV2 fine-tuning step that bench/speed.ts times (cases `mnv2` and `mnv2-trained`),
 * and bench/torch-peer.cpp's `mnv2` cases do in libtorch.
 *
 * The model is the one `triplet train` builds on nsfwjs 4.3.0's ImageNet MobileNetV2 (Keras,
 * alpha 1.0, 224 × 224 × 3): `createModel({kind: 'backbone', cutAt: 'out_relu', freezeUpTo:
 * 'block_10_project_BN', head: [], embeddingDim: 64})`, so the trunk up to and including block 10
 * is the frozen stage and blocks 11–16, Conv_1 + its batch norm + out_relu, global average pooling
 * and a linear 64-d head (L2-normalised) are the trained stage. A step does what the trainer's
 * does (src/training/trainer.ts, step-inputs.ts): the frozen stage outside the gradient tape
 * (`training: false`), the trained stage under it with `training: true` (its batch norms normalise
 * with the batch's statistics and update their moving averages), then the loss and one FusedAdam
 * update (lr 1e-3). The loss is the speed benchmark's CNN step's: batch-hard mining, triplet margin
 * 0.2, on a P × K = 8 × 4 batch of 32 seeded uniform images in [0, 1).
 *
 * `mnv2-trained` is the step when the frozen stage's outputs are cached (the trainer's default
 * without augmentation): the same step on a fixed 32 × 14 × 14 × 96 batch of block 10's outputs.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tf, type tfl } from '../src/tf.js';
import { BatchHardMiner } from '../src/miners/index.js';
import { TripletMarginLoss } from '../src/losses/index.js';
import { FusedAdam } from '../src/training/fused-adam.js';
import { createModel, exportPretrained, loadBackbone, trainingStages } from '../src/models/index.js';

/** Examples per step, and per class (P × K = 8 × 4). */
export const MNV2_BATCH = 32;
const PER_CLASS = 4;
export const MNV2_FREEZE_UP_TO = 'block_10_project_BN';
export const MNV2_CUT_AT = 'out_relu';

/** Writes the trunk out once (a folder under the system's temporary one) and returns its model.json. */
export async function exportMnv2Trunk(): Promise<string> {
  return exportPretrained('nsfwjs-mobilenetv2', join(mkdtempSync(join(tmpdir(), 'tripletjs-mnv2-')), 'mobilenetv2'));
}

/** The model's two stages on the trunk at `trunkPath`. */
export async function mnv2Stages(trunkPath: string): Promise<{ model: tfl.LayersModel; frozen: tfl.LayersModel; trained: tfl.LayersModel }> {
  const trunk = await loadBackbone(trunkPath);
  const config = { kind: 'backbone', path: trunkPath, cutAt: MNV2_CUT_AT, freezeUpTo: MNV2_FREEZE_UP_TO, head: [], embeddingDim: 64 } as const;
  const model = createModel(config, { inputShape: [224, 224, 3] }, 1, trunk);
  const { frozen, trained } = trainingStages(model);
  if (frozen === undefined) throw new Error('the MobileNetV2 model has no frozen stage');
  return { model, frozen, trained };
}

/** One training step (returns the loss); `cached`: of the trained stage alone, on fixed frozen-stage outputs. */
export async function mnv2Step(trunkPath: string, cached: boolean): Promise<{ step: () => number; frozen: tfl.LayersModel; trained: tfl.LayersModel }> {
  const { frozen, trained } = await mnv2Stages(trunkPath);
  const images = tf.tidy(() => tf.randomUniform([MNV2_BATCH, 224, 224, 3], 0, 1, 'float32', 7));
  const features = cached ? tf.tidy(() => frozen.apply(images, { training: false }) as tf.Tensor) : undefined;
  if (features !== undefined) images.dispose();
  const labels = Int32Array.from({ length: MNV2_BATCH }, (_, i) => Math.floor(i / PER_CLASS));
  const miner = new BatchHardMiner();
  const loss = new TripletMarginLoss({ margin: 0.2 });
  const optimizer: tf.Optimizer = new FusedAdam(1e-3);
  const step = (): number =>
    tf.tidy(() => {
      const inputs = features ?? (frozen.apply(images, { training: false }) as tf.Tensor);
      const { value, grads } = optimizer.computeGradients(() => loss.compute(trained.apply(inputs, { training: true }) as tf.Tensor2D, labels, miner));
      optimizer.applyGradients(grads);
      return value.dataSync()[0]!;
    });
  return { step, frozen, trained };
}
