import { LOSS_NAMES } from '../training/components.js';
import type { StudyBudget } from './budget.js';
import { COLLAPSE_DISTANCE } from './collapse.js';
import { SAMPLINGS } from './grid.js';
import { SELECTION_SEED, type RunRecord, type RunStatus, type TrainRunConfig } from './run.js';
import { meanStd, type MeanStd } from './statistics.js';
import type { CellSummary, SummaryMetric } from './summary.js';

/** Column labels of the metrics, in table order. */
const METRIC_LABELS: ReadonlyArray<[SummaryMetric, string]> = [
  ['mapAtR', 'MAP@R'],
  ['precisionAt1', 'P@1'],
  ['eer', 'EER'],
  ['rocAuc', 'ROC AUC'],
];

/** What {@link studyReport} writes about. */
export interface ReportInput {
  readonly summaries: readonly CellSummary[];
  /** Every training run (for the budgets and the pooled spread). */
  readonly runs: readonly RunRecord[];
  /** The raw-pixel floor of each dataset. */
  readonly rawPixels: readonly RunRecord[];
  readonly seeds: number;
  /** The command that made the study, shown at the top if given. */
  readonly command?: string;
}

/** `mean ± std` with 4 decimals (the mean alone for a single run), `–` when absent. */
export function formatMeanStd(value: MeanStd | undefined, digits = 4): string {
  if (value === undefined) return '–';
  return Number.isNaN(value.std) ? value.mean.toFixed(digits) : `${value.mean.toFixed(digits)} ± ${value.std.toFixed(digits)}`;
}

/**
 * The study's Markdown report: per dataset, its split and budget, a table of mean ± standard
 * deviation over seeds (MAP@R, P@1, EER and ROC AUC where the split has verification, class
 * spread, run statuses) with the raw-pixel floor as its own row, then the class-spread table of
 * claim 4 (each loss per sampling, and over all its runs).
 */
export function studyReport({ summaries, runs, rawPixels, seeds, command }: ReportInput): string {
  const lines = [
    '# Sampling study',
    '',
    ...(command ? ['```sh', command, '```', ''] : []),
    `Test metrics on classes unseen in training: mean ± sample standard deviation over ${seeds} seed${seeds === 1 ? '' : 's'} per cell, each cell at the learning rate`,
    `chosen for it on the validation classes (its own runs with seed ${SELECTION_SEED}, evaluated on validation only); the test split is evaluated once per run.`,
    `Spread: per unseen class, mean distance between its embeddings / mean distance to the other classes' embeddings, averaged over classes (lower = tighter classes).`,
    `A run is **collapsed** when the mean distance between its evaluated embeddings of different classes is below ${COLLAPSE_DISTANCE} (unit-length embeddings);`,
    'its metrics are kept and counted in the means. A **diverged** run (non-finite loss) has no metrics; it is counted in the runs column.',
    ...[...new Set([...rawPixels, ...runs].map((r) => r.config.engine))].map((engine) => `Engine: ${engine.replace(/^tripletjs: /, '')}.`),
  ];
  const datasets = [...new Set([...rawPixels.map((r) => r.config.dataset), ...summaries.map((s) => s.dataset)])];
  for (const dataset of datasets) {
    const cells = summaries.filter((s) => s.dataset === dataset);
    const raw = rawPixels.find((r) => r.config.dataset === dataset);
    const ofDataset = runs.filter((r): r is RunRecord & { config: TrainRunConfig } => r.config.kind === 'train' && r.config.dataset === dataset);
    const trained = ofDataset.filter((r) => r.config.purpose === 'final');
    const shown = METRIC_LABELS.filter(([key]) => cells.some((c) => c.metrics[key]) || raw?.test?.[key] !== undefined);
    lines.push('', `## ${dataset}`, '', (raw ?? trained[0])?.split ?? '');
    if (trained[0]) lines.push('', `Budget of every cell: ${describeBudget(trained[0].config.budget, trained[0].examplesSeen)}.`);
    lines.push(
      '',
      `| loss | sampling | miner | lr | ${shown.map(([, label]) => label).join(' | ')} | spread | runs | s / run |`,
      `|---|---|---|---:|${shown.map(() => '---:|').join('')}---:|---|---:|`,
    );
    if (raw) {
      const values = shown.map(([key]) => (typeof raw.test?.[key] === 'number' ? raw.test[key].toFixed(4) : '–'));
      lines.push(`| raw pixels (floor) | – | – | – | ${values.join(' | ')} | ${raw.spread?.spread.toFixed(4) ?? '–'} | – | ${raw.seconds.toFixed(0)} |`);
    }
    for (const cell of cells) {
      const values = shown.map(([key]) => formatMeanStd(cell.metrics[key]));
      lines.push(
        `| ${cell.loss} | ${cell.sampling} | ${cell.miner} | ${cell.learningRate} | ${values.join(' | ')} | ${formatMeanStd(cell.spread, 3)} | ${describeStatuses(cell.statuses)} | ${cell.seconds.mean.toFixed(0)} |`,
      );
    }
    const selection = ofDataset.filter((r) => r.config.purpose === 'select');
    if (selection.length > 0) lines.push('', ...selectionTable(dataset, cells, selection));
    if (cells.length > 0) lines.push('', ...spreadTable(dataset, cells, trained, raw));
  }
  return lines.join('\n') + '\n';
}

/**
 * The learning-rate choice: each cell's validation MAP@R at every rate of the grid (collapsed and
 * diverged runs marked), the chosen rate in bold.
 */
function selectionTable(dataset: string, cells: readonly CellSummary[], selection: ReadonlyArray<RunRecord & { config: TrainRunConfig }>): string[] {
  const rates = [...new Set(selection.map((r) => r.config.learningRate))].sort((a, b) => a - b);
  const lines = [
    `### Learning rate of each cell, chosen on validation (${dataset})`,
    '',
    `Validation MAP@R of one run per rate (seed ${SELECTION_SEED}); **bold**: the rate chosen; c: collapsed; d: diverged.`,
    '',
    `| loss | sampling | ${rates.map((rate) => `lr ${rate}`).join(' | ')} |`,
    `|---|---|${rates.map(() => '---:|').join('')}`,
  ];
  for (const cell of cells) {
    const values = rates.map((rate) => {
      const run = selection.find((r) => r.config.loss === cell.loss && r.config.sampling === cell.sampling && r.config.learningRate === rate);
      if (run === undefined) return '–';
      const text = run.status === 'diverged' ? 'd' : `${run.validation!.mapAtR.toFixed(4)}${run.status === 'collapsed' ? ' c' : ''}`;
      return rate === cell.learningRate ? `**${text}**` : text;
    });
    lines.push(`| ${cell.loss} | ${cell.sampling} | ${values.join(' | ')} |`);
  }
  return lines;
}

/**
 * Claim 4: spread per loss and sampling; then, pooled over the runs of each loss that did not
 * collapse (a collapsed embedding was not shaped by its loss, and collapses alike under every
 * loss), the spread and the absolute mean distances within and between classes it divides.
 */
function spreadTable(dataset: string, cells: readonly CellSummary[], runs: ReadonlyArray<RunRecord & { config: TrainRunConfig }>, raw: RunRecord | undefined): string[] {
  const losses = LOSS_NAMES.filter((loss) => cells.some((c) => c.loss === loss));
  const lines = [
    `### Class spread on ${dataset} (claim 4)`,
    '',
    `| sampling | ${losses.join(' | ')} |`,
    `|---|${losses.map(() => '---:|').join('')}`,
  ];
  for (const sampling of SAMPLINGS) {
    const row = losses.map((loss) => cells.find((c) => c.loss === loss && c.sampling === sampling));
    if (row.every((c) => c === undefined)) continue;
    lines.push(`| ${sampling} | ${row.map((c) => (c ? formatMeanStd(c.spread, 3) : '–')).join(' | ')} |`);
  }
  const pooled = (label: string, field: keyof NonNullable<RunRecord['spread']>): string => {
    const values = losses.map((loss) => meanStd(runs.filter((r) => r.config.loss === loss && r.status === 'ok').map((r) => r.spread![field])));
    return `| ${label} | ${values.map((v) => formatMeanStd(v, 3)).join(' | ')} |`;
  };
  lines.push(
    pooled('spread, runs that did not collapse', 'spread'),
    pooled('mean intra-class distance, same runs', 'meanIntraDistance'),
    pooled('mean inter-class distance, same runs', 'meanInterDistance'),
  );
  if (raw?.spread) lines.push('', `Raw pixels: spread ${raw.spread.spread.toFixed(3)}.`);
  return lines;
}

/** `3 ok`, `2 ok, 1 collapsed`, `3 diverged`. */
function describeStatuses(statuses: Readonly<Record<RunStatus, number>>): string {
  return (Object.entries(statuses) as Array<[RunStatus, number]>)
    .filter(([, count]) => count > 0)
    .map(([status, count]) => `${count} ${status}`)
    .join(', ');
}

/** One line: model, input size, batches, steps and examples seen, optimiser and schedule. */
export function describeBudget(budget: StudyBudget, examplesSeen: number | undefined): string {
  const model = budget.model.kind === 'mlp' ? `MLP ${[...(budget.model.hidden ?? [256, 128]), budget.model.embeddingDim ?? 64].join(' → ')}` : `CNN ${JSON.stringify(budget.model)}`;
  const batch = budget.p * budget.k;
  const steps = examplesSeen !== undefined ? `${budget.epochs} epochs × ${examplesSeen / budget.epochs / batch} steps = ${examplesSeen.toLocaleString('en-US')} examples seen` : `${budget.epochs} epochs`;
  return [
    `${model}${budget.resizeTo ? ` on images resized to ${budget.resizeTo.join(' × ')}` : ''}`,
    `batches of ${budget.p} classes × ${budget.k}`,
    steps,
    `${budget.optimizer === 'adam' ? 'Adam' : 'SGD with momentum 0.9'}, ${budget.warmupEpochs ? `${budget.warmupEpochs} epochs of linear warm-up, then ` : ''}${budget.schedule} schedule, learning rate ${budget.learningRates.length > 1 ? `chosen per cell on validation from ${budget.learningRates.join(', ')}` : budget.learningRates[0]}`,
    budget.augment ? 'seeded shifts and flips' : 'no augmentation',
  ].join('; ');
}
