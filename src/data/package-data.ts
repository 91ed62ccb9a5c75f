import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | undefined;

/**
 * The path of `segments` inside the shipped `data/` folder of the tripletjs package.
 *
 * The package root is found by walking up from this module to the `package.json` named tripletjs,
 * so the same code works from `src/` (tests through a TS loader), from `build/src/` and from
 * `node_modules/tripletjs/build/src/` when installed, whatever the working directory.
 */
export function packageDataPath(...segments: string[]): string {
  root ??= findPackageRoot(dirname(fileURLToPath(import.meta.url)));
  return join(root, 'data', ...segments);
}

function findPackageRoot(start: string): string {
  for (let directory = start; ; directory = dirname(directory)) {
    const manifest = join(directory, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'tripletjs') {
      return directory;
    }
    if (dirname(directory) === directory) {
      throw new Error(`tripletjs: no package.json named tripletjs above ${start}; the package is incomplete`);
    }
  }
}
