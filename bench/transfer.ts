/**
 * Transfer learning on the demo's protocol (ORL fold 3: 25 people train, 5 validate, s31–s40 are
 * the test): an ImageNet MobileNetV2 trunk (nsfwjs 4.3.0's, up to block_10) frozen under a head,
 * and with its blocks 7–10 fine-tuned. Each row's recipe (head, learning rate) is chosen on
 * validation MAP@R among a small grid, every candidate trained without looking at the test; the
 * chosen one's test part is then evaluated once, at its validation threshold. Each candidate runs
 * in a process of its own, for its peak RSS. Then the chosen frozen recipe once more with its
 * frozen stage's outputs not cached, to show what the cache saves.
 *
 *   npm run build && node build/bench/transfer.js [--epochs 30] [--json FILE]
 */
import { fork } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initBackend } from '../src/engine/index.js';
import { loadDataset } from '../src/data/registry.js';
import { exportPretrained, loadModel, type BackboneConfig } from '../src/models/index.js';
import { evaluateModel, evaluateRawPixelFloor, type EvaluationReport } from '../src/training/evaluate-split.js';
import { train } from '../src/training/trainer.js';
import { argValue, machine, markdownTable, peakRssMiB } from './common.js';

interface Candidate {
  readonly row: string;
  readonly name: string;
  readonly model: Omit<BackboneConfig, 'path'>;
  readonly learningRate: number;
  readonly cache?: boolean;
}

interface CandidateResult {
  readonly validation: EvaluationReport;
  readonly keptEpoch: number;
  readonly secondsPerEpoch: number;
  readonly peakRssMiB: number;
  readonly modelDirectory: string;
}

const FROZEN = 'MobileNetV2 to block_10 frozen, head';
const TUNED = 'MobileNetV2 to block_10, blocks 7–10 fine-tuned, head';
const CUT = 'block_10_project_BN';
const CANDIDATES: Candidate[] = [
  ...[1e-3, 3e-3].flatMap((learningRate) => [
    { row: FROZEN, name: `linear head, lr ${learningRate}`, model: { kind: 'backbone' as const, cutAt: CUT, head: [], embeddingDim: 64 }, learningRate },
    { row: FROZEN, name: `mlp:256 head, lr ${learningRate}`, model: { kind: 'backbone' as const, cutAt: CUT, head: [256], embeddingDim: 64 }, learningRate },
  ]),
  ...[1e-4, 3e-4, 1e-3].map((learningRate) => ({
    row: TUNED,
    name: `mlp:256 head, lr ${learningRate}`,
    model: { kind: 'backbone' as const, cutAt: CUT, freezeUpTo: 'block_6_project_BN', head: [256], embeddingDim: 64 },
    learningRate,
  })),
];

const epochs = Number(argValue('--epochs') ?? 30);

async function runCandidate(candidate: Candidate, trunkPath: string, out: string): Promise<CandidateResult> {
  await initBackend({ announce: () => undefined });
  const dataset = await loadDataset('orl-faces');
  const started = performance.now();
  const result = await train({
    dataset,
    fold: 3,
    model: { ...candidate.model, path: trunkPath },
    learningRate: candidate.learningRate,
    epochs,
    p: 10,
    k: 4,
    evalEvery: 5,
    augment: false,
    evaluateTest: false,
    cacheFrozenFeatures: candidate.cache ?? true,
    outDir: out,
    overwrite: true,
  });
  result.model.dispose();
  return { validation: result.validation!, keptEpoch: result.keptEpoch, secondsPerEpoch: (performance.now() - started) / 1000 / result.epochsRun, peakRssMiB: peakRssMiB(), modelDirectory: join(out, 'model') };
}

function inChild(candidate: Candidate, trunkPath: string, out: string): Promise<CandidateResult> {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), ['--child', JSON.stringify({ candidate, trunkPath, out })], { execArgv: [] });
    child.once('message', (message) => resolve(message as CandidateResult));
    child.once('exit', (code) => (code === 0 ? undefined : reject(new Error(`${candidate.name} exited with ${code}`))));
  });
}

const childArguments = argValue('--child');
if (childArguments !== undefined) {
  const { candidate, trunkPath, out } = JSON.parse(childArguments) as { candidate: Candidate; trunkPath: string; out: string };
  process.send!(await runCandidate(candidate, trunkPath, out));
  process.exit(0);
}

const work = await mkdtemp(join(tmpdir(), 'tripletjs-transfer-'));
const trunkPath = await exportPretrained('nsfwjs-mobilenetv2', join(work, 'trunk'));
const results: Array<Candidate & CandidateResult> = [];
for (const [i, candidate] of CANDIDATES.entries()) {
  const result = await inChild(candidate, trunkPath, join(work, `run-${i}`));
  results.push({ ...candidate, ...result });
  process.stderr.write(`${candidate.row}, ${candidate.name}: validation MAP@R ${result.validation.mapAtR.toFixed(4)} (epoch ${result.keptEpoch}), ${result.secondsPerEpoch.toFixed(1)} s/epoch, ${result.peakRssMiB.toFixed(0)} MiB\n`);
}

// Each row's recipe chosen on validation, then its test evaluated once.
await initBackend({ announce: () => undefined });
const dataset = await loadDataset('orl-faces');
const split = dataset.split(3);
const raw = await evaluateRawPixelFloor(dataset, split);
const rows = [];
for (const row of [FROZEN, TUNED]) {
  const chosen = results.filter((r) => r.row === row).reduce((best, r) => (r.validation.mapAtR > best.validation.mapAtR ? r : best));
  const { model, metadata } = await loadModel(chosen.modelDirectory);
  const threshold = metadata.verification?.threshold;
  const test = await evaluateModel(model, dataset, split.test, threshold !== undefined ? { threshold } : {});
  model.dispose();
  rows.push({ row, chosen: chosen.name, keptEpoch: chosen.keptEpoch, validationMapAtR: chosen.validation.mapAtR, test, secondsPerEpoch: chosen.secondsPerEpoch, peakRssMiB: chosen.peakRssMiB });
}

// What caching the frozen stage saves: the chosen frozen recipe again, without the cache.
const frozenChoice = results.filter((r) => r.row === FROZEN).reduce((best, r) => (r.validation.mapAtR > best.validation.mapAtR ? r : best));
const uncached = await inChild({ ...frozenChoice, cache: false }, trunkPath, join(work, 'uncached'));
await rm(work, { recursive: true, force: true });

const host = machine();
const f = (v: number | undefined): string => (v === undefined ? '–' : v.toFixed(4));
console.log(`${host.cpu}, ${host.cores} cores, node ${host.node}; ORL fold 3, ${epochs} epochs, P × K = 10 × 4, validation every 5 epochs, no augmentation\n`);
console.log(markdownTable(['candidate', 'validation MAP@R', 'kept epoch', 's / epoch', 'peak RSS MiB'], results.map((r) => [`${r.row}: ${r.name}`, f(r.validation.mapAtR), String(r.keptEpoch), r.secondsPerEpoch.toFixed(1), r.peakRssMiB.toFixed(0)]), new Set([1, 2, 3, 4])));
console.log();
console.log(
  markdownTable(
    ['row (recipe chosen on validation)', 'test MAP@R', 'P@1', 'ROC AUC', 'EER', 'accuracy at the validation threshold', 's / epoch', 'peak RSS MiB'],
    [
      ['raw pixels', f(raw.mapAtR), f(raw.precisionAt1), f(raw.rocAuc), f(raw.eer), f(raw.accuracyAtThreshold), '–', '–'],
      ...rows.map((r) => [`${r.row} (${r.chosen})`, f(r.test.mapAtR), f(r.test.precisionAt1), f(r.test.rocAuc), f(r.test.eer), f(r.test.accuracyAtThreshold), r.secondsPerEpoch.toFixed(1), r.peakRssMiB.toFixed(0)]),
    ],
    new Set([1, 2, 3, 4, 5, 6, 7]),
  ),
);
console.log(`\nthe frozen recipe without caching its frozen stage: ${uncached.secondsPerEpoch.toFixed(1)} s/epoch against ${frozenChoice.secondsPerEpoch.toFixed(1)} with it`);
const jsonPath = argValue('--json');
if (jsonPath) await writeFile(jsonPath, JSON.stringify({ machine: host, epochs, results, rows, raw, uncached }, null, 2) + '\n');
