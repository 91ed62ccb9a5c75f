#!/usr/bin/env node
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { Command } from 'commander';
import { tf, type tfl } from '../tf.js';
import { TripletjsInputError } from '../common/errors.js';
import { checkDatasetName, loadDataset, DATASET_NAMES } from '../data/registry.js';
import { listImageFiles } from '../data/read-image.js';
import type { Dataset } from '../data/dataset.js';
import type { FolderOptions, FolderSplit } from '../data/folder.js';
import { IMAGE_EXTENSIONS, type ImageFit } from '../data/image-format.js';
import { checkAugmentOptions } from '../data/augment.js';
import { embedFiles } from '../models/embed-files.js';
import { checkModelDirectory, loadModel } from '../models/model-files.js';
import { modelInputFormat, type CnnConfig, type MlpConfig, type ModelConfig } from '../models/model-config.js';
import type { BackboneConfig, InputRange } from '../models/backbone.js';
import { exportPretrained, PRETRAINED_TRUNKS } from '../models/pretrained.js';
import type { ModelMetadata } from '../models/model-format.js';
import { checkEmbeddingsModel, loadEmbeddingsFile, saveEmbeddingsFile, searchEmbeddingsFile } from '../gallery/embeddings-file.js';
import { openGallery } from '../gallery/open-gallery.js';
import { LOSS_NAMES, MINER_NAMES, type LossName, type MinerName } from '../training/components.js';
import { embedImages, evaluateModel, evaluateRawPixelFloor } from '../training/evaluate-split.js';
import { SCHEDULES, type ScheduleName } from '../training/learning-rate.js';
import { checkTestIsUnseen, savedSplitOf } from '../training/saved-split.js';
import { train, TrainingDivergedError, type TrainOptions } from '../training/trainer.js';
import { DEFAULT_STUDY_DATASETS, runStudy } from '../study/study.js';
import { parseCell, type StudyCell } from '../study/grid.js';
import { studyProgress } from './study-progress.js';
import { VERSION } from '../version.js';
import { metricsTable } from './format.js';
import { progressReporter } from './progress.js';
import { channelCount, colour, integer, number, oneOf, output, size, start } from './common.js';
import { addServingCommands } from './serving.js';

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

/** The network of --backbone, with --cut-at, --freeze-up-to, --input-range, --trunk-input-size, --head and --dim. */
function backboneConfig(flags: BackboneFlags, embeddingDim: number): BackboneConfig {
  const path = flags.backbone!;
  if (!existsSync(path)) throw new TripletjsInputError(`--backbone ${path}: no such file (give a TensorFlow.js model.json; triplet backbone export writes one)`);
  const head = flags.head ?? 'linear';
  const match = /^(?:linear|none|mlp:(\d+(?:,\d+)*))$/.exec(head);
  if (match === null) throw new TripletjsInputError(`--head ${head}: write linear, none, or mlp:WIDTHS such as mlp:512 or mlp:512,256`);
  const widths = match[1]?.split(',').map(Number) ?? [];
  if (widths.some((width) => width <= 0)) throw new TripletjsInputError(`--head ${head}: layer widths must be positive`);
  return {
    kind: 'backbone',
    path,
    ...(flags.cutAt ? { cutAt: flags.cutAt } : {}),
    ...(flags.freezeUpTo ? { freezeUpTo: flags.freezeUpTo } : {}),
    ...(flags.inputRange ? { inputRange: flags.inputRange } : {}),
    ...(flags.trunkInputSize ? { trunkInputSize: flags.trunkInputSize } : {}),
    // No head: the trunk's features are the embedding, whatever --dim says.
    ...(head === 'none' ? { head: 'none' as const } : { head: widths, embeddingDim }),
  };
}

/** Flags of a pretrained trunk. */
interface BackboneFlags {
  backbone?: string;
  trunkLr?: number;
  cutAt?: string;
  freezeUpTo?: string;
  inputRange?: InputRange;
  trunkInputSize?: [number, number];
  head?: string;
}

/** Flags that say how to load a folder dataset. */
interface FolderFlags {
  split?: FolderSplit;
  imageSize?: [number, number];
  channels?: 1 | 3;
  fit?: ImageFit;
  background?: string;
  skipUnreadable?: boolean;
  /** --stream / --no-stream (absent: stream when the decoded images would not fit the memory budget). */
  stream?: boolean;
  cacheDir?: string;
  workers?: number;
}

interface TrainFlags extends FolderFlags, BackboneFlags {
  dataset: string;
  fold?: number;
  model: string;
  dim: number;
  pooling: 'average' | 'flatten';
  resize?: [number, number];
  loss: LossName;
  miner?: MinerName;
  margin?: number;
  epochs: number;
  p?: number;
  k: number;
  optimizer: 'adam' | 'sgd';
  lr?: number;
  schedule: ScheduleName;
  warmup?: number;
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
  overwrite?: boolean;
  json?: boolean;
}

/**
 * The options of `loadDataset` that the folder flags give; the other datasets take none. A size
 * or channel count not given comes from `fallback` (a model's saved preprocessing).
 */
function folderOptions(name: string, flags: FolderFlags, fallback: FolderOptions = {}): FolderOptions {
  const given = [flags.split, flags.imageSize, flags.channels, flags.fit, flags.background, flags.skipUnreadable, flags.stream, flags.cacheDir, flags.workers].some((flag) => flag !== undefined);
  if (!name.startsWith('folder:')) {
    if (given) throw new TripletjsInputError(`--split, --image-size, --channels, --fit, --background, --skip-unreadable, --stream, --cache-dir and --workers apply to folder:<path> datasets, not to ${name}`);
    return {};
  }
  return {
    ...fallback,
    ...(flags.split ? { split: flags.split } : {}),
    ...(flags.imageSize ? { height: flags.imageSize[0], width: flags.imageSize[1] } : {}),
    ...(flags.channels ? { channels: flags.channels } : {}),
    ...(flags.fit ? { fit: flags.fit } : {}),
    ...(flags.background ? { background: flags.background } : {}),
    ...(flags.skipUnreadable ? { skipUnreadable: true } : {}),
    stream: flags.stream ?? 'auto',
    ...(flags.cacheDir !== undefined ? { cacheDir: flags.cacheDir } : {}),
    ...(flags.workers !== undefined ? { workers: flags.workers } : {}),
  };
}

/** Adds the flags that say how a folder dataset is read: streamed or not, cached, by how many workers. */
function addReadingOptions(command: Command): Command {
  return command
    .option('--stream', 'folder datasets: decode images batch by batch in worker threads, one batch ahead, so memory stays flat (default: when the decoded images would exceed 2 GiB or a quarter of the memory)')
    .option('--no-stream', 'folder datasets: decode every image into memory once, whatever its size')
    .option('--cache-dir <dir>', "streamed folder datasets: keep decoded, resized images in this folder (fixed-size records, checked against each file's size and mtime)")
    .option('--workers <n>', 'streamed folder datasets: decoding worker threads (default: one per core, at most 4; 0 decodes on the main thread)', integer('--workers'));
}

/** Loads a dataset and tells what the loader warned about. */
async function loadAndReport(name: string, options: FolderOptions): Promise<Dataset> {
  const dataset = await loadDataset(name, options);
  for (const warning of dataset.warnings ?? []) process.stderr.write(`warning: ${dataset.name}: ${warning}\n`);
  if (dataset.streamed) process.stderr.write(`${dataset.name}: streamed (decoded batch by batch${options.cacheDir ? `, cached in ${options.cacheDir}` : ''})\n`);
  return dataset;
}

/** Trains, then prints the test metrics of raw pixels and of the learned embedding. */
async function runTraining(flags: TrainFlags, title: string, overwriteDefault: boolean): Promise<void> {
  // Arguments are checked before the backend and the data load, so that a typo fails at once.
  const model = flags.backbone ? backboneConfig(flags, flags.dim) : modelConfig(flags.model, flags.dim, flags.pooling);
  const augment = flags.augment && checkAugmentOptions({ maxShift: flags.shift, maxScale: flags.zoom, maxRotation: flags.rotate, maxLighting: flags.lighting });
  const loadOptions = folderOptions(flags.dataset, flags);
  if (flags.resume && flags.overwrite) throw new TripletjsInputError('--resume and --overwrite exclude each other');
  checkDatasetName(flags.dataset);
  await start();
  const dataset = await loadAndReport(flags.dataset, loadOptions);
  const split = dataset.split(flags.fold);
  process.stderr.write(`${dataset.name}: ${dataset.size} images of ${dataset.shape.height}×${dataset.shape.width}×${dataset.shape.channels}; ${split.description}\n`);
  const progress = progressReporter();
  const options: TrainOptions = {
    dataset,
    fold: flags.fold,
    model,
    ...(flags.resize ? { resizeTo: flags.resize } : {}),
    loss: flags.loss,
    ...(flags.miner ? { miner: flags.miner } : {}),
    margin: flags.margin,
    epochs: flags.epochs,
    ...(flags.p !== undefined ? { p: flags.p } : {}),
    k: flags.k,
    optimizer: flags.optimizer,
    learningRate: flags.lr,
    ...(flags.trunkLr !== undefined ? { trunkLearningRate: flags.trunkLr } : {}),
    schedule: flags.schedule,
    ...(flags.warmup !== undefined ? { warmupEpochs: flags.warmup } : {}),
    seed: flags.seed,
    evalEvery: flags.evalEvery,
    augment,
    earlyStopPatience: flags.patience,
    outDir: flags.out,
    resume: flags.resume,
    overwrite: flags.overwrite ?? (overwriteDefault && !flags.resume),
    onEvent: progress.onEvent,
  };
  let result;
  try {
    result = await train(options);
  } finally {
    progress.stop();
  }
  result.model.dispose();
  // The raw-pixel floor holds every test image as floats: not for a dataset streamed because it is large.
  const raw = dataset.streamed ? undefined : await evaluateRawPixelFloor(dataset, split);
  await dataset.close();
  const test = result.test!;
  const table = metricsTable(raw ? [['raw pixels', raw], ['learned', test]] : [['learned', test]]);
  const waited = `; the steps waited ${result.dataWait.seconds.toFixed(1)} s for data (${(100 * result.dataWait.fraction).toFixed(1)}% of their time)`;
  const kept = `kept epoch ${result.keptEpoch} of ${result.epochsRun}${split.validation ? ' (best validation MAP@R)' : ''}`;
  const validation = result.validation ? `; validation MAP@R ${result.validation.mapAtR.toFixed(4)}` : '';
  output(
    flags.json === true,
    {
      dataset: dataset.name,
      split: split.description,
      rawPixels: raw ?? null,
      learned: test,
      dataWait: result.dataWait,
      validation: result.validation ?? null,
      verification: result.verification ?? null,
      keptEpoch: result.keptEpoch,
      seconds: result.seconds,
      epochs: result.epochsRun,
      model: flags.out ? `${flags.out}/model` : null,
    },
    `\n${title}\n${split.description}\n\nTest (evaluated once, after every choice was made on validation):\n\n${table}\n\n` +
      `${result.epochsRun} epochs in ${result.seconds.toFixed(0)} s${waited}; ${kept}${validation}${flags.out ? `; model saved to ${flags.out}/model` : ''}` +
        (flags.out ? `\nServe it, with a page: npx triplet serve --model ${flags.out}/model --gallery ${flags.out}/gallery.db --enroll ${dataset.name}` : ''),
  );
}

function addTrainingOptions(command: Command, defaults: Partial<Record<string, unknown>> = {}): Command {
  command
    .option('--dataset <name>', `dataset: ${DATASET_NAMES.join(', ')}`, (defaults.dataset as string) ?? 'orl-faces')
    .option('--fold <n>', 'fold of the dataset split (ORL faces: 0–3, default 3 = s31–s40 unseen)', integer('--fold'))
    .option('--split <kind>', 'folder datasets: unseen-classes (test on the last quarter of the classes) or held-out (test on 20% of each class)', oneOf<FolderSplit>('--split', ['unseen-classes', 'held-out']))
    .option('--image-size <HxW>', 'folder datasets: resize every image to this size when loading (needed for photos of mixed sizes)', size)
    .option('--channels <n>', 'folder datasets: 1 (grey) or 3 (RGB); default: grey if every image is', channelCount)
    .option('--fit <kind>', 'folder datasets, photos of another shape than --image-size: cover (crop the centre, default), contain (letterbox) or fill (stretch)', oneOf<ImageFit>('--fit', ['cover', 'contain', 'fill']))
    .option('--background <#rrggbb>', 'folder datasets: the colour under transparent pixels and letterbox bars (default #ffffff)', colour)
    .option('--skip-unreadable', 'folder datasets: skip truncated, corrupt or foreign images with a warning instead of stopping');
  return addReadingOptions(command)
    .option('--model <spec>', 'mlp, mlp:512,256, cnn, cnn:32,64,128, or an ensemble: mlp:512@28x23+cnn:32,64,128@56x46', (defaults.model as string) ?? 'mlp:512')
    .option('--backbone <model.json>', 'a pretrained TensorFlow.js model as the trunk, under an embedding head (replaces --model): a layers model (fine-tunable) or a graph model (frozen); triplet backbone export writes one')
    .option('--cut-at <layer>', 'backbone: the layer (graph model: the node) whose output is the features (default: its last, or its only output)')
    .option('--freeze-up-to <layer>', 'backbone: layers up to this one keep their weights; all (default) or none; a graph model is always frozen')
    .option('--input-range <range>', 'backbone: the range it takes inputs in: 0-1 (default), -1-1 or 0-255', oneOf<InputRange>('--input-range', ['0-1', '-1-1', '0-255']))
    .option('--trunk-input-size <HxW>', "backbone (layers model): run the trunk at this image size instead of its own, e.g. 96x96 for small images", size)
    .option('--head <spec>', 'backbone: linear (default), mlp:512 (hidden ReLU layers) before the embedding, or none (the trunk\'s features as they are: a frozen trunk then trains nothing, its threshold is chosen on validation)')
    .option('--trunk-lr <rate>', "backbone: the learning rate of the trunk's trained layers (default: --lr's)", number('--trunk-lr'))
    .option('--dim <n>', 'embedding dimension', integer('--dim'), 64)
    .option('--pooling <kind>', 'CNN: average (global average pooling) or flatten', oneOf<'average' | 'flatten'>('--pooling', ['average', 'flatten']), (defaults.pooling as string) ?? 'average')
    .option('--resize <HxW>', 'resize images inside the model, e.g. 56x46', size, defaults.resize as [number, number] | undefined)
    .option('--loss <name>', LOSS_NAMES.join(', '), oneOf<LossName>('--loss', LOSS_NAMES), 'triplet')
    .option('--miner <name>', `${MINER_NAMES.join(', ')} (default: batch-all; all for triplet-soft)`, oneOf<MinerName>('--miner', MINER_NAMES), defaults.miner as string | undefined)
    .option('--margin <m>', 'margin (default: 0.2 triplet, 0 soft margin, 0.5 contrastive)', number('--margin'))
    .option('--epochs <n>', 'epochs', integer('--epochs'), (defaults.epochs as number) ?? 20)
    .option('--p <n>', 'classes per batch (default: 16, or every training class when there are fewer)', integer('--p'), defaults.p as number | undefined)
    .option('--k <n>', 'examples per class in a batch', integer('--k'), 4)
    .option('--optimizer <name>', 'adam or sgd (momentum 0.9)', oneOf<'adam' | 'sgd'>('--optimizer', ['adam', 'sgd']), 'adam')
    .option('--lr <rate>', 'learning rate (default 1e-3 adam, 1e-2 sgd)', number('--lr'))
    .option('--schedule <name>', SCHEDULES.join(', '), oneOf<ScheduleName>('--schedule', SCHEDULES), 'cosine')
    .option('--warmup <epochs>', 'epochs of linear warm-up to --lr before the schedule (default 0)', integer('--warmup'))
    .option('--seed <n>', 'seed of everything random: the same seed repeats the run', integer('--seed'), 0)
    .option('--eval-every <n>', 'evaluate on the validation split every N epochs (and after the last); the best is kept', integer('--eval-every'), (defaults.evalEvery as number) ?? 5)
    .option('--no-augment', 'no augmentation at all')
    .option('--shift <fraction>', 'augmentation: largest shift, as a fraction of the side (default 0.1)', number('--shift'))
    .option('--zoom <fraction>', 'augmentation: largest zoom in or out, e.g. 0.1 (default 0)', number('--zoom'))
    .option('--rotate <degrees>', 'augmentation: largest rotation (default 0)', number('--rotate'))
    .option('--lighting <fraction>', 'augmentation: largest change of brightness and contrast, e.g. 0.2 (default 0)', number('--lighting'))
    .option('--patience <n>', 'stop after N validation evaluations without a better MAP@R', integer('--patience'))
    .option('--resume', 'continue from the last checkpoint in --out (with the same settings)')
    .option('--overwrite', 'delete what --out holds and start over')
    .option('--json', 'print the result as JSON');
}

/** Folder load options that bring images to a model's input as it was trained (size, channels, fit). */
function modelInputOptions(metadata: ModelMetadata): FolderOptions {
  const { height, width, channels, fit, background } = modelInputFormat(metadata.preprocessing);
  return { height, width, channels, fit, background };
}

/** Images to embed, with their labels and sources, and how to embed them with a model. */
interface ImagesToEmbed {
  readonly labels: Int32Array;
  readonly sources: readonly string[];
  readonly classNames: readonly string[];
  readonly embed: (model: tfl.LayersModel) => Promise<Float32Array>;
  /** Ends a streamed dataset's decoding workers. */
  readonly close: () => Promise<void>;
}

/**
 * The images of --input at the model's input size: a dataset (a folder of class sub-folders
 * resized as the model needs), or, unlabelled (label −1), a flat folder of images or one image.
 */
async function imagesOf(input: string, metadata: ModelMetadata, flags: Pick<FolderFlags, 'stream' | 'cacheDir' | 'workers'>): Promise<ImagesToEmbed> {
  const info = await stat(input).catch(() => undefined);
  if (info === undefined || input.startsWith('folder:')) {
    const dataset = await loadAndReport(input, folderOptions(input, flags, input.startsWith('folder:') ? modelInputOptions(metadata) : {}));
    const indices = Int32Array.from({ length: dataset.size }, (_, i) => i);
    return {
      labels: dataset.labels,
      sources: Array.from(indices, (i) => dataset.paths?.[i] ?? `${dataset.name}#${i}`),
      classNames: dataset.classNames,
      embed: async (model) => {
        checkInputShape(model, dataset);
        return embedImages(model, dataset, indices);
      },
      close: () => dataset.close(),
    };
  }
  const files = info.isDirectory() ? await listImageFiles(input) : [input];
  if (files.length === 0) throw new TripletjsInputError(`${input} holds no image files (${IMAGE_EXTENSIONS.join(' ')}; for a folder of class sub-folders, write folder:${input})`);
  return { labels: new Int32Array(files.length).fill(-1), sources: files, classNames: [], embed: async (model) => embedFiles(model, metadata, files), close: async () => {} };
}

/**
 * The demo's model: an ensemble of an MLP and a CNN on faces shrunk to 28 × 23 and a deeper CNN on
 * 56 × 46. On ORL's unseen people it beats each of its kinds alone (RESULTS.md).
 */
const DEMO_MODEL = 'mlp:512@28x23+cnn:32,64@28x23+cnn:32,64,128@56x46';

export function buildProgram(): Command {
  const program = new Command('triplet')
    .description('Deep metric learning with the triplet loss: train, evaluate, embed and search.')
    .version(VERSION);

  addTrainingOptions(
    program.command('demo').description(
      'train on 25 of the ORL people s1–s30 (5 others validate) and compare raw pixels with the learned embedding on the 10 unseen people s31–s40',
    ),
    { model: DEMO_MODEL, pooling: 'flatten', epochs: 60, p: 10, evalEvery: 20 },
  )
    .option('--out <dir>', 'where to save the model (the demo replaces what its default folder holds)', 'triplet-demo')
    .action((flags: TrainFlags, command: Command) =>
      runTraining(flags, 'Face verification on people never seen in training (ORL faces)', command.getOptionValueSource('out') === 'default'),
    );

  addTrainingOptions(program.command('train').description('train an embedding on a dataset'))
    .requiredOption('--out <dir>', 'output directory: checkpoints, train-log.jsonl, model/ (must be new or empty, unless --resume or --overwrite)')
    .action((flags: TrainFlags) => runTraining(flags, `Training on ${flags.dataset}`, false));

  addReadingOptions(program
    .command('eval'))
    .description("evaluate a saved model on the test part of its own split (or another dataset's), next to raw pixels")
    .requiredOption('--model <dir>', 'model directory (…/model)')
    .option('--dataset <name>', 'dataset (default: the one it was trained on, loaded as it was)')
    .option('--fold <n>', "fold of the split (default: the model's); a fold whose test classes the model trained on is refused", integer('--fold'))
    .option('--split <kind>', 'folder datasets: unseen-classes or held-out', oneOf<FolderSplit>('--split', ['unseen-classes', 'held-out']))
    .option('--image-size <HxW>', "folder datasets: resize every image to this size (default: the model's input size)", size)
    .option('--channels <n>', "folder datasets: 1 or 3 (default: the model's)", channelCount)
    .option('--json', 'print JSON')
    .action(async (flags: FolderFlags & { model: string; dataset?: string; fold?: number; json?: boolean }) => {
      await checkModelDirectory(flags.model);
      if (flags.dataset !== undefined) checkDatasetName(flags.dataset);
      await start();
      const { model, metadata } = await loadModel(flags.model);
      const saved = savedSplitOf(metadata);
      const name = flags.dataset ?? saved?.name;
      if (name === undefined) throw new TripletjsInputError(`${flags.model} does not say which dataset it was trained on: give --dataset`);
      const own = name === saved?.name;
      const dataset = await loadAndReport(name, folderOptions(name, flags, own ? { ...modelInputOptions(metadata), ...saved.options } : modelInputOptions(metadata)));
      checkInputShape(model, dataset);
      const split = dataset.split(flags.fold ?? (own ? saved.fold : undefined));
      const warning = checkTestIsUnseen(metadata, dataset, split);
      if (warning) process.stderr.write(`warning: ${warning}\n`);
      const threshold = metadata.verification?.threshold;
      const learned = await evaluateModel(model, dataset, split.test, threshold !== undefined ? { threshold } : {});
      // The raw-pixel floor holds every test image as floats: not for a dataset streamed because it is large.
      const raw = dataset.streamed ? undefined : await evaluateRawPixelFloor(dataset, split);
      await dataset.close();
      output(
        flags.json === true,
        { dataset: dataset.name, split: split.description, rawPixels: raw ?? null, learned },
        `${split.description}\n\nTest:\n\n${metricsTable(raw ? [['raw pixels', raw], ['learned', learned]] : [['learned', learned]])}`,
      );
    });

  addReadingOptions(program
    .command('embed'))
    .description(
      'embed images: a dataset, a folder of class sub-folders (folder:<path>), a flat folder of images or one image file; ' +
        'writes FILE.npy (float32, numpy-readable) and FILE.json (labels, sources, the model\'s fingerprint)',
    )
    .requiredOption('--model <dir>', 'model directory')
    .requiredOption('--input <data>', 'dataset name, folder:<path> (one sub-folder per class), a folder of images, or an image file')
    .requiredOption('--out <file.npy>', 'embeddings file')
    .action(async (flags: Pick<FolderFlags, 'stream' | 'cacheDir' | 'workers'> & { model: string; input: string; out: string }) => {
      if (!/\.npy$/i.test(flags.out)) throw new TripletjsInputError(`--out must end in .npy, got ${flags.out}`);
      await checkModelDirectory(flags.model);
      await start();
      const { model, metadata, fingerprint } = await loadModel(flags.model);
      const images = await imagesOf(flags.input, metadata, flags);
      const dims = model.outputs[0]!.shape.at(-1)!;
      const embeddings = await images.embed(model).finally(() => images.close());
      await saveEmbeddingsFile(flags.out, { ...images, embeddings, dims, model: flags.model, fingerprint });
      process.stdout.write(`${images.labels.length} embeddings of ${dims} dimensions written to ${flags.out} (+ .json)\n`);
    });

  program
    .command('search')
    .description('list the gallery entries nearest to a query image')
    .requiredOption('--model <dir>', 'model directory')
    .requiredOption('--gallery <path>', 'a gallery (SQLite file, lance:<folder>, s3://…) or embeddings from triplet embed (FILE.npy), made by the same model')
    .requiredOption('--query <image>', 'an image file (JPEG, PNG, WebP, TIFF, AVIF, GIF or PGM)')
    .option('-k <n>', 'neighbours to list', integer('-k'), 5)
    .option('--json', 'print JSON')
    .action(async (flags: { model: string; gallery: string; query: string; k: number; json?: boolean }) => {
      await checkModelDirectory(flags.model);
      await start();
      const { model, metadata, fingerprint } = await loadModel(flags.model);
      const query = await embedFiles(model, metadata, [flags.query]);
      let hits: Array<{ label: string; distance: number; source: string }>;
      if (/\.npy$/i.test(flags.gallery)) {
        const file = await loadEmbeddingsFile(flags.gallery);
        checkEmbeddingsModel(file, fingerprint, flags.model);
        hits = searchEmbeddingsFile(file, query, flags.k);
      } else {
        const gallery = await openGallery(flags.gallery, { fingerprint, dims: metadata.embeddingDim, model: flags.model });
        try {
          hits = (await gallery.search(query, flags.k)).map((hit) => ({ label: hit.label, distance: hit.distance, source: String(hit.metadata?.source ?? hit.id) }));
        } finally {
          await gallery.close();
        }
      }
      output(flags.json === true, hits, [`nearest to ${basename(flags.query)}:`, ...hits.map((h, i) => `${i + 1}. ${h.label || '–'}  ${h.distance.toFixed(4)}  ${h.source}`)].join('\n'));
    });

  addServingCommands(program);

  program
    .command('backbone')
    .description('pretrained trunks that install with npm packages')
    .command('export')
    .description(`write a pretrained trunk as a TensorFlow.js model, for --backbone (${Object.keys(PRETRAINED_TRUNKS).join(', ')})`)
    .argument('<name>', `the trunk: ${Object.keys(PRETRAINED_TRUNKS).join(', ')}`)
    .requiredOption('--out <dir>', 'folder to write model.json and its weights to')
    .action(async (name: string, flags: { out: string }) => {
      const path = await exportPretrained(name, flags.out);
      const trunk = PRETRAINED_TRUNKS[name]!;
      process.stdout.write(
        `${path}: ${trunk.origin}.\nIt takes ${trunk.inputSize.join(' × ')} images in ${trunk.inputRange}; for example: triplet train --backbone ${path} --cut-at ${trunk.cutAt}${trunk.freezeUpTo === 'all' ? '' : ` --freeze-up-to ${trunk.freezeUpTo}`} --input-range ${trunk.inputRange} --head mlp:512\n`,
      );
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
    .option('--lr <rates>', 'the learning rates each cell is tried at on validation, comma-separated (default 1e-4,3e-4,1e-3,3e-3); one rate: no choice', (value: string) =>
      value.split(',').map((rate) => number('--lr')(rate.trim())),
    )
    .option('--warmup <epochs>', 'epochs of linear warm-up in every run (default 0)', integer('--warmup'))
    .option('--json', 'print the summaries as JSON')
    .action(async (flags: { dataset: string[]; cells?: StudyCell[]; seeds?: number; quick?: boolean; jobs: number; out: string; epochs?: number; steps?: number; lr?: number[]; warmup?: number; json?: boolean }) => {
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
          budget: { epochs: flags.epochs, stepsPerEpoch: flags.steps, learningRates: flags.lr, warmupEpochs: flags.warmup },
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
