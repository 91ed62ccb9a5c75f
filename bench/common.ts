/**
 * Small helpers shared by the benchmarks in bench/: timing with medians, the machine description,
 * memory figures and a markdown table printer. Nothing here depends on tripletjs itself.
 */
import os from 'node:os';

/** `global.gc` when node runs with `--expose-gc`, else a no-op. */
export const collectGarbage: () => void =
  typeof (globalThis as { gc?: () => void }).gc === 'function' ? (globalThis as unknown as { gc: () => void }).gc : () => {};

/** Whether {@link collectGarbage} really collects. */
export const gcExposed = typeof (globalThis as { gc?: () => void }).gc === 'function';

/** The median of `values` (mean of the two middle ones for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Options of {@link timeRepeated}. */
export interface TimingOptions {
  /** Timed repetitions. */
  repetitions: number;
  /** Untimed runs first (JIT, kernel and allocator warm-up). Default 1. */
  warmups?: number;
  /** Collect garbage before each run, outside the timed span. Default true. */
  gcBetween?: boolean;
  /**
   * When a warm-up run takes longer than this (ms), the repetitions are cut down so that the
   * timed runs together stay near `budgetMs` (at least `minRepetitions`). Default: no budget.
   */
  budgetMs?: number;
  /** Fewest repetitions a budget may leave (default 3). */
  minRepetitions?: number;
}

/** Samples of {@link timeRepeated}, in milliseconds. */
export interface Timing {
  readonly samples: number[];
  readonly warmupMs: number[];
  readonly median: number;
  readonly min: number;
  readonly max: number;
  /** Repetitions asked for, when a budget reduced them. */
  readonly reducedFrom?: number;
}

/** Runs `run` (synchronously completing its work) and returns wall-clock samples in ms. */
export function timeRepeated(run: () => void, options: TimingOptions): Timing {
  const { warmups = 1, gcBetween = true, budgetMs, minRepetitions = 3 } = options;
  let repetitions = options.repetitions;
  const once = (): number => {
    if (gcBetween) collectGarbage();
    const started = performance.now();
    run();
    return performance.now() - started;
  };
  const warmupMs: number[] = [];
  for (let i = 0; i < warmups; i++) warmupMs.push(once());
  let reducedFrom: number | undefined;
  const slowest = warmupMs.length > 0 ? Math.max(...warmupMs) : 0;
  if (budgetMs !== undefined && slowest * repetitions > budgetMs) {
    const fitting = Math.max(minRepetitions, Math.floor(budgetMs / Math.max(slowest, 1e-9)));
    if (fitting < repetitions) {
      reducedFrom = repetitions;
      repetitions = fitting;
    }
  }
  const samples: number[] = [];
  for (let i = 0; i < repetitions; i++) samples.push(once());
  return {
    samples,
    warmupMs,
    median: median(samples),
    min: Math.min(...samples),
    max: Math.max(...samples),
    ...(reducedFrom !== undefined ? { reducedFrom } : {}),
  };
}

/** The machine a benchmark runs on. */
export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  node: string;
  platform: string;
}

export function machine(): Machine {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
  };
}

/** Peak resident set size of this process so far, in MiB (maxRSS is reported in KiB). */
export function peakRssMiB(): number {
  return process.resourceUsage().maxRSS / 1024;
}

/** A number with `digits` decimals, or with fewer for large values. */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return '–';
  if (ms >= 1000) return ms.toFixed(0);
  if (ms >= 100) return ms.toFixed(1);
  if (ms >= 10) return ms.toFixed(2);
  return ms.toFixed(3);
}

/** A ratio with two significant decimals, e.g. `2.41×`, `37.0×`, `1520×`. */
export function formatRatio(ratio: number): string {
  if (!Number.isFinite(ratio)) return '–';
  if (ratio >= 1000) return `${ratio.toFixed(0)}×`;
  if (ratio >= 10) return `${ratio.toFixed(1)}×`;
  return `${ratio.toFixed(2)}×`;
}

/** A count with thousands separators. */
export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

/** A markdown table; columns whose index is in `right` are right-aligned. */
export function markdownTable(headers: readonly string[], rows: readonly (readonly string[])[], right: ReadonlySet<number> = new Set()): string {
  const widths = headers.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)));
  const pad = (text: string, c: number): string => (right.has(c) ? text.padStart(widths[c]!) : text.padEnd(widths[c]!));
  const line = (cells: readonly string[]): string => `| ${cells.map((cell, c) => pad(cell, c)).join(' | ')} |`;
  const rule = `|${widths.map((w, c) => (right.has(c) ? `${'-'.repeat(w + 1)}:` : `${'-'.repeat(w + 2)}`)).join('|')}|`;
  return [line(headers), rule, ...rows.map(line)].join('\n');
}

/** The value following `flag` on the command line (`--json out.json`), if any. */
export function argValue(flag: string, argv: readonly string[] = process.argv.slice(2)): string | undefined {
  const index = argv.indexOf(flag);
  if (index >= 0) {
    const value = argv[index + 1];
    if (value === undefined || value.startsWith('--')) throw new Error(`${flag} needs a value`);
    return value;
  }
  const inline = argv.find((a) => a.startsWith(`${flag}=`));
  return inline?.slice(flag.length + 1);
}
