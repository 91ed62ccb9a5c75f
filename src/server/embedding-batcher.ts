import type { tfl } from '../tf.js';
import { embed } from '../models/embed.js';

/** Options of {@link EmbeddingBatcher}. */
export interface BatcherOptions {
  /** Most images per model call (default 32). */
  readonly maxBatch?: number;
  /** How long the first image of a batch waits for others, in milliseconds (default 2). */
  readonly maxWaitMs?: number;
  /** Told the size of each batch run (for metrics). */
  readonly onBatch?: (size: number) => void;
}

interface Pending {
  readonly pixels: Uint8Array;
  readonly resolve: (embedding: Float32Array) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Gathers the images of concurrent requests into one model call: a request's images join the
 * open batch, which runs when it is full or when its first image has waited `maxWaitMs`. One
 * model call of B images costs far less than B calls of one (BENCHMARKS.md), so under load the
 * service embeds more images per second, at the price of at most `maxWaitMs` of latency when idle.
 */
export class EmbeddingBatcher {
  private readonly model: tfl.LayersModel;
  private readonly perImage: number;
  private readonly maxBatch: number;
  private readonly maxWaitMs: number;
  private readonly onBatch?: (size: number) => void;
  private queue: Pending[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(model: tfl.LayersModel, { maxBatch = 32, maxWaitMs = 2, onBatch }: BatcherOptions = {}) {
    this.model = model;
    this.perImage = (model.inputs[0]!.shape.slice(1) as number[]).reduce((a, b) => a * b, 1);
    this.maxBatch = maxBatch;
    this.maxWaitMs = maxWaitMs;
    this.onBatch = onBatch;
  }

  /** The embedding of one image already at the model's input size (8-bit pixels). */
  embed(pixels: Uint8Array): Promise<Float32Array> {
    return new Promise((resolve, reject) => {
      this.queue.push({ pixels, resolve, reject });
      if (this.queue.length >= this.maxBatch) this.run();
      else this.timer ??= setTimeout(() => this.run(), this.maxWaitMs);
    });
  }

  private run(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.queue.splice(0, this.maxBatch);
    if (this.queue.length > 0) this.timer = setTimeout(() => this.run(), 0);
    if (batch.length === 0) return;
    try {
      const pixels = new Uint8Array(batch.length * this.perImage);
      batch.forEach((pending, i) => pixels.set(pending.pixels, i * this.perImage));
      const embeddings = embed(this.model, pixels, batch.length);
      const dims = embeddings.length / batch.length;
      this.onBatch?.(batch.length);
      batch.forEach((pending, i) => pending.resolve(embeddings.slice(i * dims, (i + 1) * dims)));
    } catch (error) {
      for (const pending of batch) pending.reject(error);
    }
  }
}
