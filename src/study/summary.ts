import type { LossName, MinerName } from '../training/components.js';
import type { SamplingName } from './grid.js';
import type { RunRecord, RunStatus, TrainRunConfig } from './run.js';
import { meanStd, type MeanStd } from './statistics.js';

/** The test metrics the study aggregates, in table order. */
export const SUMMARY_METRICS = ['mapAtR', 'precisionAt1', 'eer', 'rocAuc'] as const;
export type SummaryMetric = (typeof SUMMARY_METRICS)[number];

/** The runs of one cell on one dataset, aggregated over seeds. */
export interface CellSummary {
  readonly dataset: string;
  readonly loss: LossName;
  readonly sampling: SamplingName;
  readonly miner: MinerName;
  /** The learning rate chosen on validation, at which every seed of the cell trained. */
  readonly learningRate: number;
  /** Runs per status. */
  readonly statuses: Readonly<Record<RunStatus, number>>;
  /**
   * Mean ± std over the runs that produced embeddings (`ok` and `collapsed`: a collapse is what
   * the cell produced and is counted); absent where none did (every run diverged) or the
   * evaluation has no such metric (EER and AUC exist for leave-one-out splits only).
   */
  readonly metrics: Readonly<Partial<Record<SummaryMetric, MeanStd>>>;
  /** Class spread of the test embeddings over the same runs. */
  readonly spread?: MeanStd;
  /** Wall seconds per run, every run. */
  readonly seconds: MeanStd;
}

/**
 * Groups the final training runs by dataset and cell (in the order they first appear) and
 * computes mean ± sample standard deviation of each test metric over seeds.
 */
export function summarizeCells(records: readonly RunRecord[]): CellSummary[] {
  const groups = new Map<string, RunRecord[]>();
  for (const record of records) {
    if (record.config.kind !== 'train' || record.config.purpose !== 'final') continue;
    const key = JSON.stringify([record.config.dataset, record.config.loss, record.config.sampling]);
    let group = groups.get(key);
    if (group === undefined) groups.set(key, (group = []));
    group.push(record);
  }
  return Array.from(groups.values(), (runs) => {
    const config = runs[0]!.config as TrainRunConfig;
    const statuses: Record<RunStatus, number> = { ok: 0, collapsed: 0, diverged: 0 };
    for (const run of runs) statuses[run.status]++;
    const evaluated = runs.filter((run) => run.test !== undefined);
    const metrics: Partial<Record<SummaryMetric, MeanStd>> = {};
    for (const metric of SUMMARY_METRICS) {
      const values = evaluated.map((run) => run.test![metric]).filter((v): v is number => typeof v === 'number');
      const summary = values.length === evaluated.length ? meanStd(values) : undefined;
      if (summary) metrics[metric] = summary;
    }
    const spread = meanStd(evaluated.flatMap((run) => (run.spread ? [run.spread.spread] : [])));
    return {
      dataset: config.dataset,
      loss: config.loss,
      sampling: config.sampling,
      miner: config.miner,
      learningRate: config.learningRate,
      statuses,
      metrics,
      ...(spread ? { spread } : {}),
      seconds: meanStd(runs.map((run) => run.seconds))!,
    };
  });
}
