import './helpers/setup.js';
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encode as encodeJpeg } from 'jpeg-js';
import { PNG } from 'pngjs';
import { TripletjsInputError } from '../src/common/errors.js';
import sharp from 'sharp';
import { decodeImage, loadDataset, loadFolder } from '../src/data/index.js';

type Rgb = readonly [number, number, number];

/** A PNG written by pngjs: `pixel(y, x)` gives the colour. */
function png(height: number, width: number, pixel: (y: number, x: number) => Rgb): Buffer {
  const image = new PNG({ width, height });
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const [r, g, b] = pixel(y, x);
      image.data.set([r, g, b, 255], 4 * (y * width + x));
    }
  }
  return PNG.sync.write(image);
}

/** A JPEG written by jpeg-js at quality 95. */
function jpeg(height: number, width: number, pixel: (y: number, x: number) => Rgb): Buffer {
  const data = Buffer.alloc(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) data.set([...pixel(y, x), 255], 4 * (y * width + x));
  }
  return encodeJpeg({ width, height, data }, 95).data;
}

/** A binary PGM. */
function pgm(height: number, width: number, value: (y: number, x: number) => number): Buffer {
  const header = Buffer.from(`P5\n${width} ${height}\n255\n`);
  const pixels = Buffer.alloc(width * height);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) pixels[y * width + x] = value(y, x);
  return Buffer.concat([header, pixels]);
}

const roots: string[] = [];
after(() => roots.forEach((root) => rmSync(root, { recursive: true, force: true })));

/** Writes `files` (relative path → bytes) into a fresh temporary folder and returns its path. */
function folder(files: Record<string, Buffer | Uint8Array>): string {
  const root = mkdtempSync(join(tmpdir(), 'tripletjs-folder-'));
  roots.push(root);
  for (const [path, bytes] of Object.entries(files)) {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), bytes);
  }
  return root;
}

async function assertInputError(run: () => Promise<unknown>, ...patterns: RegExp[]): Promise<void> {
  await assert.rejects(run, (error: Error) => {
    assert.ok(error instanceof TripletjsInputError, `expected a TripletjsInputError, got ${error.name}: ${error.message}`);
    assert.ok(!error.message.includes('\n'), `message is not one line: ${error.message}`);
    for (const pattern of patterns) assert.match(error.message, pattern);
    return true;
  });
}

const grey = (v: number): Rgb => [v, v, v];
const gradient = (y: number, x: number) => (10 * y + 20 * x) % 256;

/** Three classes, one per format, all grey, 6×8. */
function greyFolder(): string {
  return folder({
    'owl/a.pgm': pgm(6, 8, gradient),
    'owl/b.pgm': pgm(6, 8, () => 200),
    'cat/2.png': png(6, 8, (y, x) => grey(gradient(y, x))),
    'cat/1.png': png(6, 8, () => grey(40)),
    'cat/3.png': png(6, 8, () => grey(90)),
    'dog/x.jpg': jpeg(6, 8, () => grey(128)),
    'dog/y.jpeg': jpeg(6, 8, () => grey(30)),
    'dog/notes.txt': Buffer.from('not an image'),
    'dog/.DS_Store': Buffer.from('hidden'),
    '.thumbnails/t.png': png(6, 8, () => grey(0)),
  });
}

test('folder: classes in sorted order, files sorted, PNG/JPEG/PGM decoded, grey kept as 1 channel', async () => {
  const root = greyFolder();
  const dataset = await loadFolder(root);
  assert.equal(dataset.name, `folder:${root}`);
  assert.deepEqual(dataset.classNames, ['cat', 'dog', 'owl']);
  assert.deepEqual(Array.from(dataset.labels), [0, 0, 0, 1, 1, 2, 2]);
  assert.deepEqual(dataset.paths, ['cat/1.png', 'cat/2.png', 'cat/3.png', 'dog/x.jpg', 'dog/y.jpeg', 'owl/a.pgm', 'owl/b.pgm'].map((p) => join(root, p)));
  assert.deepEqual(dataset.shape, { height: 6, width: 8, channels: 1 });
  assert.equal(dataset.flipInvariant, false);
  const image = (i: number) => dataset.images.subarray(i * 48, (i + 1) * 48);
  assert.ok(image(0).every((v) => v === 40), 'cat/1.png');
  assert.deepEqual(image(1), Uint8Array.from({ length: 48 }, (_, i) => gradient(Math.floor(i / 8), i % 8)), 'cat/2.png');
  assert.ok(image(3).every((v) => Math.abs(v - 128) <= 2), `dog/x.jpg: ${image(3).join(',')}`);
  assert.deepEqual(image(5), Uint8Array.from({ length: 48 }, (_, i) => gradient(Math.floor(i / 8), i % 8)), 'owl/a.pgm');
  assert.equal(dataset.warnings!.length, 1);
  assert.match(dataset.warnings![0]!, /^skipped 1 files without an image extension \(\.png .*\), e\.g\. .*dog\/notes\.txt$/);
});

test('folder: colour images give 3 channels by default; channels: 1 converts by luma, 3 repeats grey', async () => {
  const root = folder({
    'red/1.png': png(4, 4, () => [200, 10, 30]),
    'red/2.png': png(4, 4, () => [180, 0, 0]),
    'grey/1.pgm': pgm(4, 4, () => 77),
    'grey/2.pgm': pgm(4, 4, () => 99),
  });
  const rgb = await loadFolder(root);
  assert.equal(rgb.shape.channels, 3);
  assert.deepEqual(Array.from(rgb.images.subarray(0, 6)), [77, 77, 77, 77, 77, 77], 'grey repeated into RGB');
  const red = rgb.labels.indexOf(rgb.classNames.indexOf('red'));
  assert.deepEqual(Array.from(rgb.images.subarray(red * 48, red * 48 + 3)), [200, 10, 30]);
  const mono = await loadFolder(root, { channels: 1 });
  assert.equal(mono.shape.channels, 1);
  assert.equal(mono.images[red * 16], Math.round(0.299 * 200 + 0.587 * 10 + 0.114 * 30));
  assert.equal(mono.images[0], 77);
});

test('folder: a target size brings every image to it, mixed sizes and formats included', async () => {
  const root = folder({
    'a/big.png': png(20, 30, () => grey(120)),
    'a/small.pgm': pgm(5, 5, () => 60),
    'b/wide.jpg': jpeg(16, 48, () => grey(200)),
    'b/tall.png': png(40, 10, () => grey(10)),
  });
  const dataset = await loadFolder(root, { height: 8, width: 8 });
  assert.deepEqual(dataset.shape, { height: 8, width: 8, channels: 1 });
  assert.equal(dataset.images.length, 4 * 64);
  assert.deepEqual(dataset.fitting, { fit: 'cover', background: '#ffffff' }, 'the default fit, kept with the dataset');
  assert.deepEqual(dataset.options, { height: 8, width: 8, channels: 1, fit: 'cover', background: '#ffffff', split: 'unseen-classes', seed: 0, flipInvariant: false });
  const image = (i: number) => dataset.images.subarray(i * 64, (i + 1) * 64);
  // A uniform image stays uniform whatever the scale (the filter's weights sum to one).
  for (const [i, value] of [[0, 120], [1, 60], [2, 10], [3, 200]] as const) {
    assert.ok(image(i).every((v) => Math.abs(v - value) <= 2), `${dataset.paths![i]}: ${image(i).join(',')}`);
  }
});

test('images: cover crops the centre, contain letterboxes on the background, fill stretches', async () => {
  // 10 rows × 40 columns: red in the first 10 columns, blue elsewhere.
  const wide = png(10, 40, (_, x) => (x < 10 ? [255, 0, 0] : [0, 0, 255]));
  const as = (fit: 'cover' | 'contain' | 'fill', background = '#ffffff') => decodeImage(wide, 'wide.png', { height: 10, width: 10, fit, background });
  const pixel = (image: { pixels: Uint8Array; width: number }, y: number, x: number) => Array.from(image.pixels.subarray(3 * (y * image.width + x), 3 * (y * image.width + x) + 3));
  const cover = await as('cover');
  assert.deepEqual([cover.height, cover.width, cover.channels], [10, 10, 3]);
  // Height already fits; the centre 10 columns (15–24) are all blue.
  for (let y = 0; y < 10; y++) for (let x = 0; x < 10; x++) assert.deepEqual(pixel(cover, y, x), [0, 0, 255], `cover (${y}, ${x})`);
  // Scaled to 10 × 2.5: the image's rows sit in the middle, the bars above and below are the background.
  const contain = await as('contain', '#00ff00');
  assert.deepEqual(pixel(contain, 0, 5), [0, 255, 0]);
  assert.deepEqual(pixel(contain, 9, 5), [0, 255, 0]);
  const middle = pixel(contain, 5, 9);
  assert.ok(middle[2]! > 200 && middle[0]! < 40, `contain keeps blue at the right of the middle row: ${middle}`);
  assert.ok(pixel(contain, 5, 0)[0]! > 200, `contain keeps red at the left: ${pixel(contain, 5, 0)}`);
  // Stretched: the red quarter becomes columns 0–2.
  const fill = await as('fill');
  assert.ok(pixel(fill, 5, 0)[0]! > 200 && pixel(fill, 5, 0)[2]! < 40, `fill: ${pixel(fill, 5, 0)}`);
  assert.deepEqual(pixel(fill, 5, 9), [0, 0, 255]);
});

test('images: downscaling filters, so that a one-pixel checkerboard shrinks to mid grey rather than to stripes', async () => {
  const board = png(200, 200, (y, x) => grey((x + y) % 2 ? 255 : 0));
  for (const [height, width] of [[20, 20], [23, 17]] as const) {
    const small = await decodeImage(board, 'board.png', { height, width, fit: 'fill', background: '#ffffff' });
    assert.equal(small.channels, 1);
    assert.ok(small.pixels.every((v) => Math.abs(v - 128) <= 8), `${height}×${width}: ${Math.min(...small.pixels)}–${Math.max(...small.pixels)}`);
  }
});

test('images: the EXIF orientation is applied', async () => {
  // Stored 30 high × 40 wide, red on the left, blue on the right; orientation 6 shows it turned a quarter clockwise.
  const stored = new Uint8Array(30 * 40 * 3);
  for (let i = 0; i < 30 * 40; i++) stored.set(i % 40 < 20 ? [255, 0, 0] : [0, 0, 255], 3 * i);
  const bytes = await sharp(stored, { raw: { width: 40, height: 30, channels: 3 } }).jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toBuffer();
  const shown = await decodeImage(bytes, 'turned.jpg');
  assert.deepEqual([shown.height, shown.width], [40, 30]);
  const at = (y: number, x: number) => Array.from(shown.pixels.subarray(3 * (y * 30 + x), 3 * (y * 30 + x) + 3));
  assert.ok(at(2, 15)[0]! > 200 && at(2, 15)[2]! < 60, `the left half is now on top: ${at(2, 15)}`);
  assert.ok(at(37, 15)[2]! > 200 && at(37, 15)[0]! < 60, `the right half is now at the bottom: ${at(37, 15)}`);
});

test('images: transparency is flattened on the background the options name', async () => {
  const image = new PNG({ width: 2, height: 1 });
  image.data.set([0, 0, 0, 0, 255, 0, 0, 128]); // transparent black, half-transparent red
  const bytes = PNG.sync.write(image);
  const onWhite = await decodeImage(bytes, 'alpha.png');
  assert.equal(onWhite.channels, 3);
  assert.deepEqual(Array.from(onWhite.pixels.subarray(0, 4)), [255, 255, 255, 255], 'transparent on white, then the red channel');
  assert.ok(Math.abs(onWhite.pixels[4]! - 127) <= 1 && Math.abs(onWhite.pixels[5]! - 127) <= 1, `half red on white: ${Array.from(onWhite.pixels)}`);
  const root = folder({ 'a/1.png': bytes, 'a/2.png': bytes, 'b/1.png': bytes });
  const dataset = await loadFolder(root, { background: '#000000', channels: 3 });
  assert.deepEqual(Array.from(dataset.images.subarray(0, 3)), [0, 0, 0]);
  assert.ok(Math.abs(dataset.images[3]! - 128) <= 1 && dataset.images[4] === 0, `half red on black: ${Array.from(dataset.images.subarray(0, 6))}`);
  await assertInputError(() => loadFolder(root, { background: 'white' }), /background must be a colour #rrggbb, got 'white'/);
  await assertInputError(() => loadFolder(root, { fit: 'crop' as 'cover' }), /fit must be one of cover, contain, fill, got 'crop'/);
});

test('images: WebP, TIFF, GIF and AVIF decode to the pixels they hold', async () => {
  const pattern = new Uint8Array(16 * 24 * 3);
  for (let i = 0; i < 16 * 24; i++) pattern.set(i % 24 < 12 ? [250, 20, 20] : [20, 20, 250], 3 * i);
  const raw = () => sharp(pattern, { raw: { width: 24, height: 16, channels: 3 } });
  const encoded = {
    'lossless.webp': [await raw().webp({ lossless: true }).toBuffer(), 0],
    'lzw.tiff': [await raw().tiff({ compression: 'lzw' }).toBuffer(), 0],
    'image.gif': [await raw().gif().toBuffer(), 8],
    'image.avif': [await raw().avif({ quality: 90 }).toBuffer(), 40],
  } as const;
  for (const [name, [bytes, tolerance]] of Object.entries(encoded)) {
    const image = await decodeImage(bytes, name);
    assert.deepEqual([image.height, image.width, image.channels], [16, 24, 3], name);
    // Away from the edge between the halves, where lossy codecs blur.
    for (const [y, x] of [[8, 2], [8, 21], [1, 5], [14, 18]] as const) {
      const got = image.pixels.subarray(3 * (y * 24 + x), 3 * (y * 24 + x) + 3);
      const want = pattern.subarray(3 * (y * 24 + x), 3 * (y * 24 + x) + 3);
      assert.ok(got.every((v, c) => Math.abs(v - want[c]!) <= tolerance), `${name} (${y}, ${x}): ${Array.from(got)} against ${Array.from(want)}`);
    }
  }
});

test('folder: mixed sizes without a target size are an error naming two files', async () => {
  const root = folder({ 'a/1.png': png(6, 8, () => grey(1)), 'a/2.png': png(6, 8, () => grey(2)), 'b/3.png': png(7, 8, () => grey(3)) });
  await assertInputError(() => loadFolder(root), /a\/1\.png is 6×8/, /b\/3\.png is 7×8/, /pass \{ height, width \}/);
});

test('folder: each broken layout is one clear error', async () => {
  const root = folder({ 'file.txt': Buffer.from('x') });
  await assertInputError(() => loadFolder(join(root, 'missing')), /missing does not exist/);
  await assertInputError(() => loadFolder(join(root, 'file.txt')), /file\.txt is not a directory/);
  await assertInputError(() => loadFolder(root), /has no class sub-folders/);
  const emptyClass = folder({ 'a/1.png': png(2, 2, () => grey(1)), 'a/2.png': png(2, 2, () => grey(1)), 'b/readme.md': Buffer.from('') });
  await assertInputError(() => loadFolder(emptyClass), /class folder .*\/b has no images \(\.png /);
  await assertInputError(() => loadFolder(emptyClass, { height: 4 }), /both height and width/);
  await assertInputError(() => loadFolder(emptyClass, { channels: 2 as 1 }), /channels must be 1 or 3/);
  await assertInputError(() => loadFolder(emptyClass, { size: 3 } as object), /unknown folder dataset option 'size'/);
});

test('folder: a truncated or corrupt image is an error naming the file', async () => {
  const good = { 'a/1.pgm': pgm(6, 8, gradient), 'b/1.pgm': pgm(6, 8, gradient) };
  const whole = {
    png: png(6, 8, (y, x) => grey(gradient(y, x))),
    jpg: jpeg(6, 8, (y, x) => [gradient(y, x), 0, 50]),
    pgm: pgm(6, 8, gradient),
  };
  for (const [extension, bytes] of Object.entries(whole)) {
    const root = folder({ ...good, [`b/broken.${extension}`]: bytes.subarray(0, Math.floor(bytes.length * 0.6)) });
    await assertInputError(() => loadFolder(root), new RegExp(`b/broken\\.${extension}`), /truncated/);
  }
  const renamed = folder({ ...good, 'b/text.png': Buffer.from('hello, not a picture') });
  await assertInputError(() => loadFolder(renamed), /b\/text\.png: not an image tripletjs reads \(JPEG, PNG, WebP, TIFF, AVIF, GIF or PGM\)/);
});

test('folder: skipUnreadable leaves broken images out with a warning naming them, and refuses a class left empty', async () => {
  const jpg = jpeg(6, 8, (y, x) => [gradient(y, x), 0, 50]);
  const root = folder({
    'a/1.pgm': pgm(6, 8, gradient),
    'a/2.jpg': jpg.subarray(0, jpg.length >> 1),
    'a/3.pgm': pgm(6, 8, () => 9),
    'b/1.png': Buffer.from('not a picture'),
    'b/2.pgm': pgm(6, 8, () => 7),
    'b/3.pgm': pgm(6, 8, () => 5),
  });
  await assertInputError(() => loadFolder(root), /a\/2\.jpg: cannot decode this image, it is truncated or corrupt/);
  const dataset = await loadFolder(root, { skipUnreadable: true });
  assert.equal(dataset.size, 4);
  assert.deepEqual(dataset.paths, ['a/1.pgm', 'a/3.pgm', 'b/2.pgm', 'b/3.pgm'].map((p) => join(root, p)));
  assert.deepEqual(Array.from(dataset.labels), [0, 0, 1, 1]);
  assert.equal(dataset.images[2 * 48], 7, 'pixels follow the images kept');
  assert.equal(dataset.warnings!.length, 1);
  assert.match(dataset.warnings![0]!, /^skipped 2 images that cannot be read \(skipUnreadable\): .*a\/2\.jpg: .*truncated.*; .*b\/1\.png: not an image/);
  assert.equal((dataset.options as { skipUnreadable?: boolean }).skipUnreadable, true, 'reloading it the same way skips them again');
  const emptied = folder({ 'a/1.pgm': pgm(2, 2, () => 1), 'a/2.pgm': pgm(2, 2, () => 2), 'b/1.jpg': jpg.subarray(0, 40) });
  await assertInputError(() => loadFolder(emptied, { skipUnreadable: true }), /no image of class 'b' could be read \(1 unreadable images skipped\)/);
});

test('folder: a class with a single image loads and is reported in warnings', async () => {
  const root = folder({ 'a/1.pgm': pgm(3, 3, () => 1), 'a/2.pgm': pgm(3, 3, () => 2), 'b/only.pgm': pgm(3, 3, () => 3) });
  const dataset = await loadFolder(root, { split: 'held-out' });
  assert.equal(dataset.size, 3);
  assert.equal(dataset.warnings!.length, 1);
  assert.match(dataset.warnings![0]!, /class 'b' has a single image .*b\/only\.pgm/);
});

test('folder splits: unseen classes (last quarter; a seeded fifth of the rest validates) by default, or 20% of each class tested and 10% validated', async () => {
  const files: Record<string, Buffer> = {};
  for (const c of ['c0', 'c1', 'c2', 'c3', 'c4', 'c5', 'c6', 'c7']) {
    for (let i = 0; i < 10; i++) files[`${c}/${i}.pgm`] = pgm(2, 2, () => i);
  }
  const root = folder(files);
  const unseen = (await loadFolder(root)).split();
  // 8 classes: the last 2 test; of the other 6, max(2, round(20%)) = 2 drawn with the seed validate.
  assert.deepEqual(Array.from(unseen.test.queries), Array.from({ length: 20 }, (_, i) => 60 + i));
  assert.equal(unseen.test.references, undefined);
  const validationClasses = [...new Set(Array.from(unseen.validation!.queries, (q) => Math.floor(q / 10)))];
  assert.equal(validationClasses.length, 2);
  assert.ok(validationClasses.every((c) => c < 6));
  assert.equal(unseen.validation!.queries.length, 20);
  assert.deepEqual(Array.from(unseen.train), Array.from({ length: 60 }, (_, i) => i).filter((i) => !validationClasses.includes(Math.floor(i / 10))));
  assert.match(unseen.description, /train on 4 classes, validate on 2 .*test on the 2 unseen classes \('c6', 'c7'/);
  const fewer = (await loadFolder(folder({ 'a/1.pgm': pgm(2, 2, () => 0), 'a/2.pgm': pgm(2, 2, () => 1), 'b/1.pgm': pgm(2, 2, () => 2), 'b/2.pgm': pgm(2, 2, () => 3) }))).split();
  assert.equal(fewer.validation, undefined, 'no validation when fewer than 4 classes remain to train');
  assert.match(fewer.description, /no validation/);

  const heldOut = (await loadFolder(root, { split: 'held-out', seed: 7 })).split();
  // Per class of 10: 2 test, then 1 of the 8 left validates, 7 train.
  assert.equal(heldOut.test.queries.length, 16);
  assert.equal(heldOut.validation!.queries.length, 8);
  assert.equal(heldOut.train.length, 56);
  assert.deepEqual(heldOut.test.references, heldOut.train);
  assert.deepEqual(heldOut.validation!.references, heldOut.train);
  const perClass = new Int32Array(8);
  for (const q of heldOut.test.queries) perClass[Math.floor(q / 10)]!++;
  assert.deepEqual(Array.from(perClass), [2, 2, 2, 2, 2, 2, 2, 2]);
  assert.ok(new Set([...heldOut.train, ...heldOut.test.queries, ...heldOut.validation!.queries]).size === 80);
  const again = (await loadFolder(root, { split: 'held-out', seed: 7 })).split();
  assert.deepEqual(again, heldOut);
  const other = (await loadFolder(root, { split: 'held-out', seed: 8 })).split();
  assert.notDeepEqual(other.test.queries, heldOut.test.queries);

  const single = folder({ 'only/1.pgm': pgm(2, 2, () => 0), 'only/2.pgm': pgm(2, 2, () => 0) });
  await assertInputError(() => loadFolder(single), /needs at least 2 classes/, /held-out/);
});

test('folder through the registry: cached per path and options', async () => {
  const root = greyFolder();
  const a = await loadDataset(`folder:${root}`);
  assert.equal(await loadDataset(`folder:${root}`), a);
  const resized = await loadDataset(`folder:${root}`, { height: 3, width: 4 });
  assert.notEqual(resized, a);
  assert.deepEqual(resized.shape, { height: 3, width: 4, channels: 1 });
});
