/**
 * tripletjs against PyTorch on this machine, in one run: the cases of the speed issue, each timed
 * with tripletjs's native kernels (all threads, and one), with the wasm kernels only, and with
 * the libtorch peer bench/torch-peer.cpp at 2 threads and 1.
 *
 *   npm run bench:speed          (builds, then runs node --expose-gc build/bench/speed.js)
 *   node --expose-gc build/bench/speed.js [--rounds 3] [--cases matmul,cnn] [--json FILE]
 *
 * Cases: fp32 matmul 1024³; a training step of the CNN and of the 784-256-128-64 MLP
 * (bench/steps.ts: batch 128, batch-hard triplet loss, Adam); batch-hard loss forward + backward
 * at B = 2048, D = 128; semi-hard (SemiHardMiner + TripletMarginLoss) at B = 512; `mnv2`, a
 * fine-tuning step of MobileNetV2 at 224 × 224 with blocks 0–10 frozen (bench/mnv2-step.ts, batch
 * 32), and `mnv2-trained`, the same step on cached outputs of the frozen blocks. The MobileNetV2
 * cases are not run on the wasm kernels alone (their depthwise gradients are JavaScript loops
 * there: minutes a step), and are not in the default list: `npm run bench:mnv2` runs them.
 *
 * Both sides take the same number of warm-up steps before the timed ones (`warmups` below), as
 * many as it takes V8 to compile the JavaScript around the kernels (TensorFlow.js's engine,
 * autodiff, the loss): a training run spends nearly all its steps in that steady state, and the
 * MLP's first steps are much slower (measured: about 4.5 ms a step after 20 steps, 2.8 ms after 200).
 *
 * Every (case, configuration) runs in a child process of its own, so that each has its own peak
 * RSS and no state leaks from one to the next. The machine is shared and noisy: the
 * configurations of a case run back to back, in an order that rotates from round to round, and
 * the medians pool the samples of every round. PyTorch runs with glibc's allocator tuned as its
 * users do (GLIBC_TUNABLES, see TORCH_ENV), and with OMP_NUM_THREADS and OPENBLAS_NUM_THREADS
 * set to its thread count: torch::set_num_threads does not reach OpenBLAS's own threads, so
 * without them "1 thread" multiplies matrices on every core. Without libtorch-dev the PyTorch
 * columns are left out, with the command that installs it. Each run's line gives the load
 * average when it ended (the machine is shared).
 *
 * The PyTorch peer needs (bench only, not .ci/run): apt-get install -y libtorch-dev libopenblas0
 */
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { tf } from '../src/tf.js';
import { initBackend, nativeKernelsActive, setNativeThreads } from '../src/engine/index.js';
import { BatchHardMiner, SemiHardMiner } from '../src/miners/index.js';
import { TripletMarginLoss } from '../src/losses/index.js';
import { BATCH, cnn, mlp, trainer } from './steps.js';
import { exportMnv2Trunk, MNV2_BATCH, mnv2Step } from './mnv2-step.js';
import { argValue, formatMs, formatRatio, machine, markdownTable, median, peakRssMiB, timeRepeated } from './common.js';

const CASES = {
  matmul: { label: 'fp32 matmul 1024³', repetitions: 15, warmups: 2, samples: 0 },
  cnn: { label: 'CNN 28×28 step, batch 128', repetitions: 12, warmups: 20, samples: BATCH },
  mlp: { label: 'MLP 784-256-128-64 step, batch 128', repetitions: 30, warmups: 300, samples: BATCH },
  'batch-hard': { label: 'batch-hard loss fwd+bwd, B = 2048, D = 128', repetitions: 7, warmups: 2, samples: 2048 },
  'semi-hard': { label: 'semi-hard loss fwd+bwd, B = 512, D = 128', repetitions: 12, warmups: 10, samples: 512 },
  mnv2: { label: 'MobileNetV2 224² fine-tuning step (blocks 11–16 + Conv_1 trained), batch 32', repetitions: 7, warmups: 3, samples: MNV2_BATCH },
  'mnv2-trained': { label: 'MobileNetV2 trained stage only (frozen outputs cached), batch 32', repetitions: 9, warmups: 3, samples: MNV2_BATCH },
} as const;
type CaseName = keyof typeof CASES;

/** Cases run when --cases is not given. */
const DEFAULT_CASES: CaseName[] = ['matmul', 'cnn', 'mlp', 'batch-hard', 'semi-hard'];
/** The MobileNetV2 cases: they need the trunk, and have no wasm-only configuration. */
const MNV2_CASES: ReadonlySet<CaseName> = new Set(['mnv2', 'mnv2-trained']);

/** tripletjs configurations (child processes of this script) and PyTorch's (the peer binary). */
const CONFIGS = ['tripletjs native', 'tripletjs native, 1 thread', 'tripletjs wasm', 'PyTorch, 2 threads', 'PyTorch, 1 thread'] as const;
type Config = (typeof CONFIGS)[number];

/** What a child prints: its samples in ms and its peak RSS (and the parent adds the load average at its end). */
interface Measurement {
  samples: number[];
  peakRssMiB: number;
  load?: number;
}

const TORCH_ENV = { GLIBC_TUNABLES: 'glibc.malloc.mmap_threshold=67108864:glibc.malloc.trim_threshold=1073741824' };
const TORCH_HEADER = '/usr/include/torch/csrc/api/include/torch/torch.h';
const here = fileURLToPath(new URL('.', import.meta.url));
const PEER_SOURCE = fileURLToPath(new URL('../../bench/torch-peer.cpp', import.meta.url));
const PEER_BINARY = `${here}torch-peer`;

// ---------------------------------------------------------------------------------------------
// Child: one case, one configuration
// ---------------------------------------------------------------------------------------------

/** The work of one timed run of a tripletjs case (synchronous, including a read-back). */
async function tripletjsCase(name: CaseName): Promise<() => void> {
  if (MNV2_CASES.has(name)) {
    const { step } = await mnv2Step(argValue('--trunk')!, name === 'mnv2-trained');
    return () => void step();
  }
  if (name === 'matmul') {
    const a = tf.randomNormal([1024, 1024], 0, 1, 'float32', 1);
    const b = tf.randomNormal([1024, 1024], 0, 1, 'float32', 2);
    return () => tf.tidy(() => void tf.matMul(a, b).dataSync());
  }
  if (name === 'cnn' || name === 'mlp') {
    const t = name === 'cnn' ? trainer('CNN', cnn(), [BATCH, 28, 28, 1]) : trainer('MLP', mlp(), [BATCH, 784]);
    return () => void t.step();
  }
  // As bench/mining.ts: tf.grad of the loss, with the mining inside, P × K labels with K = 16.
  const batch = CASES[name].samples;
  const embeddings = tf.randomNormal([batch, 128], 0, 1, 'float32', 3);
  const labels = Int32Array.from({ length: batch }, (_, i) => Math.floor(i / 16));
  const miner = name === 'batch-hard' ? new BatchHardMiner() : new SemiHardMiner();
  const loss = new TripletMarginLoss({ margin: 0.2 });
  // The loss is given the miner, which selects on the loss's own distance matrix (one per step).
  const gradient = tf.grad((e: tf.Tensor) => loss.compute(e as tf.Tensor2D, labels, miner));
  return () => tf.tidy(() => void gradient(embeddings).dataSync());
}

async function runChild(name: CaseName, config: Config, repetitions: number, warmups: number): Promise<void> {
  await initBackend({ backend: 'wasm', native: config !== 'tripletjs wasm' });
  if (config === 'tripletjs native, 1 thread') setNativeThreads(1);
  // No forced GC between runs, unlike the other benchmarks: a training loop does not force one,
  // and after global.gc() the next step pays to grow V8's heap again (an MLP step measured
  // 11 ms instead of 5.9). The collections a run triggers on its own are part of its time.
  const timing = timeRepeated(await tripletjsCase(name), { repetitions, warmups, gcBetween: false });
  const result: Measurement = { samples: timing.samples, peakRssMiB: peakRssMiB() };
  console.log(JSON.stringify(result));
}

// ---------------------------------------------------------------------------------------------
// Parent
// ---------------------------------------------------------------------------------------------

/** Builds the peer if libtorch is installed and the binary is missing or older than its source; else says why not. */
function buildPeer(): string | undefined {
  if (!existsSync(TORCH_HEADER)) {
    return 'libtorch is not installed: apt-get install libtorch-dev libopenblas0 (Debian 12), then run again';
  }
  if (existsSync(PEER_BINARY) && statSync(PEER_BINARY).mtimeMs >= statSync(PEER_SOURCE).mtimeMs) return undefined;
  console.log(`building ${PEER_BINARY} (about 20 s)`);
  const args = ['-O2', '-std=c++17', '-I/usr/include/torch/csrc/api/include', PEER_SOURCE, '-o', PEER_BINARY, '-Wl,--no-as-needed', '-ltorch', '-ltorch_cpu', '-lc10'];
  const result = spawnSync('g++', args, { encoding: 'utf8' });
  return result.status === 0 ? undefined : `the peer did not build: ${(result.stderr ?? result.error?.message ?? '').trim().split('\n').slice(-3).join(' | ')}`;
}

function measure(name: CaseName, config: Config, trunk: string | undefined): Measurement {
  const [repetitions, warmups] = [String(CASES[name].repetitions), String(CASES[name].warmups)];
  const torch = config.startsWith('PyTorch');
  const threads = config === 'PyTorch, 2 threads' ? '2' : '1';
  const command = torch
    ? [PEER_BINARY, name, threads, repetitions, warmups]
    : [process.execPath, '--expose-gc', fileURLToPath(import.meta.url), '--child', name, '--config', config, '--reps', repetitions, '--warmups', warmups, ...(trunk ? ['--trunk', trunk] : [])];
  const env = { ...process.env, ...(torch ? { ...TORCH_ENV, OMP_NUM_THREADS: threads, OPENBLAS_NUM_THREADS: threads } : {}) };
  const result = spawnSync(command[0]!, command.slice(1), { encoding: 'utf8', env, timeout: 10 * 60_000 });
  if (result.status !== 0) throw new Error(`${config} on ${name} failed: ${result.stderr || result.error?.message}`);
  return { ...(JSON.parse(result.stdout.trim().split('\n').at(-1)!) as Measurement), load: os.loadavg()[0]! };
}

async function runParent(): Promise<void> {
  const rounds = Number(argValue('--rounds') ?? '3');
  const names = (argValue('--cases') ?? DEFAULT_CASES.join(',')).split(',') as CaseName[];
  for (const name of names) if (!(name in CASES)) throw new Error(`unknown case '${name}' (expected ${Object.keys(CASES).join(', ')})`);
  const peerProblem = buildPeer();
  const host = machine();
  await initBackend({ backend: 'wasm', announce: (m) => console.log(m) });
  // Without the addon (announced above) the native columns are left out, as PyTorch's without libtorch.
  const configs = CONFIGS.filter((c) => (peerProblem === undefined || !c.startsWith('PyTorch')) && (nativeKernelsActive() || !c.startsWith('tripletjs native')));
  console.log(`${host.cpu}, ${host.cores} cores, ${host.memoryGiB} GiB, ${host.platform}, node ${host.node}`);
  console.log(peerProblem === undefined ? `PyTorch peer: ${PEER_BINARY} (${TORCH_ENV.GLIBC_TUNABLES})` : `PyTorch columns left out: ${peerProblem}`);
  console.log(`${rounds} rounds; each configuration of a case runs in its own process, back to back\n`);
  // MobileNetV2's trunk (nsfwjs's, written out once as a layers model) for the tripletjs children.
  const trunk = names.some((n) => MNV2_CASES.has(n)) ? await exportMnv2Trunk() : undefined;

  const results = new Map<string, { samples: number[]; rss: number[]; roundMedians: number[]; loads: number[] }>();
  const key = (name: CaseName, config: Config): string => `${name}/${config}`;
  for (let round = 0; round < rounds; round++) {
    for (const name of names) {
      // Rotate the order, so that no configuration always runs first (or right after the heaviest).
      const caseConfigs = configs.filter((c) => !(MNV2_CASES.has(name) && c === 'tripletjs wasm'));
      const order = caseConfigs.map((_, i) => caseConfigs[(i + round) % caseConfigs.length]!);
      for (const config of order) {
        const m = measure(name, config, trunk);
        const entry = results.get(key(name, config)) ?? { samples: [], rss: [], roundMedians: [], loads: [] };
        entry.samples.push(...m.samples);
        entry.rss.push(m.peakRssMiB);
        entry.loads.push(m.load!);
        entry.roundMedians.push(median(m.samples));
        results.set(key(name, config), entry);
        console.log(`round ${round + 1}, ${name}, ${config}: median ${formatMs(median(m.samples))} ms, peak RSS ${m.peakRssMiB.toFixed(0)} MiB, load ${m.load!.toFixed(2)}`);
      }
    }
  }

  const baselines = configs.filter((c) => c.startsWith('PyTorch'));
  const rows: string[][] = [];
  const json: object[] = [];
  for (const name of names) {
    for (const config of configs) {
      const entry = results.get(key(name, config));
      if (entry === undefined) continue;
      const ms = median(entry.samples);
      const perSecond = CASES[name].samples > 0 ? Math.round((CASES[name].samples * 1000) / ms).toLocaleString('en-US') : '–';
      // Time ratio against each PyTorch configuration; the spread is that of the per-round ratios.
      const ratios = baselines.map((b) => {
        const base = results.get(key(name, b))!;
        const perRound = entry.roundMedians.map((v, i) => v / base.roundMedians[i]!);
        return `${formatRatio(ms / median(base.samples))} (${formatRatio(Math.min(...perRound))}–${formatRatio(Math.max(...perRound))})`;
      });
      rows.push([CASES[name].label, config, formatMs(ms), `${formatMs(Math.min(...entry.samples))}–${formatMs(Math.max(...entry.samples))}`, perSecond, Math.max(...entry.rss).toFixed(0), ...ratios]);
      json.push({ case: name, config, medianMs: ms, samples: entry.samples, roundMedians: entry.roundMedians, peakRssMiB: Math.max(...entry.rss), loads: entry.loads });
    }
  }
  console.log();
  const ratioHeaders = baselines.map((b) => `time / ${b} (rounds)`);
  console.log(markdownTable(['case', 'configuration', 'median ms', 'min–max ms', 'samples/s', 'peak RSS MiB', ...ratioHeaders], rows, new Set([2, 3, 4, 5, 6, 7])));
  // Throughput ratios (samples/s over PyTorch's), the figure the speed issue's targets are stated in.
  for (const name of names.filter((n) => CASES[n].samples > 0)) {
    const ms = (config: Config): number | undefined => {
      const entry = results.get(key(name, config));
      return entry === undefined ? undefined : median(entry.samples);
    };
    const ratio = (ours: Config, theirs: Config): string => {
      const [a, b] = [ms(ours), ms(theirs)];
      return a === undefined || b === undefined ? '–' : formatRatio(b / a).replace('×', '');
    };
    console.log(
      `${name}: throughput / PyTorch's: native (2 threads) / PyTorch 2 threads ${ratio('tripletjs native', 'PyTorch, 2 threads')}, ` +
        `/ PyTorch 1 thread ${ratio('tripletjs native', 'PyTorch, 1 thread')}; native 1 thread / PyTorch 1 thread ${ratio('tripletjs native, 1 thread', 'PyTorch, 1 thread')}`,
    );
  }
  if (trunk !== undefined) rmSync(dirname(dirname(trunk)), { recursive: true, force: true });
  const file = argValue('--json');
  if (file !== undefined) writeFileSync(file, JSON.stringify({ machine: host, rounds, results: json }, null, 2));
}

const childCase = argValue('--child') as CaseName | undefined;
if (childCase !== undefined) {
  await runChild(childCase, argValue('--config') as Config, Number(argValue('--reps')), Number(argValue('--warmups')));
} else {
  await runParent();
}
