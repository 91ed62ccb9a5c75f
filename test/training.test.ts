import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tf } from '../src/tf.js';
import { loadDataset } from '../src/data/index.js';
import { toInputs } from '../src/data/augment.js';
import { createModel, embed, loadModel, saveModel } from '../src/models/index.js';
import { evaluateModel, train, type TrainingEvent } from '../src/training/index.js';
import { decodeNpy } from '../src/index/npy.js';
import { TripletjsInputError } from '../src/common/errors.js';
import { TripletMarginLoss } from '../src/losses/index.js';
import { PKSampler } from '../src/samplers/index.js';
import './helpers/setup.js';

const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const faces = await loadDataset('orl-faces');
const small = { kind: 'mlp' as const, hidden: [64], embeddingDim: 16 };
const preprocessing = { inputShape: [112, 92, 1] as const, resizeTo: [28, 23] as const };

async function temporaryDirectory(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'tripletjs-test-'));
}

describe('models', () => {
  it('a seed fixes the initial weights, seed 0 included (tfjs reads 0 as "unseeded")', () => {
    for (const seed of [0, 5]) {
      const [a, b] = [createModel(small, preprocessing, seed), createModel(small, preprocessing, seed)];
      const weights = (m: typeof a) => m.getWeights().map((w) => Array.from(w.dataSync()));
      assert.deepEqual(weights(a), weights(b));
      assert.notDeepEqual(weights(a), weights(createModel(small, preprocessing, seed + 1)));
    }
  });

  it('CNN pooling: global average by default, flatten on request; unknown kinds are refused', () => {
    const shapeBeforeEmbedding = (pooling?: 'average' | 'flatten') => {
      const model = createModel({ kind: 'cnn', filters: [4, 8], embeddingDim: 8, ...(pooling ? { pooling } : {}) }, { inputShape: [16, 12, 1] }, 1);
      return model.layers.at(-3)!.outputShape;
    };
    assert.deepEqual(shapeBeforeEmbedding(), [null, 8]);
    assert.deepEqual(shapeBeforeEmbedding('flatten'), [null, 4 * 3 * 8]);
    assert.throws(() => createModel({ kind: 'cnn', pooling: 'max' as never }, { inputShape: [16, 12, 1] }, 1), /unknown CNN pooling/);
    assert.throws(() => createModel({ kind: 'rnn' } as never, { inputShape: [16, 12, 1] }, 1), /unknown model kind/);
  });

  it('save → load gives the same embeddings; corrupt or foreign files give clear errors', async () => {
    const directory = await temporaryDirectory();
    const model = createModel(small, preprocessing, 3);
    const pixels = toInputs(faces, Int32Array.of(0, 15, 399));
    const before = embed(model, pixels, 3);
    await saveModel(model, directory, { config: small, preprocessing, embeddingDim: 16 });
    const { model: loaded, metadata } = await loadModel(directory);
    assert.deepEqual(embed(loaded, pixels, 3), before);
    assert.deepEqual(metadata.preprocessing, preprocessing);
    // Each row is unit length: the model ends with L2 normalisation.
    for (let r = 0; r < 3; r++) assert.ok(Math.abs(Math.hypot(...before.subarray(r * 16, r * 16 + 16)) - 1) < 1e-5);

    await truncate(join(directory, 'weights.bin'), 100);
    await assert.rejects(loadModel(directory), (e: unknown) => e instanceof TripletjsInputError && /truncated or corrupt/.test(e.message));
    await writeFile(join(directory, 'model.json'), '{"modelTopology": ');
    await assert.rejects(loadModel(directory), /not valid JSON/);
    await rm(join(directory, 'tripletjs.json'));
    await assert.rejects(loadModel(directory), /not a tripletjs model/);
    await assert.rejects(loadModel(join(directory, 'nowhere')), /no model directory/);
    tf.dispose([model, loaded].flatMap((m) => m.getWeights()));
    await rm(directory, { recursive: true });
  });
  it('an ensemble outputs its members\' unit embeddings side by side, divided by √members, and saves and loads', async () => {
    const ensemble = {
      kind: 'ensemble' as const,
      members: [
        { network: small, resizeTo: [28, 23] as const },
        { network: { kind: 'cnn' as const, filters: [4], pooling: 'flatten' as const, embeddingDim: 8 }, resizeTo: [14, 12] as const },
      ],
    };
    const wholeSize = { inputShape: [112, 92, 1] as const };
    const model = createModel(ensemble, wholeSize, 2);
    const pixels = toInputs(faces, Int32Array.of(0, 15, 399));
    const embeddings = embed(model, pixels, 3);
    assert.equal(embeddings.length, 3 * 24);
    for (let r = 0; r < 3; r++) {
      for (const [from, to] of [[0, 16], [16, 24]] as const) {
        const norm = Math.hypot(...embeddings.subarray(r * 24 + from, r * 24 + to)) * Math.SQRT2;
        assert.ok(Math.abs(norm - 1) < 1e-5, `row ${r}, member [${from}, ${to}): norm ${norm}`);
      }
    }
    const directory = await temporaryDirectory();
    await saveModel(model, directory, { config: ensemble, preprocessing: wholeSize, embeddingDim: 24 });
    const { model: loaded } = await loadModel(directory);
    assert.deepEqual(embed(loaded, pixels, 3), embeddings);
    assert.throws(() => createModel({ kind: 'ensemble', members: [ensemble.members[0]!] }, wholeSize, 2), /at least two members/);
    tf.dispose([model, loaded].flatMap((m) => m.getWeights()));
    await rm(directory, { recursive: true });
  });
});

describe('training', () => {
  const options = {
    dataset: faces,
    model: small,
    resizeTo: [28, 23] as [number, number],
    miner: 'all' as const,
    p: 8,
    k: 4,
    epochs: 4,
    evalEvery: 0,
    seed: 7,
  };

  it('a short run beats its own untrained embedding on the unseen people', async () => {
    const split = faces.split();
    const untrained = evaluateModel(createModel(small, { inputShape: [112, 92, 1], resizeTo: [28, 23] }, 7), faces, split);
    const liveTensors: number[] = [];
    const result = await train({ ...options, epochs: 12, onEvent: (e) => e.type === 'epoch' && liveTensors.push(tf.memory().numTensors) });
    assert.equal(new Set(liveTensors.slice(1)).size, 1, `live tensors per epoch: ${liveTensors.join(', ')}`);
    assert.ok(result.evaluation.mapAtR > untrained.mapAtR + 0.05, `MAP@R ${untrained.mapAtR} → ${result.evaluation.mapAtR}`);
    assert.ok(result.evaluation.rocAuc! > untrained.rocAuc!, `AUC ${untrained.rocAuc} → ${result.evaluation.rocAuc}`);
  });

  it('leaves no tensor behind but the model it returns: optimiser, checkpoints and --resume included', async () => {
    const directory = await temporaryDirectory();
    const before = tf.memory().numTensors;
    const first = await train({ ...options, epochs: 2, outDir: directory });
    first.model.dispose();
    assert.equal(tf.memory().numTensors, before, 'after a run with checkpoints');
    const resumed = await train({ ...options, epochs: 3, outDir: directory, resume: true });
    resumed.model.dispose();
    assert.equal(tf.memory().numTensors, before, 'after a resumed run');
    await rm(directory, { recursive: true });
  });

  for (const optimizer of ['sgd', 'adam'] as const) {
    it(`the same seed repeats the run; a resumed run ends where the uninterrupted one does (${optimizer})`, async () => {
      const whole = await temporaryDirectory();
      const interrupted = await temporaryDirectory();
      const settings = { ...options, optimizer };
      const a = await train({ ...settings, outDir: whole });
      const again = await train(settings);
      // A crash right after the second epoch's checkpoint, then `--resume`.
      const crash = (event: TrainingEvent): void => {
        if (event.type === 'epoch' && event.epoch === 1) throw new Error('simulated crash');
      };
      await assert.rejects(train({ ...settings, outDir: interrupted, onEvent: crash }), /simulated crash/);
      const resumed = await train({ ...settings, outDir: interrupted, resume: true });
      const pixels = toInputs(faces, Int32Array.of(1, 200, 350));
      const expected = embed(a.model, pixels, 3);
      assert.deepEqual(embed(again.model, pixels, 3), expected, 'same seed, same run');
      const after = embed(resumed.model, pixels, 3);
      if (optimizer === 'sgd') {
        assert.deepEqual(after, expected, 'resumed run');
      } else {
        // tfjs's Adam restores its bias-correction powers as beta^(t+1) rather than the running
        // product it keeps while training: equal up to float32 rounding.
        const gap = Math.max(...after.map((v, i) => Math.abs(v - expected[i]!)));
        assert.ok(gap < 1e-4, `resumed run differs by ${gap}`);
      }
      const log = (await readFile(join(interrupted, 'train-log.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { type: string; resumedFrom?: string });
      assert.ok(log.some((e) => e.type === 'start' && e.resumedFrom?.endsWith('epoch-0002')));
      await Promise.all([whole, interrupted].map((d) => rm(d, { recursive: true })));
    });
  }

  it('an ensemble\'s step minimises the mean of its members\' own losses', async () => {
    const ensemble = { kind: 'ensemble' as const, members: [{ network: small }, { network: { ...small, hidden: [32], embeddingDim: 8 } }] };
    const settings = { ...options, model: ensemble, epochs: 1, stepsPerEpoch: 1, augment: false, seed: 3 };
    const losses: number[] = [];
    const trained = await train({ ...settings, onEvent: (e) => e.type === 'step' && losses.push(e.loss) });
    // The loss of the first step, before it changed the weights, computed member by member.
    const split = faces.split();
    const sampler = new PKSampler({ labels: Int32Array.from(split.train, (i) => faces.labels[i]!), p: options.p, k: options.k, seed: 3 });
    const indices = Int32Array.from(sampler.epoch(0)[0]!, (b) => split.train[b]!);
    const labels = Int32Array.from(indices, (i) => faces.labels[i]!);
    const model = createModel(ensemble, { inputShape: [112, 92, 1], resizeTo: [28, 23] }, 3);
    const output = embed(model, toInputs(faces, indices), indices.length);
    const member = (from: number, to: number) =>
      tf.tidy(() => {
        const rows = tf.mul(tf.slice(tf.tensor2d(output, [indices.length, 24]), [0, from], [-1, to - from]), Math.SQRT2) as tf.Tensor2D;
        return new TripletMarginLoss({ margin: 0.2 }).compute(rows, labels).dataSync()[0]!;
      });
    const expected = (member(0, 16) + member(16, 24)) / 2;
    assert.equal(losses.length, 1);
    assert.ok(Math.abs(losses[0]! - expected) < 1e-5, `step loss ${losses[0]}, members' mean ${expected}`);
    assert.ok(member(0, 16) !== member(16, 24));
    tf.dispose([model, trained.model].flatMap((m) => m.getWeights()));
  });

  it('kill -9 during training loses at most the current epoch; --resume continues', async () => {
    const out = await temporaryDirectory();
    const args = [cli, 'train', '--dataset', 'orl-faces', '--model', 'mlp:64', '--dim', '16', '--resize', '28x23', '--epochs', '200', '--p', '8', '--eval-every', '0', '--out', out];
    const child = spawn(process.execPath, args, { stdio: 'ignore' });
    const latest = join(out, 'checkpoints', 'latest.json');
    while (!existsSync(latest)) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 500));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const saved = JSON.parse(await readFile(latest, 'utf8')) as { checkpoint: string };
    const savedEpoch = Number(saved.checkpoint.slice('epoch-'.length));
    assert.ok(savedEpoch >= 1 && savedEpoch < 200);
    const resume = spawnSync(process.execPath, [...args.slice(0, args.indexOf('200')), String(savedEpoch + 1), ...args.slice(args.indexOf('200') + 1), '--resume', '--json'], { encoding: 'utf8' });
    assert.equal(resume.status, 0, resume.stderr);
    assert.match(resume.stderr, new RegExp(`resuming from .*${saved.checkpoint}`));
    const result = JSON.parse(resume.stdout) as { epochs: number };
    assert.equal(result.epochs, savedEpoch + 1);
    await rm(out, { recursive: true });
  });
});

describe('command line', () => {
  const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });

  it('bad input: one clear line and exit code 1, no stack trace', () => {
    const cases: Array<[string[], RegExp]> = [
      [['train', '--dataset', 'imagenet', '--out', join(tmpdir(), 'x')], /unknown dataset 'imagenet'/],
      [['train', '--loss', 'hinge', '--out', join(tmpdir(), 'x')], /--loss must be one of/],
      [['eval', '--model', join(tmpdir(), 'no-such-model')], /no model directory/],
      [['train', '--dataset', 'folder:/no/such/folder', '--out', join(tmpdir(), 'x')], /folder/],
      [['train', '--model', 'mlp@28x23', '--out', join(tmpdir(), 'x')], /@HxW sizes are for ensemble members/],
      [['train', '--model', 'mlp:512@28by23+cnn', '--out', join(tmpdir(), 'x')], /'28by23' is not a size/],
      [['train', '--model', 'mlp+rnn', '--out', join(tmpdir(), 'x')], /unknown model 'rnn'/],
      [['train', '--rotate', '90', '--epochs', '1', '--out', join(tmpdir(), 'x')], /maxRotation must be <= 45/],
    ];
    for (const [args, message] of cases) {
      const result = run(...args);
      assert.equal(result.status, 1, args.join(' '));
      assert.match(result.stderr, message);
      assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
    }
  });

  it('embed writes a numpy-readable gallery; search finds the query among its own class', async () => {
    const directory = await temporaryDirectory();
    const model = createModel(small, preprocessing, 1);
    await saveModel(model, join(directory, 'model'), { config: small, preprocessing, embeddingDim: 16 });
    const npy = join(directory, 'faces.npy');
    const embedded = run('embed', '--model', join(directory, 'model'), '--input', 'orl-faces', '--out', npy);
    assert.equal(embedded.status, 0, embedded.stderr);
    const { rows, cols, values } = decodeNpy(await readFile(npy), npy);
    assert.deepEqual([rows, cols], [400, 16]);
    const python = spawnSync('python3', ['-c', `import numpy as np; a = np.load(${JSON.stringify(npy)}); print(a.shape, a.dtype, float(a[3, 5]))`], { encoding: 'utf8' });
    if (python.status === 0) assert.equal(python.stdout.trim(), `(400, 16) float32 ${values[3 * 16 + 5]}`);
    const query = faces.paths?.[25] ?? join(fileURLToPath(new URL('../../data/orl-faces/s3/6.pgm', import.meta.url)));
    const search = run('search', '--model', join(directory, 'model'), '--gallery', npy, '--query', query, '-k', '3', '--json');
    assert.equal(search.status, 0, search.stderr);
    const hits = JSON.parse(search.stdout) as Array<{ rank: number; distance: number; label: string }>;
    assert.equal(hits.length, 3);
    assert.equal(hits[0]!.label, 's3');
    assert.ok(hits[0]!.distance < 1e-3, 'the query itself is in the gallery, at distance ~0');
    tf.dispose(model.getWeights());
    await rm(directory, { recursive: true });
  });
});
