import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { canonicalJson } from '../common/canonical-json.js';
import { require } from '../common/errors.js';

/**
 * Makes `outDir` ready for a run. A folder that already holds something is another run's (or
 * another program's): it is continued only with `resume`, cleared only with `overwrite`, and
 * otherwise refused, so that one run's checkpoints never mix with another's.
 */
export async function prepareRunFolder(outDir: string, { resume, overwrite }: { resume: boolean; overwrite: boolean }): Promise<void> {
  require(!(resume && overwrite), 'resume and overwrite exclude each other: continue the run in the folder, or start over');
  const entries = await readdir(outDir).catch((error: NodeJS.ErrnoException) => {
    require(error.code === 'ENOENT', `cannot use ${outDir} as the run folder: ${error.message}`);
    return [];
  });
  if (entries.length > 0 && !resume) {
    require(
      overwrite,
      `${outDir} already holds a run (${entries.slice(0, 3).join(', ')}${entries.length > 3 ? ', …' : ''}): continue it with --resume, ` +
        'start over with --overwrite (which deletes it), or choose another --out',
    );
    await Promise.all(entries.map((entry) => rm(join(outDir, entry), { recursive: true, force: true })));
  }
  await mkdir(outDir, { recursive: true });
}

/**
 * The settings that differ between a checkpoint's run and the run asked for, one `name: saved →
 * asked` line each (values as JSON); empty when they agree.
 */
export function settingDifferences(saved: Readonly<Record<string, unknown>>, asked: Readonly<Record<string, unknown>>): string[] {
  const keys = [...new Set([...Object.keys(saved), ...Object.keys(asked)])].sort();
  return keys
    .map((key) => [key, canonicalJson(saved[key] ?? null), canonicalJson(asked[key] ?? null)] as const)
    .filter(([, before, after]) => before !== after)
    .map(([key, before, after]) => `${key}: ${before} → ${after}`);
}
