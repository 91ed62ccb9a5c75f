import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../common/atomic-files.js';
import type { RunConfig, RunRecord } from './run.js';

/**
 * Where a run's record lives under the study's output directory:
 * `runs/<dataset>/<loss>--<sampling>--seed-<n>.json`, or `runs/<dataset>/raw-pixels.json`.
 */
export function runFile(outDir: string, config: RunConfig): string {
  const dataset = config.dataset.replace(/[^A-Za-z0-9._-]+/g, '_');
  const name = config.kind === 'raw' ? 'raw-pixels' : `${config.loss}--${config.sampling}--seed-${config.seed}`;
  return join(outDir, 'runs', dataset, `${name}.json`);
}

/**
 * The stored record of `config`, if a finished run with exactly this configuration (budget and
 * protocol version included) was written before; otherwise undefined (missing, unreadable, or
 * made with another configuration: the run is done again).
 */
export async function readFinishedRun(outDir: string, config: RunConfig): Promise<RunRecord | undefined> {
  let record: RunRecord;
  try {
    record = JSON.parse(await readFile(runFile(outDir, config), 'utf8')) as RunRecord;
  } catch {
    return undefined;
  }
  return canonical(record?.config) === canonical(config) ? record : undefined;
}

/** Writes a finished run's record atomically: an interrupted study never leaves half a file. */
export async function writeRun(outDir: string, record: RunRecord): Promise<void> {
  await writeFileAtomic(runFile(outDir, record.config), JSON.stringify(record, null, 2) + '\n');
}

/** JSON with object keys sorted, so that key order does not decide whether two configurations match. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}
