import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const fixture = fileURLToPath(new URL('./fixtures/durable-writes.js', import.meta.url));
const strace = spawnSync('strace', ['-V'], { encoding: 'utf8' }).status === 0;

/** One traced call: its name, the paths it names (fds resolved by strace -y), in order. */
interface Call {
  readonly name: string;
  readonly paths: string[];
}

function parseTrace(text: string): Call[] {
  const calls: Call[] = [];
  for (const line of text.split('\n')) {
    const match = /^(?:\d+\s+)?(\w+)\((.*)\)\s+=\s+0$/.exec(line.trim());
    if (!match) continue;
    const paths = [...match[2]!.matchAll(/<([^>]+)>|"([^"]+)"/g)].map((m) => m[1] ?? m[2]!);
    calls.push({ name: match[1]!, paths });
  }
  return calls;
}

test('checkpoints, models and atomic files are flushed before their rename, and their folder after it', { skip: !strace && 'strace is not installed (.ci/run installs it)' }, async () => {
  const directory = await mkdtemp(join(tmpdir(), 'tripletjs-durable-'));
  const log = join(directory, 'trace.log');
  const out = join(directory, 'out');
  const result = spawnSync('strace', ['-f', '-y', '-e', 'trace=fsync,fdatasync,rename,renameat,renameat2', '-o', log, process.execPath, fixture, out], { encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  const calls = parseTrace(await readFile(log, 'utf8'));
  const synced = (path: string, before: number): boolean => calls.slice(0, before).some((c) => /sync/.test(c.name) && c.paths[0] === path);
  const renameTo = (target: string): number => calls.findIndex((c) => c.name.startsWith('rename') && c.paths.at(-1) === target);

  // The model directory: every file flushed under its temporary name, then the rename, then the parent.
  const modelRename = renameTo(join(out, 'model'));
  assert.ok(modelRename >= 0, 'the model directory is renamed into place');
  const temporary = calls[modelRename]!.paths[0]!;
  for (const file of await readdir(join(out, 'model'))) {
    assert.ok(synced(join(temporary, file), modelRename), `${file} is flushed before the rename`);
  }
  assert.ok(synced(temporary, modelRename), 'the temporary directory is flushed before the rename');
  assert.ok(calls.slice(modelRename + 1).some((c) => /sync/.test(c.name) && c.paths[0] === out), 'the parent folder is flushed after the rename');

  const noteRename = renameTo(join(out, 'note.json'));
  assert.ok(noteRename >= 0);
  assert.ok(synced(calls[noteRename]!.paths[0]!, noteRename), 'the file is flushed before its rename');
  assert.ok(calls.slice(noteRename + 1).some((c) => /sync/.test(c.name) && c.paths[0] === out), 'its folder is flushed after');
  await rm(directory, { recursive: true });
});
