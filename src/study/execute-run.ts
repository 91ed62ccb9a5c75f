import { loadDataset } from '../data/registry.js';
import { toInputs } from '../data/augment.js';
import { embedImages, evaluateRawPixels } from '../training/evaluate-split.js';
import { train, TrainingDivergedError } from '../training/trainer.js';
import { isCollapsed } from './collapse.js';
import type { RunConfig, RunRecord } from './run.js';
import { classSpread } from './spread.js';

/**
 * Performs one run of the study in this process and returns its record. A training run trains the
 * cell with the budget, seed and learning rate, evaluating once at the end: a `select` run on the
 * validation split only, a `final` run on validation and then the test split; then it measures
 * the class spread of the embeddings evaluated last and applies the collapse rule. A run whose
 * training diverges is a `diverged` record, not an error. A raw-pixel run: the test evaluation and
 * spread on pixels / 255. The study runs each in a process of its own (`worker.ts`).
 */
export async function executeRun(config: RunConfig): Promise<RunRecord> {
  const started = performance.now();
  const dataset = await loadDataset(config.dataset);
  const split = dataset.split();
  const seconds = (): number => (performance.now() - started) / 1000;
  const labelsOf = (queries: Int32Array): Int32Array => Int32Array.from(queries, (i) => dataset.labels[i]!);
  if (config.kind === 'raw') {
    const { height, width, channels } = dataset.shape;
    const { queries } = split.test;
    const test = await evaluateRawPixels(dataset, split.test);
    const spread = classSpread(toInputs(dataset, queries), labelsOf(queries), height * width * channels);
    return { config, status: 'ok', split: split.description, test, spread, seconds: seconds() };
  }
  const { budget } = config;
  const final = config.purpose === 'final';
  let finalLoss: number | undefined;
  let examplesSeen: number | undefined;
  try {
    const result = await train({
      dataset,
      model: budget.model,
      ...(budget.resizeTo ? { resizeTo: budget.resizeTo as [number, number] } : {}),
      loss: config.loss,
      miner: config.miner,
      epochs: budget.epochs,
      p: budget.p,
      k: budget.k,
      ...(budget.stepsPerEpoch !== undefined ? { stepsPerEpoch: budget.stepsPerEpoch } : {}),
      optimizer: budget.optimizer,
      learningRate: config.learningRate,
      schedule: budget.schedule,
      ...(budget.warmupEpochs ? { warmupEpochs: budget.warmupEpochs } : {}),
      augment: budget.augment,
      seed: config.seed,
      evalEvery: 0,
      evaluateTest: final,
      onEvent: (event) => {
        if (event.type === 'start') examplesSeen = event.epochs * event.stepsPerEpoch * event.batchSize;
        else if (event.type === 'epoch') finalLoss = event.meanLoss;
      },
    });
    const { queries } = final ? split.test : split.validation!;
    const embeddings = await embedImages(result.model, dataset, queries);
    result.model.dispose();
    const spread = classSpread(embeddings, labelsOf(queries), result.metadata.embeddingDim);
    const status = isCollapsed(spread) ? 'collapsed' : 'ok';
    return {
      config,
      status,
      split: split.description,
      validation: result.validation!,
      ...(result.test ? { test: result.test } : {}),
      spread,
      finalLoss,
      examplesSeen,
      seconds: seconds(),
    };
  } catch (error) {
    if (!(error instanceof TrainingDivergedError)) throw error;
    return { config, status: 'diverged', split: split.description, examplesSeen, message: error.message, seconds: seconds() };
  }
}
