/**
 * Memory over a real training run: MNIST, 5 epochs, checkpoints and held-out evaluation every
 * epoch (the paths that allocate besides the steps), recording after each epoch the RSS, the
 * peak RSS so far, and the live tensors (`tf.memory().numTensors`). A leak shows as a tensor count
 * that grows by the same amount every epoch, or an RSS that keeps climbing.
 *
 *   npm run bench:memory     # = npm run build && node build/bench/memory.js
 *   node build/bench/memory.js --model cnn|mlp --epochs 5 --steps 100 --json out.json
 *
 * Default: the MNIST recipe of RESULTS.md (CNN 32-64-128, 64-d, batch-all, P × K = 10 × 13, no
 * augmentation) cut to `--steps` steps per epoch, so that the run takes minutes, not an hour.
 * `--model mlp` trains 784-256-128-64 with augmentation instead.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tf } from '../src/tf.js';
import { loadDataset } from '../src/data/registry.js';
import { initBackend } from '../src/engine/index.js';
import { train, type TrainOptions } from '../src/training/trainer.js';
import { argValue, machine, markdownTable, peakRssMiB } from './common.js';

const MODELS: Record<string, Pick<TrainOptions, 'model' | 'augment'>> = {
  cnn: { model: { kind: 'cnn', filters: [32, 64, 128], embeddingDim: 64 }, augment: false },
  mlp: { model: { kind: 'mlp', hidden: [256, 128], embeddingDim: 64 }, augment: true },
};

/** One row of the table: the process after an epoch (or before the first, or after the run). */
interface Sample {
  readonly when: string;
  readonly rssMiB: number;
  readonly peakRssMiB: number;
  readonly tensors: number;
  readonly tensorMiB: number;
  readonly seconds?: number;
}

const modelName = argValue('--model') ?? 'cnn';
const recipe = MODELS[modelName];
if (!recipe) throw new Error(`unknown model '${modelName}' (cnn or mlp)`);
const epochs = Number(argValue('--epochs') ?? 5);
const steps = Number(argValue('--steps') ?? 100);

const backend = await initBackend({ announce: (message) => console.log(message) });
const host = machine();
console.log(`${host.cpu}, ${host.cores} cores, ${host.memoryGiB} GiB, node ${host.node}, backend ${backend}`);
const dataset = await loadDataset('mnist');

const sample = (when: string, seconds?: number): Sample => {
  const { numTensors, numBytes } = tf.memory();
  return {
    when,
    rssMiB: process.memoryUsage().rss / 2 ** 20,
    peakRssMiB: peakRssMiB(),
    tensors: numTensors,
    tensorMiB: numBytes / 2 ** 20,
    ...(seconds !== undefined ? { seconds } : {}),
  };
};
const samples: Sample[] = [sample('before training')];
const outDir = await mkdtemp(join(tmpdir(), 'tripletjs-memory-'));
try {
  const result = await train({
    dataset,
    ...recipe,
    miner: 'batch-all',
    p: 10,
    k: 13,
    seed: 1,
    epochs,
    stepsPerEpoch: steps,
    evalEvery: 1,
    outDir,
    onEvent: (event) => {
      if (event.type === 'epoch') samples.push(sample(`after epoch ${event.epoch + 1}`, event.seconds));
    },
  });
  samples.push(sample('train() returned'));
  result.model.dispose();
  samples.push(sample('model disposed'));
  console.log(`\nMNIST, ${modelName}, ${epochs} epochs × ${steps} steps of 130, checkpoint + validation (about 5,000 → 55,000) every epoch, test (10,000 → 55,000) at the end`);
  console.log(`test P@1 ${result.test!.precisionAt1.toFixed(4)}, MAP@R ${result.test!.mapAtR.toFixed(4)}\n`);
} finally {
  await rm(outDir, { recursive: true, force: true });
}

console.log(
  markdownTable(
    ['', 'epoch s', 'RSS MiB', 'peak RSS MiB', 'live tensors', 'tensor MiB'],
    samples.map((s) => [s.when, s.seconds?.toFixed(1) ?? '', s.rssMiB.toFixed(0), s.peakRssMiB.toFixed(0), String(s.tensors), s.tensorMiB.toFixed(1)]),
    new Set([1, 2, 3, 4, 5]),
  ),
);
const epochRows = samples.filter((s) => s.when.startsWith('after epoch'));
const tensorCounts = new Set(epochRows.map((s) => s.tensors));
const peakGrowth = epochRows.at(-1)!.peakRssMiB - epochRows[0]!.peakRssMiB;
console.log(`\nlive tensors after each epoch: ${tensorCounts.size === 1 ? `constant (${[...tensorCounts][0]})` : `CHANGING (${epochRows.map((s) => s.tensors).join(', ')})`}`);
console.log(`peak RSS from epoch 1 to epoch ${epochs}: ${epochRows[0]!.peakRssMiB.toFixed(0)} → ${epochRows.at(-1)!.peakRssMiB.toFixed(0)} MiB (+${peakGrowth.toFixed(0)})`);
console.log(`after disposing the model: ${samples.at(-1)!.tensors} live tensors (before training: ${samples[0]!.tensors})`);
const json = argValue('--json');
if (json) await writeFile(json, JSON.stringify({ machine: host, backend, model: modelName, epochs, steps, samples }, null, 2));
