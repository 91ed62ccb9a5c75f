/**
 * One training step of the models `triplet train` builds (src/models: conv → batch norm → ReLU →
 * max-pool blocks, then flatten or global average pooling, a dense embedding, L2 normalisation),
 * with tfjs's own `Mean` gradient and wasm `Cast` against tripletjs's (src/engine/gradients.ts,
 * src/engine/conv-kernels.ts), alternated in the same run.
 *
 *   npm run build && node --expose-gc build/bench/model-step.js [--reps 15]
 *
 * Batch 130 = 10 classes × 13 of 28 × 28 × 1 seeded uniform inputs, the trainer's loss path
 * (batch-all miner handed to a triplet margin loss, margin 0.2), one Adam update. The last line
 * of each model is the ratio of tfjs's step time to tripletjs's (> 1: faster now).
 */
import { tf } from '../src/tf.js';
import { initBackend } from '../src/engine/index.js';
import { createModel, type ModelConfig } from '../src/models/index.js';
import { makeLoss, makeMiner } from '../src/training/components.js';
import { FusedAdam } from '../src/training/fused-adam.js';
import { argValue, formatMs, formatRatio, machine, markdownTable, peakRssMiB, timeRepeated } from './common.js';

const REPETITIONS = Number(argValue('--reps') ?? '15');
// tfjs's originals, captured before initBackend replaces them.
const stockMeanGradient = tf.getGradient('Mean')!;
const stockCast = tf.getKernel('Cast', 'wasm')!;

const announced: string[] = [];
await initBackend({ backend: 'wasm', announce: (line) => announced.push(line) });
const oursMeanGradient = tf.getGradient('Mean')!;
const oursCast = tf.getKernel('Cast', 'wasm')!;

function use(which: 'tfjs' | 'tripletjs'): void {
  tf.registerGradient(which === 'tfjs' ? stockMeanGradient : oursMeanGradient);
  tf.unregisterKernel('Cast', 'wasm');
  tf.registerKernel(which === 'tfjs' ? stockCast : oursCast);
}

const BATCH = 130;
const labels = Int32Array.from({ length: BATCH }, (_, i) => Math.floor(i / 13));
const loss = makeLoss('triplet', { margin: 0.2 });
const miner = makeMiner('batch-all', { margin: 0.2, seed: 0 });

const MODELS: Record<string, ModelConfig> = {
  'CNN 32-64-128, flatten': { kind: 'cnn', filters: [32, 64, 128], pooling: 'flatten', embeddingDim: 64 },
  'CNN 32-64-128, global average pooling': { kind: 'cnn', filters: [32, 64, 128], pooling: 'average', embeddingDim: 64 },
  'MLP 512': { kind: 'mlp', hidden: [512], embeddingDim: 64 },
};

const host = machine();
console.log(announced.join('\n'));
console.log(`${host.cpu}, ${host.cores} cores, node ${host.node}; median of ${REPETITIONS} steps per variant, alternated\n`);
const rows: string[][] = [];
const ratios: string[] = [];
for (const [name, config] of Object.entries(MODELS)) {
  const model = createModel(config, { inputShape: [28, 28, 1] }, 1);
  const optimizer = new FusedAdam(1e-3);
  const x = tf.randomUniform([BATCH, 28, 28, 1], 0, 1, 'float32', 5);
  const step = (): void => {
    tf.tidy(() => {
      const cost = optimizer.minimize(() => loss.compute(model.apply(x, { training: true }) as tf.Tensor2D, labels, miner), true);
      cost!.dataSync();
    });
  };
  const samples: Record<'tfjs' | 'tripletjs', number[]> = { tfjs: [], tripletjs: [] };
  // Alternate the variants step by step, so that both see the same machine load.
  for (const which of ['tfjs', 'tripletjs'] as const) {
    use(which);
    step(); // warm-up
  }
  for (let i = 0; i < REPETITIONS; i++) {
    for (const which of ['tfjs', 'tripletjs'] as const) {
      use(which);
      samples[which].push(timeRepeated(step, { repetitions: 1, warmups: 0 }).median);
    }
  }
  const medianOf = (values: number[]): number => [...values].sort((a, b) => a - b)[values.length >> 1]!;
  const [stock, ours] = [medianOf(samples.tfjs), medianOf(samples.tripletjs)];
  rows.push([name, formatMs(stock), formatMs(ours), (BATCH / (ours / 1000)).toFixed(0), formatRatio(stock / ours)]);
  ratios.push(`${name}: tfjs / tripletjs step time = ${formatRatio(stock / ours)}`);
  tf.dispose([x]);
  optimizer.dispose();
  model.dispose();
}
use('tripletjs');
console.log(markdownTable(['model', 'tfjs Mean gradient + Cast, ms', 'tripletjs, ms', 'samples/s (tripletjs)', 'speed-up'], rows, new Set([1, 2, 3, 4])));
console.log(`\npeak RSS ${peakRssMiB().toFixed(0)} MiB\n`);
console.log(ratios.join('\n'));
