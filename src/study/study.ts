import { join } from 'node:path';
import { writeFileAtomic } from '../common/atomic-files.js';
import { require, requireNumber } from '../common/errors.js';
import { loadDataset } from '../data/registry.js';
import { studyBudget, type BudgetOverrides, type StudyBudget } from './budget.js';
import { loadChartModules, studyChart } from './chart.js';
import { EtaEstimator, type RunKind } from './eta.js';
import { FULL_GRID, minerOf, QUICK_GRID, type StudyCell } from './grid.js';
import { runInChildProcess, runInChildProcesses } from './pool.js';
import { studyReport } from './report.js';
import { RUN_PROTOCOL, SELECTION_SEED, type RunConfig, type RunRecord, type TrainRunConfig } from './run.js';
import { readFinishedRun, writeRun } from './run-store.js';
import { summarizeCells, type CellSummary } from './summary.js';

/** The datasets a study runs on by default: people and sketch classes unseen in training. */
export const DEFAULT_STUDY_DATASETS: readonly string[] = ['orl-faces', 'quickdraw'];

/** Options of {@link runStudy}; all but `outDir` have defaults. */
export interface StudyOptions {
  /** Where run records, `runs.json`, `report.md`, `chart.svg` and `chart.png` go. Rerun with the same to resume. */
  readonly outDir: string;
  /** Dataset names as `loadDataset` takes them (default: orl-faces, quickdraw). */
  readonly datasets?: readonly string[];
  /** The cells to run (default: the full grid, or the quick grid with `quick`). */
  readonly cells?: readonly StudyCell[];
  /** Seeds per cell, 0 … n − 1 (default 3; 2 with `quick`). */
  readonly seeds?: number;
  /** The reduced grid and budget (about 3 minutes on 2 cores). */
  readonly quick?: boolean;
  /** Runs at once, each in a process of its own (default 2). The results do not depend on it. */
  readonly jobs?: number;
  /** Changes to every dataset's budget, the same for every cell. */
  readonly budget?: BudgetOverrides;
  /** The command line, shown at the top of the report. */
  readonly command?: string;
  readonly onEvent?: (event: StudyEvent) => void;
}

/** Progress of a study. */
export type StudyEvent =
  | { readonly type: 'plan'; readonly total: number; readonly finished: number; readonly jobs: number; readonly datasets: readonly string[] }
  | { readonly type: 'run-start'; readonly config: RunConfig }
  | { readonly type: 'run-end'; readonly record: RunRecord; readonly done: number; readonly total: number; readonly etaSeconds?: number };

/** What {@link runStudy} returns. */
export interface StudyResult {
  readonly outDir: string;
  readonly files: { readonly runs: string; readonly report: string; readonly svg: string; readonly png: string };
  /** Every training run, in plan order (seed, dataset, cell). */
  readonly runs: readonly RunRecord[];
  /** The raw-pixel floor of each dataset. */
  readonly rawPixels: readonly RunRecord[];
  readonly summaries: readonly CellSummary[];
  /** Runs done by this call, and runs reused from an earlier, interrupted call. */
  readonly executed: number;
  readonly reused: number;
  readonly seconds: number;
}

const WORKER = new URL('./worker.js', import.meta.url);

/**
 * The runs' environment: one thread for native kernels unless `TRIPLETJS_THREADS` says otherwise.
 * The study runs `jobs` processes at once rather than threads, and the thread count is part of
 * the engine a result depends on (OpenBLAS sums in another order with more threads), so it must
 * not follow the number of jobs or of cores.
 */
function workerEnvironment(): NodeJS.ProcessEnv {
  return { ...process.env, TRIPLETJS_THREADS: process.env.TRIPLETJS_THREADS || '1' };
}

/**
 * The sampling study: trains every cell (loss × sampling) of the grid with several seeds on each
 * dataset, with one budget per dataset shared by every cell, evaluates on the classes unseen in
 * training, and writes `runs.json`, `report.md` (mean ± std tables, raw-pixel floor, class
 * spread) and `chart.svg` / `chart.png` to `outDir`.
 *
 * Every run executes in a fresh child process (`jobs` at once) and its record is written
 * atomically as soon as it finishes; a rerun with the same options reuses every record whose
 * configuration matches, so an interrupted study resumes where it stopped. Seeds fix every run,
 * whatever the number of jobs: the engine (backend, kernels, threads) is recorded in every run's
 * configuration, and native kernels use one thread unless `TRIPLETJS_THREADS` is set.
 */
export async function runStudy(options: StudyOptions): Promise<StudyResult> {
  const started = performance.now();
  require(typeof options?.outDir === 'string' && options.outDir !== '', 'the study needs an output directory (outDir)');
  const { outDir } = options;
  const quick = options.quick ?? false;
  const datasets = [...new Set(options.datasets ?? DEFAULT_STUDY_DATASETS)];
  require(datasets.length > 0, 'the study needs at least one dataset');
  const cells = options.cells ?? (quick ? QUICK_GRID : FULL_GRID);
  require(cells.length > 0, 'the study needs at least one cell');
  const seeds = requireNumber('seeds', options.seeds ?? (quick ? 2 : 3), { integer: true, min: 1 });
  const jobs = requireNumber('jobs', options.jobs ?? 2, { integer: true, min: 1 });

  // Checked before the first run rather than after the last: the chart's packages are optional.
  await loadChartModules();
  // Loaded here once: an unknown dataset fails before any run starts, and budgets need the data.
  const budgets = new Map<string, StudyBudget>();
  for (const name of datasets) budgets.set(name, studyBudget(await loadDataset(name), quick, options.budget));
  // The backend and kernels the runs will compute on, as a run's process starts them: part of
  // every run's configuration, so a run made on other kernels is never reused.
  const env = workerEnvironment();
  const engine = await runInChildProcess<string>(WORKER, { kind: 'engine' }, env);
  const trainRun = (dataset: string, cell: StudyCell, purpose: 'select' | 'final', seed: number, learningRate: number): TrainRunConfig => ({
    kind: 'train',
    purpose,
    protocol: RUN_PROTOCOL,
    engine,
    dataset,
    loss: cell.loss,
    sampling: cell.sampling,
    miner: minerOf(cell),
    seed,
    learningRate,
    budget: budgets.get(dataset)!,
  });
  // First every cell at every rate of its grid, judged on validation; then each cell's seeds at
  // its chosen rate, judged on test. A grid of one rate needs no choice.
  const choosing = (dataset: string): boolean => budgets.get(dataset)!.learningRates.length > 1;
  const selection: RunConfig[] = datasets.map((dataset) => ({ kind: 'raw', protocol: RUN_PROTOCOL, engine, dataset }));
  for (const dataset of datasets.filter(choosing)) {
    for (const cell of cells) for (const rate of budgets.get(dataset)!.learningRates) selection.push(trainRun(dataset, cell, 'select', SELECTION_SEED, rate));
  }
  const finalCount = datasets.length * cells.length * seeds;
  const finalKinds = datasets.flatMap((dataset) => Array.from({ length: cells.length * seeds }, () => ({ kind: 'train' as const, purpose: 'final' as const, dataset })));

  const reusedSelection = await Promise.all(selection.map((config) => readFinishedRun(outDir, config)));
  let done = reusedSelection.filter((record) => record !== undefined).length;
  const total = selection.length + finalCount;
  options.onEvent?.({ type: 'plan', total, finished: done, jobs, datasets });
  const eta = new EtaEstimator(jobs);
  let executed = 0;
  const execute = async (plan: RunConfig[], stored: Array<RunRecord | undefined>, later: readonly RunKind[]): Promise<RunRecord[]> => {
    const records = [...stored];
    const pending = plan.filter((_, i) => records[i] === undefined);
    const remaining = new Set(pending);
    executed += pending.length;
    await runInChildProcesses<RunConfig, RunRecord>(WORKER, pending, jobs, {
      env,
      onStart: (config) => options.onEvent?.({ type: 'run-start', config }),
      onResult: async (record, config) => {
        await writeRun(outDir, record);
        records[plan.indexOf(config)] = record;
        remaining.delete(config);
        eta.add(record);
        done++;
        const etaSeconds = eta.secondsLeft([...remaining, ...later]);
        options.onEvent?.({ type: 'run-end', record, done, total, ...(etaSeconds !== undefined ? { etaSeconds } : {}) });
      },
    });
    return records as RunRecord[];
  };
  const selected = await execute(selection, reusedSelection, finalKinds);
  const chosen = new Map<string, number>();
  for (const dataset of datasets) {
    for (const cell of cells) {
      const tried = selected.filter((r) => r.config.kind === 'train' && r.config.dataset === dataset && r.config.loss === cell.loss && r.config.sampling === cell.sampling);
      chosen.set(JSON.stringify([dataset, cell.loss, cell.sampling]), choosing(dataset) ? chooseLearningRate(tried) : budgets.get(dataset)!.learningRates[0]!);
    }
  }
  const finals: RunConfig[] = [];
  for (let seed = 0; seed < seeds; seed++) {
    for (const dataset of datasets) {
      for (const cell of cells) finals.push(trainRun(dataset, cell, 'final', seed, chosen.get(JSON.stringify([dataset, cell.loss, cell.sampling]))!));
    }
  }
  const reusedFinals = await Promise.all(finals.map((config) => readFinishedRun(outDir, config)));
  done += reusedFinals.filter((record) => record !== undefined).length;
  const finishedFinals = await execute(finals, reusedFinals, []);

  const finished = [...selected, ...finishedFinals];
  const rawPixels = finished.filter((r) => r.config.kind === 'raw');
  const runs = finished.filter((r) => r.config.kind === 'train');
  const summaries = summarizeCells(runs);
  const files = { runs: join(outDir, 'runs.json'), report: join(outDir, 'report.md'), svg: join(outDir, 'chart.svg'), png: join(outDir, 'chart.png') };
  const chart = await studyChart(summaries, rawPixels);
  await writeFileAtomic(files.runs, JSON.stringify({ rawPixels, runs }, null, 2) + '\n');
  await writeFileAtomic(files.report, studyReport({ summaries, runs, rawPixels, seeds, ...(options.command ? { command: options.command } : {}) }));
  await writeFileAtomic(files.svg, chart.svg);
  await writeFileAtomic(files.png, chart.png);
  return { outDir, files, runs, rawPixels, summaries, executed, reused: total - executed, seconds: (performance.now() - started) / 1000 };
}

/**
 * The rate of the best validation MAP@R among a cell's selection runs, preferring runs that
 * neither collapsed nor diverged (a collapsed embedding can still rank neighbours by chance); the
 * lowest rate when every run diverged. Ties go to the lower rate.
 */
export function chooseLearningRate(tried: readonly RunRecord[]): number {
  const rateOf = (record: RunRecord): number => (record.config as TrainRunConfig).learningRate;
  const byRate = [...tried].sort((a, b) => rateOf(a) - rateOf(b));
  const candidates = [byRate.filter((r) => r.status === 'ok'), byRate.filter((r) => r.status === 'collapsed')].find((list) => list.length > 0);
  if (candidates === undefined) return rateOf(byRate[0]!);
  return rateOf(candidates.reduce((best, record) => (record.validation!.mapAtR > best.validation!.mapAtR ? record : best)));
}
