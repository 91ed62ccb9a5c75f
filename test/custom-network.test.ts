import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tf, tfl } from '../src/tf.js';
import { TripletjsInputError } from '../src/common/errors.js';
import { loadDataset } from '../src/data/index.js';
import { createModel, embed, exportPretrained, loadBackbone, loadModel, PretrainedGraph } from '../src/models/index.js';
import { train } from '../src/training/index.js';
import './helpers/setup.js';

// train() in code, with networks tripletjs did not build: any layers model, or a trunk object.

const faces = await loadDataset('orl-faces');
const sample = faces.images.subarray(0, 4 * 112 * 92);

let directory: string;
before(async () => {
  directory = await mkdtemp(join(tmpdir(), 'tripletjs-custom-'));
});
after(async () => {
  if (directory) await rm(directory, { recursive: true, force: true });
});

/** A small network a user might write: conv, pool, dense to 8 dimensions, no normalisation of its own. */
function userNetwork(inputShape: number[] = [112, 92, 1], units = 8): tfl.LayersModel {
  const network = tfl.sequential({ name: 'users_net' });
  network.add(tfl.layers.conv2d({ inputShape, filters: 4, kernelSize: 3, strides: 2, activation: 'relu', kernelInitializer: tfl.initializers.heNormal({ seed: 3 }) }));
  network.add(tfl.layers.globalAveragePooling2d({}));
  network.add(tfl.layers.dense({ units, kernelInitializer: tfl.initializers.glorotUniform({ seed: 4 }) }));
  return network;
}

const brief = { dataset: faces, p: 4, k: 2, epochs: 1, stepsPerEpoch: 3, learningRate: 1e-2, evaluateTest: false } as const;

describe('train() with a network built in code', () => {
  it('trains it in place, normalises its output, saves it as a custom network that reloads and embeds the same', async () => {
    const network = userNetwork();
    const before = network.getWeights().map((w) => w.dataSync().slice());
    const out = join(directory, 'run');
    const result = await train({ ...brief, model: network, outDir: out });
    const after = network.getWeights().map((w) => w.dataSync());
    assert.ok(after.some((values, i) => values.some((v, j) => v !== before[i]![j])), "the user's own weights were trained");
    const embeddings = embed(result.model, sample, 4);
    for (let row = 0; row < 4; row++) {
      const norm = Math.hypot(...embeddings.subarray(row * 8, (row + 1) * 8));
      assert.ok(Math.abs(norm - 1) < 1e-5, `embedding ${row} has norm ${norm}`);
    }
    const loaded = await loadModel(join(out, 'model'));
    assert.deepEqual(loaded.metadata.config, { kind: 'custom', name: 'users_net', embeddingDim: 8 });
    const again = embed(loaded.model, sample, 4);
    assert.ok(again.every((v, i) => Math.abs(v - embeddings[i]!) < 1e-6));
    loaded.model.dispose();
    result.model.dispose();
  });

  it('what cannot be an embedding network is a one-line error', async () => {
    const refused = async (options: Parameters<typeof train>[0], pattern: RegExp) =>
      assert.rejects(train(options), (error: Error) => error instanceof TripletjsInputError && pattern.test(error.message) && !error.message.includes('\n'));
    await refused({ ...brief, model: userNetwork([28, 28, 1]) }, /'users_net' takes inputs of \[28, 28, 1\] but the images are 112 × 92 × 1/);
    const mapOut = tfl.sequential({ name: 'map_net', layers: [tfl.layers.conv2d({ inputShape: [112, 92, 1], filters: 2, kernelSize: 3 })] });
    await refused({ ...brief, model: mapOut }, /'map_net' outputs \[null, 110, 90, 2\]: an embedding network outputs one vector per image/);
    await refused({ ...brief, model: userNetwork(), resizeTo: [56, 46] }, /resizeTo is for networks built from a config/);
    assert.throws(() => createModel({ kind: 'custom', name: 'x', embeddingDim: 8 }, { inputShape: [112, 92, 1] }, 0), /'x' was built in code: it has no config to build it from/);
    await refused({ ...brief, model: { kind: 'backbone' } }, /a backbone model needs its trunk/);
    await refused({ ...brief, model: { kind: 'mlp' }, trunk: userNetwork() }, /a trunk is for a backbone model/);
  });

  it('a trunk object instead of a path: a graph model loaded in code, frozen under a trained head', async () => {
    const path = await exportPretrained('human-mobilefacenet', join(directory, 'mobilefacenet'));
    const trunk = await loadBackbone(path);
    assert.ok(trunk instanceof PretrainedGraph);
    const tensorsBefore = tf.memory().numTensors;
    const result = await train({ ...brief, model: { kind: 'backbone', cutAt: 'embeddings', embeddingDim: 8 }, trunk });
    assert.deepEqual(
      result.model.trainableWeights.map((w) => w.originalName),
      ['head_embedding/kernel', 'head_embedding/bias'],
    );
    result.model.dispose();
    assert.ok(tf.memory().numTensors < tensorsBefore, "the model's disposal frees the graph it was given");
  });
});
