/**
 * Where the MobileNetV2 fine-tuning step of bench/mnv2-step.ts spends its time, kernel by kernel
 * (`tf.profile` over a few steps after warm-ups), for the whole step and for the trained stage
 * alone on cached frozen-stage outputs.
 *
 *   npm run build && node --expose-gc build/bench/mnv2-profile.js [--steps 3] [--warmups 3] [--threads N] [--top 25] [--shapes]
 *
 * `--shapes` splits each kernel's row by its input shapes (to see which calls of a kernel are slow).
 */
import { tf } from '../src/tf.js';
import { initBackend, setNativeThreads } from '../src/engine/index.js';
import { exportMnv2Trunk, mnv2Step } from './mnv2-step.js';
import { argValue, formatMs, markdownTable } from './common.js';

const steps = Number(argValue('--steps') ?? '3');
const warmups = Number(argValue('--warmups') ?? '3');
const top = Number(argValue('--top') ?? '25');
const byShape = process.argv.includes('--shapes');
const threads = argValue('--threads');

await initBackend({ backend: 'wasm', announce: (m) => console.log(m) });
if (threads !== undefined) setNativeThreads(Number(threads));
const trunkPath = await exportMnv2Trunk();

for (const cached of [false, true]) {
  const { step } = await mnv2Step(trunkPath, cached);
  for (let i = 0; i < warmups; i++) step();
  const totals = new Map<string, { ms: number; calls: number }>();
  let wall = 0;
  for (let i = 0; i < steps; i++) {
    const started = performance.now();
    const info = await tf.profile(() => void step());
    wall += performance.now() - started;
    // Only registered kernels: tf.profile also lists custom-gradient scopes, timed with the kernels inside them.
    for (const k of info.kernels.filter((entry) => tf.getKernel(entry.name, 'wasm') !== undefined)) {
      const key = byShape ? `${k.name} ${k.inputShapes.map((s) => `[${s}]`).join(' ')}` : k.name;
      const entry = totals.get(key) ?? { ms: 0, calls: 0 };
      entry.ms += Number(k.kernelTimeMs) / steps;
      entry.calls += 1 / steps;
      totals.set(key, entry);
    }
  }
  const sorted = [...totals.entries()].sort((a, b) => b[1].ms - a[1].ms);
  const sum = sorted.reduce((s, [, v]) => s + v.ms, 0);
  const calls = sorted.reduce((s, [, v]) => s + v.calls, 0);
  console.log(`\n${cached ? 'trained stage only (frozen outputs cached)' : 'whole step'}: kernels ${formatMs(sum)} ms a step in ${Math.round(calls)} calls; profiled step ${formatMs(wall / steps)} ms wall`);
  const rows = sorted.slice(0, top).map(([name, v]) => [name, v.calls.toFixed(0), formatMs(v.ms), `${((100 * v.ms) / sum).toFixed(1)}%`]);
  console.log(markdownTable(['kernel', 'calls/step', 'ms/step', 'share'], rows, new Set([1, 2, 3])));
}
