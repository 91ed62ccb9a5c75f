// Builds the optional native kernel pack (native/build/Release/tripletjs_native.node) with
// node-gyp; run by `npm run build`. The addon is a speed-up, not a requirement: when it cannot be
// built (no OpenBLAS, no compiler, TRIPLETJS_NATIVE=0) this prints why and exits 0, and
// initBackend() announces at start-up that the wasm kernels are in use.
//
// node-gyp is the one npm bundles (npm_config_node_gyp in npm scripts, else beside this node,
// else on PATH). Node's headers come from npm's nodedir setting, else from the running node's
// own prefix, so that nothing is downloaded. `make` makes repeated builds incremental.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

function skip(reason) {
  console.warn(`tripletjs: native kernels not built (${reason}); the wasm kernels will be used`);
  process.exit(0);
}

if (process.env.TRIPLETJS_NATIVE === '0') skip('TRIPLETJS_NATIVE=0');
if (process.platform !== 'linux') skip(`the build is set up for Linux, not ${process.platform}`);

const prefix = join(dirname(process.execPath), '..');
const gyp = [process.env.npm_config_node_gyp, join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js')].find(
  (path) => path !== undefined && existsSync(path),
);
const command = gyp !== undefined ? [process.execPath, gyp] : ['node-gyp'];
const args = [];
if (process.env.npm_config_nodedir === undefined && existsSync(join(prefix, 'include', 'node', 'node_api.h'))) {
  args.push(`--nodedir=${prefix}`);
}

// Output is shown only when a step fails: an up-to-date build prints nothing.
function run(step, extra = []) {
  const result = spawnSync(command[0], [...command.slice(1), step, ...args, ...extra], { cwd: here, encoding: 'utf8' });
  if (result.error !== undefined) skip(`cannot run node-gyp: ${result.error.message}`);
  if (result.status !== 0) {
    // An addon left from an earlier build would hide the failure: remove it.
    rmSync(join(here, 'build', 'Release', 'tripletjs_native.node'), { force: true });
    const output = `${result.stdout}${result.stderr}`;
    const lines = output.trim().split('\n');
    const missingBlas = /cblas\.h|-lopenblas/.test(output);
    skip(missingBlas ? 'OpenBLAS not found: install Debian libopenblas-dev' : `node-gyp ${step} failed: ${lines.slice(-3).join(' | ')}`);
  }
}

// What the system offers decides what the addon is built with, so a configuration made before
// OpenBLAS or oneDNN was installed must not outlive the install: the detected libraries are
// stamped beside the Makefile, and any change starts the build over.
const compiler = process.env.CXX || 'g++';
const hasHeader = (header) =>
  spawnSync(compiler, ['-E', '-x', 'c++', '-', '-o', '/dev/null'], { input: `#include <${header}>\n`, encoding: 'utf8' }).status === 0;
const detected = JSON.stringify({ openblas: hasHeader('cblas.h'), dnnl: hasHeader('oneapi/dnnl/dnnl.hpp') });
const stamp = join(here, 'build', 'detected.json');
const previous = existsSync(stamp) ? readFileSync(stamp, 'utf8') : undefined;
if (!existsSync(join(here, 'build', 'Makefile')) || previous !== detected) {
  if (previous !== undefined) console.log(`tripletjs: the system's libraries changed (${previous} → ${detected}); rebuilding the native kernels`);
  else console.log('tripletjs: building the native kernels (node-gyp, OpenBLAS)');
  rmSync(join(here, 'build'), { recursive: true, force: true });
  run('configure', ['--', `-Dhas_dnnl=${JSON.parse(detected).dnnl ? 1 : 0}`]);
  writeFileSync(stamp, detected);
}
run('build');
