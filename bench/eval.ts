/**
 * Retrieval evaluation against NumPy: MNIST test → train (10,000 queries ranked against 60,000
 * references), P@1, R-precision and MAP@R with R = the query's full class size (PML's
 * AccuracyCalculator definitions), by tripletjs's `retrievalMetrics` and by `bench/eval_numpy.py`
 * doing the same exact computation (chunked products, argpartition and a sort of the top R).
 *
 *   npm run bench:eval     # = npm run build && node build/bench/eval.js
 *   node build/bench/eval.js --repetitions 3 --inputs raw,proj64 --json out.json
 *
 * Both sides read the same .npy files, written here to a temporary directory:
 * - `raw`: the pixels / 255 as float32, 784-d (the heavy case: 10k × 60k × 784 products);
 * - `proj64`: those pixels times a fixed seeded Gaussian 784 × 64 matrix (a stand-in for a
 *   learned 64-d embedding: the products are cheap and the selection of the top R dominates).
 * Each side runs in a child process of its own (its own peak RSS) that times `repetitions`
 * evaluations after loading; the two alternate, rounds × repetitions samples each, and the
 * medians are compared. The metrics must agree to 1e-6 before any time is reported.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SeededRandom } from '../src/common/random.js';
import { toInputs } from '../src/data/augment.js';
import { loadDataset } from '../src/data/registry.js';
import { initBackend } from '../src/engine/index.js';
import { retrievalMetrics } from '../src/evaluation/retrieval.js';
import { decodeNpy, encodeNpy } from '../src/gallery/npy.js';
import { argValue, formatRatio, machine, median, peakRssMiB } from './common.js';

const METRICS = ['precisionAt1', 'rPrecision', 'mapAtR'] as const;
type Metrics = Record<(typeof METRICS)[number], number>;

/** What one child process prints: its metrics, the seconds of each repetition and its peak RSS. */
interface ChildReport extends Metrics {
  seconds: number[];
  peakRssMiB: number;
}

const TOLERANCE = 1e-6;
const PROJECTED_DIMS = 64;
const here = fileURLToPath(new URL('.', import.meta.url));
const numpyScript = join(here, '..', '..', 'bench', 'eval_numpy.py');

if (process.argv[2] === '--child') await child(process.argv[3]!, Number(process.argv[4]));
else await main();

/** Times tripletjs on the inputs in `directory` (the child side of the node process). */
async function child(directory: string, repetitions: number): Promise<void> {
  await initBackend();
  const read = async (name: string): Promise<Float32Array> => decodeNpy(await readFile(join(directory, `${name}.npy`)), name).values;
  const queries = await read('queries');
  const references = await read('references');
  const queryLabels = Int32Array.from(await read('query_labels'));
  const referenceLabels = Int32Array.from(await read('reference_labels'));
  const dims = queries.length / queryLabels.length;
  const seconds: number[] = [];
  let metrics: Metrics | undefined;
  for (let i = 0; i < repetitions; i++) {
    const started = performance.now();
    // recall@1 only: the other recall@K are not part of the comparison.
    metrics = retrievalMetrics({ queries, queryLabels, references, referenceLabels, dims, recallAt: [1] });
    seconds.push((performance.now() - started) / 1000);
  }
  const report: ChildReport = { ...pick(metrics!), seconds, peakRssMiB: peakRssMiB() };
  console.log(JSON.stringify(report));
}

async function main(): Promise<void> {
  const repetitions = Number(argValue('--repetitions') ?? 3);
  const rounds = Number(argValue('--rounds') ?? 1);
  const inputs = (argValue('--inputs') ?? 'raw,proj64').split(',');
  const host = machine();
  console.log(`${host.cpu}, ${host.cores} cores, ${host.memoryGiB} GiB, node ${host.node}`);
  const numpyVersion = execFileSync('python3', ['-c', 'import numpy; print(numpy.__version__)'], { encoding: 'utf8' }).trim();
  console.log(`numpy ${numpyVersion}; ${rounds} round(s) × ${repetitions} repetitions per side and input\n`);

  const dataset = await loadDataset('mnist');
  // The classic workload, whatever the split holds back for validation: every test digit against all 60,000 training digits.
  const queries = Int32Array.from({ length: 10_000 }, (_, i) => 60_000 + i);
  const references = Int32Array.from({ length: 60_000 }, (_, i) => i);
  const labelsOf = (indices: Int32Array): Float32Array => Float32Array.from(indices, (i) => dataset.labels[i]!);
  const pixels = { queries: toInputs(dataset, queries), references: toInputs(dataset, references) };
  const rawDims = dataset.shape.height * dataset.shape.width * dataset.shape.channels;

  const results: Array<{ input: string; dims: number; tripletjs: ChildReport[]; numpy: ChildReport[] }> = [];
  for (const input of inputs) {
    if (input !== 'raw' && input !== 'proj64') throw new Error(`unknown input '${input}' (raw or proj64)`);
    const projection = input === 'proj64' ? gaussianMatrix(rawDims, PROJECTED_DIMS, 1) : undefined;
    const dims = projection ? PROJECTED_DIMS : rawDims;
    const represent = (x: Float32Array): Float32Array => (projection ? multiply(x, rawDims, projection, PROJECTED_DIMS) : x);
    const directory = await mkdtemp(join(tmpdir(), 'tripletjs-eval-'));
    try {
      const write = (name: string, values: Float32Array, cols: number): Promise<void> =>
        writeFile(join(directory, `${name}.npy`), encodeNpy(values, values.length / cols, cols));
      await write('queries', represent(pixels.queries), dims);
      await write('references', represent(pixels.references), dims);
      await write('query_labels', labelsOf(queries), 1);
      await write('reference_labels', labelsOf(references!), 1);
      const tripletjs: ChildReport[] = [];
      const numpy: ChildReport[] = [];
      for (let round = 0; round < rounds; round++) {
        // Alternate which side goes first, so that neither always meets the same machine load.
        const sides: Array<[ChildReport[], string[]]> = [
          [tripletjs, [process.execPath, fileURLToPath(import.meta.url), '--child', directory, String(repetitions)]],
          [numpy, ['python3', numpyScript, directory, String(repetitions)]],
        ];
        if (round % 2 === 1) sides.reverse();
        for (const [into, [command, ...args]] of sides) {
          const output = execFileSync(command!, args, { encoding: 'utf8', maxBuffer: 1 << 20 });
          into.push(JSON.parse(output.trim().split('\n').pop()!) as ChildReport);
        }
      }
      results.push({ input, dims, tripletjs, numpy });
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  }

  const lines: string[] = [];
  for (const { input, dims, tripletjs, numpy } of results) {
    const ours = tripletjs[0]!;
    const theirs = numpy[0]!;
    for (const metric of METRICS) {
      const gap = Math.abs(ours[metric] - theirs[metric]);
      if (!(gap <= TOLERANCE)) throw new Error(`${input}: ${metric} differs: tripletjs ${ours[metric]}, numpy ${theirs[metric]} (gap ${gap})`);
    }
    const oursMedian = median(tripletjs.flatMap((r) => r.seconds));
    const theirsMedian = median(numpy.flatMap((r) => r.seconds));
    const peak = (reports: ChildReport[]): string => Math.max(...reports.map((r) => r.peakRssMiB)).toFixed(0);
    console.log(`## ${input} (${dims}-d): 10,000 test queries → 60,000 train references`);
    console.log(`metrics (both sides, agree to ${TOLERANCE}): ${METRICS.map((m) => `${m} ${ours[m].toFixed(6)}`).join(', ')}`);
    console.log(`tripletjs: median ${oursMedian.toFixed(2)} s (${tripletjs.flatMap((r) => r.seconds).map((s) => s.toFixed(2)).join(', ')}), peak RSS ${peak(tripletjs)} MiB`);
    console.log(`numpy:     median ${theirsMedian.toFixed(2)} s (${numpy.flatMap((r) => r.seconds).map((s) => s.toFixed(2)).join(', ')}), peak RSS ${peak(numpy)} MiB\n`);
    lines.push(`${input}: tripletjs / numpy time = ${formatRatio(oursMedian / theirsMedian)} (target ≤ 1.0×, goal ≤ 0.5×)`);
  }
  const json = argValue('--json');
  if (json) await writeFile(json, JSON.stringify({ machine: host, numpy: numpyVersion, repetitions, rounds, results }, null, 2));
  for (const line of lines) console.log(line);
}

function pick(metrics: Metrics): Metrics {
  return { precisionAt1: metrics.precisionAt1, rPrecision: metrics.rPrecision, mapAtR: metrics.mapAtR };
}

/** A `rows × cols` matrix of seeded N(0, 1/cols) entries (Box–Muller). */
function gaussianMatrix(rows: number, cols: number, seed: number): Float32Array {
  const random = new SeededRandom(seed);
  return Float32Array.from({ length: rows * cols }, () => Math.sqrt(-2 * Math.log(1 - random.float())) * Math.cos(2 * Math.PI * random.float()) / Math.sqrt(cols));
}

/** `x` (rows × inner, row-major) times `m` (inner × cols), accumulated in float64. */
function multiply(x: Float32Array, inner: number, m: Float32Array, cols: number): Float32Array {
  const rows = x.length / inner;
  const out = new Float32Array(rows * cols);
  const row = new Float64Array(cols);
  for (let i = 0; i < rows; i++) {
    row.fill(0);
    for (let t = 0; t < inner; t++) {
      const value = x[i * inner + t]!;
      if (value === 0) continue;
      for (let c = 0; c < cols; c++) row[c] = row[c]! + value * m[t * cols + c]!;
    }
    out.set(row, i * cols);
  }
  return out;
}
