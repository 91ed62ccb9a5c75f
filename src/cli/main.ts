#!/usr/bin/env node
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { tf } from '../tf.js';
import { initBackend } from '../engine/backend.js';
import { TripletjsInputError } from '../common/errors.js';
import { loadDataset, DATASET_NAMES } from '../data/registry.js';
import { decodeImage, withChannels } from '../data/image-file.js';
import { resizeImage } from '../data/resize.js';
import type { Dataset } from '../data/dataset.js';
import { checkAugmentOptions } from '../data/augment.js';
import { embed } from '../models/embed.js';
import { loadModel } from '../models/model-files.js';
import type { CnnConfig, MlpConfig, ModelConfig } from '../models/model-config.js';
import { loadGallery, saveGallery, searchGallery } from '../index/gallery.js';
import { LOSS_NAMES, MINER_NAMES, type LossName, type MinerName } from '../training/components.js';
import { embedImages, evaluateModel, evaluateRawPixels } from '../training/evaluate-split.js';
import { SCHEDULES, type ScheduleName } from '../training/learning-rate.js';
import { train, TrainingDivergedError, type TrainOptions } from '../training/trainer.js';
import { DEFAULT_STUDY_DATASETS, runStudy } from '../study/study.js';
import { parseCell, type StudyCell } from '../study/grid.js';
import { studyProgress } from './study-progress.js';
import { VERSION } from '../version.js';
import { metricsTable } from './format.js';
import { progressReporter } from './progress.js';

const integer = (name: string) => (value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n)) throw new InvalidArgumentError(`${name} must be an integer`);
  return n;
};
const number = (name: string) => (value: string): number => {
  const n = Number(value);
  if (!Number.isFinite(n)) throw new InvalidArgumentError(`${name} must be a number`);
  return n;
};
const oneOf = <T extends string>(name: string, choices: readonly string[]) => (value: string): T => {
  if (!choices.includes(value)) throw new InvalidArgumentError(`${name} must be one of ${choices.join(', ')}`);
  return value as T;
};
const size = (value: string): [number, number] => {
  const match = /^(\d+)x(\d+)$/.exec(value);
  if (!match) throw new InvalidArgumentError('give a size as HEIGHTxWIDTH, e.g. 56x46');
  return [Number(match[1]), Number(match[2])];
};

/** Prints JSON with --json, a human table otherwise. */
function output(json: boolean, value: unknown, text: string): void {
  process.stdout.write(json ? JSON.stringify(value, null, 2) + '\n' : text + '\n');
}

async function start(): Promise<void> {
  await initBackend({ announce: (message) => process.stderr.write(message + '\n') });
}

/**
 * The model of --model, with --dim and --pooling: `mlp`, `mlp:512,256`, `cnn` or `cnn:16,32,64`, or an
 * ensemble of such networks joined by `+`, each optionally with its own input size after `@`
 * (`mlp:512@28x23+cnn:32,64,128@56x46`).
 */
function modelConfig(spec: string, embeddingDim: number, pooling: 'average' | 'flatten'): ModelConfig {
  const parts = spec.split('+');
  if (parts.length === 1) {
    if (spec.includes('@')) throw new TripletjsInputError(`--model ${spec}: @HxW sizes are for ensemble members; resize a single network with --resize`);
    return networkConfig(spec, embeddingDim, pooling);
  }
  return {
    kind: 'ensemble',
    members: parts.map((part) => {
      const [network, at] = part.split('@');
      const resizeTo = at === undefined ? undefined : /^(\d+)x(\d+)$/.exec(at);
      if (resizeTo === null) throw new TripletjsInputError(`--model ${spec}: '${at}' is not a size; write HEIGHTxWIDTH, e.g. mlp:512@28x23`);
      return { network: networkConfig(network!, embeddingDim, pooling), ...(resizeTo ? { resizeTo: [Number(resizeTo[1]), Number(resizeTo[2])] as [number, number] } : {}) };
    }),
  };
}

function networkConfig(spec: string, embeddingDim: number, pooling: 'average' | 'flatten'): MlpConfig | CnnConfig {
  const [kind, widths] = spec.split(':');
  const list = widths ? widths.split(',').map(Number) : undefined;
  if (list?.some((v) => !Number.isInteger(v) || v <= 0)) throw new TripletjsInputError(`--model ${spec}: layer widths must be positive integers`);
  if (kind === 'mlp') return { kind, embeddingDim, ...(list ? { hidden: list } : {}) };
  if (kind === 'cnn') return { kind, embeddingDim, pooling, ...(list ? { filters: list } : {}) };
  throw new TripletjsInputError(`unknown model '${spec}' (use mlp, mlp:512,256, cnn, cnn:32,64,128, or members joined by +)`);
}

interface TrainFlags {
  dataset: string;
  fold?: number;
  model: string;
  dim: number;
  pooling: 'average' | 'flatten';
  resize?: [number, number];
  loss: LossName;
  miner: MinerName;
  margin?: number;
  epochs: number;
  p: number;
  k: number;
  optimizer: 'adam' | 'sgd';
  lr?: number;
  schedule: ScheduleName;
  seed: number;
  evalEvery: number;
  augment: boolean;
  shift?: number;
  zoom?: number;
  rotate?: number;
  lighting?: number;
  patience?: number;
  out?: string;
  resume?: boolean;
  json?: boolean;
}

/** Trains, then prints the held-out metrics of raw pixels and of the learned embedding. */
async function runTraining(flags: TrainFlags, title: string): Promise<void> {
  // Arguments are checked before the data loads, so that a typo fails at once.
  const model = modelConfig(flags.model, flags.dim, flags.pooling);
  const augment = flags.augment && checkAugmentOptions({ maxShift: flags.shift, maxScale: flags.zoom, maxRotation: flags.rotate, maxLighting: flags.lighting });
  await start();
  const dataset = await loadDataset(flags.dataset);
  const split = dataset.split(flags.fold);
  process.stderr.write(`${dataset.name}: ${dataset.size} images of ${dataset.shape.height}×${dataset.shape.width}×${dataset.shape.channels}; ${split.description}\n`);
  const raw = evaluateRawPixels(dataset, split);
  const progress = progressReporter();
  const options: TrainOptions = {
    dataset,
    fold: flags.fold,
    model,
    ...(flags.resize ? { resizeTo: flags.resize } : {}),
    loss: flags.loss,
    miner: flags.miner,
    margin: flags.margin,
    epochs: flags.epochs,
    p: flags.p,
    k: flags.k,
    optimizer: flags.optimizer,
    learningRate: flags.lr,
    schedule: flags.schedule,
    seed: flags.seed,
    evalEvery: flags.evalEvery,
    augment,
    earlyStopPatience: flags.patience,
    outDir: flags.out,
    resume: flags.resume,
    onEvent: progress.onEvent,
  };
  let result;
  try {
    result = await train(options);
  } finally {
    progress.stop();
  }
  const table = metricsTable([['raw pixels', raw], ['learned', result.evaluation]]);
  output(flags.json === true, { dataset: dataset.name, split: split.description, rawPixels: raw, learned: result.evaluation, seconds: result.seconds, epochs: result.epochsRun, model: flags.out ?? null },
    `\n${title}\n${split.description}\n\n${table}\n\n${result.epochsRun} epochs in ${result.seconds.toFixed(0)} s${flags.out ? `; model saved to ${flags.out}/model` : ''}`);
}

function addTrainingOptions(command: Command, defaults: Partial<Record<string, unknown>> = {}): Command {
  return command
    .option('--dataset <name>', `dataset: ${DATASET_NAMES.join(', ')}`, (defaults.dataset as string) ?? 'orl-faces')
    .option('--fold <n>', 'fold of the dataset split (ORL faces: 0–3, default 3 = s31–s40 unseen)', integer('--fold'))
    .option('--model <spec>', 'mlp, mlp:512,256, cnn, cnn:32,64,128, or an ensemble: mlp:512@28x23+cnn:32,64,128@56x46', (defaults.model as string) ?? 'mlp:512')
    .option('--dim <n>', 'embedding dimension', integer('--dim'), 64)
    .option('--pooling <kind>', 'CNN: average (global average pooling) or flatten', oneOf<'average' | 'flatten'>('--pooling', ['average', 'flatten']), (defaults.pooling as string) ?? 'average')
    .option('--resize <HxW>', 'resize images inside the model, e.g. 56x46', size, defaults.resize as [number, number] | undefined)
    .option('--loss <name>', LOSS_NAMES.join(', '), oneOf<LossName>('--loss', LOSS_NAMES), 'triplet')
    .option('--miner <name>', MINER_NAMES.join(', '), oneOf<MinerName>('--miner', MINER_NAMES), (defaults.miner as string) ?? 'batch-all')
    .option('--margin <m>', 'margin (default: 0.2 triplet, 0 soft margin, 0.5 contrastive)', number('--margin'))
    .option('--epochs <n>', 'epochs', integer('--epochs'), (defaults.epochs as number) ?? 20)
    .option('--p <n>', 'classes per batch', integer('--p'), (defaults.p as number) ?? 16)
    .option('--k <n>', 'examples per class in a batch', integer('--k'), 4)
    .option('--optimizer <name>', 'adam or sgd (momentum 0.9)', oneOf<'adam' | 'sgd'>('--optimizer', ['adam', 'sgd']), 'adam')
    .option('--lr <rate>', 'learning rate (default 1e-3 adam, 1e-2 sgd)', number('--lr'))
    .option('--schedule <name>', SCHEDULES.join(', '), oneOf<ScheduleName>('--schedule', SCHEDULES), 'cosine')
    .option('--seed <n>', 'seed of everything random: the same seed repeats the run', integer('--seed'), 0)
    .option('--eval-every <n>', 'evaluate on the held-out split every N epochs', integer('--eval-every'), (defaults.evalEvery as number) ?? 5)
    .option('--no-augment', 'no augmentation at all')
    .option('--shift <fraction>', 'augmentation: largest shift, as a fraction of the side (default 0.1)', number('--shift'))
    .option('--zoom <fraction>', 'augmentation: largest zoom in or out, e.g. 0.1 (default 0)', number('--zoom'))
    .option('--rotate <degrees>', 'augmentation: largest rotation (default 0)', number('--rotate'))
    .option('--lighting <fraction>', 'augmentation: largest change of brightness and contrast, e.g. 0.2 (default 0)', number('--lighting'))
    .option('--patience <n>', 'stop after N evaluations without a better MAP@R', integer('--patience'))
    .option('--resume', 'continue from the last checkpoint in --out')
    .option('--json', 'print the result as JSON');
}

/** Images of --input: a dataset name (all its images) or one image file. */
async function imagesOf(input: string): Promise<{ dataset: Dataset; indices: Int32Array }> {
  const dataset = await loadDataset(input);
  return { dataset, indices: Int32Array.from({ length: dataset.size }, (_, i) => i) };
}

/**
 * The demo's model: an ensemble of an MLP and a CNN on faces shrunk to 28 × 23 and a deeper CNN on
 * 56 × 46. On ORL's unseen people it beats each of its kinds alone (RESULTS.md).
 */
const DEMO_MODEL = 'mlp:512@28x23+cnn:32,64@28x23+cnn:32,64,128@56x46';

export function buildProgram(): Command {
  const program = new Command('triplet')
    .description('Deep metric learning with the triplet loss: train, evaluate, embed and search.')
    .version(VERSION)
    .showHelpAfterError();

  addTrainingOptions(
    program.command('demo').description('train on ORL faces s1–s30 and compare raw pixels with the learned embedding on the 10 unseen people s31–s40'),
    { model: DEMO_MODEL, pooling: 'flatten', epochs: 60, p: 10, evalEvery: 20 },
  )
    .option('--out <dir>', 'where to save the model', 'triplet-demo')
    .action((flags: TrainFlags) => runTraining(flags, 'Face verification on people never seen in training (ORL faces)'));

  addTrainingOptions(program.command('train').description('train an embedding on a dataset'))
    .requiredOption('--out <dir>', 'output directory: checkpoints, train-log.jsonl, model/')
    .action((flags: TrainFlags) => runTraining(flags, `Training on ${flags.dataset}`));

  program
    .command('eval')
    .description('evaluate a saved model on a dataset split, next to raw pixels')
    .requiredOption('--model <dir>', 'model directory (…/model)')
    .option('--dataset <name>', 'dataset (default: the one it was trained on)')
    .option('--fold <n>', 'fold of the split', integer('--fold'))
    .option('--json', 'print JSON')
    .action(async (flags: { model: string; dataset?: string; fold?: number; json?: boolean }) => {
      await start();
      const { model, metadata } = await loadModel(flags.model);
      const dataset = await loadDataset(flags.dataset ?? metadata.dataset?.name ?? 'orl-faces');
      checkInputShape(model, dataset);
      const split = dataset.split(flags.fold);
      const learned = evaluateModel(model, dataset, split);
      const raw = evaluateRawPixels(dataset, split);
      output(flags.json === true, { dataset: dataset.name, split: split.description, rawPixels: raw, learned }, `${split.description}\n\n${metricsTable([['raw pixels', raw], ['learned', learned]])}`);
    });

  program
    .command('embed')
    .description('embed every image of a dataset or folder: FILE.npy (float32, numpy-readable) and FILE.json (labels, sources)')
    .requiredOption('--model <dir>', 'model directory')
    .requiredOption('--input <data>', `dataset name or folder:<path>`)
    .requiredOption('--out <file.npy>', 'embeddings file')
    .action(async (flags: { model: string; input: string; out: string }) => {
      await start();
      const { model } = await loadModel(flags.model);
      const { dataset, indices } = await imagesOf(flags.input);
      checkInputShape(model, dataset);
      const dims = model.outputs[0]!.shape.at(-1)!;
      const embeddings = embedImages(model, dataset, indices);
      await saveGallery(flags.out, {
        embeddings,
        dims,
        labels: Int32Array.from(indices, (i) => dataset.labels[i]!),
        sources: Array.from(indices, (i) => dataset.paths?.[i] ?? `${dataset.name}#${i}`),
        classNames: dataset.classNames,
        model: flags.model,
      });
      process.stdout.write(`${indices.length} embeddings of ${dims} dimensions written to ${flags.out} (+ .json)\n`);
    });

  program
    .command('search')
    .description('list the gallery images nearest to a query image')
    .requiredOption('--model <dir>', 'model directory')
    .requiredOption('--gallery <file.npy>', 'embeddings from triplet embed')
    .requiredOption('--query <image>', 'PNG, JPEG or PGM image')
    .option('-k <n>', 'neighbours to list', integer('-k'), 5)
    .option('--json', 'print JSON')
    .action(async (flags: { model: string; gallery: string; query: string; k: number; json?: boolean }) => {
      await start();
      const { model } = await loadModel(flags.model);
      const gallery = await loadGallery(flags.gallery);
      const [height, width, channels] = model.inputs[0]!.shape.slice(1) as number[];
      const bytes = await readFile(flags.query).catch(() => {
        throw new TripletjsInputError(`cannot read the query image ${flags.query}`);
      });
      const image = resizeImage(withChannels(decodeImage(bytes, flags.query), channels as 1 | 3), height!, width!);
      const hits = searchGallery(gallery, embed(model, image.pixels, 1), flags.k);
      output(flags.json === true, hits, [`nearest to ${basename(flags.query)}:`, ...hits.map((h) => `${h.rank}. ${h.label}  ${h.distance.toFixed(4)}  ${h.source}`)].join('\n'));
    });

  program
    .command('study')
    .description(
      'the sampling study: triplet, soft-margin triplet and contrastive losses × sampling methods × seeds, one budget per dataset, ' +
        'evaluated on classes unseen in training; writes runs.json, report.md, chart.svg and chart.png to --out (rerun to resume)',
    )
    .option('--dataset <names...>', `datasets (${DATASET_NAMES.join(', ')})`, [...DEFAULT_STUDY_DATASETS])
    .option('--cells <list>', 'only these cells, comma-separated loss/sampling, e.g. triplet/semi-hard,contrastive/random', (value: string) =>
      value.split(',').map((cell) => parseCell(cell.trim())),
    )
    .option('--seeds <n>', 'seeds per cell (default 3; 2 with --quick)', integer('--seeds'))
    .option('--quick', 'reduced grid (4 cells × 2 seeds) and budget: about 3 minutes on 2 cores')
    .option('--jobs <n>', 'runs at once, each in its own process (results do not depend on it)', integer('--jobs'), 2)
    .option('--out <dir>', 'output directory', 'runs/study')
    .option('--epochs <n>', "epochs of every run (default: the dataset's budget)", integer('--epochs'))
    .option('--steps <n>', 'at most N steps per epoch (default: the whole epoch)', integer('--steps'))
    .option('--lr <rate>', 'learning rate of every run (default 1e-3)', number('--lr'))
    .option('--json', 'print the summaries as JSON')
    .action(async (flags: { dataset: string[]; cells?: StudyCell[]; seeds?: number; quick?: boolean; jobs: number; out: string; epochs?: number; steps?: number; lr?: number; json?: boolean }) => {
      const progress = studyProgress();
      let result;
      try {
        result = await runStudy({
          outDir: flags.out,
          datasets: flags.dataset,
          ...(flags.cells ? { cells: flags.cells } : {}),
          ...(flags.seeds !== undefined ? { seeds: flags.seeds } : {}),
          quick: flags.quick === true,
          jobs: flags.jobs,
          budget: { epochs: flags.epochs, stepsPerEpoch: flags.steps, learningRate: flags.lr },
          command: ['triplet', ...process.argv.slice(2)].join(' '),
          onEvent: progress.onEvent,
        });
      } finally {
        progress.stop();
      }
      const { outDir, files, rawPixels, summaries, executed, reused, seconds } = result;
      output(flags.json === true, { outDir, files, executed, reused, seconds, rawPixels, summaries },
        `${await readFile(files.report, 'utf8')}\n${executed} runs done, ${reused} reused, in ${seconds.toFixed(0)} s; written to ${outDir}: runs.json, report.md, chart.svg, chart.png`);
    });
  return program;
}

function checkInputShape(model: { inputs: Array<{ shape: Array<number | null> }> }, dataset: Dataset): void {
  const [height, width, channels] = model.inputs[0]!.shape.slice(1);
  const { shape } = dataset;
  if (height !== shape.height || width !== shape.width || channels !== shape.channels) {
    throw new TripletjsInputError(
      `the model takes ${height}×${width}×${channels} images but ${dataset.name} has ${shape.height}×${shape.width}×${shape.channels}: use a dataset of the size the model was trained on`,
    );
  }
}

/** Runs the CLI; every expected failure is one line on stderr and exit code 1. */
export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (error) {
    const known = error instanceof TripletjsInputError || error instanceof TrainingDivergedError;
    process.stderr.write(`triplet: ${(error as Error).message}\n`);
    if (!known && process.env.TRIPLETJS_DEBUG) process.stderr.write(`${(error as Error).stack}\n`);
    else if (!known) process.stderr.write('(set TRIPLETJS_DEBUG=1 to see where it failed)\n');
    process.exitCode = 1;
  } finally {
    tf.disposeVariables();
  }
}

await main(process.argv);
