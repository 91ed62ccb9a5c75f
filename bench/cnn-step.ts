/**
 * One training step of a small CNN on the wasm backend: forward + backward + Adam update through
 * `optimizer.minimize`, with a batch-hard triplet loss, and where the time goes, kernel by kernel.
 *
 *   npx tsc -p tsconfig.json && node --expose-gc build/bench/cnn-step.js [--reps 10] [--cpu] [--native]
 *
 * Model: conv32 3×3 relu → maxpool 2 → conv64 3×3 relu → maxpool 2 → flatten → dense128 relu →
 * dense64 → L2-normalised (plain tf ops). Batch 128 of 28×28×1 seeded normal inputs, labels
 * P × K = 32 × 4. For comparison: a 784-256-128-64 MLP step with the same loss, the convolution
 * kernels alone at this model's shapes (including wasm's own, replaced Conv2DBackpropInput), and
 * a bare 1024³ `tf.matMul` for a GFLOP/s reference. `--cpu` also times one CNN step on the cpu
 * backend (slow: about a minute). `--native` runs with the native OpenBLAS kernels
 * (src/engine/native-kernels.ts), else with the wasm kernels only.
 */
import { tf, tfl } from '../src/tf.js';
import { initBackend } from '../src/engine/index.js';
import { builtinWasmKernel, setFilterGradientAlgorithm } from '../src/engine/conv-kernels.js';
import { BATCH, cnn, mlp, trainer, type Trainer } from './steps.js';
import { argValue, formatMs, formatRatio, gcExposed, machine, markdownTable, timeRepeated } from './common.js';

const REPETITIONS = Number(argValue('--reps') ?? '10');
const WITH_CPU = process.argv.includes('--cpu');
const NATIVE = process.argv.includes('--native');
/** How the replaced kernels are labelled: the native ones, or tripletjs's wasm ones. */
const OURS = NATIVE ? 'tripletjs, native' : 'tripletjs';
const TOP_KERNELS = 12;

const backendName = await initBackend({ backend: 'wasm', native: NATIVE, announce: (m) => console.log(m) });
const host = machine();
console.log(`${host.cpu}, ${host.cores} cores, node ${host.node}; gc ${gcExposed ? 'exposed' : 'not exposed (run with --expose-gc)'}`);
console.log(`backend: ${backendName}; median of ${REPETITIONS} timed steps after 2 warm-up steps\n`);

// ---------------------------------------------------------------------------------------------
// Work per step
// ---------------------------------------------------------------------------------------------

/** Multiply-adds ×2 of one forward pass, from the layers' input and output shapes. */
function forwardFlops(model: tfl.Sequential): { forward: number; firstLayer: number } {
  let forward = 0;
  let firstLayer = 0;
  model.layers.forEach((layer, index) => {
    const out = layer.outputShape as (number | null)[];
    const weights = layer.getWeights()[0];
    if (weights === undefined) return;
    const fanIn = weights.shape.slice(0, -1).reduce((a, b) => a * b, 1);
    const outputs = out.slice(1).reduce<number>((a, b) => a * (b ?? 1), 1);
    const flops = 2 * BATCH * outputs * fanIn;
    forward += flops;
    if (index === 0) firstLayer = flops;
  });
  return { forward, firstLayer };
}

/** Forward + both gradients, except the input gradient of the first layer (never needed). */
function stepFlops(model: tfl.Sequential): number {
  const { forward, firstLayer } = forwardFlops(model);
  return 3 * forward - firstLayer;
}

interface KernelTotal {
  name: string;
  ms: number;
  calls: number;
}

/** One step under tf.profile: milliseconds per kernel name, largest first. */
async function profileStep(t: Trainer): Promise<{ kernels: KernelTotal[]; wallMs: number }> {
  const started = performance.now();
  const info = await tf.profile(() => {
    t.step();
  });
  const wallMs = performance.now() - started;
  const totals = new Map<string, KernelTotal>();
  // tf.profile also lists custom-gradient ops ('fusedMatMul__op', 'unnamed scope'), timed with the
  // kernels they run inside: only registered kernels are counted, so that nothing counts twice.
  for (const k of info.kernels.filter((entry) => tf.getKernel(entry.name, 'wasm') !== undefined)) {
    const entry = totals.get(k.name) ?? { name: k.name, ms: 0, calls: 0 };
    entry.ms += Number(k.kernelTimeMs);
    entry.calls++;
    totals.set(k.name, entry);
  }
  return { kernels: [...totals.values()].sort((a, b) => b.ms - a.ms), wallMs };
}

function printProfile(title: string, profile: { kernels: KernelTotal[]; wallMs: number }, top: number): void {
  const sum = profile.kernels.reduce((s, k) => s + k.ms, 0);
  console.log(`${title}: kernels sum to ${formatMs(sum)} ms (profiled step ${formatMs(profile.wallMs)} ms wall, incl. profiler overhead)`);
  const rows = profile.kernels.slice(0, top).map((k) => [k.name, String(k.calls), formatMs(k.ms), `${((100 * k.ms) / sum).toFixed(1)}%`]);
  const rest = profile.kernels.slice(top);
  if (rest.length > 0) {
    const restMs = rest.reduce((s, k) => s + k.ms, 0);
    rows.push([`(${rest.length} others)`, String(rest.reduce((s, k) => s + k.calls, 0)), formatMs(restMs), `${((100 * restMs) / sum).toFixed(1)}%`]);
  }
  console.log(markdownTable(['kernel', 'calls', 'ms', 'share'], rows, new Set([1, 2, 3])));
  console.log();
}

// ---------------------------------------------------------------------------------------------
// Baseline: a bare 1024³ product
// ---------------------------------------------------------------------------------------------

function timeMatMul(): { ms: number; gflops: number } {
  const a = tf.randomNormal([1024, 1024], 0, 1, 'float32', 1);
  const b = tf.randomNormal([1024, 1024], 0, 1, 'float32', 2);
  const timing = timeRepeated(
    () => {
      const c = tf.matMul(a, b);
      c.dataSync();
      c.dispose();
    },
    { repetitions: 9, warmups: 2 },
  );
  a.dispose();
  b.dispose();
  return { ms: timing.median, gflops: (2 * 1024 ** 3) / (timing.median * 1e6) };
}

const baselineBefore = timeMatMul();

// ---------------------------------------------------------------------------------------------
// Kernels alone, at the shapes of the CNN (fresh dy / filter each run, as in training)
// ---------------------------------------------------------------------------------------------

function timeKernel(run: () => tf.Tensor): number {
  return timeRepeated(
    () => {
      const out = run();
      out.dataSync();
      out.dispose();
    },
    { repetitions: 7, warmups: 2 },
  ).median;
}

{
  const rows: string[][] = [];
  const engine = tf.engine();
  const backend = tf.backend();
  /** Runs wasm's own (replaced) kernel on tensors and wraps its output as a tensor. */
  const builtin = (name: 'Conv2DBackpropInput' | 'MaxPoolGrad', inputs: tf.NamedTensorMap, attrs: object): tf.Tensor => {
    const info = builtinWasmKernel(name)({ inputs, backend, attrs: attrs as tf.NamedAttrMap }) as tf.TensorInfo;
    return engine.makeTensorFromTensorInfo(info);
  };
  // A copy per run: XNNPACK caches packed weights per weight tensor; training never reuses one.
  const withCopy = (t: tf.Tensor, f: (copy: tf.Tensor) => tf.Tensor): tf.Tensor => {
    const copy = tf.add(t, 0);
    const out = f(copy);
    copy.dispose();
    return out;
  };
  for (const [h, ci, co] of [
    [28, 1, 32],
    [13, 32, 64],
  ] as const) {
    const x = tf.randomNormal([BATCH, h, h, ci], 0, 1, 'float32', 3) as tf.Tensor4D;
    const filter = tf.randomNormal([3, 3, ci, co], 0, 1, 'float32', 4) as tf.Tensor4D;
    const dy = tf.randomNormal([BATCH, h - 2, h - 2, co], 0, 1, 'float32', 5);
    const flops = 2 * BATCH * (h - 2) ** 2 * co * 9 * ci;
    const attrs = { strides: 1, pad: 'valid', dataFormat: 'NHWC' };
    const gflops = (ms: number): string => (flops / (ms * 1e6)).toFixed(1);
    const shape = `${BATCH}×${h}×${h}×${ci} → ${co}, 3×3`;
    const add = (kernel: string, ms: number): void => void rows.push([shape, kernel, formatMs(ms), gflops(ms)]);
    add('Conv2D (forward)', timeKernel(() => withCopy(filter, (f) => tf.conv2d(x, f as tf.Tensor4D, 1, 'valid'))));
    // The filter-gradient algorithms are those of the wasm kernel; the native kernel has one.
    for (const algorithm of NATIVE ? (['auto'] as const) : (['conv', 'im2col'] as const)) {
      setFilterGradientAlgorithm(algorithm);
      const ms = timeKernel(() =>
        withCopy(dy, (d) => engine.runKernel('Conv2DBackpropFilter', { x, dy: d }, { ...attrs, filterShape: filter.shape } as never) as tf.Tensor),
      );
      add(`Conv2DBackpropFilter (${NATIVE ? OURS : `${OURS}, ${algorithm}`})`, ms);
    }
    setFilterGradientAlgorithm('auto');
    const bpi = { ...attrs, inputShape: x.shape };
    add(`Conv2DBackpropInput (${OURS})`, timeKernel(() => withCopy(filter, (f) => engine.runKernel('Conv2DBackpropInput', { dy, filter: f }, bpi as never) as tf.Tensor)));
    add('Conv2DBackpropInput (wasm built-in)', timeKernel(() => withCopy(filter, (f) => builtin('Conv2DBackpropInput', { dy, filter: f }, bpi))));
    // The pooling after this conv (relu output → 2×2 max pool), forward and gradient.
    const activation = tf.relu(tf.conv2d(x, filter, 1, 'valid'));
    const pooled = tf.maxPool(activation, 2, 2, 'valid');
    const dPooled = tf.randomNormal(pooled.shape, 0, 1, 'float32', 6);
    const pool = { filterSize: 2, strides: 2, pad: 'valid' };
    const poolShape = `${BATCH}×${h - 2}×${h - 2}×${co}, 2×2`;
    const addPool = (kernel: string, ms: number): void => void rows.push([poolShape, kernel, formatMs(ms), '–']);
    addPool('MaxPool (forward)', timeKernel(() => tf.maxPool(activation, 2, 2, 'valid')));
    const poolInputs = { dy: dPooled, input: activation, output: pooled };
    addPool(`MaxPoolGrad (${OURS})`, timeKernel(() => engine.runKernel('MaxPoolGrad', poolInputs, pool as never) as tf.Tensor));
    addPool('MaxPoolGrad (wasm built-in)', timeKernel(() => builtin('MaxPoolGrad', poolInputs, pool)));
    tf.dispose([x, filter, dy, activation, pooled, dPooled]);
  }
  console.log('Kernels alone at the CNN shapes, fresh weights each run as in training (ms include reading the output back):');
  console.log(markdownTable(['shape', 'kernel', 'ms', 'GFLOP/s'], rows, new Set([2, 3])));
  console.log();
}

// ---------------------------------------------------------------------------------------------
// Training steps
// ---------------------------------------------------------------------------------------------

interface StepResult {
  name: string;
  ms: number;
  flops: number;
  leaked: number;
}

async function run(t: Trainer, inputShape: number[]): Promise<StepResult> {
  const flops = stepFlops(t.model);
  for (let i = 0; i < 2; i++) t.step();
  const before = tf.memory().numTensors;
  const timing = timeRepeated(() => void t.step(), { repetitions: REPETITIONS, warmups: 0 });
  const leaked = tf.memory().numTensors - before;
  const ms = timing.median;
  console.log(
    `${t.name} step (input [${inputShape}]): median ${formatMs(ms)} ms (min ${formatMs(timing.min)}, max ${formatMs(timing.max)}), ` +
      `${Math.round((BATCH * 1000) / ms)} samples/s, ${(flops / 1e9).toFixed(2)} GFLOP/step → ${(flops / (ms * 1e6)).toFixed(1)} GFLOP/s; ` +
      `tensors leaked over ${REPETITIONS} steps: ${leaked}`,
  );
  printProfile(`${t.name} step profile`, await profileStep(t), TOP_KERNELS);
  return { name: t.name, ms, flops, leaked };
}

const cnnShape = [BATCH, 28, 28, 1];
const mlpShape = [BATCH, 784];
const cnnTrainer = trainer('CNN', cnn(), cnnShape);
const cnnResult = await run(cnnTrainer, cnnShape);
cnnTrainer.dispose();
const mlpTrainer = trainer('MLP 784-256-128-64', mlp(), mlpShape);
const mlpResult = await run(mlpTrainer, mlpShape);
mlpTrainer.dispose();

if (WITH_CPU) {
  await tf.setBackend('cpu');
  // One step only: it takes about a minute (the cpu backend's convolution gradients are naive loops).
  const cpuTrainer = trainer('CNN on cpu', cnn(), cnnShape);
  const cpuMs = timeRepeated(() => void cpuTrainer.step(), { repetitions: 1, warmups: 0 }).median;
  cpuTrainer.dispose();
  await tf.setBackend('wasm');
  console.log(`CNN step on the cpu backend (one step, the first): ${formatMs(cpuMs)} ms (${formatRatio(cpuMs / cnnResult.ms)} the wasm step)\n`);
}

const baselineAfter = timeMatMul();
const matMulMs = (baselineBefore.ms + baselineAfter.ms) / 2;
const matMulGflops = (2 * 1024 ** 3) / (matMulMs * 1e6);
console.log(
  `tf.matMul 1024³: ${formatMs(baselineBefore.ms)} ms before, ${formatMs(baselineAfter.ms)} ms after → ${matMulGflops.toFixed(1)} GFLOP/s`,
);
for (const r of [cnnResult, mlpResult]) {
  const gflops = r.flops / (r.ms * 1e6);
  console.log(`${r.name}: ${formatMs(r.ms)} ms/step = ${formatRatio(r.ms / matMulMs)} a 1024³ matMul; ${gflops.toFixed(1)} GFLOP/s = ${((100 * gflops) / matMulGflops).toFixed(0)}% of matMul's rate`);
}
const cnnGflops = cnnResult.flops / (cnnResult.ms * 1e6);
console.log(`ratio (CNN step GFLOP/s ÷ matMul 1024³ GFLOP/s): ${(cnnGflops / matMulGflops).toFixed(2)}`);
