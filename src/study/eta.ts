import type { RunConfig, RunRecord } from './run.js';

/**
 * Estimates the time left in a study from the runs finished so far in this session: each
 * remaining run is expected to take the mean time of the finished runs of its kind on its dataset
 * (or of all finished runs, before one of its kind has finished), and `jobs` run at once.
 */
export class EtaEstimator {
  private readonly jobs: number;
  private readonly byKey = new Map<string, { seconds: number; count: number }>();
  private total = { seconds: 0, count: 0 };

  constructor(jobs: number) {
    this.jobs = jobs;
  }

  /** Takes a finished run's time into account. */
  add(record: RunRecord): void {
    const key = keyOf(record.config);
    const entry = this.byKey.get(key) ?? { seconds: 0, count: 0 };
    this.byKey.set(key, { seconds: entry.seconds + record.seconds, count: entry.count + 1 });
    this.total = { seconds: this.total.seconds + record.seconds, count: this.total.count + 1 };
  }

  /** Seconds until `remaining` are done, or undefined before any run has finished. */
  secondsLeft(remaining: readonly RunKind[]): number | undefined {
    if (this.total.count === 0) return undefined;
    const fallback = this.total.seconds / this.total.count;
    let sum = 0;
    for (const config of remaining) {
      const entry = this.byKey.get(keyOf(config));
      sum += entry ? entry.seconds / entry.count : fallback;
    }
    return sum / Math.max(1, Math.min(this.jobs, remaining.length));
  }
}

function keyOf(config: RunKind): string {
  return `${config.kind} ${config.purpose ?? ''} ${config.dataset}`;
}

/** What the time of a run is estimated by: its kind, purpose and dataset. */
export type RunKind = Pick<RunConfig, 'kind' | 'dataset'> & { readonly purpose?: 'select' | 'final' };
