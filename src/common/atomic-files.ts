import { mkdir, rename, rm, writeFile, stat } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';

/** Writes `data` to `path` atomically: a temporary file beside it, flushed, then renamed over it. */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temporary = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  try {
    await writeFile(temporary, data, { flush: true });
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

/**
 * Fills a directory atomically: `fill` writes into a fresh temporary sibling, which then replaces
 * `path` (the old directory is moved aside first and removed last). A crash while `fill` runs
 * leaves `path` as it was.
 */
export async function writeDirectoryAtomic(path: string, fill: (temporaryDirectory: string) => Promise<void>): Promise<void> {
  const parent = dirname(path);
  await mkdir(parent, { recursive: true });
  const stamp = `${process.pid}.${Date.now()}`;
  const temporary = join(parent, `.${basename(path)}.${stamp}.tmp`);
  const previous = join(parent, `.${basename(path)}.${stamp}.old`);
  await mkdir(temporary);
  try {
    await fill(temporary);
  } catch (error) {
    await rm(temporary, { recursive: true, force: true });
    throw error;
  }
  const existed = await stat(path).then(() => true, () => false);
  if (existed) await rename(path, previous);
  await rename(temporary, path);
  if (existed) await rm(previous, { recursive: true, force: true });
}
