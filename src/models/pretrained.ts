import { readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import vm from 'node:vm';
import { require, TripletjsInputError } from '../common/errors.js';
import { writeDirectoryAtomic } from '../common/atomic-files.js';

/** A pretrained trunk that installs with an npm package, and what is known of it. */
export interface PretrainedTrunk {
  readonly name: string;
  /** The npm package and version that hold it. */
  readonly npmPackage: string;
  readonly version: string;
  /** Where its weights come from and under which licence, as the package states. */
  readonly origin: string;
  /** Input size (height, width), and the range it takes its inputs in. */
  readonly inputSize: readonly [number, number];
  readonly inputRange: '0-1' | '-1-1' | '0-255';
  /** Suggested cut and freeze points for a trunk + head (see `BackboneConfig`). */
  readonly cutAt: string;
  readonly freezeUpTo: string;
}

/** Trunks that `exportPretrained` can write out. */
export const PRETRAINED_TRUNKS: Readonly<Record<string, PretrainedTrunk>> = {
  'nsfwjs-mobilenetv2': {
    name: 'nsfwjs-mobilenetv2',
    npmPackage: 'nsfwjs',
    version: '4.3.0',
    origin:
      "Keras MobileNetV2 (224 × 224, width 1.0) from nsfwjs 4.3.0 (MIT, Infinite Red), trained by GantMan/nsfw_model (MIT) from Keras's ImageNet weights: the layers up to block_10 are the ImageNet ones (frozen in its training, stored as 8-bit quantised weights), the blocks above were retrained to classify 5 kinds of images",
    inputSize: [224, 224],
    inputRange: '0-1',
    cutAt: 'block_10_project_BN',
    freezeUpTo: 'block_10_project_BN',
  },
};

/**
 * Writes a pretrained trunk from an installed npm package as a plain TensorFlow.js layers model
 * (`outDir/model.json` and its weights), for `--backbone`. nsfwjs bundles its MobileNetV2 as
 * JavaScript files that export the topology and base64 weights: they are evaluated in an empty
 * sandbox (no require, no network) and written out; nothing of nsfwjs's loader runs. Returns the
 * path of `model.json`.
 */
export async function exportPretrained(name: string, outDir: string): Promise<string> {
  const trunk = PRETRAINED_TRUNKS[name];
  require(trunk !== undefined, () => `unknown pretrained trunk '${name}' (known: ${Object.keys(PRETRAINED_TRUNKS).join(', ')})`);
  const root = packageRoot(trunk.npmPackage);
  const { version } = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { version: string };
  require(version === trunk.version, `${name} comes from ${trunk.npmPackage} ${trunk.version}, but ${version} is installed (npm install -D ${trunk.npmPackage}@${trunk.version})`);
  const folder = join(root, 'dist', 'models', 'mobilenet_v2');
  const model = (await bundleExports(join(folder, 'model.min.js'))) as { modelTopology?: object; weightsManifest?: Array<{ paths: string[]; weights: unknown[] }> };
  require(model?.modelTopology !== undefined && Array.isArray(model.weightsManifest), `${folder}/model.min.js does not hold a TensorFlow.js layers model`);
  const files: Record<string, Uint8Array> = {};
  const manifest = [];
  for (const group of model.weightsManifest) {
    const paths: string[] = [];
    for (const shard of group.paths) {
      const base64 = await bundleExports(join(folder, `${shard}.min.js`));
      require(typeof base64 === 'string', `${folder}/${shard}.min.js does not hold base64 weights`);
      files[`${shard}.bin`] = Buffer.from(base64, 'base64');
      paths.push(`${shard}.bin`);
    }
    manifest.push({ ...group, paths });
  }
  files['model.json'] = Buffer.from(JSON.stringify({ format: 'layers-model', ...model, weightsManifest: manifest, tripletjs: { origin: trunk.origin } }));
  await writeDirectoryAtomic(outDir, async (temporary) => {
    for (const [file, bytes] of Object.entries(files)) await writeFile(join(temporary, file), bytes);
  });
  return join(outDir, 'model.json');
}

function packageRoot(name: string): string {
  let entry: string;
  try {
    entry = createRequire(import.meta.url).resolve(name);
  } catch {
    throw new TripletjsInputError(`the npm package ${name} is not installed (npm install -D ${name}): it holds the pretrained weights`);
  }
  // The entry point is <root>/dist/cjs/index.js.
  return dirname(dirname(dirname(entry)));
}

/** What a UMD bundle assigns to `module.exports`, evaluated with nothing but that object in scope. */
async function bundleExports(path: string): Promise<unknown> {
  const code = await readFile(path, 'utf8').catch((error: Error) => {
    throw new TripletjsInputError(`cannot read ${path} (${error.message})`);
  });
  const sandbox = { module: { exports: {} as unknown }, exports: {} };
  sandbox.exports = sandbox.module.exports as object;
  vm.runInNewContext(code, sandbox, { filename: path, timeout: 60_000 });
  return sandbox.module.exports;
}
