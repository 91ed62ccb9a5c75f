import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { requireNumber } from './errors.js';

type Generator = ReturnType<typeof xoroshiro128plus>;

/**
 * A seeded random source (xoroshiro128+ from pure-rand): the same seed gives the same sequence on
 * every machine, which is what makes miners, samplers and training runs repeatable.
 */
export class SeededRandom {
  private readonly generator: Generator;

  constructor(seed: number) {
    requireNumber('seed', seed, { integer: true });
    this.generator = xoroshiro128plus(seed | 0);
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return uniformInt(this.generator, 0, n - 1);
  }

  /** A float in [0, 1). */
  float(): number {
    return uniformFloat64(this.generator);
  }

  /** Shuffles `values` in place (Fisher–Yates) and returns it. */
  shuffle<T extends { length: number; [i: number]: number }>(values: T): T {
    for (let i = values.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = values[i]!;
      values[i] = values[j]!;
      values[j] = tmp;
    }
    return values;
  }
}
