import { readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tf, type tfl } from '../tf.js';
import { require, TripletjsInputError } from '../common/errors.js';
import { writeDirectoryAtomic, writeFileAtomic } from '../common/atomic-files.js';
import { loadModel, saveModel, type ModelMetadata } from '../models/model-files.js';
import { parseJson } from '../models/model-format.js';
import type { EvaluationReport } from './evaluate-split.js';

/** What a training run needs, beyond the weights, to continue exactly where it stopped. */
export interface TrainingState {
  /** Epochs completed. */
  readonly epoch: number;
  /** Best evaluation score so far (for early stopping) and the epoch it was reached. */
  readonly best: { readonly score: number; readonly epoch: number } | null;
  /** Epochs without improvement, for early stopping. */
  readonly epochsWithoutImprovement: number;
}

const LATEST = 'latest.json';
const KEEP = 2;
/** The checkpoint of the epoch with the best validation score: `best-epoch-NNNN`, named by the state that points at it. */
const bestName = (epoch: number): string => `best-epoch-${String(epoch).padStart(4, '0')}`;

/**
 * Writes checkpoint `checkpoints/epoch-NNNN/` (model, optimizer state, training state), each
 * directory atomically, then points `checkpoints/latest.json` at it (atomic rename). A process
 * killed at any moment leaves `latest.json` naming a complete checkpoint. Older checkpoints beyond
 * the last two are removed.
 */
export async function writeCheckpoint(
  directory: string,
  model: tfl.LayersModel,
  optimizer: tf.Optimizer,
  metadata: Parameters<typeof saveModel>[2],
  state: TrainingState,
): Promise<string> {
  const name = `epoch-${String(state.epoch).padStart(4, '0')}`;
  const path = join(directory, name);
  const optimizerWeights = await optimizer.getWeights();
  const encoded = await tf.io.encodeWeights(optimizerWeights);
  // getWeights returns the optimiser's own variables, plus a scalar it makes for the iteration
  // count on every call: one leaked tensor per checkpoint unless disposed here.
  tf.dispose(optimizerWeights.filter(({ tensor }) => !(tensor instanceof tf.Variable)).map(({ tensor }) => tensor));
  await writeDirectoryAtomic(path, async (temporary) => {
    await saveModel(model, join(temporary, 'model'), metadata);
    await writeFile(join(temporary, 'optimizer.bin'), new Uint8Array(tf.io.CompositeArrayBuffer.join(encoded.data)));
    await writeFile(join(temporary, 'optimizer.json'), JSON.stringify(encoded.specs));
    await writeFile(join(temporary, 'state.json'), JSON.stringify(state));
  });
  await writeFileAtomic(join(directory, LATEST), JSON.stringify({ checkpoint: name }));
  // Only this run's checkpoints are here: train() refuses a run folder it did not make.
  const entries = await readdir(directory);
  const old = entries.filter((entry) => /^epoch-\d+$/.test(entry)).sort().slice(0, -KEEP);
  // Best checkpoints the state no longer names (superseded, or written just before a crash).
  const bestKept = state.best ? bestName(state.best.epoch) : undefined;
  old.push(...entries.filter((entry) => /^best-epoch-\d+$/.test(entry) && entry !== bestKept));
  await Promise.all(old.map((entry) => rm(join(directory, entry), { recursive: true, force: true })));
  return path;
}

/** A checkpoint read back. */
export interface Checkpoint {
  readonly path: string;
  readonly model: tfl.LayersModel;
  readonly metadata: ModelMetadata;
  /** Tensors owned by the caller: `Optimizer.setWeights` copies them, so dispose them after. */
  readonly optimizerWeights: Awaited<ReturnType<tf.Optimizer['getWeights']>>;
  readonly state: TrainingState;
}

/** Reads the checkpoint `latest.json` names, or returns undefined when there is none. */
export async function readLatestCheckpoint(directory: string): Promise<Checkpoint | undefined> {
  const pointer = await readFile(join(directory, LATEST), 'utf8').catch(() => undefined);
  if (pointer === undefined) return undefined;
  let name: string;
  try {
    name = (JSON.parse(pointer) as { checkpoint: string }).checkpoint;
  } catch {
    throw new TripletjsInputError(`${join(directory, LATEST)} is corrupt: remove it to start over, or restore a checkpoint`);
  }
  require(typeof name === 'string' && /^epoch-\d+$/.test(name), `${join(directory, LATEST)} names no checkpoint`);
  const path = join(directory, name);
  const { model, metadata } = await loadModel(join(path, 'model'));
  const specs = JSON.parse(await readFile(join(path, 'optimizer.json'), 'utf8')) as tf.io.WeightsManifestEntry[];
  const bytes = await readFile(join(path, 'optimizer.bin'));
  const decoded = tf.io.decodeWeights(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength), specs);
  const optimizerWeights = Object.entries(decoded).map(([name, tensor]) => ({ name, tensor }));
  const state = JSON.parse(await readFile(join(path, 'state.json'), 'utf8')) as TrainingState;
  return { path, model, metadata, optimizerWeights, state };
}

/** The model of the best validation epoch so far, and what it scored. */
export interface BestCheckpoint {
  readonly epoch: number;
  /** The validation report of that epoch. */
  readonly validation: EvaluationReport;
}

/**
 * Writes `checkpoints/best-epoch-NNNN/` (the model and `best.json`) atomically. Written before the
 * epoch's checkpoint, whose state names it: a crash in between leaves the state naming the
 * previous best, whose directory is still there (`writeCheckpoint` removes the others).
 */
export async function writeBestCheckpoint(
  directory: string,
  model: tfl.LayersModel,
  metadata: Parameters<typeof saveModel>[2],
  best: BestCheckpoint,
): Promise<void> {
  await writeDirectoryAtomic(join(directory, bestName(best.epoch)), async (temporary) => {
    await saveModel(model, join(temporary, 'model'), metadata);
    await writeFile(join(temporary, 'best.json'), JSON.stringify(best));
  });
}

/**
 * The weights (tensors owned by the caller) and record of the best checkpoint of `epoch`, or
 * undefined when none was written (the best epoch was the last one evaluated).
 */
export async function readBestCheckpoint(directory: string, epoch: number): Promise<{ weights: tf.Tensor[]; best: BestCheckpoint } | undefined> {
  const path = join(directory, bestName(epoch));
  const text = await readFile(join(path, 'best.json'), 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  const best = parseJson<BestCheckpoint>(text, join(path, 'best.json'));
  const { model } = await loadModel(join(path, 'model'));
  const weights = model.getWeights().map((weight) => weight.clone());
  model.dispose();
  return { weights, best };
}
