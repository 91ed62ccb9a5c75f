/**
 * The quality targets of the training issue, checked by training for real: each set's recipe
 * (the one RESULTS.md reports, chosen on validation) is trained from scratch, its epoch kept on
 * validation, its test part evaluated once next to raw pixels, and compared with its targets.
 *
 *   npm run build && node build/bench/quality.js [--set orl-faces,mnist,fashion-mnist,quickdraw] [--json FILE]
 *
 * Default: orl-faces only (about 1.5 min); mnist, fashion-mnist and quickdraw take 10–35 min each
 * on 2 cores. Prints one table per set (raw pixels, learned, target, met), the training time and
 * the peak RSS, and exits with status 1 when a target is missed. These are long runs: the unit
 * tests check the parts, this checks the whole.
 */
import { writeFile } from 'node:fs/promises';
import { initBackend } from '../src/engine/index.js';
import { loadDataset } from '../src/data/registry.js';
import { evaluateRawPixelFloor, type EvaluationReport } from '../src/training/evaluate-split.js';
import { train, type TrainOptions } from '../src/training/trainer.js';
import { argValue, machine, markdownTable, peakRssMiB } from './common.js';

/** A metric bound: at least `min`, or at most `max`. */
interface Target {
  readonly metric: 'precisionAt1' | 'mapAtR' | 'rocAuc' | 'eer';
  readonly min?: number;
  readonly max?: number;
}

interface QualityCase {
  /** The training options, without the dataset (loaded by name). */
  readonly recipe: Omit<TrainOptions, 'dataset'>;
  readonly targets: readonly Target[];
}

/** The recipes of RESULTS.md and the targets of the training issue. */
const CASES: Record<string, QualityCase> = {
  'orl-faces': {
    // = `triplet demo`
    recipe: {
      model: {
        kind: 'ensemble',
        members: [
          { network: { kind: 'mlp', hidden: [512], embeddingDim: 64 }, resizeTo: [28, 23] },
          { network: { kind: 'cnn', filters: [32, 64], pooling: 'flatten', embeddingDim: 64 }, resizeTo: [28, 23] },
          { network: { kind: 'cnn', filters: [32, 64, 128], pooling: 'flatten', embeddingDim: 64 }, resizeTo: [56, 46] },
        ],
      },
      miner: 'batch-all',
      epochs: 60,
      p: 10,
      k: 4,
      evalEvery: 20,
    },
    targets: [{ metric: 'rocAuc', min: 0.99 }, { metric: 'eer', max: 0.05 }, { metric: 'mapAtR', min: 0.92 }],
  },
  mnist: {
    recipe: { model: { kind: 'cnn', filters: [32, 64, 128], embeddingDim: 64 }, miner: 'batch-all', epochs: 4, p: 10, k: 13, augment: false, seed: 1, evalEvery: 1 },
    targets: [{ metric: 'precisionAt1', min: 0.99 }, { metric: 'mapAtR', min: 0.9 }],
  },
  'fashion-mnist': {
    recipe: { model: { kind: 'cnn', filters: [48, 96, 192], pooling: 'flatten', embeddingDim: 64 }, miner: 'batch-all', epochs: 10, p: 10, k: 13, seed: 1, evalEvery: 2 },
    targets: [{ metric: 'precisionAt1', min: 0.9 }, { metric: 'mapAtR', min: 0.7 }],
  },
  quickdraw: {
    recipe: { model: { kind: 'cnn', filters: [64, 128, 256], pooling: 'flatten', embeddingDim: 128 }, miner: 'batch-all', epochs: 30, p: 32, k: 4, seed: 1, evalEvery: 5 },
    targets: [{ metric: 'precisionAt1', min: 0.4 }, { metric: 'mapAtR', min: 0.07 }],
  },
};

const met = (target: Target, value: number): boolean =>
  (target.min === undefined || value >= target.min) && (target.max === undefined || value <= target.max);

const sets = (argValue('--set') ?? 'orl-faces').split(',');
for (const name of sets) if (!(name in CASES)) throw new Error(`unknown set '${name}' (choose from ${Object.keys(CASES).join(', ')})`);

const backend = await initBackend({ announce: (message) => console.log(message) });
const host = machine();
console.log(`${host.cpu}, ${host.cores} cores, node ${host.node}, backend ${backend}\n`);

const results: Array<{ set: string; raw: EvaluationReport; learned: EvaluationReport; seconds: number; peakRssMiB: number; met: boolean }> = [];
for (const name of sets) {
  const { recipe, targets } = CASES[name]!;
  const dataset = await loadDataset(name);
  const split = dataset.split(recipe.fold);
  const raw = await evaluateRawPixelFloor(dataset, split);
  const result = await train({ ...recipe, dataset });
  const test = result.test!;
  const rows = targets.map((target) => [
    target.metric,
    raw[target.metric]!.toFixed(4),
    test[target.metric]!.toFixed(4),
    target.min !== undefined ? `≥ ${target.min}` : `≤ ${target.max}`,
    met(target, test[target.metric]!) ? 'yes' : 'NO',
  ]);
  const allMet = rows.every((row) => row[4] === 'yes');
  results.push({ set: name, raw, learned: test, seconds: result.seconds, peakRssMiB: peakRssMiB(), met: allMet });
  console.log(`## ${name}: ${split.description}\n`);
  console.log(markdownTable(['metric', 'raw pixels', 'learned', 'target', 'met'], rows, new Set([1, 2])));
  console.log(`\ntraining ${result.seconds.toFixed(0)} s, peak RSS so far ${peakRssMiB().toFixed(0)} MiB\n`);
}

const jsonPath = argValue('--json');
if (jsonPath) await writeFile(jsonPath, JSON.stringify({ machine: host, backend, results }, null, 2) + '\n');
const missed = results.filter((r) => !r.met).map((r) => r.set);
console.log(missed.length === 0 ? 'every target met' : `targets missed: ${missed.join(', ')}`);
process.exitCode = missed.length === 0 ? 0 : 1;
