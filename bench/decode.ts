/**
 * Decoding a large photo to a model's input: time per image and peak RSS, each way in a process
 * of its own (so that each peak is its own).
 *
 *   npm run build && node build/bench/decode.js [--megapixels 12] [--size 112x92] [--repetitions 5] [--json FILE]
 *
 * - `jpeg-js + bilinear`: the pure-JavaScript decoder and TensorFlow.js's bilinear resize, which is
 *   how tripletjs read photos before it used sharp (the peer);
 * - `sharp, whole then fitted`: sharp decodes the whole photo, then `fitImage` brings it to the
 *   input (what the service does with an upload, which it also keeps for a thumbnail);
 * - `sharp, fitted while decoding`: `readImage(path, format)`, what training, `embed` and `verify`
 *   do (libjpeg shrinks on load).
 */
import { fork } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decode as decodeJpeg } from 'jpeg-js';
import sharp from 'sharp';
import { tf } from '../src/tf.js';
import { initBackend } from '../src/engine/index.js';
import { decodeImage, fitImage } from '../src/data/image-file.js';
import { readImage } from '../src/data/read-image.js';
import { argValue, machine, markdownTable, median, peakRssMiB } from './common.js';

const METHODS = ['jpeg-js + bilinear', 'sharp, whole then fitted', 'sharp, fitted while decoding'] as const;
type Method = (typeof METHODS)[number];

interface Result {
  readonly method: Method;
  readonly msPerImage: number;
  readonly peakRssMiB: number;
}

const [height, width] = (argValue('--size') ?? '112x92').split('x').map(Number) as [number, number];
const format = { height, width, channels: 1 as const, fit: 'cover' as const, background: '#ffffff' };

/** Decodes the photo to the input and returns how many values came out. */
async function decodeOnce(method: Method, path: string): Promise<number> {
  switch (method) {
    case 'jpeg-js + bilinear': {
      const bytes = await readFile(path);
      const { width: w, height: h, data } = decodeJpeg(bytes, { useTArray: true, formatAsRGBA: false, maxMemoryUsageInMB: 4096, maxResolutionInMP: 200 });
      return tf.tidy(() => tf.mean(tf.image.resizeBilinear(tf.tensor3d(data, [h, w, 3], 'float32'), [height, width], false, true), 2).dataSync().length);
    }
    case 'sharp, whole then fitted':
      return (await fitImage(await decodeImage(await readFile(path), path), format)).pixels.length;
    case 'sharp, fitted while decoding':
      return (await readImage(path, format)).pixels.length;
  }
}

async function runMethod(method: Method, path: string, repetitions: number): Promise<Result> {
  await initBackend({ announce: () => undefined });
  await decodeOnce(method, path); // warm-up
  const samples: number[] = [];
  for (let r = 0; r < repetitions; r++) {
    const started = performance.now();
    await decodeOnce(method, path);
    samples.push(performance.now() - started);
  }
  return { method, msPerImage: median(samples), peakRssMiB: peakRssMiB() };
}

function runChild(method: Method, path: string, repetitions: number): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), ['--child', method, path, String(repetitions)], { execArgv: [] });
    child.once('message', (message) => resolve(message as Result));
    child.once('exit', (code) => (code === 0 ? undefined : reject(new Error(`${method} exited with ${code}`))));
  });
}

const child = argValue('--child') as Method | undefined;
if (child !== undefined) {
  const [path, repetitions] = process.argv.slice(4);
  process.send!(await runMethod(child, path!, Number(repetitions)));
  process.exit(0);
}

const megapixels = Number(argValue('--megapixels') ?? 12);
const repetitions = Number(argValue('--repetitions') ?? 5);
const photoWidth = Math.round(Math.sqrt((megapixels * 1e6 * 4) / 3));
const photoHeight = Math.round((photoWidth * 3) / 4);
const work = await mkdtemp(join(tmpdir(), 'tripletjs-decode-'));
const photo = join(work, 'photo.jpg');
// A photo-like JPEG: smooth colour gradients with sensor-like noise, quality 90.
const gradient = sharp({ create: { width: photoWidth, height: photoHeight, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 25 } } });
await writeFile(photo, await gradient.blur(1.5).jpeg({ quality: 90 }).toBuffer());
const fileMiB = (await readFile(photo)).length / 2 ** 20;

const results: Result[] = [];
for (const method of METHODS) results.push(await runChild(method, photo, repetitions));
await rm(work, { recursive: true, force: true });

const host = machine();
console.log(`${host.cpu}, ${host.cores} cores, node ${host.node}; a ${photoWidth} × ${photoHeight} JPEG (${megapixels} MP, ${fileMiB.toFixed(1)} MiB) to ${height} × ${width} grey; median of ${repetitions} after a warm-up\n`);
const peer = results[0]!;
console.log(
  markdownTable(
    ['method', 'ms per image', 'time / jpeg-js', 'peak RSS MiB'],
    results.map((r) => [r.method, r.msPerImage.toFixed(0), (r.msPerImage / peer.msPerImage).toFixed(3), r.peakRssMiB.toFixed(0)]),
    new Set([1, 2, 3]),
  ),
);
const jsonPath = argValue('--json');
if (jsonPath) await writeFile(jsonPath, JSON.stringify({ machine: host, megapixels, photoWidth, photoHeight, results }, null, 2) + '\n');
