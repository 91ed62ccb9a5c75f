import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * Flushes a file or directory to the disk (fsync). A directory is flushed so that the names
 * created or renamed in it survive a power cut, not only the files' contents.
 */
export async function syncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Flushes every file and directory under `directory`, the directory itself last. */
async function syncTree(directory: string): Promise<void> {
  for (const entry of await readdir(directory, { withFileTypes: true })) {
    const path = join(directory, entry.name);
    if (entry.isDirectory()) await syncTree(path);
    else await syncPath(path);
  }
  await syncPath(directory);
}

/**
 * Writes `data` to `path` atomically and durably: a temporary file beside it, flushed, renamed
 * over `path`, then the folder flushed. A crash at any moment leaves the old file or the new one.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const parent = dirname(path);
  await mkdir(parent, { recursive: true });
  const temporary = join(parent, `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  try {
    const handle = await open(temporary, 'w');
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
  await syncPath(parent);
}

/**
 * Fills a directory atomically and durably: `fill` writes into a fresh temporary sibling, whose
 * files are then flushed and which then replaces `path` (the old directory is moved aside first
 * and removed last); the parent folder is flushed after the rename. A crash while `fill` runs
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
    await syncTree(temporary);
  } catch (error) {
    await rm(temporary, { recursive: true, force: true });
    throw error;
  }
  const existed = await stat(path).then(() => true, () => false);
  if (existed) await rename(path, previous);
  await rename(temporary, path);
  await syncPath(parent);
  if (existed) await rm(previous, { recursive: true, force: true });
}
