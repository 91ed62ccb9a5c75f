import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../common/atomic-files.js';
import type { RunConfig, RunRecord } from './run.js';
import { canonicalJson } from '../common/canonical-json.js';

/**
 * Where a run's record lives under the study's output directory:
 * `runs/<dataset>/<loss>--<sampling>--seed-<n>.json` (final runs),
 * `runs/<dataset>/select/<loss>--<sampling>--lr-<rate>.json` (learning-rate choice), or
 * `runs/<dataset>/raw-pixels.json`.
 */
export function runFile(outDir: string, config: RunConfig): string {
  const dataset = config.dataset.replace(/[^A-Za-z0-9._-]+/g, '_');
  if (config.kind === 'raw') return join(outDir, 'runs', dataset, 'raw-pixels.json');
  const cell = `${config.loss}--${config.sampling}`;
  return config.purpose === 'select'
    ? join(outDir, 'runs', dataset, 'select', `${cell}--lr-${config.learningRate}.json`)
    : join(outDir, 'runs', dataset, `${cell}--seed-${config.seed}.json`);
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
  return canonicalJson(record?.config) === canonicalJson(config) ? record : undefined;
}

/** Writes a finished run's record atomically: an interrupted study never leaves half a file. */
export async function writeRun(outDir: string, record: RunRecord): Promise<void> {
  await writeFileAtomic(runFile(outDir, record.config), JSON.stringify(record, null, 2) + '\n');
}
