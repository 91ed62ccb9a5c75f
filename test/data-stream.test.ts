import './helpers/setup.js';
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { tf, tfl } from '../src/tf.js';
import { TripletjsInputError } from '../src/common/errors.js';
import { SeededRandom } from '../src/common/random.js';
import { applyAugmentation, augmentBatch, augmentPixels, checkAugmentOptions, drawAugmentation, loadDataset, loadFolder, pixelsToInputs, Prefetcher, WorkerPool, type Dataset } from '../src/data/index.js';
import { train, type TrainOptions } from '../src/training/index.js';
import { embedImages } from '../src/training/evaluate-split.js';
import { CACHE_HEADER } from '../src/data/image-cache.js';

const root = mkdtempSync(join(tmpdir(), 'tripletjs-stream-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** A seeded RGB photo of class `c`, about 40 × 30 (sizes vary), as JPEG. */
async function photo(c: number, i: number, seed = 0): Promise<Buffer> {
  const random = new SeededRandom(c * 1000 + i + seed * 7919);
  const width = 36 + random.int(12);
  const height = 26 + random.int(10);
  const pixels = new Uint8Array(width * height * 3);
  for (let p = 0; p < pixels.length; p += 3) {
    pixels[p] = (c * 60 + random.int(60)) & 255;
    pixels[p + 1] = random.int(256);
    pixels[p + 2] = (255 - c * 50) & 255;
  }
  return sharp(pixels, { raw: { width, height, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
}

/** A folder of `classes` × `perClass` JPEGs. */
async function makeFolder(name: string, classes = 4, perClass = 6): Promise<string> {
  const path = join(root, name);
  for (let c = 0; c < classes; c++) {
    await mkdir(join(path, `c${c}`), { recursive: true });
    for (let i = 0; i < perClass; i++) await writeFile(join(path, `c${c}`, `${i}.jpg`), await photo(c, i));
  }
  return path;
}

const OPTIONS = { height: 16, width: 12, channels: 3 as const, split: 'held-out' as const };
const all = (dataset: Dataset): Int32Array => Int32Array.from({ length: dataset.size }, (_, i) => i);

describe('a streamed folder', () => {
  test('gives the in-memory load’s listing, split and bit-identical pixels, with or without workers', async () => {
    const path = await makeFolder('same');
    const memory = await loadFolder(path, OPTIONS);
    for (const workers of [0, 2]) {
      const streamed = await loadFolder(path, { ...OPTIONS, stream: true, workers });
      try {
        assert.equal(streamed.streamed, true);
        assert.equal(streamed.images, undefined);
        assert.deepEqual(streamed.shape, memory.shape);
        assert.deepEqual(streamed.labels, memory.labels);
        assert.deepEqual(streamed.paths, memory.paths);
        assert.deepEqual(streamed.options, memory.options, 'recorded options: reading options are not among them');
        assert.deepEqual(streamed.split(), memory.split());
        assert.deepEqual(await streamed.read(all(streamed)), memory.images);
        // Any order, with repeats, as a P × K batch of a small class has.
        const indices = [5, 0, 5, 23, 11];
        assert.deepEqual(await streamed.read(indices), await memory.read(indices));
        await assert.rejects(streamed.read([24]), /index 24 is not an image/);
      } finally {
        await streamed.close();
      }
      await assert.rejects(streamed.read([0]), /closed/);
    }
  });

  test('settles size and channels from the headers when they are not given', async () => {
    const path = join(root, 'grey');
    for (let c = 0; c < 2; c++) {
      mkdirSync(join(path, `c${c}`), { recursive: true });
      for (let i = 0; i < 3; i++) {
        const pixels = new Uint8Array(10 * 8).map((_, p) => (p * (c + 3) + i) & 255);
        writeFileSync(join(path, `c${c}`, `${i}.png`), await sharp(pixels, { raw: { width: 8, height: 10, channels: 1 } }).toColourspace('b-w').png().toBuffer());
      }
    }
    const memory = await loadFolder(path, { split: 'held-out' });
    const streamed = await loadFolder(path, { split: 'held-out', stream: true, workers: 1 });
    try {
      assert.deepEqual(streamed.shape, { height: 10, width: 8, channels: 1 });
      assert.deepEqual(await streamed.read(all(streamed)), memory.images);
    } finally {
      await streamed.close();
    }
  });

  test("'auto' streams above the budget only; the registry does not share a streamed dataset", async () => {
    const path = await makeFolder('auto', 2, 3);
    const small = await loadFolder(path, { ...OPTIONS, stream: 'auto' });
    assert.equal(small.streamed, false);
    const large = await loadFolder(path, { ...OPTIONS, stream: 'auto', streamAbove: 1000 });
    assert.equal(large.streamed, true);
    await large.close();
    const a = await loadDataset(`folder:${path}`, { ...OPTIONS, stream: true });
    const b = await loadDataset(`folder:${path}`, { ...OPTIONS, stream: true });
    assert.notEqual(a, b);
    await Promise.all([a.close(), b.close()]);
    await assert.rejects(loadFolder(path, { ...OPTIONS, stream: false, cacheDir: root }), /cacheDir and workers apply to a streamed/);
  });

  test('augmentation of read pixels is augmentBatch of the in-memory dataset', async () => {
    const path = await makeFolder('augment', 2, 4);
    const memory = await loadFolder(path, { ...OPTIONS, flipInvariant: true });
    const indices = [3, 1, 6, 6];
    const options = { maxShift: 0.2, maxScale: 0.1, maxRotation: 10, maxLighting: 0.2 };
    const expected = augmentBatch(memory, indices, new SeededRandom(4), options);
    const got = augmentPixels(await memory.read(indices), memory.shape, true, new SeededRandom(4), options);
    assert.deepEqual(got, expected);
  });
});

describe('the image cache', () => {
  test('serves decoded images again, decodes a changed file again, and ignores a damaged record', async () => {
    const path = await makeFolder('cached', 2, 3);
    const cacheDir = join(root, 'cache');
    const load = () => loadFolder(path, { ...OPTIONS, stream: true, workers: 1, cacheDir });
    const victim = join(path, 'c0', '1.jpg');
    utimesSync(victim, 1_700_000_000, 1_700_000_000);
    const first = await load();
    const expected = await first.read(all(first));
    await first.close();
    const [folder] = readdirSync(cacheDir);
    const files = readdirSync(join(cacheDir, folder!));
    assert.equal(files.length, 2, 'one record file per class');
    const record = CACHE_HEADER + 16 * 12 * 3;
    assert.deepEqual(files.map((f) => statSync(join(cacheDir, folder!, f)).size).sort(), [3 * record, 3 * record]);

    // Served from the cache: the same pixels even though decoding would now fail (the file's
    // content is garbage but its size and mtime are restored, so its key is unchanged).
    const original = readFileSync(victim);
    writeFileSync(victim, Buffer.alloc(original.length, 7));
    utimesSync(victim, 1_700_000_000, 1_700_000_000);
    const second = await load();
    assert.deepEqual(await second.read(all(second)), expected);
    await second.close();

    // A changed file (new content, new mtime) is decoded again.
    writeFileSync(victim, await photo(0, 1, 99));
    const third = await load();
    const memory = await loadFolder(path, OPTIONS);
    const changed = await third.read(all(third));
    assert.deepEqual(changed, memory.images);
    assert.notDeepEqual(changed, expected);
    await third.close();

    // A damaged record (a torn write, a flipped bit) fails its CRC and is decoded again.
    for (const file of files) {
      const bytes = readFileSync(join(cacheDir, folder!, file));
      bytes[CACHE_HEADER + 5]! ^= 0xff;
      bytes[record + CACHE_HEADER + 100]! ^= 0x01;
      writeFileSync(join(cacheDir, folder!, file), bytes);
    }
    const fourth = await load();
    assert.deepEqual(await fourth.read(all(fourth)), memory.images);
    await fourth.close();
  });
});

describe('unreadable files in a streamed folder', () => {
  test('a file that fails at batch time is named in a one-line error; skipUnreadable replaces it by the next of its class', async () => {
    const path = await makeFolder('broken', 2, 4);
    const broken = join(path, 'c1', '1.jpg');
    const bytes = readFileSync(broken);
    writeFileSync(broken, bytes.subarray(0, Math.floor(bytes.length / 2))); // a good header, a truncated body
    const streamed = await loadFolder(path, { ...OPTIONS, stream: true, workers: 1 });
    try {
      await streamed.read([0, 1, 2]);
      await assert.rejects(streamed.read([0, 5]), (error: Error) => {
        assert.ok(error instanceof TripletjsInputError, String(error));
        assert.match(error.message, /c1\/1\.jpg/);
        assert.doesNotMatch(error.message, /\n/);
        return true;
      });
    } finally {
      await streamed.close();
    }
    const skipping = await loadFolder(path, { ...OPTIONS, stream: true, workers: 1, skipUnreadable: true });
    try {
      assert.equal(skipping.size, 8, 'the header is good: the file is listed');
      const got = await skipping.read([5, 0, 5]);
      const next = await skipping.read([6]);
      const size = 16 * 12 * 3;
      assert.deepEqual(got.subarray(0, size), next, 'replaced by c1/2.jpg');
      assert.deepEqual(got.subarray(2 * size), next);
      assert.ok(skipping.warnings!.some((w) => /c1\/1\.jpg.*replaced by .*c1\/2\.jpg/.test(w)), skipping.warnings!.join('\n'));
      // Inputs made in the workers, the replacement's included, are the main thread's from the same draws.
      const options = checkAugmentOptions({ maxRotation: 10, maxLighting: 0.1 });
      const draws = drawAugmentation(3, skipping.shape, false, new SeededRandom(1), options);
      const inputs = await skipping.readInputs!([5, 0, 5], { draws, options });
      assert.deepEqual(inputs, applyAugmentation(got, [0, size, 2 * size], skipping.shape, draws, options));
      assert.deepEqual(await skipping.readInputs!([5, 0]), pixelsToInputs(got.subarray(0, 2 * size)));
    } finally {
      await skipping.close();
    }
  });

  test('inputs made in the workers: an unreadable file is replaced there too, with its own draws', async () => {
    const path = await makeFolder('broken-inputs', 2, 4);
    const broken = join(path, 'c0', '2.jpg');
    const bytes = readFileSync(broken);
    writeFileSync(broken, bytes.subarray(0, Math.floor(bytes.length / 2)));
    const skipping = await loadFolder(path, { ...OPTIONS, stream: true, workers: 2, skipUnreadable: true });
    try {
      const options = checkAugmentOptions({ maxShift: 0.2 });
      const indices = [1, 2, 3, 2, 6, 7, 0, 1, 4, 5, 2, 3, 0, 6, 7, 1, 2];
      const draws = drawAugmentation(indices.length, skipping.shape, false, new SeededRandom(2), options);
      const inputs = await skipping.readInputs!(indices, { draws, options });
      const pixels = await skipping.read(indices);
      const size = 16 * 12 * 3;
      assert.deepEqual(inputs, applyAugmentation(pixels, indices.map((_, b) => b * size), skipping.shape, draws, options));
      assert.deepEqual(pixels.subarray(size, 2 * size), (await skipping.read([3])), 'c0/2.jpg replaced by c0/3.jpg');
    } finally {
      await skipping.close();
    }
  });

  test('a file whose header cannot be read fails the listing, or is left out with skipUnreadable', async () => {
    const path = await makeFolder('foreign', 2, 3);
    writeFileSync(join(path, 'c0', 'x.jpg'), 'not an image');
    await assert.rejects(loadFolder(path, { split: 'held-out', stream: true }), /c0\/x\.jpg/);
    const skipping = await loadFolder(path, { ...OPTIONS, stream: true, skipUnreadable: true });
    assert.equal(skipping.size, 6);
    assert.ok(skipping.warnings!.some((w) => /skipped 1 images whose header.*x\.jpg/.test(w)));
    await skipping.close();
  });
});

describe('the worker pool', () => {
  const url = new URL('./helpers/pool-worker.js', import.meta.url);

  test('answers in order of the requests, and rejects what a crashed worker was doing without hanging', async () => {
    const pool = new WorkerPool<string, string>(url, 2, undefined, 'test worker');
    try {
      assert.deepEqual(await Promise.all(['a', 'slow', 'b', 'c'].map((r) => pool.run(r))), ['echo a', 'echo slow', 'echo b', 'echo c']);
      await assert.rejects(pool.run('exit'), /test worker crashed: it exited with code 7/);
      await assert.rejects(pool.run('throw'), /test worker crashed: uncaught in the worker/);
      await assert.rejects(pool.run('input'), (error: Error) => error instanceof TripletjsInputError && error.message === 'bad.jpg: corrupt');
      assert.equal(await pool.run('after'), 'echo after', 'crashed workers are replaced');
    } finally {
      await pool.close();
    }
    await assert.rejects(pool.run('x'), /closed/);
  });

  test('close rejects queued and running tasks', async () => {
    const pool = new WorkerPool<string, string>(url, 1);
    const running = assert.rejects(pool.run('slow'), /closed/);
    const queued = assert.rejects(pool.run('a'), /closed/);
    await pool.close();
    await running;
    await queued;
  });
});

describe('the prefetcher', () => {
  test('fetches ahead, finishes in order whatever order the fetches end in', async () => {
    const fetched: number[] = [];
    const finished: number[] = [];
    const delays = [30, 20, 10, 0];
    const prefetcher = new Prefetcher(
      4,
      (i) => {
        fetched.push(i);
        return new Promise<number>((resolve) => setTimeout(() => resolve(i * 10), delays[i]));
      },
      (raw, i) => (finished.push(i), raw + 1),
      2,
    );
    assert.equal(await prefetcher.next(), 1);
    assert.deepEqual(fetched, [0, 1, 2], 'two items ahead of the one asked for');
    assert.equal(await prefetcher.next(), 11);
    assert.deepEqual(fetched, [0, 1, 2, 3]);
    assert.equal(await prefetcher.next(), 21);
    assert.equal(await prefetcher.next(), 31);
    assert.deepEqual(finished, [0, 1, 2, 3]);
    await assert.rejects(prefetcher.next(), /no item 4/);
  });

  test('a failed fetch is reported by next, not as an unhandled rejection', async () => {
    const prefetcher = new Prefetcher(3, async (i) => (i === 1 ? Promise.reject(new Error('boom 1')) : i), (raw) => raw);
    assert.equal(await prefetcher.next(), 0);
    await assert.rejects(prefetcher.next(), /boom 1/);
    await prefetcher.drain();
  });
});

describe('training on a streamed folder', () => {
  const base = (dataset: Dataset): TrainOptions => ({
    dataset,
    model: { kind: 'cnn', filters: [4, 8], embeddingDim: 8 },
    epochs: 3,
    p: 4,
    k: 3,
    stepsPerEpoch: 2,
    evalEvery: 0,
    seed: 5,
    augment: { maxShift: 0.1, maxRotation: 5 },
  });

  test('gives the losses of the in-memory load, reports the wait for data, and leaks no tensor', async () => {
    const path = await makeFolder('train', 8, 5);
    const options = { ...OPTIONS, split: 'unseen-classes' as const, flipInvariant: true };
    const memory = await loadFolder(path, options);
    const streamed = await loadFolder(path, { ...options, stream: true, workers: 1 });
    try {
      const run = async (dataset: Dataset) => {
        const losses: number[] = [];
        const waits: number[] = [];
        const tensors: number[] = [];
        const result = await train({
          ...base(dataset),
          onEvent: (event) => {
            if (event.type === 'step') losses.push(event.loss), waits.push(event.dataWaitSeconds);
            if (event.type === 'epoch') tensors.push(tf.memory().numTensors);
          },
        });
        const embeddings = await embedImages(result.model, dataset, all(dataset));
        result.model.dispose();
        return { losses, waits, tensors, result, embeddings };
      };
      const a = await run(memory);
      const b = await run(streamed);
      assert.equal(b.losses.length, 6);
      assert.deepEqual(b.losses, a.losses);
      assert.deepEqual(b.result.test, a.result.test, 'the test split evaluated in blocks read from the files');
      assert.deepEqual(b.embeddings, a.embeddings);
      assert.equal(new Set(b.tensors).size, 1, `live tensors per epoch: ${b.tensors.join(', ')}`);
      assert.ok(b.waits.every((w) => w >= 0));
      assert.ok(b.result.dataWait.seconds >= 0 && b.result.dataWait.fraction >= 0 && b.result.dataWait.fraction <= 1);
    } finally {
      await streamed.close();
    }
  });

  test('a frozen trunk: features cached in a file of rows for a streamed dataset, the same losses as in memory', async () => {
    const trunk = tfl.sequential({
      layers: [tfl.layers.conv2d({ inputShape: [16, 12, 3], filters: 4, kernelSize: 3, activation: 'relu', name: 'conv' }), tfl.layers.globalAveragePooling2d({ name: 'pool' })],
    });
    const trunkDir = join(root, 'trunk');
    mkdirSync(trunkDir, { recursive: true });
    await trunk.save(
      tf.io.withSaveHandler(async (artifacts) => {
        writeFileSync(join(trunkDir, 'weights.bin'), Buffer.from(artifacts.weightData as ArrayBuffer));
        writeFileSync(join(trunkDir, 'model.json'), JSON.stringify({ format: 'layers-model', modelTopology: artifacts.modelTopology, weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs }] }));
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
    trunk.dispose();
    const path = await makeFolder('frozen', 8, 5);
    const options = { ...OPTIONS, split: 'unseen-classes' as const };
    const memory = await loadFolder(path, options);
    const streamed = await loadFolder(path, { ...options, stream: true, workers: 1 });
    const before = readdirSync(tmpdir()).filter((f) => f.startsWith(`tripletjs-features-${process.pid}-`)).length;
    try {
      const run = async (dataset: Dataset) => {
        const losses: number[] = [];
        const result = await train({
          ...base(dataset),
          model: { kind: 'backbone', path: join(trunkDir, 'model.json'), embeddingDim: 8 },
          augment: false,
          onEvent: (event) => event.type === 'step' && losses.push(event.loss),
        });
        result.model.dispose();
        return losses;
      };
      const a = await run(memory);
      const b = await run(streamed);
      assert.equal(b.length, 6);
      assert.deepEqual(b, a);
    } finally {
      await streamed.close();
    }
    const left = readdirSync(tmpdir()).filter((f) => f.startsWith(`tripletjs-features-${process.pid}-`)).length;
    assert.equal(left, before, 'the feature file is deleted at the end of the run');
  });
});

describe('the command line on a streamed folder', () => {
  test('train --stream --cache-dir logs each step’s wait for data and sums it up; embed streams too', async () => {
    const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
    const path = await makeFolder('cli', 8, 5);
    const out = join(root, 'cli-run');
    const cacheDir = join(root, 'cli-cache');
    const train = spawnSync(
      process.execPath,
      [cli, 'train', '--dataset', `folder:${path}`, '--image-size', '16x12', '--channels', '3', '--stream', '--workers', '1', '--cache-dir', cacheDir,
        '--model', 'cnn:4,8', '--dim', '8', '--epochs', '2', '--p', '4', '--k', '3', '--out', out, '--json'],
      { encoding: 'utf8' },
    );
    assert.equal(train.status, 0, train.stderr);
    assert.match(train.stderr, /streamed \(decoded batch by batch, cached in /);
    assert.match(train.stderr, /waited [\d.]+ s for data/);
    const summary = JSON.parse(train.stdout) as { dataWait: { seconds: number; fraction: number }; rawPixels: unknown };
    assert.ok(summary.dataWait.seconds >= 0 && summary.dataWait.fraction >= 0);
    assert.equal(summary.rawPixels, null, 'no raw-pixel floor for a streamed dataset');
    const log = readFileSync(join(out, 'train-log.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { type: string; dataWaitSeconds?: number });
    assert.ok(log.filter((e) => e.type === 'step').every((e) => typeof e.dataWaitSeconds === 'number'));
    assert.ok(log.filter((e) => e.type === 'epoch').every((e) => typeof e.dataWaitSeconds === 'number'));
    assert.ok(readdirSync(cacheDir).length === 1, 'the cache was written');

    const npy = join(root, 'cli.npy');
    const embedded = spawnSync(process.execPath, [cli, 'embed', '--model', join(out, 'model'), '--input', `folder:${path}`, '--stream', '--workers', '1', '--out', npy], { encoding: 'utf8' });
    assert.equal(embedded.status, 0, embedded.stderr);
    assert.match(embedded.stdout, /40 embeddings of 8 dimensions/);
  });
});
