import { importOptional } from '../common/optional-module.js';
import { LOSS_NAMES } from '../training/components.js';
import { SAMPLINGS } from './grid.js';
import type { RunRecord } from './run.js';
import type { CellSummary } from './summary.js';

/** Fonts asked for, in order: common sans-serif faces on Linux, macOS and Windows. */
const FONT = 'DejaVu Sans, Liberation Sans, Helvetica, Arial, sans-serif';

/** Point colours by what the cell's runs did. */
const STATUS_COLOURS: ReadonlyArray<[string, string]> = [
  ['all ok', '#4c78a8'],
  ['some collapsed', '#f2a541'],
  ['all collapsed', '#d1495b'],
  ['diverged', '#9d9d9d'],
];

/** The charting packages, optional dependencies of tripletjs: only the study draws charts. */
interface ChartModules {
  readonly vega: typeof import('vega');
  readonly vl: typeof import('vega-lite');
  readonly Resvg: typeof import('@resvg/resvg-js').Resvg;
}

/** Loads the charting packages, or fails with what to install: the study calls it before its first run. */
export async function loadChartModules(): Promise<ChartModules> {
  const purpose = "the study's chart";
  const [vega, vl, resvg] = await Promise.all([
    importOptional<typeof import('vega')>('vega', purpose),
    importOptional<typeof import('vega-lite')>('vega-lite', purpose),
    importOptional<typeof import('@resvg/resvg-js')>('@resvg/resvg-js', purpose),
  ]);
  return { vega, vl, Resvg: resvg.Resvg };
}

/** The chart as SVG text and as PNG bytes. */
export interface StudyChart {
  readonly svg: string;
  readonly png: Uint8Array;
}

/**
 * One chart comparing the sampling methods for each loss: a row per dataset, a panel per loss,
 * a point per sampling method (test MAP@R, mean over seeds) with a ±1 std line, the raw-pixel
 * floor as a dashed line, points coloured by collapse and divergence. Drawn by Vega-Lite headlessly (no
 * canvas: text widths are estimated) and rasterised by resvg at 2× with the system's fonts; the
 * PNG has text only if one of the fonts in {@link FONT}, or another sans-serif face, is installed.
 */
export async function studyChart(summaries: readonly CellSummary[], rawPixels: readonly RunRecord[]): Promise<StudyChart> {
  const { vega, vl, Resvg } = await loadChartModules();
  const datasets = [...new Set(summaries.map((s) => s.dataset))];
  const rows = summaries.map((cell) => {
    const map = cell.metrics.mapAtR;
    const { ok, collapsed, diverged } = cell.statuses;
    const floor = rawPixels.find((r) => r.config.dataset === cell.dataset)?.test?.mapAtR ?? null;
    const status = ok + collapsed === 0 ? 'diverged' : collapsed === 0 ? 'all ok' : ok === 0 && diverged === 0 ? 'all collapsed' : 'some collapsed';
    return {
      dataset: cell.dataset,
      loss: cell.loss,
      sampling: cell.sampling,
      status,
      mean: map?.mean ?? null,
      low: map && !Number.isNaN(map.std) ? map.mean - map.std : null,
      high: map && !Number.isNaN(map.std) ? map.mean + map.std : null,
      floor,
      // Where the note goes: above the point, or on the floor line for a cell without one.
      noteAt: map?.mean ?? floor,
      note: diverged > 0 ? `${diverged} diverged` : collapsed > 0 ? `${collapsed} collapsed` : '',
    };
  });
  const x = { field: 'sampling', type: 'nominal', sort: SAMPLINGS, title: null, axis: { labelAngle: -40 } } as const;
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'Test MAP@R by sampling method', subtitle: 'each cell at its learning rate chosen on validation; points: mean over seeds, lines: ± 1 std, dashed: raw pixels' },
    config: { font: FONT, background: 'white' },
    resolve: { scale: { y: 'independent' } },
    vconcat: datasets.map((dataset) => ({
      title: dataset,
      data: { values: rows.filter((r) => r.dataset === dataset) },
      facet: { column: { field: 'loss', type: 'nominal', sort: LOSS_NAMES, title: null } },
      spec: {
        width: 170,
        height: 150,
        layer: [
          {
            mark: { type: 'point', filled: true, size: 70, opacity: 1 },
            encoding: {
              x,
              y: { field: 'mean', type: 'quantitative', title: 'MAP@R', scale: { zero: false } },
              color: {
                field: 'status',
                type: 'nominal',
                title: 'runs',
                scale: { domain: STATUS_COLOURS.map(([s]) => s), range: STATUS_COLOURS.map(([, c]) => c) },
              },
            },
          },
          { mark: 'rule', encoding: { x, y: { field: 'low', type: 'quantitative' }, y2: { field: 'high' } } },
          { mark: { type: 'rule', strokeDash: [4, 3], color: 'black' }, encoding: { y: { field: 'floor', type: 'quantitative', aggregate: 'mean' } } },
          { mark: { type: 'text', dy: -10, fontSize: 9 }, encoding: { x, y: { field: 'noteAt', type: 'quantitative' }, text: { field: 'note' } } },
        ],
      },
      // Each loss shows only its own sampling methods.
      resolve: { scale: { x: 'independent' } },
    })),
  };
  const view = new vega.View(vega.parse(vl.compile(spec as unknown as import('vega-lite').TopLevelSpec).spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  const png = new Resvg(svg, { fitTo: { mode: 'zoom', value: 2 }, font: { loadSystemFonts: true, sansSerifFamily: 'DejaVu Sans' } }).render().asPng();
  return { svg, png };
}
