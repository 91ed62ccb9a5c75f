import type { TripletIndices } from './tuples.js';

/** A growable list of int32 indices that ends as an exact-length Int32Array. */
export class IndexList {
  private data: Int32Array;
  private length = 0;

  constructor(initialCapacity = 1024) {
    this.data = new Int32Array(Math.max(16, initialCapacity));
  }

  push(value: number): void {
    if (this.length === this.data.length) {
      const grown = new Int32Array(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    this.data[this.length++] = value;
  }

  /** The indices pushed so far, as a new exact-length array. */
  toArray(): Int32Array {
    return this.data.slice(0, this.length);
  }
}

/** Three index lists filled together, for triplets. */
export class TripletList {
  private readonly anchors: IndexList;
  private readonly positives: IndexList;
  private readonly negatives: IndexList;

  constructor(initialCapacity = 1024) {
    this.anchors = new IndexList(initialCapacity);
    this.positives = new IndexList(initialCapacity);
    this.negatives = new IndexList(initialCapacity);
  }

  push(anchor: number, positive: number, negative: number): void {
    this.anchors.push(anchor);
    this.positives.push(positive);
    this.negatives.push(negative);
  }

  toTriplets(): TripletIndices {
    return { anchors: this.anchors.toArray(), positives: this.positives.toArray(), negatives: this.negatives.toArray() };
  }
}
