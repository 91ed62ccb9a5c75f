import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tf, tfl } from '../tf.js';
import { require, requireNumber, TripletjsInputError } from '../common/errors.js';
import { SeededRandom } from '../common/random.js';
import type { Dataset, DatasetSplit, EvaluationProtocol } from '../data/dataset.js';
import { checkAugmentOptions, type AugmentOptions } from '../data/augment.js';
import { DEFAULT_FITTING } from '../data/image-format.js';
import { trainingStages, trunkWeightNames } from '../models/backbone.js';
import { StepInputs } from './step-inputs.js';
import { loadBackbone } from '../models/backbone-file.js';
import { createModel, customEmbeddingNetwork, memberDimensions, type ModelConfig, type Preprocessing } from '../models/model-config.js';
import type { PretrainedGraph } from '../models/graph-trunk-layer.js';
import { saveModel, type ModelMetadata } from '../models/model-files.js';
import type { VerificationRecord } from '../models/model-format.js';
import { PKSampler } from '../samplers/pk-sampler.js';
import { readBestCheckpoint, readLatestCheckpoint, writeBestCheckpoint, writeCheckpoint, type TrainingState } from './checkpoints.js';
import { DEFAULT_MARGINS, DEFAULT_MINERS, makeLoss, makeMiner, riskyCombination, type LossName, type MinerName } from './components.js';
import { evaluateModel, type EvaluationReport } from './evaluate-split.js';
import type { TrainingEvent } from './events.js';
import { learningRateAt, type ScheduleName } from './learning-rate.js';
import { FusedAdam } from './fused-adam.js';
import { prepareRunFolder, settingDifferences } from './run-folder.js';

/** Options of {@link train}. Every option but `dataset` has a default. */
export interface TrainOptions {
  readonly dataset: Dataset;
  /** Fold of the dataset's split (default: the dataset's default split). */
  readonly fold?: number;
  /**
   * The network: a config (default: a CNN with blocks of 32, 64, 128 filters and a 64-dimensional
   * embedding), or any TensorFlow.js layers model built in code, from images of the dataset's size
   * (pixels / 255) to one vector per image, trained in place (see `customEmbeddingNetwork`; a
   * resumed run continues from the checkpoint's copy of it).
   */
  readonly model?: ModelConfig | tfl.LayersModel;
  /**
   * The trunk of a `backbone` model, already loaded or built in code (a layers model, or a graph
   * model as a frozen trunk), instead of reading `model.path`.
   */
  readonly trunk?: tfl.LayersModel | PretrainedGraph;
  /** Resize images to this size inside the model (default: the dataset's size). */
  readonly resizeTo?: readonly [number, number];
  /** Default `triplet`. */
  readonly loss?: LossName;
  /** Default: `batch-all` for the triplet and contrastive losses, `all` for the soft margin (see `DEFAULT_MINERS`). */
  readonly miner?: MinerName;
  /** Default: 0.2 for the triplet loss, 0 for the soft margin, 0.5 for the contrastive negative margin. */
  readonly margin?: number;
  /** Default 20. */
  readonly epochs?: number;
  /** Classes per batch (default: 16, or every training class when there are fewer) and examples per class (default 4). */
  readonly p?: number;
  readonly k?: number;
  /** Default `adam`; `sgd` is SGD with momentum 0.9. */
  readonly optimizer?: 'adam' | 'sgd';
  /** Default 1e-3 (Adam) or 1e-2 (SGD). */
  readonly learningRate?: number;
  /**
   * For a model on a pretrained trunk: the learning rate of the trunk's trained layers, following
   * the same schedule (default: `learningRate`, as the head's). Adam only.
   */
  readonly trunkLearningRate?: number;
  /** Default `cosine`. */
  readonly schedule?: ScheduleName;
  /** Epochs of linear warm-up to the learning rate before the schedule starts (default 0). */
  readonly warmupEpochs?: number;
  /** Seeds the model, sampler, miners and augmentation: the same seed repeats the run (default 0). */
  readonly seed?: number;
  /** Evaluate on the validation split every N epochs (default 5; the last epoch always). */
  readonly evalEvery?: number;
  /**
   * Seeded augmentation of the training images (default true): `true` is shifts of up to 10% of
   * the side and flips for flip-invariant data; options add zoom, rotation and lighting; `false` is none.
   */
  readonly augment?: boolean | AugmentOptions;
  /** Stop when validation MAP@R has not improved for this many evaluations (default: never). */
  readonly earlyStopPatience?: number;
  /**
   * End with the weights of the evaluated epoch of best validation MAP@R rather than the last
   * epoch's (default true). Without a validation split the last epoch is kept.
   */
  readonly keepBest?: boolean;
  /** Evaluate the test split once, at the end (default true; off for runs that only choose on validation). */
  readonly evaluateTest?: boolean;
  /**
   * For a model on a frozen trunk part: compute the frozen stage's outputs once for every
   * training image and train the rest on them (default true; without augmentation only, as an
   * augmented image differs every epoch).
   */
  readonly cacheFrozenFeatures?: boolean;
  /** At most this many steps per epoch (default: the sampler's full epoch). */
  readonly stepsPerEpoch?: number;
  /** Where checkpoints (every epoch), the JSON-lines log and the final model go. */
  readonly outDir?: string;
  /**
   * Continue from the last checkpoint in `outDir`, with the same data order. Every setting must
   * be the checkpoint's: a difference is an error that lists them.
   */
  readonly resume?: boolean;
  /** Delete what `outDir` holds and start over (default false: a non-empty `outDir` is an error unless resuming). */
  readonly overwrite?: boolean;
  /** Receives progress as the run goes. */
  readonly onEvent?: (event: TrainingEvent) => void;
}

/** What {@link train} returns. */
export interface TrainResult {
  readonly model: tfl.LayersModel;
  readonly metadata: Omit<ModelMetadata, 'format' | 'formatVersion' | 'libraryVersion' | 'createdAt'>;
  /** Validation metrics of the weights returned (absent without a validation split). */
  readonly validation?: EvaluationReport;
  /**
   * Test metrics, measured once at the end, with accuracy, FAR and FRR at the threshold chosen on
   * validation (absent with `evaluateTest: false`).
   */
  readonly test?: EvaluationReport;
  /** The "same or not" threshold chosen on validation pairs (absent without validation). */
  readonly verification?: VerificationRecord;
  /** The epoch whose weights are returned (1-based). */
  readonly keptEpoch: number;
  readonly epochsRun: number;
  readonly stoppedEarly: boolean;
  readonly seconds: number;
  /**
   * Seconds the training steps waited for their batch (read and prepared ahead, while the step
   * before computed), over every step of this run, and as a fraction of the steps' time.
   */
  readonly dataWait: { readonly seconds: number; readonly fraction: number };
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
 * Trains an embedding network on the training part of `dataset`'s split with P × K batches, a loss
 * and a miner from the core. Every choice is made on the validation part: early stopping, the
 * epoch whose weights are kept, and the verification threshold stored with the model. The test
 * part is evaluated once, at the end.
 */
export async function train(options: TrainOptions): Promise<TrainResult> {
  const started = performance.now();
  const { dataset, fold } = options;
  require(dataset !== undefined, 'train needs a dataset');
  const split = dataset.split(fold);
  const trainLabels = Int32Array.from(split.train, (i) => dataset.labels[i]!);
  const preprocessing: Preprocessing = {
    inputShape: [dataset.shape.height, dataset.shape.width, dataset.shape.channels],
    ...(options.resizeTo ? { resizeTo: options.resizeTo } : {}),
    fitting: dataset.fitting ?? DEFAULT_FITTING,
  };
  const custom = options.model instanceof tfl.LayersModel ? customEmbeddingNetwork(options.model, preprocessing) : undefined;
  require(custom === undefined || options.resizeTo === undefined, 'resizeTo is for networks built from a config: a network built in code resizes its input itself, if it needs to');
  const settings = resolve({ ...options, model: custom?.config ?? (options.model as ModelConfig | undefined) }, new Set(trainLabels).size);
  const { epochs, seed, outDir } = settings;
  require(settings.earlyStopPatience === undefined || split.validation !== undefined, `${dataset.name} has no validation split here (${split.description}): early stopping needs one`);
  const sampler = new PKSampler({ labels: trainLabels, p: settings.p, k: settings.k, seed });
  const stepsPerEpoch = Math.min(sampler.batchesPerEpoch, settings.stepsPerEpoch ?? Infinity);
  const loss = makeLoss(settings.loss, { margin: settings.margin });
  makeMiner(settings.miner, { margin: settings.margin, seed }); // fails early on a bad name
  const training = trainingRecord(settings, fold);
  const checkpoints = outDir ? join(outDir, 'checkpoints') : undefined;
  const log = outDir ? join(outDir, 'train-log.jsonl') : undefined;
  if (outDir) await prepareRunFolder(outDir, { resume: settings.resume, overwrite: settings.overwrite });
  const emit = async (event: TrainingEvent): Promise<void> => {
    options.onEvent?.(event);
    if (log) await appendFile(log, JSON.stringify({ time: new Date().toISOString(), ...event }) + '\n');
  };
  const optimizer = settings.optimizer === 'adam' ? new FusedAdam(settings.learningRate) : tf.train.momentum(settings.learningRate, 0.9);
  let model: tfl.LayersModel | undefined;
  let bestWeights: tf.Tensor[] | undefined;
  let stepInputs: StepInputs | undefined;
  const dataWait = { seconds: 0, stepSeconds: 0 };
  try {
    let state: TrainingState = { epoch: 0, best: null, epochsWithoutImprovement: 0 };
    let bestValidation: EvaluationReport | undefined;
    let resumedFrom: string | undefined;
    if (settings.resume) {
      require(checkpoints !== undefined, 'resume needs the output directory of the run to continue (outDir)');
      const checkpoint = await readLatestCheckpoint(checkpoints);
      if (checkpoint) {
        model = checkpoint.model;
        const differences = settingDifferences(
          { ...checkpoint.metadata.training, dataset: checkpoint.metadata.dataset?.name, preprocessing: checkpoint.metadata.preprocessing },
          { ...training, dataset: dataset.name, preprocessing },
        );
        tf.dispose(differences.length > 0 ? checkpoint.optimizerWeights.map(({ tensor }) => tensor) : []);
        require(
          differences.length === 0,
          `the checkpoint in ${checkpoint.path} was made with other settings: ${differences.join('; ')}. Resume with the same arguments, or start a new run with another --out`,
        );
        await optimizer.setWeights(checkpoint.optimizerWeights);
        tf.dispose(checkpoint.optimizerWeights.map(({ tensor }) => tensor));
        state = checkpoint.state;
        resumedFrom = checkpoint.path;
        const best = settings.keepBest && state.best ? await readBestCheckpoint(checkpoints, state.best.epoch) : undefined;
        if (best) [bestWeights, bestValidation] = [best.weights, best.best.validation];
      }
    }
    model ??= custom?.model ?? createModel(settings.model, preprocessing, seed, settings.model.kind === 'backbone' ? (options.trunk ?? (await loadBackbone(settings.model.path!))) : undefined);
    const stages = trainingStages(model);
    const embeddingDim = model.outputs[0]!.shape.at(-1) as number;
    const members = settings.model.kind === 'ensemble' ? memberDimensions(settings.model) : [embeddingDim];
    const metadata = { config: settings.model, preprocessing, embeddingDim, dataset: datasetRecord(dataset, split, fold), training };
    // A frozen trunk with no head (a pretrained descriptor used as it is) has nothing to train: the
    // run chooses its threshold on validation, tests it once and saves it.
    const nothingToTrain = stages.trained.trainableWeights.length === 0;
    if (nothingToTrain) await emit({ type: 'warning', message: 'the model has nothing to train (a frozen trunk with no head): it is evaluated on validation and test, and saved, as it is' });
    require(options.trunkLearningRate === undefined || trunkWeightNames(stages.trained).length > 0, 'a trunk learning rate (--trunk-lr) needs trunk layers that train: this trunk is wholly frozen (a graph model always is; give a layers model and --freeze-up-to)');
    if (settings.trunkLearningRate !== settings.learningRate && optimizer instanceof FusedAdam) {
      const scale = settings.trunkLearningRate / settings.learningRate;
      optimizer.setLearningRateScales(new Map(trunkWeightNames(stages.trained).map((name) => [name, scale])));
    }
    if (!nothingToTrain) stepInputs = await StepInputs.create(dataset, settings.augment, stages.frozen, settings.cacheFrozenFeatures, split.train);
    for (const message of warningsOf(settings, split, dataset)) await emit({ type: 'warning', message });
    await emit({ type: 'start', startEpoch: state.epoch, epochs, stepsPerEpoch, batchSize: sampler.batchSize, p: settings.p, k: settings.k, ...(resumedFrom ? { resumedFrom } : {}) });

    let stoppedEarly = false;
    let lastValidation: EvaluationReport | undefined;
    for (let epoch = state.epoch; stepInputs !== undefined && epoch < epochs; epoch++) {
      const epochStarted = performance.now();
      const { meanLoss, meanActiveFraction, dataWaitSeconds } = await trainEpoch(
        { trained: stages.trained, stepInputs, optimizer, loss, members, settings, dataset, split, emit, checkpoints, dataWait },
        sampler.epoch(epoch).slice(0, stepsPerEpoch),
        epoch,
        state,
      );
      const last = epoch === epochs - 1;
      const evaluate = split.validation !== undefined && (last || (settings.evalEvery > 0 && (epoch + 1) % settings.evalEvery === 0));
      let validation: EvaluationReport | undefined;
      if (evaluate) {
        validation = await evaluateModel(model, dataset, split.validation!, { seed });
        lastValidation = validation;
        const improved = state.best === null || validation.mapAtR > state.best.score;
        state = {
          epoch: epoch + 1,
          best: improved ? { score: validation.mapAtR, epoch: epoch + 1 } : state.best,
          epochsWithoutImprovement: improved ? 0 : state.epochsWithoutImprovement + 1,
        };
        if (improved && settings.keepBest) {
          tf.dispose(bestWeights ?? []);
          bestWeights = undefined;
          bestValidation = validation;
          // The last epoch's weights are the model's own: only an earlier best needs a copy.
          if (!last) {
            bestWeights = model.getWeights().map((weight) => weight.clone());
            if (checkpoints) await writeBestCheckpoint(checkpoints, model, metadata, { epoch: epoch + 1, validation });
          }
        }
      } else {
        state = { ...state, epoch: epoch + 1 };
      }
      const checkpoint = checkpoints ? await writeCheckpoint(checkpoints, model, optimizer, metadata, state) : undefined;
      await emit({
        type: 'epoch',
        epoch,
        meanLoss,
        meanActiveFraction,
        seconds: (performance.now() - epochStarted) / 1000,
        dataWaitSeconds,
        ...(validation ? { validation } : {}),
        ...(checkpoint ? { checkpoint } : {}),
      });
      if (settings.earlyStopPatience !== undefined && evaluate && state.epochsWithoutImprovement >= settings.earlyStopPatience && !last) {
        stoppedEarly = true;
        break;
      }
    }

    // The weights kept: the best validation epoch's, else the last epoch's.
    let keptEpoch = state.epoch;
    let validation = lastValidation;
    if (settings.keepBest && state.best && (bestWeights || state.best.epoch === state.epoch)) {
      if (bestWeights) model.setWeights(bestWeights);
      keptEpoch = state.best.epoch;
      validation = bestValidation;
    }
    if (validation === undefined && split.validation !== undefined) validation = await evaluateModel(model, dataset, split.validation, { seed });
    const verification: VerificationRecord | undefined =
      validation?.balancedThreshold !== undefined
        ? { threshold: validation.balancedThreshold, chosenOn: 'validation', criterion: 'balanced-accuracy', validationBalancedAccuracy: validation.balancedAccuracy! }
        : undefined;
    const test = settings.evaluateTest
      ? await evaluateModel(model, dataset, split.test, { seed, curves: true, ...(verification ? { threshold: verification.threshold } : {}) })
      : undefined;
    const finalMetadata = {
      ...metadata,
      ...(verification ? { verification } : {}),
      metrics: { keptEpoch, ...(validation ? { validation } : {}), ...(test ? { test } : {}) },
    };
    if (outDir) await saveModel(model, join(outDir, 'model'), finalMetadata);
    const result: TrainResult = {
      model,
      metadata: finalMetadata,
      ...(validation ? { validation } : {}),
      ...(test ? { test } : {}),
      ...(verification ? { verification } : {}),
      keptEpoch,
      epochsRun: state.epoch,
      stoppedEarly,
      seconds: (performance.now() - started) / 1000,
      dataWait: { seconds: dataWait.seconds, fraction: dataWait.stepSeconds > 0 ? dataWait.seconds / dataWait.stepSeconds : 0 },
    };
    model = undefined; // the caller's now
    return result;
  } finally {
    // The optimiser's slots (Adam: two tensors per weight) and the best weights belong to this
    // run; the model too unless it is returned.
    optimizer.dispose();
    // tfjs 4.22's MomentumOptimizer.dispose forgets the learning-rate scalar of its SGD base (and
    // its optimisers answer `instanceof` for one another, hence the class name).
    if (optimizer.getClassName() === 'Momentum') (optimizer as unknown as { c: tf.Tensor }).c.dispose();
    tf.dispose(bestWeights ?? []);
    model?.dispose();
    await stepInputs?.close();
  }
}

/** What every step of a run uses. */
interface RunContext {
  /** The part of the model the steps train (the whole model, or the stage above a frozen trunk part). */
  readonly trained: tfl.LayersModel;
  readonly stepInputs: StepInputs;
  readonly optimizer: tf.Optimizer;
  readonly loss: ReturnType<typeof makeLoss>;
  /** Embedding dimension of each independently trained member (one entry for a single network). */
  readonly members: number[];
  readonly settings: Settings;
  readonly dataset: Dataset;
  readonly split: DatasetSplit;
  readonly emit: (event: TrainingEvent) => Promise<void>;
  readonly checkpoints: string | undefined;
  /** Seconds the steps waited for data, and the steps' seconds, summed over the run. */
  readonly dataWait: { seconds: number; stepSeconds: number };
}

/** One epoch of steps over `batches` (positions in the training part); returns its mean loss and mean fraction of active tuples. */
async function trainEpoch(
  { trained, stepInputs, optimizer, loss, members, settings, split, dataset, emit, checkpoints, dataWait }: RunContext,
  batches: ArrayLike<number>[],
  epoch: number,
  state: TrainingState,
): Promise<{ meanLoss: number; meanActiveFraction: number; dataWaitSeconds: number }> {
  const learningRate = learningRateAt(settings.schedule, settings.learningRate, epoch, settings.epochs, settings.warmupEpochs);
  setLearningRate(optimizer, learningRate);
  // Fresh per-epoch random sources: a resumed run draws exactly what the full run drew.
  const miner = makeMiner(settings.miner, { margin: settings.margin, seed: epochSeed(settings.seed, epoch, 1) });
  const random = new SeededRandom(epochSeed(settings.seed, epoch, 2));
  let lossSum = 0;
  let activeSum = 0;
  let epochWait = 0;
  // Each batch is read (decoded, for a streamed dataset) while the step before it computes; after
  // a failed step, a read still running ends on its own (its failure is not reported twice).
  const source = stepInputs.batches(
    Array.from(batches, (batch) => Int32Array.from(batch, (b: number) => split.train[b]!)),
    random,
  );
  for (let step = 0; step < batches.length; step++) {
    const stepStarted = performance.now();
    const batch = await source.next();
    const waited = (performance.now() - stepStarted) / 1000;
    epochWait += waited;
    const indices = batch.indices;
    const labels = Int32Array.from(indices, (i) => dataset.labels[i]!);
    let tuples = 0;
    let active = 0;
    let valid = 0;
    // An error inside the gradient function is caught there and the backward pass still runs on
    // a zero loss: tfjs keeps tensors for the backward pass that only it releases.
    let failure: unknown;
    let value = tf.tidy(() => {
      const inputs = stepInputs.tensor(batch);
      const { value: cost, grads } = optimizer.computeGradients(() => {
        const embeddings = trained.apply(inputs, { training: true }) as tf.Tensor2D;
        try {
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
        } catch (error) {
          failure = error;
          return tf.mul(tf.sum(embeddings), 0) as tf.Scalar;
        }
      });
      if (failure === undefined) optimizer.applyGradients(grads);
      return cost.dataSync()[0]!;
    });
    if (failure !== undefined) {
      if (failure instanceof TripletjsInputError && /NaN|Infinity/.test(failure.message)) value = NaN;
      else throw failure;
    }
    if (!Number.isFinite(value)) {
      throw new TrainingDivergedError(
        `training diverged at epoch ${epoch + 1}, step ${step + 1}: the loss or the embeddings became NaN or infinite. ` +
          (checkpoints && state.epoch > 0 ? `The last good checkpoint (epoch ${state.epoch}) is in ${checkpoints}. ` : '') +
          'Try a lower learning rate.',
      );
    }
    const activeFraction = valid > 0 ? active / valid : 0;
    const stepSeconds = (performance.now() - stepStarted) / 1000;
    dataWait.seconds += waited;
    dataWait.stepSeconds += stepSeconds;
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
      samplesPerSecond: indices.length / stepSeconds,
      learningRate,
      dataWaitSeconds: waited,
    });
  }
  return { meanLoss: lossSum / Math.max(1, batches.length), meanActiveFraction: activeSum / Math.max(1, batches.length), dataWaitSeconds: epochWait };
}

/**
 * The members' own unit embeddings inside an ensemble's output, which holds them side by side,
 * each divided by √(members).
 */
function memberEmbeddings(embeddings: tf.Tensor2D, dimensions: number[]): tf.Tensor2D[] {
  return tf.split(embeddings, dimensions, 1).map((part) => tf.mul(part, Math.sqrt(dimensions.length)));
}

/** Fewer classes than this in a validation or test part make its figures anecdotal. */
const FEW_CLASSES = 5;

/** What the user should know before the first step: risky settings and evaluation sets too small to mean much. */
function warningsOf(settings: Settings, split: DatasetSplit, dataset: Dataset): string[] {
  const warnings: string[] = [];
  const risk = riskyCombination(settings.loss, settings.miner);
  if (risk) warnings.push(risk);
  const classesIn = (part: EvaluationProtocol): number => new Set(Array.from(part.queries, (i) => dataset.labels[i]!)).size;
  if (split.validation === undefined) {
    warnings.push(`no validation split (${split.description}): the last epoch is kept and no verification threshold is chosen`);
  } else if (classesIn(split.validation) < FEW_CLASSES) {
    warnings.push(`the validation split has only ${classesIn(split.validation)} classes: the epoch and threshold chosen on it are noisy`);
  }
  if (classesIn(split.test) < FEW_CLASSES) {
    warnings.push(`the test split has only ${classesIn(split.test)} classes: its retrieval and verification figures say little`);
  }
  return warnings;
}

/** The dataset and its split as the model's metadata records them. */
function datasetRecord(dataset: Dataset, split: DatasetSplit, fold: number | undefined): NonNullable<ModelMetadata['dataset']> {
  const classesOf = (indices: Int32Array | undefined): string[] =>
    indices === undefined ? [] : [...new Set(Array.from(indices, (i) => dataset.labels[i]!))].sort((a, b) => a - b).map((c) => dataset.classNames[c]!);
  return {
    name: dataset.name,
    classNames: dataset.classNames,
    split: split.description,
    protocol: split.protocol,
    fold: fold ?? null,
    ...(dataset.options ? { options: dataset.options } : {}),
    trainClasses: classesOf(split.train),
    validationClasses: classesOf(split.validation?.queries),
    testClasses: classesOf(split.test.queries),
  };
}

type Settings = Required<Omit<TrainOptions, 'dataset' | 'fold' | 'model' | 'trunk' | 'resizeTo' | 'augment' | 'earlyStopPatience' | 'stepsPerEpoch' | 'outDir' | 'onEvent'>> & {
  readonly model: ModelConfig;
  /** Off, or every option filled in. */
  readonly augment: false | Required<AugmentOptions>;
} & Pick<TrainOptions, 'earlyStopPatience' | 'stepsPerEpoch' | 'outDir'>;

function resolve(options: TrainOptions & { readonly model?: ModelConfig }, trainClasses: number): Settings {
  const loss = options.loss ?? 'triplet';
  const optimizer = options.optimizer ?? 'adam';
  require(optimizer === 'adam' || optimizer === 'sgd', `unknown optimizer '${optimizer}' (choose adam or sgd)`);
  const p = options.p ?? Math.min(DEFAULT_P, trainClasses);
  require(
    typeof p !== 'number' || p <= trainClasses,
    `P = ${p} classes per batch, but the training split has ${trainClasses} classes: choose P ≤ ${trainClasses} (--p)`,
  );
  const settings: Settings = {
    model: options.model ?? { kind: 'cnn' },
    loss,
    miner: options.miner ?? DEFAULT_MINERS[loss] ?? 'batch-all',
    margin: options.margin ?? DEFAULT_MARGINS[loss] ?? 0.2,
    epochs: requireNumber('epochs', options.epochs ?? 20, { integer: true, min: 1 }),
    p,
    k: options.k ?? 4,
    optimizer,
    learningRate: requireNumber('learning rate', options.learningRate ?? (optimizer === 'adam' ? 1e-3 : 1e-2), { min: 0, exclusiveMin: true }),
    trunkLearningRate: requireNumber('trunk learning rate', options.trunkLearningRate ?? options.learningRate ?? (optimizer === 'adam' ? 1e-3 : 1e-2), { min: 0, exclusiveMin: true }),
    schedule: options.schedule ?? 'cosine',
    warmupEpochs: requireNumber('warmupEpochs', options.warmupEpochs ?? 0, { integer: true, min: 0 }),
    seed: requireNumber('seed', options.seed ?? 0, { integer: true }),
    evalEvery: requireNumber('evalEvery', options.evalEvery ?? 5, { integer: true, min: 0 }),
    augment: options.augment === false ? false : checkAugmentOptions(typeof options.augment === 'object' ? options.augment : {}),
    earlyStopPatience: options.earlyStopPatience,
    keepBest: options.keepBest ?? true,
    evaluateTest: options.evaluateTest ?? true,
    cacheFrozenFeatures: options.cacheFrozenFeatures ?? true,
    stepsPerEpoch: options.stepsPerEpoch,
    outDir: options.outDir,
    resume: options.resume ?? false,
    overwrite: options.overwrite ?? false,
  };
  require(
    options.trunkLearningRate === undefined || (settings.model.kind === 'backbone' && optimizer === 'adam'),
    'a trunk learning rate (--trunk-lr) is for a model on a pretrained trunk (--backbone), trained with Adam',
  );
  require(options.trunk === undefined || settings.model.kind === 'backbone', 'a trunk is for a backbone model (model.kind backbone)');
  require(settings.model.kind !== 'backbone' || options.trunk !== undefined || settings.model.path !== undefined, "a backbone model needs its trunk: the model.json's path (model.path) or the trunk itself (trunk)");
  if (settings.earlyStopPatience !== undefined) requireNumber('earlyStopPatience', settings.earlyStopPatience, { integer: true, min: 1 });
  if (settings.stepsPerEpoch !== undefined) requireNumber('stepsPerEpoch', settings.stepsPerEpoch, { integer: true, min: 1 });
  return settings;
}

/** Classes per batch unless told otherwise (or fewer, when the training split has fewer). */
const DEFAULT_P = 16;

/** The settings that decide what a run computes, as recorded in the model's metadata and compared on resume. */
function trainingRecord(settings: Settings, fold: number | undefined): Record<string, unknown> {
  // Where the run writes, and whether a frozen stage's outputs are kept, change nothing it computes.
  const { outDir: _outDir, resume: _resume, overwrite: _overwrite, cacheFrozenFeatures: _cache, ...rest } = settings;
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

