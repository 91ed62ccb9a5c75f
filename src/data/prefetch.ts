/**
 * Items `0 … count − 1` delivered in order, each fetched `ahead` items before it is asked for: a
 * training step's next batches are read (decoded, in worker threads for a streamed dataset) while
 * the step computes. `fetch` may run for several items at once and finish in any order; `finish`
 * (synchronous: e.g. augmentation, which draws from a seeded random source) runs strictly in item
 * order, after the item before it, so the items are exactly what an unhurried loop would give.
 */
export class Prefetcher<Raw, Item> {
  private readonly started: Array<Promise<Item>> = [];
  private cursor = 0;

  constructor(
    readonly count: number,
    private readonly fetch: (index: number) => Promise<Raw>,
    private readonly finish: (raw: Raw, index: number) => Item,
    /** Items fetched beyond the one asked for (default 1). */
    private readonly ahead = 1,
  ) {}

  /** The next item (the first call gives item 0); past the end, an error. */
  next(): Promise<Item> {
    const index = this.cursor++;
    if (index >= this.count) return Promise.reject(new Error(`no item ${index}: the prefetcher has ${this.count}`));
    for (let i = this.started.length; i <= Math.min(this.count - 1, index + this.ahead); i++) this.start(i);
    return this.started[index]!;
  }

  /** Waits for every fetch started (their errors ignored), so that nothing runs on after the caller stops. */
  async drain(): Promise<void> {
    await Promise.allSettled(this.started);
  }

  private start(index: number): void {
    let raw: Promise<Raw>;
    try {
      raw = this.fetch(index);
    } catch (error) {
      raw = Promise.reject(error as Error);
    }
    const previous = this.started[index - 1];
    const item = Promise.all([raw, previous]).then(([value]) => this.finish(value, index));
    // Not awaited yet: a failure is reported by next(), not as an unhandled rejection.
    item.catch(() => {});
    this.started.push(item);
  }
}
