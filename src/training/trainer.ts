import { appendFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { tf, type tfl } from '../tf.js';
import { require, requireNumber, TripletjsInputError } from '../common/errors.js';
import { SeededRandom } from '../common/random.js';
import type { Dataset } from '../data/dataset.js';
import { augmentBatch, checkAugmentOptions, toInputs, type AugmentOptions } from '../data/augment.js';
import { createModel, embeddingDimension, memberDimensions, type ModelConfig, type Preprocessing } from '../models/model-config.js';
import { saveModel, type ModelMetadata } from '../models/model-files.js';
import { PKSampler } from '../samplers/pk-sampler.js';
import { readLatestCheckpoint, writeCheckpoint, type TrainingState } from './checkpoints.js';
import { DEFAULT_MARGINS, makeLoss, makeMiner, type LossName, type MinerName } from './components.js';
import { evaluateModel, type EvaluationReport } from './evaluate-split.js';
import type { TrainingEvent } from './events.js';
import { learningRateAt, type ScheduleName } from './learning-rate.js';
import { FusedAdam } from './fused-adam.js';

/** Options of {@link train}. Every option but `dataset` has a default. */
export interface TrainOptions {
  readonly dataset: Dataset;
  /** Fold of the dataset's split (default: the dataset's default split). */
  readonly fold?: number;
  /** Default: a CNN with blocks of 32, 64, 128 filters and a 64-dimensional embedding. */
  readonly model?: ModelConfig;
  /** Resize images to this size inside the model (default: the dataset's size). */
  readonly resizeTo?: readonly [number, number];
  /** Default `triplet`. */
  readonly loss?: LossName;
  /** Default `batch-hard`. */
  readonly miner?: MinerName;
  /** Default: 0.2 for the triplet loss, 0 for the soft margin, 0.5 for the contrastive negative margin. */
  readonly margin?: number;
  /** Default 20. */
  readonly epochs?: number;
  /** Classes per batch (default 16) and examples per class (default 4). */
  readonly p?: number;
  readonly k?: number;
  /** Default `adam`; `sgd` is SGD with momentum 0.9. */
  readonly optimizer?: 'adam' | 'sgd';
  /** Default 1e-3 (Adam) or 1e-2 (SGD). */
  readonly learningRate?: number;
  /** Default `cosine`. */
  readonly schedule?: ScheduleName;
  /** Seeds the model, sampler, miners and augmentation: the same seed repeats the run (default 0). */
  readonly seed?: number;
  /** Evaluate on the held-out split every N epochs (default 5; the last epoch always). */
  readonly evalEvery?: number;
  /**
   * Seeded augmentation of the training images (default true): `true` is shifts of up to 10% of
   * the side and flips for flip-invariant data; options add zoom, rotation and lighting; `false` is none.
   */
  readonly augment?: boolean | AugmentOptions;
  /** Stop when MAP@R has not improved for this many evaluations (default: never). */
  readonly earlyStopPatience?: number;
  /** At most this many steps per epoch (default: the sampler's full epoch). */
  readonly stepsPerEpoch?: number;
  /** Where checkpoints (every epoch), the JSON-lines log and the final model go. */
  readonly outDir?: string;
  /** Continue from the last checkpoint in `outDir`, with the same data order. */
  readonly resume?: boolean;
  /** Receives progress as the run goes. */
  readonly onEvent?: (event: TrainingEvent) => void;
}

/** What {@link train} returns. */
export interface TrainResult {
  readonly model: tfl.LayersModel;
  readonly metadata: Omit<ModelMetadata, 'format' | 'formatVersion' | 'libraryVersion' | 'createdAt'>;
  /** The last held-out evaluation. */
  readonly evaluation: EvaluationReport;
  readonly epochsRun: number;
  readonly stoppedEarly: boolean;
  readonly seconds: number;
}

/**
 * Thrown when training produces a non-finite loss or embedding. The last good checkpoint (if
 * `outDir` was given) is untouched.
 */
export class TrainingDivergedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TrainingDivergedError';
  }
}

/**
 * Trains an embedding network on `dataset` with P × K batches, a loss and a miner from the core,
 * and evaluates it on the held-out split.
 */
export async function train(options: TrainOptions): Promise<TrainResult> {
  const started = performance.now();
  const settings = resolve(options);
  const { dataset, epochs, seed, outDir } = settings;
  const split = dataset.split(options.fold);
  const trainLabels = Int32Array.from(split.train, (i) => dataset.labels[i]!);
  const sampler = new PKSampler({ labels: trainLabels, p: settings.p, k: settings.k, seed });
  const stepsPerEpoch = Math.min(sampler.batchesPerEpoch, settings.stepsPerEpoch ?? Infinity);
  const members = memberDimensions(settings.model);
  const preprocessing: Preprocessing = {
    inputShape: [dataset.shape.height, dataset.shape.width, dataset.shape.channels],
    ...(options.resizeTo ? { resizeTo: options.resizeTo } : {}),
  };
  const loss = makeLoss(settings.loss, { margin: settings.margin });
  makeMiner(settings.miner, { margin: settings.margin, seed }); // fails early on a bad name
  const metadata = {
    config: settings.model,
    preprocessing,
    embeddingDim: embeddingDimension(settings.model),
    dataset: { name: dataset.name, classNames: dataset.classNames, split: split.description },
    training: trainingRecord(settings, options.fold),
  };
  const checkpoints = outDir ? join(outDir, 'checkpoints') : undefined;
  const optimizer = settings.optimizer === 'adam' ? new FusedAdam(settings.learningRate) : tf.train.momentum(settings.learningRate, 0.9);
  try {

    let model: tfl.LayersModel | undefined;
    let state: TrainingState = { epoch: 0, best: null, epochsWithoutImprovement: 0 };
    let resumedFrom: string | undefined;
    if (options.resume) {
      require(checkpoints !== undefined, 'resume needs the output directory of the run to continue (outDir)');
      const checkpoint = await readLatestCheckpoint(checkpoints);
      if (checkpoint) {
        require(
          JSON.stringify(checkpoint.metadata.config) === JSON.stringify(settings.model) && checkpoint.metadata.dataset?.name === dataset.name,
          `the checkpoint in ${checkpoint.path} was trained with another model or dataset: resume with the same arguments, or use a new --out`,
        );
        model = checkpoint.model;
        await optimizer.setWeights(checkpoint.optimizerWeights);
        tf.dispose(checkpoint.optimizerWeights.map(({ tensor }) => tensor));
        state = checkpoint.state;
        resumedFrom = checkpoint.path;
      }
    }
    model ??= createModel(settings.model, preprocessing, seed);
    const log = outDir ? join(outDir, 'train-log.jsonl') : undefined;
    if (outDir) await mkdir(outDir, { recursive: true });
    const emit = async (event: TrainingEvent): Promise<void> => {
      options.onEvent?.(event);
      if (log) await appendFile(log, JSON.stringify({ time: new Date().toISOString(), ...event }) + '\n');
    };
    await emit({ type: 'start', startEpoch: state.epoch, epochs, stepsPerEpoch, batchSize: sampler.batchSize, ...(resumedFrom ? { resumedFrom } : {}) });

    let evaluation: EvaluationReport | undefined;
    let stoppedEarly = false;
    const { height, width, channels } = dataset.shape;
    for (let epoch = state.epoch; epoch < epochs; epoch++) {
      const epochStarted = performance.now();
      const learningRate = learningRateAt(settings.schedule, settings.learningRate, epoch, epochs);
      setLearningRate(optimizer, learningRate);
      // Fresh per-epoch random sources: a resumed run draws exactly what the full run drew.
      const miner = makeMiner(settings.miner, { margin: settings.margin, seed: epochSeed(seed, epoch, 1) });
      const random = new SeededRandom(epochSeed(seed, epoch, 2));
      let lossSum = 0;
      let activeSum = 0;
      const batches = sampler.epoch(epoch).slice(0, stepsPerEpoch);
      for (let step = 0; step < batches.length; step++) {
        const stepStarted = performance.now();
        const indices = Int32Array.from(batches[step]!, (b) => split.train[b]!);
        const labels = Int32Array.from(indices, (i) => dataset.labels[i]!);
        const pixels = settings.augment === false ? toInputs(dataset, indices) : augmentBatch(dataset, indices, random, settings.augment);
        let tuples = 0;
        let active = 0;
        let valid = 0;
        let value: number;
        try {
          value = tf.tidy(() => {
            const inputs = tf.tensor4d(pixels, [indices.length, height, width, channels]);
            const cost = optimizer.minimize(() => {
              const embeddings = model!.apply(inputs, { training: true }) as tf.Tensor2D;
              // An ensemble's members each learn from their own loss; the step minimises their mean.
              const outputs = members.length === 1 ? [embeddings] : memberEmbeddings(embeddings, members);
              const values = outputs.map((part) => {
                const output = loss.computeDetailed(part, labels, miner);
                tuples += output.tupleCount;
                active += output.activeCount;
                valid += output.validCount;
                return output.loss;
              });
              return values.length === 1 ? values[0]! : tf.div(tf.addN(values), values.length);
            }, true);
            return cost!.dataSync()[0]!;
          });
        } catch (error) {
          if (error instanceof TripletjsInputError && /NaN|Infinity/.test(error.message)) value = NaN;
          else throw error;
        }
        if (!Number.isFinite(value)) {
          throw new TrainingDivergedError(
            `training diverged at epoch ${epoch + 1}, step ${step + 1}: the loss or the embeddings became NaN or infinite. ` +
              (checkpoints && state.epoch > 0 ? `The last good checkpoint (epoch ${state.epoch}) is in ${checkpoints}. ` : '') +
              'Try a lower learning rate.',
          );
        }
        const activeFraction = valid > 0 ? active / valid : 0;
        lossSum += value;
        activeSum += activeFraction;
        await emit({
          type: 'step',
          epoch,
          step,
          stepsPerEpoch: batches.length,
          loss: value,
          activeFraction,
          tuples,
          samplesPerSecond: indices.length / ((performance.now() - stepStarted) / 1000),
          learningRate,
        });
      }
      const last = epoch === epochs - 1;
      const evaluate = last || (settings.evalEvery > 0 && (epoch + 1) % settings.evalEvery === 0);
      let improved = false;
      if (evaluate) {
        evaluation = evaluateModel(model, dataset, split, { seed });
        improved = state.best === null || evaluation.mapAtR > state.best.score;
        state = {
          epoch: epoch + 1,
          best: improved ? { score: evaluation.mapAtR, epoch: epoch + 1 } : state.best,
          epochsWithoutImprovement: improved ? 0 : state.epochsWithoutImprovement + 1,
        };
      } else {
        state = { ...state, epoch: epoch + 1 };
      }
      const checkpoint = checkpoints ? await writeCheckpoint(checkpoints, model, optimizer, metadata, state) : undefined;
      await emit({
        type: 'epoch',
        epoch,
        meanLoss: lossSum / Math.max(1, batches.length),
        meanActiveFraction: activeSum / Math.max(1, batches.length),
        seconds: (performance.now() - epochStarted) / 1000,
        ...(evaluate && evaluation ? { evaluation } : {}),
        ...(checkpoint ? { checkpoint } : {}),
      });
      if (settings.earlyStopPatience !== undefined && evaluate && state.epochsWithoutImprovement >= settings.earlyStopPatience && !last) {
        stoppedEarly = true;
        break;
      }
    }
    evaluation ??= evaluateModel(model, dataset, split, { seed });
    const finalMetadata = { ...metadata, metrics: { ...evaluation } };
    if (outDir) await saveModel(model, join(outDir, 'model'), finalMetadata);
    return { model, metadata: finalMetadata, evaluation, epochsRun: state.epoch, stoppedEarly, seconds: (performance.now() - started) / 1000 };
  } finally {
    // Its slots (Adam: two tensors per weight) belong to this run; the model is the caller's.
    optimizer.dispose();
  }
}

/**
 * The members' own unit embeddings inside an ensemble's output, which holds them side by side,
 * each divided by √(members).
 */
function memberEmbeddings(embeddings: tf.Tensor2D, dimensions: number[]): tf.Tensor2D[] {
  return tf.split(embeddings, dimensions, 1).map((part) => tf.mul(part, Math.sqrt(dimensions.length)));
}

type Settings = Required<Omit<TrainOptions, 'fold' | 'resizeTo' | 'augment' | 'earlyStopPatience' | 'stepsPerEpoch' | 'outDir' | 'resume' | 'onEvent'>> & {
  /** Off, or every option filled in. */
  readonly augment: false | Required<AugmentOptions>;
} &
  Pick<TrainOptions, 'earlyStopPatience' | 'stepsPerEpoch' | 'outDir'>;

function resolve(options: TrainOptions): Settings {
  require(options?.dataset !== undefined, 'train needs a dataset');
  const loss = options.loss ?? 'triplet';
  const optimizer = options.optimizer ?? 'adam';
  require(optimizer === 'adam' || optimizer === 'sgd', `unknown optimizer '${optimizer}' (choose adam or sgd)`);
  const settings: Settings = {
    dataset: options.dataset,
    model: options.model ?? { kind: 'cnn' },
    loss,
    miner: options.miner ?? 'batch-hard',
    margin: options.margin ?? DEFAULT_MARGINS[loss] ?? 0.2,
    epochs: requireNumber('epochs', options.epochs ?? 20, { integer: true, min: 1 }),
    p: options.p ?? 16,
    k: options.k ?? 4,
    optimizer,
    learningRate: requireNumber('learning rate', options.learningRate ?? (optimizer === 'adam' ? 1e-3 : 1e-2), { min: 0, exclusiveMin: true }),
    schedule: options.schedule ?? 'cosine',
    seed: requireNumber('seed', options.seed ?? 0, { integer: true }),
    evalEvery: requireNumber('evalEvery', options.evalEvery ?? 5, { integer: true, min: 0 }),
    augment: options.augment === false ? false : checkAugmentOptions(typeof options.augment === 'object' ? options.augment : {}),
    earlyStopPatience: options.earlyStopPatience,
    stepsPerEpoch: options.stepsPerEpoch,
    outDir: options.outDir,
  };
  if (settings.earlyStopPatience !== undefined) requireNumber('earlyStopPatience', settings.earlyStopPatience, { integer: true, min: 1 });
  if (settings.stepsPerEpoch !== undefined) requireNumber('stepsPerEpoch', settings.stepsPerEpoch, { integer: true, min: 1 });
  return settings;
}

/** The arguments as recorded in the model's metadata. */
function trainingRecord(settings: Settings, fold: number | undefined): Record<string, unknown> {
  const { dataset: _dataset, outDir: _outDir, ...rest } = settings;
  return { ...rest, fold: fold ?? null };
}

/** A seed for one epoch and purpose, so that resumed and uninterrupted runs draw the same. */
function epochSeed(seed: number, epoch: number, purpose: number): number {
  return (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) + Math.imul(epoch + 1, 0xc2b2ae35) + purpose * 0x27d4eb2f) | 0;
}

function setLearningRate(optimizer: tf.Optimizer, learningRate: number): void {
  // SGD and momentum cache the rate in a tensor and expose a setter; Adam reads the field each step.
  const settable = optimizer as unknown as { setLearningRate?: (rate: number) => void; learningRate: number };
  if (typeof settable.setLearningRate === 'function') settable.setLearningRate(learningRate);
  else settable.learningRate = learningRate;
}

