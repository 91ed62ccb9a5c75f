import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmod, cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const sources = fileURLToPath(new URL('../../native/', import.meta.url));
const hasHeader = (header: string): boolean =>
  spawnSync('g++', ['-E', '-x', 'c++', '-', '-o', '/dev/null'], { input: `#include <${header}>\n` }).status === 0;
const libraries = hasHeader('cblas.h') && hasHeader('oneapi/dnnl/dnnl.hpp');

test(
  'the native build follows the system: a build made before libdnnl-dev was installed is redone with it',
  { skip: !libraries && 'needs libopenblas-dev and libdnnl-dev (.ci/run installs both)' },
  async () => {
    const directory = await mkdtemp(join(tmpdir(), 'tripletjs-native-build-'));
    const native = join(directory, 'native');
    await cp(sources, native, { recursive: true, filter: (path) => !/[/]native[/]build([/]|$)/.test(path) });
    // A compiler that cannot see oneDNN's header, as before `apt-get install libdnnl-dev`.
    const compiler = join(directory, 'g++-without-dnnl');
    await writeFile(compiler, '#!/bin/sh\nif [ "$1" = "-E" ]; then input=$(cat); case "$input" in *dnnl*) exit 1;; esac; printf "%s\\n" "$input" | exec g++ "$@"; fi\nexec g++ "$@"\n');
    await chmod(compiler, 0o755);
    const build = (env: NodeJS.ProcessEnv) => spawnSync(process.execPath, [join(native, 'build.mjs')], { encoding: 'utf8', env: { ...process.env, ...env } });
    const makefile = () => readFile(join(native, 'build', 'tripletjs_native.target.mk'), 'utf8');

    const before = build({ CXX: compiler });
    assert.equal(before.status, 0, before.stderr);
    assert.doesNotMatch(await makefile(), /TRIPLETJS_DNNL/, 'built without oneDNN');
    const after = build({ CXX: '' });
    assert.equal(after.status, 0, after.stderr);
    assert.match(after.stdout, /libraries changed .*rebuilding/);
    assert.match(await makefile(), /-DTRIPLETJS_DNNL/, 'configured again, with oneDNN');
    const again = build({ CXX: '' });
    assert.equal(again.stdout, '', 'an up-to-date build prints nothing');
    await rm(directory, { recursive: true });
  },
);
