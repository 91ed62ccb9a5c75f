/**
 * Streaming a folder dataset larger than memory (issue 15): peak RSS, images per second and the
 * training step's wait for data, streamed (decoding workers, with and without the on-disk cache)
 * against the in-memory loader on a set that fits, and 10,000 against 100,000 images streamed.
 *
 * `npm run bench:streaming [-- --steps N --root /tmp --only name,name]`
 *
 * Generates (once, kept for later runs) seeded folders of ~320 × 240 JPEG photos of 100 classes
 * under `--root` (default the system's temporary folder): 100 × 1,000 (100k), 100 × 100 (10k) and
 * 100 × 50 (5k). Each configuration runs in a child process of its own, so that its peak RSS
 * (`process.resourceUsage().maxRSS`) is its own: it loads the folder at 64 × 64 × 3, trains the
 * default CNN (32, 64, 128 filters, 64 dimensions) for `--steps` P × K = 16 × 4 steps with the
 * default augmentation, then evaluates the validation split (streamed in blocks when streaming).
 * A `read-only` configuration reads the same batches without training, to show the decoding rate.
 */
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { argValue, machine, markdownTable, peakRssMiB } from './common.js';
import { generatePhotos } from './streaming-data.js';

interface Config {
  readonly name: string;
  readonly folder: string;
  readonly stream: boolean;
  readonly workers?: number;
  readonly cacheDir?: string;
  /** Read the batches without training. */
  readonly readOnly?: boolean;
  /** Evaluate the validation split after the steps (streamed in blocks when streaming). */
  readonly evaluate?: boolean;
  readonly steps: number;
}

interface Outcome {
  readonly name: string;
  readonly images: number;
  readonly loadSeconds: number;
  readonly steps: number;
  readonly imagesPerSecond: number;
  readonly stepWaitSeconds: number;
  /** The first step's wait: nothing was read ahead of it, and the decoding workers start then. */
  readonly firstStepWaitSeconds: number;
  readonly waitFraction: number;
  readonly meanStepSeconds: number;
  readonly evaluationSeconds: number;
  readonly validationImages: number;
  /** Resident set size once the dataset is loaded, before training. */
  readonly rssAfterLoadMiB: number;
  readonly peakRssMiB: number;
}

const self = fileURLToPath(import.meta.url);
/** RSS once the dataset is loaded (set by the child). */
let rssAfterLoad = 0;
/** The first step's wait for data (set by the child). */
let firstWait = 0;

if (process.argv[2] === '--child') {
  const outcome = await runChild(JSON.parse(process.argv[3]!) as Config);
  process.stdout.write(`RESULT ${JSON.stringify(outcome)}\n`);
  process.exit(0);
} else {
  await main();
}

async function main(): Promise<void> {
  const root = argValue('--root') ?? tmpdir();
  const steps = Number(argValue('--steps') ?? 60);
  const only = argValue('--only')?.split(',');
  const folders = { '100k': [100, 1000], '10k': [100, 100], '5k': [100, 50] } as const;
  const paths: Record<string, string> = {};
  for (const [name, [classes, perClass]] of Object.entries(folders)) {
    const path = join(root, `tripletjs-photos-${name}`);
    const { written, seconds } = await generatePhotos(path, classes, perClass);
    if (written > 0) console.log(`generated ${written} JPEGs in ${path} in ${seconds.toFixed(1)} s (${((1000 * seconds) / written).toFixed(2)} ms each)`);
    paths[name] = path;
  }
  const cacheDir = join(root, 'tripletjs-bench-cache');
  rmSync(cacheDir, { recursive: true, force: true });
  const configs: Config[] = [
    { name: 'in memory, 5k', folder: paths['5k']!, stream: false, steps, evaluate: true },
    { name: 'in memory, 10k', folder: paths['10k']!, stream: false, steps },
    { name: 'streamed, 5k, 2 workers', folder: paths['5k']!, stream: true, workers: 2, steps, evaluate: true },
    { name: 'streamed, 10k, 2 workers', folder: paths['10k']!, stream: true, workers: 2, steps },
    { name: 'streamed, 10k, 2 workers, validation too', folder: paths['10k']!, stream: true, workers: 2, steps, evaluate: true },
    { name: 'streamed, 100k, 2 workers, validation too', folder: paths['100k']!, stream: true, workers: 2, steps, evaluate: true },
    { name: 'streamed, 100k, 0 workers (main thread)', folder: paths['100k']!, stream: true, workers: 0, steps },
    { name: 'streamed, 100k, 1 worker', folder: paths['100k']!, stream: true, workers: 1, steps },
    { name: 'streamed, 100k, 2 workers', folder: paths['100k']!, stream: true, workers: 2, steps },
    { name: 'streamed, 100k, 2 workers, cache cold', folder: paths['100k']!, stream: true, workers: 2, cacheDir, steps },
    { name: 'streamed, 100k, 2 workers, cache warm', folder: paths['100k']!, stream: true, workers: 2, cacheDir, steps },
    { name: 'read only, 100k, 0 workers', folder: paths['100k']!, stream: true, workers: 0, readOnly: true, steps },
    { name: 'read only, 100k, 1 worker', folder: paths['100k']!, stream: true, workers: 1, readOnly: true, steps },
    { name: 'read only, 100k, 2 workers', folder: paths['100k']!, stream: true, workers: 2, readOnly: true, steps },
  ].filter((config) => only === undefined || only.some((o) => config.name.includes(o)));
  const outcomes: Outcome[] = [];
  for (const config of configs) {
    const child = spawnSync(process.execPath, [self, '--child', JSON.stringify(config)], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    const line = child.stdout.split('\n').find((l) => l.startsWith('RESULT '));
    if (child.status !== 0 || line === undefined) {
      console.error(child.stderr);
      throw new Error(`${config.name}: the child failed (status ${child.status})`);
    }
    const outcome = JSON.parse(line.slice('RESULT '.length)) as Outcome;
    console.error(`${config.name}: ${JSON.stringify(outcome)}`);
    outcomes.push(outcome);
  }
  const host = machine();
  console.log(`\n${host.cpu}, ${host.cores} cores, node ${host.node}; ${steps} steps of P × K = 16 × 4 at 64 × 64 × 3, default CNN, augmentation on\n`);
  console.log(
    markdownTable(
      ['configuration', 'images', 'load s', 'images/s (steps)', 'mean step s', 'step wait s (first step)', 'wait % of step time', 'validation images', 'validation s', 'RSS after load MiB', 'peak RSS MiB'],
      outcomes.map((o) => [
        o.name,
        String(o.images),
        o.loadSeconds.toFixed(1),
        o.imagesPerSecond.toFixed(0),
        o.meanStepSeconds.toFixed(3),
        `${o.stepWaitSeconds.toFixed(2)} (${o.firstStepWaitSeconds.toFixed(2)})`,
        (100 * o.waitFraction).toFixed(1),
        String(o.validationImages),
        o.evaluationSeconds.toFixed(1),
        o.rssAfterLoadMiB.toFixed(0),
        o.peakRssMiB.toFixed(0),
      ]),
      new Set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]),
    ),
  );
}

async function runChild(config: Config): Promise<Outcome> {
  const { initBackend } = await import('../src/engine/index.js');
  const { loadFolder } = await import('../src/data/folder.js');
  const { train } = await import('../src/training/trainer.js');
  const { PKSampler } = await import('../src/samplers/pk-sampler.js');
  const { Prefetcher } = await import('../src/data/prefetch.js');
  await initBackend({ announce: () => undefined });
  const loadStarted = performance.now();
  const dataset = await loadFolder(config.folder, {
    height: 64,
    width: 64,
    channels: 3,
    flipInvariant: true,
    stream: config.stream,
    ...(config.workers !== undefined && config.stream ? { workers: config.workers } : {}),
    ...(config.cacheDir ? { cacheDir: config.cacheDir } : {}),
  });
  const loadSeconds = (performance.now() - loadStarted) / 1000;
  rssAfterLoad = process.memoryUsage().rss / 1024 ** 2;
  const split = dataset.split();
  try {
    if (config.readOnly) {
      const sampler = new PKSampler({ labels: Int32Array.from(split.train, (i) => dataset.labels[i]!), p: 16, k: 4, seed: 0 });
      const batches = sampler.epoch(0).slice(0, config.steps).map((batch) => Int32Array.from(batch, (b) => split.train[b]!));
      const reader = new Prefetcher(batches.length, (i) => dataset.read(batches[i]!), (pixels) => pixels.length);
      const started = performance.now();
      let wait = 0;
      for (let i = 0; i < batches.length; i++) {
        const t = performance.now();
        await reader.next();
        wait += performance.now() - t;
        if (i === 0) firstWait = wait / 1000;
      }
      const seconds = (performance.now() - started) / 1000;
      return outcome(config, dataset.size, loadSeconds, batches.length, (64 * batches.length) / seconds, wait / 1000, 1, seconds / batches.length, 0, 0);
    }
    let stepSeconds = 0;
    let steps = 0;
    let epochSeconds = 0;
    // Without validation, the run is the steps alone (the split's validation part is left out).
    const withoutValidation = { ...dataset, split: () => ({ ...split, validation: undefined }) };
    const result = await train({
      dataset: config.evaluate ? dataset : withoutValidation,
      epochs: 1,
      stepsPerEpoch: config.steps,
      p: 16,
      k: 4,
      evaluateTest: false,
      onEvent: (event) => {
        if (event.type === 'step') {
          if (steps === 0) firstWait = event.dataWaitSeconds;
          stepSeconds += 64 / event.samplesPerSecond;
          steps++;
        } else if (event.type === 'epoch') epochSeconds = event.seconds;
      },
    });
    result.model.dispose();
    return outcome(
      config,
      dataset.size,
      loadSeconds,
      steps,
      (64 * steps) / stepSeconds,
      result.dataWait.seconds,
      result.dataWait.fraction,
      stepSeconds / steps,
      epochSeconds - stepSeconds,
      config.evaluate ? (split.validation?.queries.length ?? 0) : 0,
    );
  } finally {
    await dataset.close();
  }
}

function outcome(
  config: Config,
  images: number,
  loadSeconds: number,
  steps: number,
  imagesPerSecond: number,
  stepWaitSeconds: number,
  waitFraction: number,
  meanStepSeconds: number,
  evaluationSeconds: number,
  validationImages: number,
): Outcome {
  return { name: config.name, images, loadSeconds, steps, imagesPerSecond, stepWaitSeconds, firstStepWaitSeconds: firstWait, waitFraction, meanStepSeconds, evaluationSeconds, validationImages, rssAfterLoadMiB: rssAfterLoad, peakRssMiB: peakRssMiB() };
}
