/**
 * Mining + loss benchmark: forward and backward time of each miner + loss at B ∈ {128, 512, 2048},
 * D = 128, as a ratio to the bare pairwise matrix product `x · xᵀ` measured in the same run.
 *
 *   npm run bench:mining                       (builds, then runs with --expose-gc)
 *   node --expose-gc build/bench/mining.js [--json FILE] [--sizes 128,512] [--cases batch-hard,semi-hard]
 *
 * Each timed run is `tf.grad(loss wrt embeddings)` with the mining inside it, and `.dataSync()`
 * on the gradient so that all the work is done. Embeddings are seeded standard normal; labels
 * are P × K with K = 16 (P = B / 16 classes, 16 examples each, in contiguous blocks as a P × K
 * sampler yields them).
 *
 * The TensorFlow-Addons-style O(B³) semi-hard loss (B ≤ 512) runs in a child process of its own:
 * its B × B × B masks can exhaust the 4 GiB wasm heap, which must neither corrupt nor inflate the
 * main run. At the largest B, one more run of each case under tf.profile splits its time into
 * TensorFlow.js kernels and the rest (the passes over the matrix, natively or in JavaScript, and
 * allocation).
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tf } from '../src/tf.js';
import { initBackend } from '../src/engine/index.js';
import { ContrastiveLoss, TripletMarginLoss } from '../src/losses/index.js';
import {
  BaseMiner,
  BatchHardMiner,
  DistanceWeightedMiner,
  PairMarginMiner,
  RandomTripletMiner,
  SemiHardMiner,
  TripletMarginMiner,
} from '../src/miners/index.js';
import { MeanReducer } from '../src/reducers/index.js';
import type { Tuples } from '../src/common/tuples.js';
import {
  argValue,
  collectGarbage,
  formatCount,
  formatMs,
  formatRatio,
  gcExposed,
  machine,
  markdownTable,
  median,
  peakRssMiB,
  timeRepeated,
  type Timing,
} from './common.js';

const DIMS = 128;
const K = 16;
const MARGIN = 0.2;
const SIZES = (argValue('--sizes') ?? '128,512,2048').split(',').map(Number);
const JSON_FILE = argValue('--json');
/** Case ids to run (default: all). */
const CASE_FILTER = argValue('--cases')?.split(',');
/** Timed repetitions of a case (one warm-up run comes first). */
const repetitionsFor = (batch: number): number => (batch <= 512 ? 7 : 5);
/** Repetitions of the baseline product, taken half before and half after the cases of a size. */
const BASELINE_REPETITIONS = 15;
/** A case whose warm-up says its repetitions would take longer than this gets fewer (at least 3). */
const CASE_BUDGET_MS = 45_000;
/** A child process running an isolated case is stopped after this long. */
const CHILD_TIMEOUT_MS = 8 * 60_000;
/** The O(B³) formulation is run up to this batch size. */
const CUBIC_MAX_BATCH = 512;

// ---------------------------------------------------------------------------------------------
// The comparison baseline: TensorFlow Addons' semi-hard triplet loss, O(B³), in plain tf ops.
// ---------------------------------------------------------------------------------------------

/** Row-wise L2 normalisation (the embeddings our losses see by default). */
function l2NormalizeRows(x: tf.Tensor2D): tf.Tensor2D {
  return tf.div(x, tf.sqrt(tf.maximum(tf.sum(tf.square(x), 1, true), 1e-24)));
}

/** TFA's `pairwise_distance(squared=False)`: `sqrt(|x|² + |y|² − 2x·y)`, zero diagonal, safe at 0. */
function tfaPairwiseDistance(x: tf.Tensor2D): tf.Tensor2D {
  const size = x.shape[0];
  const norms = tf.sum(tf.square(x), 1, true);
  const squared = tf.maximum(tf.sub(tf.add(norms, tf.transpose(norms)), tf.mul(2, tf.matMul(x, tf.transpose(x)))), 0);
  // squared ≤ 0, written as 0 ≥ squared: tfjs has a (zero) gradient for GreaterEqual, none for LessEqual.
  const errorMask = tf.cast(tf.greaterEqual(0, squared), 'float32');
  const distances = tf.mul(tf.sqrt(tf.add(squared, tf.mul(errorMask, 1e-16))), tf.sub(1, errorMask));
  return tf.mul(distances, tf.sub(1, tf.eye(size))) as tf.Tensor2D;
}

/** Minimum of `data` over `axis` among entries where `mask` is 1 (TFA's `_masked_minimum`). */
function maskedMinimum(data: tf.Tensor2D, mask: tf.Tensor2D): tf.Tensor2D {
  const axisMaximums = tf.max(data, 1, true);
  return tf.add(tf.min(tf.mul(tf.sub(data, axisMaximums), mask), 1, true), axisMaximums);
}

/** Maximum of `data` over `axis` among entries where `mask` is 1 (TFA's `_masked_maximum`). */
function maskedMaximum(data: tf.Tensor2D, mask: tf.Tensor2D): tf.Tensor2D {
  const axisMinimums = tf.min(data, 1, true);
  return tf.add(tf.max(tf.mul(tf.sub(data, axisMinimums), mask), 1, true), axisMinimums);
}

/**
 * `tfa.losses.triplet_semihard_loss` rewritten in tfjs: for each anchor–positive pair the closest
 * negative farther than the positive, else the farthest negative; hinge with `margin`; mean over
 * the positive pairs. Row `i·B + a` of the tiled B² × B matrix holds anchor a's distances, compared
 * with d(a, i): every mask is B × B × B.
 *
 * tfjs has no `stop_gradient` and no gradient for Greater / LogicalAnd, which TensorFlow simply
 * treats as non-differentiable; the masks are therefore built from a copy of the distance matrix
 * read out of the graph (one B × B read-back), as TensorFlow's would be outside the gradient path.
 */
function tfaSemiHardLoss(embeddings: tf.Tensor2D, labelValues: Int32Array, margin: number): tf.Scalar {
  const size = embeddings.shape[0];
  const labels = tf.tensor1d(labelValues, 'int32');
  const pdist = tfaPairwiseDistance(l2NormalizeRows(embeddings));
  const pdistConstant = tf.tensor2d(pdist.dataSync(), [size, size]);
  const adjacency = tf.equal(tf.reshape(labels, [size, 1]), tf.reshape(labels, [1, size]));
  const adjacencyNot = tf.logicalNot(adjacency);

  const pdistTile = tf.tile(pdist, [size, 1]) as tf.Tensor2D;
  const mask = tf.logicalAnd(
    tf.tile(adjacencyNot, [size, 1]),
    tf.greater(tf.tile(pdistConstant, [size, 1]), tf.reshape(tf.transpose(pdistConstant), [-1, 1])),
  );
  const maskFloat = tf.cast(mask, 'float32') as tf.Tensor2D;
  const maskFinal = tf.transpose(tf.reshape(tf.greater(tf.sum(maskFloat, 1, true), 0), [size, size]));

  const negativesOutside = tf.transpose(tf.reshape(maskedMinimum(pdistTile, maskFloat), [size, size]));
  const negativesInside = tf.tile(maskedMaximum(pdist, tf.cast(adjacencyNot, 'float32') as tf.Tensor2D), [1, size]);
  const semiHardNegatives = tf.where(maskFinal, negativesOutside, negativesInside);

  const lossMatrix = tf.add(tf.sub(pdist, semiHardNegatives), margin);
  const maskPositives = tf.sub(tf.cast(adjacency, 'float32'), tf.eye(size));
  const positiveCount = tf.sum(maskPositives);
  return tf.div(tf.sum(tf.maximum(tf.mul(lossMatrix, maskPositives), 0)), positiveCount) as tf.Scalar;
}

// ---------------------------------------------------------------------------------------------
// Cases
// ---------------------------------------------------------------------------------------------

/** One forward computation: the loss of a batch and how many tuples it covered. */
type Forward = (embeddings: tf.Tensor2D, labels: Int32Array) => { loss: tf.Scalar; tuples: number };

interface Case {
  readonly id: string;
  readonly name: string;
  /**
   * Run in a child process: the O(B³) case can exhaust the wasm heap (4 GiB), and tfjs-backend-wasm
   * does not check `malloc`, so it must not share a process (or a peak RSS) with the other cases.
   */
  readonly isolated?: boolean;
  /** Fewest timed runs when the case is slow (default 3). */
  readonly minRepetitions?: number;
  /** Larger batches are not run (and the table says why). */
  readonly maxBatch?: number;
  readonly skipReason?: string;
  /** A fresh forward (fresh miner state) for one batch size. */
  make(): Forward;
}

const triplet = (): TripletMarginLoss => new TripletMarginLoss({ margin: MARGIN });

/**
 * A miner + loss forward inside the differentiated function: the loss is given the miner, which
 * selects on the loss's own distance matrix (one matrix per step), as the trainer does.
 */
function mined(miner: BaseMiner<Tuples> | undefined, loss: TripletMarginLoss | ContrastiveLoss): Forward {
  return (embeddings, labels) => {
    const output = loss.computeDetailed(embeddings, labels, miner);
    return { loss: output.loss, tuples: output.tupleCount };
  };
}

const ALL_CASES: readonly Case[] = [
  { id: 'batch-all', name: 'batch-all (TripletMarginLoss, all triplets)', make: () => mined(undefined, triplet()) },
  {
    id: 'batch-all-mined',
    name: 'batch-all mined (TripletMarginMiner all + TripletMarginLoss)',
    make: () => {
      const miner = new TripletMarginMiner({ margin: MARGIN, typeOfTriplets: 'all' });
      return mined(miner, triplet());
    },
  },
  {
    id: 'batch-hard',
    name: 'batch-hard (BatchHardMiner + TripletMarginLoss)',
    make: () => {
      const miner = new BatchHardMiner();
      return mined(miner, triplet());
    },
  },
  {
    id: 'semi-hard',
    name: 'semi-hard (SemiHardMiner + TripletMarginLoss)',
    make: () => {
      const miner = new SemiHardMiner();
      return mined(miner, triplet());
    },
  },
  {
    id: 'distance-weighted',
    name: 'distance-weighted (DistanceWeightedMiner + TripletMarginLoss)',
    make: () => {
      const miner = new DistanceWeightedMiner({ seed: 1 });
      return mined(miner, triplet());
    },
  },
  {
    id: 'random',
    name: 'random (RandomTripletMiner + TripletMarginLoss)',
    make: () => {
      const miner = new RandomTripletMiner({ seed: 1 });
      return mined(miner, triplet());
    },
  },
  { id: 'contrastive-all', name: 'contrastive, all pairs (ContrastiveLoss)', make: () => mined(undefined, new ContrastiveLoss()) },
  {
    id: 'contrastive-mined',
    name: 'contrastive, hard pairs (PairMarginMiner + ContrastiveLoss)',
    make: () => {
      const miner = new PairMarginMiner();
      return mined(miner, new ContrastiveLoss());
    },
  },
  {
    id: 'tfa-semi-hard',
    name: 'TFA-style O(B³) semi-hard loss (plain tf ops)',
    maxBatch: CUBIC_MAX_BATCH,
    isolated: true,
    minRepetitions: 1,
    skipReason: 'not run: its masks are B³ elements (8.6e9 at B = 2048, 34 GB per float32 tensor)',
    make: () => (embeddings, labels) => ({ loss: tfaSemiHardLoss(embeddings, labels, MARGIN), tuples: labels.length * (K - 1) }),
  },
];
const CASES = CASE_FILTER === undefined ? ALL_CASES : ALL_CASES.filter((c) => CASE_FILTER.includes(c.id));

// ---------------------------------------------------------------------------------------------
// Running
// ---------------------------------------------------------------------------------------------

interface Result {
  batch: number;
  classes: number;
  caseId: string;
  caseName: string;
  tuples?: number;
  medianMs?: number;
  minMs?: number;
  maxMs?: number;
  samplesMs?: number[];
  warmupMs?: number[];
  repetitions?: number;
  reducedFrom?: number;
  baselineMs: number;
  ratio?: number;
  tensorDelta?: number;
  /** Peak RSS of the process that ran the case, after it (MiB). */
  peakRssMiB?: number;
  /** Ran in its own process. */
  isolated?: boolean;
  note?: string;
  check?: string;
}

/** What measuring one case yields, in this process or in a child. */
type Measurement = Omit<Result, 'batch' | 'classes' | 'caseId' | 'caseName' | 'baselineMs' | 'ratio'>;

/** Progress goes to stderr only on a terminal, so that a piped run stays a clean report. */
const progress = (message: string): void => {
  if (process.stderr.isTTY) process.stderr.write(`  … ${message}\n`);
};

/**
 * tfjs-backend-wasm writes tensor data at whatever `malloc` returns, 0 included when the 4 GiB
 * heap is exhausted, which silently corrupts memory. Make that an exception instead.
 */
function guardWasmMalloc(): void {
  if (tf.getBackend() !== 'wasm') return;
  const wasm = (tf.backend() as unknown as { wasm: { _malloc: (bytes: number) => number } }).wasm;
  const malloc = wasm._malloc.bind(wasm);
  wasm._malloc = (bytes: number): number => {
    const pointer = malloc(bytes);
    if (pointer === 0 && bytes > 0) {
      throw new Error(`wasm heap exhausted: malloc of ${(bytes / 2 ** 20).toFixed(0)} MiB failed (the wasm heap is limited to 4 GiB)`);
    }
    return pointer;
  };
}

/** `, wasm heap N MiB` on the wasm backend (the heap only grows, so this is its peak). */
function wasmHeapNote(): string {
  if (tf.getBackend() !== 'wasm') return '';
  const wasm = (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm;
  return `, wasm heap ${(wasm.HEAPU8.length / 2 ** 20).toFixed(0)} MiB`;
}

/** Kernel time of one profiled run (tf.profile): how much of a case is TensorFlow.js work. */
interface KernelProfile {
  wallMs: number;
  kernelMs: number;
  matMulMs: number;
  kernels: number;
}

async function profileCase(benchCase: Case, x: tf.Tensor2D, labels: Int32Array): Promise<KernelProfile> {
  const forward = benchCase.make();
  forwardBackward(forward, x, labels); // warm-up
  collectGarbage();
  const started = performance.now();
  const info = await tf.profile(() => {
    forwardBackward(forward, x, labels);
  });
  const wallMs = performance.now() - started;
  let kernelMs = 0;
  let matMulMs = 0;
  for (const kernel of info.kernels) {
    const ms = typeof kernel.kernelTimeMs === 'number' ? kernel.kernelTimeMs : 0;
    kernelMs += ms;
    if (kernel.name === 'BatchMatMul') matMulMs += ms;
  }
  collectGarbage();
  return { wallMs, kernelMs, matMulMs, kernels: info.kernels.length };
}

function makeBatch(batch: number): { labels: Int32Array; x: tf.Tensor2D } {
  if (!Number.isInteger(batch) || batch <= 0 || batch % K !== 0) throw new Error(`batch size ${batch} must be a positive multiple of ${K}`);
  return {
    labels: Int32Array.from({ length: batch }, (_, i) => Math.floor(i / K)),
    x: tf.randomNormal([batch, DIMS], 0, 1, 'float32', 1000 + batch) as tf.Tensor2D,
  };
}

function forwardBackward(forward: Forward, embeddings: tf.Tensor2D, labels: Int32Array): number {
  let tuples = 0;
  const gradient = tf.tidy(() =>
    tf.grad((e: tf.Tensor) => {
      const output = forward(e as tf.Tensor2D, labels);
      tuples = output.tuples;
      return output.loss;
    })(embeddings),
  );
  gradient.dataSync();
  gradient.dispose();
  return tuples;
}

function timeBaseline(x: tf.Tensor2D, repetitions: number, warmups: number): Timing {
  return timeRepeated(
    () => {
      const product = tf.tidy(() => tf.matMul(x, tf.transpose(x)));
      product.dataSync();
      product.dispose();
    },
    { repetitions, warmups },
  );
}

/** Times one case in this process. */
function measure(benchCase: Case, x: tf.Tensor2D, labels: Int32Array): Measurement {
  collectGarbage();
  const tensorsBefore = tf.memory().numTensors;
  const forward = benchCase.make();
  let tuples = 0;
  const started = performance.now();
  try {
    const timing = timeRepeated(
      () => {
        tuples = forwardBackward(forward, x, labels);
      },
      {
        repetitions: repetitionsFor(x.shape[0]),
        warmups: 1,
        budgetMs: CASE_BUDGET_MS,
        minRepetitions: benchCase.minRepetitions ?? 3,
      },
    );
    collectGarbage();
    return {
      tuples,
      medianMs: timing.median,
      minMs: timing.min,
      maxMs: timing.max,
      samplesMs: timing.samples,
      warmupMs: timing.warmupMs,
      repetitions: timing.samples.length,
      ...(timing.reducedFrom !== undefined
        ? {
            reducedFrom: timing.reducedFrom,
            note: `slow: the warm-up took ${formatMs(Math.max(...timing.warmupMs))} ms, so ${timing.samples.length} timed run(s) instead of ${timing.reducedFrom}`,
          }
        : {}),
      tensorDelta: tf.memory().numTensors - tensorsBefore,
      peakRssMiB: peakRssMiB(),
    };
  } catch (error) {
    const seconds = (performance.now() - started) / 1000;
    collectGarbage();
    return {
      note: `failed after ${seconds.toFixed(0)} s${wasmHeapNote()}: ${(error as Error).message.split('\n')[0]}`,
      peakRssMiB: peakRssMiB(),
    };
  }
}

/**
 * The O(B³) formulation must give the loss and gradient of SemiHardMiner + TripletMarginLoss
 * with a mean reducer (one triplet per anchor–positive pair, averaged over all of them).
 */
function checkCubicAgainstOurs(x: tf.Tensor2D, labels: Int32Array): string {
  const ours = new TripletMarginLoss({ margin: MARGIN, reducer: new MeanReducer() });
  const miner = new SemiHardMiner();
  const valueAndGradient = (f: (e: tf.Tensor) => tf.Scalar): [number, Float32Array] => {
    const { value, grad } = tf.valueAndGrad(f)(x);
    const out: [number, Float32Array] = [value.dataSync()[0]!, grad.dataSync() as Float32Array];
    tf.dispose([value, grad]);
    return out;
  };
  const [oursValue, oursGradient] = valueAndGradient((e) => ours.compute(e as tf.Tensor2D, labels, miner.mine(e as tf.Tensor2D, labels)));
  const [cubicValue, cubicGradient] = valueAndGradient((e) => tfaSemiHardLoss(e as tf.Tensor2D, labels, MARGIN));
  let largest = 0;
  let scale = 0;
  for (let i = 0; i < oursGradient.length; i++) {
    largest = Math.max(largest, Math.abs(oursGradient[i]! - cubicGradient[i]!));
    scale = Math.max(scale, Math.abs(oursGradient[i]!));
  }
  return (
    `check at B = ${x.shape[0]}: TFA-style loss ${cubicValue.toFixed(6)} vs SemiHardMiner + TripletMarginLoss (mean reducer) ` +
    `${oursValue.toFixed(6)}; largest gradient difference ${largest.toExponential(2)} (largest gradient entry ${scale.toExponential(2)})`
  );
}

const CHILD_MARKER = 'MINING-BENCH-CHILD-RESULT ';

/** Runs an isolated case in a fresh node process (same flags) and reads its measurement back. */
function measureInChild(benchCase: Case, batch: number, check: boolean): Measurement {
  const args = [...process.execArgv, fileURLToPath(import.meta.url), '--child', benchCase.id, '--batch', String(batch)];
  if (check) args.push('--check');
  const child = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 1 << 24, timeout: CHILD_TIMEOUT_MS });
  const line = child.stdout?.split('\n').find((l) => l.startsWith(CHILD_MARKER));
  if (line !== undefined) return { ...(JSON.parse(line.slice(CHILD_MARKER.length)) as Measurement), isolated: true };
  const reason =
    child.error !== undefined
      ? child.error.message
      : child.signal !== null
        ? `killed by ${child.signal}${child.signal === 'SIGTERM' ? ` after the ${CHILD_TIMEOUT_MS / 60_000} min limit` : ''}`
        : `exit code ${child.status}: ${(child.stderr ?? '').trim().split('\n').at(-1) ?? ''}`;
  return { note: `failed in its own process (${reason})`, isolated: true };
}

async function childMain(): Promise<void> {
  const id = argValue('--child');
  const benchCase = CASES.find((c) => c.id === id);
  if (benchCase === undefined) throw new Error(`unknown case '${id}'`);
  await initBackend();
  guardWasmMalloc();
  const { labels, x } = makeBatch(Number(argValue('--batch')));
  const result: Measurement = measure(benchCase, x, labels);
  if (process.argv.includes('--check') && result.medianMs !== undefined) result.check = checkCubicAgainstOurs(x, labels);
  x.dispose();
  result.peakRssMiB = peakRssMiB();
  console.log(`${CHILD_MARKER}${JSON.stringify(result)}`);
}

async function main(): Promise<void> {
  let announced = '';
  const backend = await initBackend({ announce: (message) => (announced = message) });
  guardWasmMalloc();
  const host = machine();
  const startedAt = Date.now();
  const simd = backend === 'wasm' ? tf.env().getBool('WASM_HAS_SIMD_SUPPORT') : undefined;
  console.log('# tripletjs mining benchmark');
  console.log('');
  console.log(`machine : ${host.cpu}, ${host.cores} cores, ${host.memoryGiB} GiB RAM, ${host.platform}`);
  console.log(`node    : ${host.node}, global.gc ${gcExposed ? 'exposed (collected before every timed run, outside the timing)' : 'NOT exposed'}`);
  console.log(`backend : ${backend}${simd !== undefined ? ` (SIMD ${simd ? 'on' : 'off'}, single-threaded)` : ''}, tfjs-core ${tf.version_core}`);
  if (announced !== '') console.log(`          initBackend: ${announced}`);
  console.log(`setup   : D = ${DIMS}; labels P × K with K = ${K}, so P = B/${K} classes (${SIZES.map((b) => b / K).join(', ')}); seeded N(0,1) embeddings; margin ${MARGIN}`);
  console.log(
    `timing  : tf.grad(loss wrt embeddings) with the mining inside + gradient.dataSync(); median of ${repetitionsFor(128)} runs at B ≤ 512, ` +
      `${repetitionsFor(2048)} at B = 2048, after 1 warm-up`,
  );
  console.log(
    `baseline: tf.matMul(x, tf.transpose(x)) + dataSync(), same B and D; median of ${BASELINE_REPETITIONS} runs taken before and after each size's cases`,
  );
  console.log('');

  const tensorsAtStart = tf.memory().numTensors;
  const results: Result[] = [];
  const smallest = Math.min(...SIZES);
  const largest = Math.max(...SIZES);
  const profiles: (KernelProfile & { caseId: string; caseName: string; batch: number; baselineMs: number })[] = [];

  for (const batch of SIZES) {
    const { labels, x } = makeBatch(batch);
    progress(`B = ${batch}: baseline`);
    const half = Math.ceil(BASELINE_REPETITIONS / 2);
    const baselineBefore = timeBaseline(x, half, 3);
    const caseResults: Result[] = [];
    for (const benchCase of CASES) {
      const base = { batch, classes: batch / K, caseId: benchCase.id, caseName: benchCase.name, baselineMs: NaN };
      if (benchCase.maxBatch !== undefined && batch > benchCase.maxBatch) {
        caseResults.push({ ...base, note: benchCase.skipReason ?? `not run above B = ${benchCase.maxBatch}` });
        continue;
      }
      progress(`B = ${batch}: ${benchCase.id}${benchCase.isolated ? ' (own process)' : ''}`);
      const measurement = benchCase.isolated ? measureInChild(benchCase, batch, batch === smallest) : measure(benchCase, x, labels);
      caseResults.push({ ...base, ...measurement });
    }
    progress(`B = ${batch}: baseline again`);
    const baselineAfter = timeBaseline(x, BASELINE_REPETITIONS - half, 1);
    const baselineMs = median([...baselineBefore.samples, ...baselineAfter.samples]);
    for (const r of caseResults) {
      r.baselineMs = baselineMs;
      if (r.medianMs !== undefined) r.ratio = r.medianMs / baselineMs;
    }
    results.push(...caseResults);
    if (batch === largest) {
      for (const benchCase of CASES) {
        if (benchCase.isolated || (benchCase.maxBatch !== undefined && batch > benchCase.maxBatch)) continue;
        progress(`B = ${batch}: profiling ${benchCase.id}`);
        profiles.push({ caseId: benchCase.id, caseName: benchCase.name, batch, baselineMs, ...(await profileCase(benchCase, x, labels)) });
      }
    }
    x.dispose();
    collectGarbage();
  }
  const tensorsAtEnd = tf.memory().numTensors;

  // ----- report -----
  const rows = results.map((r) => [
    String(r.batch),
    r.caseName,
    r.tuples !== undefined ? formatCount(r.tuples) : '–',
    r.medianMs !== undefined ? formatMs(r.medianMs) : r.note?.startsWith('not run') ? 'not run' : r.note !== undefined ? 'failed' : '–',
    r.minMs !== undefined ? `${formatMs(r.minMs)}–${formatMs(r.maxMs!)}` : '–',
    r.repetitions !== undefined ? `${r.repetitions}${r.reducedFrom !== undefined ? '*' : ''}` : '–',
    formatMs(r.baselineMs),
    r.ratio !== undefined ? formatRatio(r.ratio) : '–',
  ]);
  console.log(
    markdownTable(['B', 'case', 'tuples', 'median ms', 'min–max ms', 'runs', 'x·xᵀ ms', 'time / x·xᵀ'], rows, new Set([0, 2, 3, 4, 5, 6, 7])),
  );
  console.log('');
  console.log('tuples: triplets, or pairs for the contrastive cases (positive + negative pairs); for the TFA-style loss, the B(K−1)');
  console.log('anchor–positive pairs it averages over. runs marked * were cut down because the case is slow (see the notes).');
  for (const r of results.filter((r) => r.note !== undefined)) console.log(`note: B = ${r.batch}, ${r.caseId}: ${r.note}`);

  const comparisons = SIZES.flatMap((batch) => {
    const ours = results.find((r) => r.batch === batch && r.caseId === 'semi-hard');
    const cubic = results.find((r) => r.batch === batch && r.caseId === 'tfa-semi-hard');
    if (ours?.medianMs === undefined || cubic === undefined || (cubic.medianMs === undefined && cubic.note?.startsWith('not run'))) return [];
    return [
      [
        String(batch),
        formatMs(ours.medianMs),
        cubic.medianMs !== undefined ? formatMs(cubic.medianMs) : 'failed',
        formatRatio(ours.ratio!),
        cubic.ratio !== undefined ? formatRatio(cubic.ratio) : '–',
        cubic.medianMs !== undefined ? formatRatio(cubic.medianMs / ours.medianMs) : '–',
      ],
    ];
  });
  if (comparisons.length > 0) {
    console.log('');
    console.log('TFA-style O(B³) semi-hard loss vs SemiHardMiner + TripletMarginLoss, same run:');
    console.log('');
    console.log(
      markdownTable(['B', 'ours ms', 'TFA-style ms', 'ours / x·xᵀ', 'TFA-style / x·xᵀ', 'TFA-style / ours'], comparisons, new Set([0, 1, 2, 3, 4, 5])),
    );
  }
  if (profiles.length > 0) {
    console.log('');
    console.log(
      `Where the time goes at B = ${largest}: one more run of each case under tf.profile (after a warm-up; profiling adds a little). ` +
        'tf kernels = time inside TensorFlow.js kernels; the rest is the mining, loss and gradient passes over the read-back matrix ' +
        '(in the native addon when its kernels are active, else JavaScript), typed-array allocation and tfjs bookkeeping.',
    );
    console.log('');
    console.log(
      markdownTable(
        ['case', 'wall ms', 'tf kernels ms', 'of which matMul ms', 'kernel calls', 'rest ms', 'kernels / x·xᵀ'],
        profiles.map((p) => [
          p.caseId,
          formatMs(p.wallMs),
          formatMs(p.kernelMs),
          formatMs(p.matMulMs),
          String(p.kernels),
          formatMs(p.wallMs - p.kernelMs),
          formatRatio(p.kernelMs / p.baselineMs),
        ]),
        new Set([1, 2, 3, 4, 5, 6]),
      ),
    );
  }
  console.log('');
  for (const r of results) if (r.check !== undefined) console.log(r.check);

  const peak = peakRssMiB();
  console.log(`peak RSS: ${peak.toFixed(0)} MiB for the main process (all cases but the TFA-style one), process.resourceUsage().maxRSS`);
  for (const batch of SIZES) {
    const last = results.filter((r) => r.batch === batch && !r.isolated && r.peakRssMiB !== undefined).at(-1);
    if (last !== undefined) console.log(`  after the B = ${batch} cases: ${last.peakRssMiB!.toFixed(0)} MiB`);
  }
  for (const r of results.filter((r) => r.isolated && r.peakRssMiB !== undefined)) {
    console.log(`  TFA-style loss at B = ${r.batch}, own process: ${r.peakRssMiB!.toFixed(0)} MiB`);
  }
  const changed = results.filter((r) => r.tensorDelta !== undefined && r.tensorDelta !== 0);
  console.log(
    `live tensors (tf.memory().numTensors): ${tensorsAtStart} before, ${tensorsAtEnd} after` +
      (changed.length === 0
        ? '; no case changed the count'
        : `; changed by: ${changed.map((r) => `B=${r.batch} ${r.caseId} ${r.tensorDelta! > 0 ? '+' : ''}${r.tensorDelta}`).join(', ')}`),
  );
  console.log(`total time: ${((Date.now() - startedAt) / 1000).toFixed(0)} s`);

  if (JSON_FILE !== undefined) {
    const json = {
      startedAt: new Date(startedAt).toISOString(),
      machine: host,
      backend,
      simd,
      dims: DIMS,
      k: K,
      margin: MARGIN,
      results,
      profiles,
      peakRssMiB: peak,
      tensors: { before: tensorsAtStart, after: tensorsAtEnd },
    };
    writeFileSync(JSON_FILE, `${JSON.stringify(json, null, 2)}\n`);
    console.log(`JSON written to ${JSON_FILE}`);
  }
}

if (process.argv.includes('--child')) await childMain();
else await main();
