import { randomUUID } from 'node:crypto';
import { open, rm, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tf, type tfl } from '../tf.js';
import type { Dataset } from '../data/dataset.js';
import { augmentPixels, drawAugmentation, pixelsToInputs, type AugmentOptions } from '../data/augment.js';
import { Prefetcher } from '../data/prefetch.js';
import type { SeededRandom } from '../common/random.js';
import { embedBlocks } from './evaluate-split.js';

/** A batch ready for a step: the trained stage's input values (images or frozen-stage features) and their shape. */
export interface PreparedBatch {
  readonly indices: Int32Array;
  readonly values: Float32Array;
  /** Shape of `values`, batch first. */
  readonly shape: number[];
  /** Whether `values` are images that still go through the frozen stage. */
  readonly throughFrozen: boolean;
}

/** Prepared batches in order (a {@link Prefetcher}). */
export interface BatchSource {
  next(): Promise<PreparedBatch>;
  /** Waits for the reads started ahead, so that none runs on after training stops. */
  drain(): Promise<void>;
}

/** Frozen-stage outputs of the training images, one fixed-size row per image. */
interface FeatureCache {
  /** Row of each dataset index. */
  readonly rows: Map<number, number>;
  /** Shape of one row. */
  readonly shape: number[];
  read(indices: Int32Array): Promise<Float32Array>;
  close(): Promise<void>;
}

/**
 * The inputs of a training step's trained stage. For a model on a frozen trunk part, the batch's
 * images go through the frozen stage outside the gradient tape (so that none of its activations is
 * kept for a backward pass); when the images are not augmented, that stage's outputs are computed
 * once for every training image and kept (a frozen stage gives the same output every epoch): in
 * memory for an in-memory dataset, in a file of fixed-size rows for a streamed one (see
 * {@link FeatureFile}). For any other model, the inputs are the images.
 *
 * Batches are prepared ahead of the steps by {@link batches}: while the step before computes, the
 * pixels are read and augmented in order, or, for a dataset that makes its own inputs (a streamed
 * folder: `readInputs`), decoded and augmented in its worker threads with draws made here in order.
 */
export class StepInputs {
  private constructor(
    private readonly dataset: Dataset,
    private readonly augment: false | Required<AugmentOptions>,
    private readonly frozen: tfl.LayersModel | undefined,
    private readonly cache: FeatureCache | undefined,
  ) {}

  /** Caches the frozen stage's outputs for `trainIndices` when `frozen` is given, `cache` is on and there is no augmentation. */
  static async create(dataset: Dataset, augment: false | Required<AugmentOptions>, frozen: tfl.LayersModel | undefined, cache: boolean, trainIndices: Int32Array): Promise<StepInputs> {
    if (frozen === undefined || augment !== false || !cache) return new StepInputs(dataset, augment, frozen, undefined);
    const shape = frozen.outputs[0]!.shape.slice(1) as number[];
    const features = dataset.streamed ? await FeatureFile.write(frozen, dataset, trainIndices, shape) : await featuresInMemory(frozen, dataset, trainIndices, shape);
    return new StepInputs(dataset, augment, frozen, features);
  }

  /**
   * The batches of dataset indices `batches`, in order, each read one batch ahead of the one asked
   * for. Augmentation draws from `random` batch after batch, as reading them one by one would.
   */
  batches(batches: readonly Int32Array[], random: SeededRandom, ahead = 1): BatchSource {
    const cache = this.cache;
    if (cache) {
      return new Prefetcher<Float32Array, PreparedBatch>(
        batches.length,
        (i) => cache.read(batches[i]!),
        (values, i) => ({ indices: batches[i]!, values, shape: [batches[i]!.length, ...cache.shape], throughFrozen: false }),
        ahead,
      );
    }
    const { shape, flipInvariant } = this.dataset;
    const throughFrozen = this.frozen !== undefined;
    const augment = this.augment;
    const readInputs = this.dataset.readInputs?.bind(this.dataset);
    if (readInputs) {
      // Made where the images are decoded (a streamed folder's workers). The augmentation is drawn
      // here, batch after batch as the batches are started, which is the order they are used in.
      return new Prefetcher<Float32Array, PreparedBatch>(
        batches.length,
        (i) => readInputs(batches[i]!, augment === false ? undefined : { draws: drawAugmentation(batches[i]!.length, shape, flipInvariant, random, augment), options: augment }),
        (values, i) => ({ indices: batches[i]!, values, shape: [batches[i]!.length, shape.height, shape.width, shape.channels], throughFrozen }),
        ahead,
      );
    }
    return new Prefetcher<Uint8Array, PreparedBatch>(
      batches.length,
      (i) => this.dataset.read(batches[i]!),
      (pixels, i) => ({
        indices: batches[i]!,
        values: this.augment === false ? pixelsToInputs(pixels) : augmentPixels(pixels, shape, flipInvariant, random, this.augment),
        shape: [batches[i]!.length, shape.height, shape.width, shape.channels],
        throughFrozen: this.frozen !== undefined,
      }),
      ahead,
    );
  }

  /** The trained stage's input of a prepared batch (a new tensor: the caller disposes it). */
  tensor(batch: PreparedBatch): tf.Tensor {
    const frozen = this.frozen;
    return tf.tidy(() => {
      const values = tf.tensor(batch.values, batch.shape);
      return batch.throughFrozen && frozen ? (frozen.apply(values, { training: false }) as tf.Tensor) : values;
    });
  }

  /** Deletes the feature file, if there is one. */
  async close(): Promise<void> {
    await this.cache?.close();
  }
}

async function featuresInMemory(frozen: tfl.LayersModel, dataset: Dataset, trainIndices: Int32Array, shape: number[]): Promise<FeatureCache> {
  const size = shape.reduce((a, b) => a * b, 1);
  const values = new Float32Array(trainIndices.length * size);
  await embedBlocks(frozen, dataset, trainIndices, (start, block) => values.set(block, start * size));
  const rows = new Map(Array.from(trainIndices, (index, row) => [index, row]));
  return {
    rows,
    shape,
    read: async (indices) => {
      const out = new Float32Array(indices.length * size);
      indices.forEach((index, i) => {
        const row = rows.get(index)!;
        out.set(values.subarray(row * size, (row + 1) * size), i * size);
      });
      return out;
    },
    close: async () => {},
  };
}

/**
 * The frozen stage's outputs of a streamed dataset's training images, in a file of fixed-size
 * rows (float32, one per training image, in the order of the training indices) under the
 * system's temporary folder (`TMPDIR`), deleted at `close`. Node has no memory mapping: a batch is
 * read with one positional read per row, and the operating system's page cache keeps the hot rows
 * in memory as a mapping would, without the process holding them.
 */
class FeatureFile implements FeatureCache {
  private constructor(
    private readonly path: string,
    private readonly handle: FileHandle,
    readonly rows: Map<number, number>,
    readonly shape: number[],
  ) {}

  static async write(frozen: tfl.LayersModel, dataset: Dataset, trainIndices: Int32Array, shape: number[]): Promise<FeatureFile> {
    const path = join(tmpdir(), `tripletjs-features-${process.pid}-${randomUUID()}.f32`);
    const handle = await open(path, 'w+');
    const file = new FeatureFile(path, handle, new Map(Array.from(trainIndices, (index, row) => [index, row])), shape);
    try {
      const rowBytes = file.rowBytes;
      await embedBlocks(frozen, dataset, trainIndices, async (start, block) => {
        await handle.write(new Uint8Array(block.buffer, block.byteOffset, block.byteLength), 0, block.byteLength, start * rowBytes);
      });
    } catch (error) {
      await file.close();
      throw error;
    }
    return file;
  }

  private get rowBytes(): number {
    return this.shape.reduce((a, b) => a * b, 1) * 4;
  }

  async read(indices: Int32Array): Promise<Float32Array> {
    const rowBytes = this.rowBytes;
    const out = new Float32Array((indices.length * rowBytes) / 4);
    const bytes = new Uint8Array(out.buffer);
    await Promise.all(
      Array.from(indices, async (index, i) => {
        const row = this.rows.get(index);
        if (row === undefined) throw new Error(`image ${index} is not a training image of the feature file`);
        const { bytesRead } = await this.handle.read(bytes, i * rowBytes, rowBytes, row * rowBytes);
        if (bytesRead !== rowBytes) throw new Error(`the feature file ${this.path} is short (row ${row})`);
      }),
    );
    return out;
  }

  async close(): Promise<void> {
    await this.handle.close().catch(() => {});
    await rm(this.path, { force: true });
  }
}
