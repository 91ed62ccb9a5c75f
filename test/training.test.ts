import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tf } from '../src/tf.js';
import { loadDataset } from '../src/data/index.js';
import { toInputs } from '../src/data/augment.js';
import { createModel, embed, loadModel, modelInputFormat, saveModel } from '../src/models/index.js';
import { evaluateModel, train, type TrainingEvent } from '../src/training/index.js';
import { decodeNpy } from '../src/gallery/npy.js';
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

  it('image files are brought to a model\'s input as its metadata says; models saved before the fit was recorded stretched', () => {
    assert.deepEqual(modelInputFormat({ inputShape: [6, 4, 1] }), { height: 6, width: 4, channels: 1, fit: 'fill', background: '#ffffff' });
    assert.deepEqual(modelInputFormat({ inputShape: [6, 4, 3], fitting: { fit: 'contain', background: '#000000' } }), { height: 6, width: 4, channels: 3, fit: 'contain', background: '#000000' });
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
    const untrained = await evaluateModel(createModel(small, { inputShape: [112, 92, 1], resizeTo: [28, 23] }, 7), faces, split.test);
    const liveTensors: number[] = [];
    const result = await train({ ...options, epochs: 12, onEvent: (e) => e.type === 'epoch' && liveTensors.push(tf.memory().numTensors) });
    assert.equal(new Set(liveTensors.slice(1)).size, 1, `live tensors per epoch: ${liveTensors.join(', ')}`);
    const test = result.test!;
    assert.ok(test.mapAtR > untrained.mapAtR + 0.05, `MAP@R ${untrained.mapAtR} → ${test.mapAtR}`);
    assert.ok(test.rocAuc! > untrained.rocAuc!, `AUC ${untrained.rocAuc} → ${test.rocAuc}`);
  });

  it('chooses on validation only: the epoch kept, the threshold; the test is judged once, at that threshold', async () => {
    const validations: number[] = [];
    const events: string[] = [];
    const result = await train({
      ...options,
      epochs: 6,
      evalEvery: 1,
      onEvent: (e) => {
        if (e.type === 'epoch') validations.push(e.validation!.mapAtR);
        if (e.type === 'epoch' || e.type === 'start') events.push(Object.keys(e).includes('test') ? 'test!' : e.type);
      },
    });
    assert.ok(!events.includes('test!'), 'no test figure while training');
    const best = validations.indexOf(Math.max(...validations));
    assert.equal(result.keptEpoch, best + 1, `validation MAP@R per epoch ${validations.join(', ')}`);
    const split = faces.split();
    // The weights returned are the kept epoch's: their validation figures are the ones reported.
    assert.deepEqual(await evaluateModel(result.model, faces, split.validation!, { seed: options.seed }), result.validation);
    assert.equal(result.validation!.mapAtR, validations[best]);
    // The threshold is the best balanced-accuracy threshold of the validation pairs, stored with the model.
    assert.equal(result.verification!.threshold, result.validation!.balancedThreshold);
    assert.equal(result.verification!.chosenOn, 'validation');
    assert.deepEqual(result.metadata.verification, result.verification);
    // Test accuracy, FAR and FRR at that threshold, counted pair by pair.
    const queries = split.test.queries;
    const embeddings = embed(result.model, toInputs(faces, queries), queries.length);
    const dims = 16;
    let positives = 0, negatives = 0, falseRejects = 0, falseAccepts = 0;
    for (let i = 0; i < queries.length; i++) {
      for (let j = i + 1; j < queries.length; j++) {
        let sum = 0;
        for (let d = 0; d < dims; d++) sum += (embeddings[i * dims + d]! - embeddings[j * dims + d]!) ** 2;
        const accepted = Math.sqrt(sum) <= result.verification!.threshold;
        if (faces.labels[queries[i]!] === faces.labels[queries[j]!]) (positives++, accepted || falseRejects++);
        else (negatives++, accepted && falseAccepts++);
      }
    }
    const test = result.test!;
    assert.equal(test.threshold, result.verification!.threshold);
    assert.ok(Math.abs(test.farAtThreshold! - falseAccepts / negatives) < 2e-3, `FAR ${test.farAtThreshold} vs ${falseAccepts / negatives}`);
    assert.ok(Math.abs(test.frrAtThreshold! - falseRejects / positives) < 2e-2, `FRR ${test.frrAtThreshold} vs ${falseRejects / positives}`);
    assert.ok(Math.abs(test.accuracyAtThreshold! - (positives - falseRejects + negatives - falseAccepts) / (positives + negatives)) < 2e-3);
    tf.dispose(result.model.getWeights());
  });

  it('stops early when validation stops improving, and keeps the best epoch', async () => {
    // A learning rate too small to move any ranking: validation MAP@R never improves after epoch 1.
    const result = await train({ ...options, epochs: 10, evalEvery: 1, earlyStopPatience: 2, learningRate: 1e-12 });
    assert.equal(result.stoppedEarly, true);
    assert.equal(result.epochsRun, 3);
    assert.equal(result.keptEpoch, 1);
    tf.dispose(result.model.getWeights());
  });

  it('leaves no tensor behind but the model it returns: a failed run, checkpoints and --resume included', async () => {
    const directory = await temporaryDirectory();
    const before = tf.memory().numTensors;
    const crash = (event: TrainingEvent): void => {
      if (event.type === 'epoch' && event.epoch === 1) throw new Error('simulated crash');
    };
    await assert.rejects(train({ ...options, epochs: 3, evalEvery: 1, outDir: directory, onEvent: crash }), /simulated crash/);
    assert.equal(tf.memory().numTensors, before, 'after a failed run: its model, optimiser and best weights are disposed');
    const resumed = await train({ ...options, epochs: 3, evalEvery: 1, outDir: directory, resume: true });
    resumed.model.dispose();
    assert.equal(tf.memory().numTensors, before, 'after a resumed run');
    for (const optimizer of ['adam', 'sgd'] as const) {
      await assert.rejects(train({ ...options, optimizer, epochs: 2, learningRate: 1e30 }), /diverged/);
      assert.equal(tf.memory().numTensors, before, `after a diverged run (${optimizer})`);
    }
    await rm(directory, { recursive: true });
  });

  it('a run folder is never half-overwritten: refused unless --resume or --overwrite; --resume with other settings lists them', async () => {
    const directory = await temporaryDirectory();
    const first = await train({ ...options, epochs: 2, outDir: directory });
    tf.dispose(first.model.getWeights());
    const listing = async () => (await readdir(join(directory, 'checkpoints'))).sort();
    const saved = await listing();
    await assert.rejects(train({ ...options, epochs: 2, outDir: directory }), (e: unknown) => e instanceof TripletjsInputError && /already holds a run/.test(e.message) && /--resume/.test(e.message) && /--overwrite/.test(e.message));
    assert.deepEqual(await listing(), saved, 'the refused run touched nothing');
    await assert.rejects(
      train({ ...options, epochs: 2, seed: 8, learningRate: 0.01, outDir: directory, resume: true }),
      (e: unknown) => e instanceof TripletjsInputError && /learningRate: 0\.001 → 0\.01/.test(e.message) && /seed: 7 → 8/.test(e.message),
    );
    await assert.rejects(train({ ...options, fold: 0, epochs: 2, outDir: directory, resume: true }), /fold: null → 0/);
    await writeFile(join(directory, 'notes.txt'), 'mine');
    const again = await train({ ...options, epochs: 1, outDir: directory, overwrite: true });
    tf.dispose(again.model.getWeights());
    assert.ok(!existsSync(join(directory, 'notes.txt')), '--overwrite starts from an empty folder');
    assert.deepEqual(await listing(), ['epoch-0001', 'latest.json']);
    await rm(directory, { recursive: true });
  });

  it('P defaults to what the data allows; a larger P names the flag; risky settings and tiny splits are warned about', async () => {
    const root = await temporaryDirectory();
    // 8 classes: 2 test, 2 validate, 4 train.
    for (let c = 0; c < 8; c++) {
      await mkdir(join(root, `c${c}`));
      for (let i = 0; i < 4; i++) await writeFile(join(root, `c${c}`, `${i}.pgm`), Buffer.concat([Buffer.from('P5 4 4 255\n'), Buffer.alloc(16, 30 * c + i)]));
    }
    const dataset = await loadDataset(`folder:${root}`);
    const events: TrainingEvent[] = [];
    const result = await train({ dataset, model: small, miner: 'batch-hard', epochs: 1, onEvent: (e) => events.push(e) });
    tf.dispose(result.model.getWeights());
    const start = events.find((e) => e.type === 'start');
    assert.equal(start?.type === 'start' && start.p, 4, 'P = the 4 training classes');
    const warnings = events.flatMap((e) => (e.type === 'warning' ? [e.message] : []));
    assert.ok(warnings.some((w) => /batch-hard/.test(w)), warnings.join('\n'));
    assert.ok(warnings.some((w) => /validation split has only 2 classes/.test(w)), warnings.join('\n'));
    assert.ok(warnings.some((w) => /test split has only 2 classes/.test(w)), warnings.join('\n'));
    await assert.rejects(train({ dataset, model: small, p: 16, epochs: 1 }), /P = 16 classes per batch, but the training split has 4 classes: choose P ≤ 4 \(--p\)/);
    await rm(root, { recursive: true });
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
    const args = [cli, 'train', '--dataset', 'orl-faces', '--model', 'mlp:64', '--dim', '16', '--resize', '28x23', '--epochs', '60', '--p', '8', '--eval-every', '0', '--out', out];
    const child = spawn(process.execPath, args, { stdio: 'ignore' });
    const latest = join(out, 'checkpoints', 'latest.json');
    while (!existsSync(latest)) await new Promise((r) => setTimeout(r, 100));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const saved = JSON.parse(await readFile(latest, 'utf8')) as { checkpoint: string };
    const savedEpoch = Number(saved.checkpoint.slice('epoch-'.length));
    assert.ok(savedEpoch >= 1 && savedEpoch < 60, `killed after epoch ${savedEpoch}`);
    const resume = spawnSync(process.execPath, [...args, '--resume', '--json'], { encoding: 'utf8' });
    assert.equal(resume.status, 0, resume.stderr);
    assert.match(resume.stderr, new RegExp(`resuming from .*${saved.checkpoint}`));
    const result = JSON.parse(resume.stdout) as { epochs: number };
    assert.equal(result.epochs, 60);
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
      [['train', '--p', 'ten', '--out', join(tmpdir(), 'x')], /--p must be an integer/],
      [['train', '--split', 'held-out', '--out', join(tmpdir(), 'x')], /--split, --image-size, --channels, --fit, --background, --skip-unreadable, --stream, --cache-dir and --workers apply to folder:<path> datasets, not to orl-faces/],
      [['train', '--channels', '2', '--out', join(tmpdir(), 'x')], /--channels must be 1 \(grey\) or 3 \(RGB\)/],
      [['train', '--resume', '--overwrite', '--out', join(tmpdir(), 'x')], /--resume and --overwrite exclude each other/],
      [['embed', '--model', join(tmpdir(), 'x'), '--input', 'orl-faces', '--out', 'faces.csv'], /--out must end in \.npy/],
    ];
    for (const [args, message] of cases) {
      const result = run(...args);
      assert.equal(result.status, 1, args.join(' '));
      assert.match(result.stderr, message);
      assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
      assert.doesNotMatch(result.stderr, /Usage:|Options:/, 'no help dump');
      // Argument errors come before the backend starts (it announces itself on stderr).
      assert.doesNotMatch(result.stderr, /TensorFlow\.js backend/, `${args.join(' ')}: checked before the backend loads`);
      assert.ok(result.stderr.trim().split('\n').length <= 2, `one line: ${result.stderr}`);
    }
  });

  it('eval tests the model on its own split by default and refuses test classes it trained on', async () => {
    const out = await temporaryDirectory();
    const trained = run('train', '--dataset', 'orl-faces', '--fold', '0', '--model', 'mlp:32', '--dim', '8', '--resize', '28x23', '--p', '8', '--epochs', '1', '--out', out);
    assert.equal(trained.status, 0, trained.stderr);
    const own = run('eval', '--model', join(out, 'model'), '--json');
    assert.equal(own.status, 0, own.stderr);
    const report = JSON.parse(own.stdout) as { split: string; learned: { threshold: number } };
    assert.match(report.split, /test on the unseen s1–s10/);
    const metadata = JSON.parse(await readFile(join(out, 'model', 'tripletjs.json'), 'utf8')) as { verification: { threshold: number } };
    assert.equal(report.learned.threshold, metadata.verification.threshold, "judged at the model's own threshold");
    const other = run('eval', '--model', join(out, 'model'), '--fold', '3');
    assert.equal(other.status, 1);
    assert.match(other.stderr, /trained or validated on 10 of the test classes of this split \(s31, s32/);
    await rm(out, { recursive: true });
  });

  it('folders of photos of mixed sizes and shapes train, embed, eval and search with the size and fit saved with the model', async () => {
    const root = await temporaryDirectory();
    // 8 classes of 3 PGM photos: square ones, and wide ones three times as large.
    for (let c = 0; c < 8; c++) {
      await mkdir(join(root, 'photos', `c${c}`), { recursive: true });
      for (let i = 0; i < 3; i++) {
        const [height, width] = i % 2 === 0 ? [8, 8] : [16, 24];
        const pixels = Buffer.from(Array.from({ length: height * width }, (_, j) => (37 * c + 11 * i + j) % 256));
        await writeFile(join(root, 'photos', `c${c}`, `${i}.pgm`), Buffer.concat([Buffer.from(`P5 ${width} ${height} 255\n`), pixels]));
      }
    }
    await writeFile(join(root, 'photos', 'c0', 'notes.txt'), 'not an image');
    const out = join(root, 'run');
    const dataset = `folder:${join(root, 'photos')}`;
    const mixed = run('train', '--dataset', dataset, '--model', 'mlp:16', '--dim', '8', '--epochs', '1', '--out', out);
    assert.equal(mixed.status, 1);
    assert.match(mixed.stderr, /images have different sizes.*pass \{ height, width \}/);
    const badFit = run('train', '--dataset', dataset, '--image-size', '8x8', '--fit', 'crop', '--out', out);
    assert.equal(badFit.status, 1);
    assert.match(badFit.stderr, /--fit must be one of cover, contain, fill/);
    const trained = run('train', '--dataset', dataset, '--image-size', '8x8', '--fit', 'contain', '--background', '#808080', '--model', 'mlp:16', '--dim', '8', '--epochs', '1', '--out', out);
    assert.equal(trained.status, 0, trained.stderr);
    assert.match(trained.stderr, /warning: .*skipped 1 files without an image extension/);
    const saved = JSON.parse(await readFile(join(out, 'model', 'tripletjs.json'), 'utf8')) as { preprocessing: { fitting: unknown } };
    assert.deepEqual(saved.preprocessing.fitting, { fit: 'contain', background: '#808080' });
    assert.match(trained.stderr, /P × K = 4 × 4/, 'P defaults to the 4 training classes');
    assert.match(trained.stderr, /warning: the test split has only 2 classes/);
    // The same folder needs no flags afterwards: the model's size and split come with it.
    const evaluated = run('eval', '--model', join(out, 'model'), '--json');
    assert.equal(evaluated.status, 0, evaluated.stderr);
    const npy = join(root, 'photos.npy');
    const embedded = run('embed', '--model', join(out, 'model'), '--input', dataset, '--out', npy);
    assert.equal(embedded.status, 0, embedded.stderr);
    assert.match(embedded.stdout, /^24 embeddings of 8 dimensions/);
    const search = run('search', '--model', join(out, 'model'), '--gallery', npy, '--query', join(root, 'photos', 'c5', '1.pgm'), '-k', '1', '--json');
    assert.equal(search.status, 0, search.stderr);
    const [hit] = JSON.parse(search.stdout) as Array<{ label: string; distance: number }>;
    assert.deepEqual([hit!.label, hit!.distance < 1e-3], ['c5', true], 'a wide 16 × 24 query is letterboxed as the gallery was');
    // One image, or a flat folder of images: unlabelled rows.
    for (const input of [join(root, 'photos', 'c3', '0.pgm'), join(root, 'photos', 'c3')]) {
      const single = run('embed', '--model', join(out, 'model'), '--input', input, '--out', join(root, 'one.npy'));
      assert.equal(single.status, 0, single.stderr);
      const index = JSON.parse(await readFile(join(root, 'one.json'), 'utf8')) as { rows: Array<{ label: number; source: string }> };
      assert.ok(index.rows.length >= 1 && index.rows.every((row) => row.label === -1 && row.source.includes(join('photos', 'c3'))));
    }
    await rm(root, { recursive: true });
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
    // Another model of the same dimension embeds into another space: its gallery is refused.
    const other = createModel(small, preprocessing, 2);
    await saveModel(other, join(directory, 'other'), { config: small, preprocessing, embeddingDim: 16 });
    const mixed = run('search', '--model', join(directory, 'other'), '--gallery', npy, '--query', query);
    assert.equal(mixed.status, 1);
    assert.match(mixed.stderr, /the gallery was embedded by another model .*embed the gallery again with this model/);
    tf.dispose([...model.getWeights(), ...other.getWeights()]);
    await rm(directory, { recursive: true });
  });
});
