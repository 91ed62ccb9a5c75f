/**
 * A seeded folder of JPEG photos for the streaming benchmark: `classes` sub-folders of `perClass`
 * images each, of varied sizes about 320 × 240, each a class-coloured gradient with a few random
 * rectangles in the class's second colour (learnable, and small as JPEGs).
 *
 * Run alone: `node build/bench/streaming-data.js <folder> [classes] [perClass]`. Existing files
 * are kept, so an interrupted generation continues.
 */
import { mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { SeededRandom } from '../src/common/random.js';

/** Writes the folder (missing files only); returns the number of files written and the seconds taken. */
export async function generatePhotos(folder: string, classes: number, perClass: number, concurrency = 4): Promise<{ written: number; seconds: number }> {
  const started = performance.now();
  let written = 0;
  const jobs: Array<() => Promise<void>> = [];
  for (let c = 0; c < classes; c++) {
    const directory = join(folder, `class-${String(c).padStart(3, '0')}`);
    mkdirSync(directory, { recursive: true });
    for (let i = 0; i < perClass; i++) {
      const file = join(directory, `${String(i).padStart(4, '0')}.jpg`);
      if (statSync(file, { throwIfNoEntry: false })?.size) continue;
      jobs.push(async () => {
        await sharp(photo(c, i), { raw: rawInfo(c, i) }).jpeg({ quality: 80 }).toFile(file + '.tmp');
        const { rename } = await import('node:fs/promises');
        await rename(file + '.tmp', file);
        written++;
      });
    }
  }
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < jobs.length) await jobs[next++]!();
    }),
  );
  return { written, seconds: (performance.now() - started) / 1000 };
}

function size(c: number, i: number): { width: number; height: number } {
  const random = new SeededRandom(c * 100003 + i);
  return { width: 280 + random.int(81), height: 200 + random.int(81) };
}

function rawInfo(c: number, i: number): { width: number; height: number; channels: 3 } {
  return { ...size(c, i), channels: 3 };
}

function photo(c: number, i: number): Uint8Array {
  const { width, height } = size(c, i);
  const random = new SeededRandom((c * 100003 + i) ^ 0x5bd1e995);
  const hue = (c * 0.6180339887) % 1;
  const [r0, g0, b0] = rgb(hue, 0.6, 0.8);
  const [r1, g1, b1] = rgb((hue + 0.5) % 1, 0.8, 0.5);
  const out = new Uint8Array(width * height * 3);
  const tilt = random.float() * 0.5;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const t = 0.5 + 0.5 * ((x / width) * (1 - tilt) + (y / height) * tilt) - 0.25;
      const o = (y * width + x) * 3;
      out[o] = r0 * t;
      out[o + 1] = g0 * t;
      out[o + 2] = b0 * t;
    }
  }
  for (let n = 1 + random.int(3); n > 0; n--) {
    const w = 20 + random.int(Math.floor(width / 3));
    const h = 20 + random.int(Math.floor(height / 3));
    const x0 = random.int(width - w);
    const y0 = random.int(height - h);
    for (let y = y0; y < y0 + h; y++) {
      for (let x = x0; x < x0 + w; x++) {
        const o = (y * width + x) * 3;
        out[o] = r1;
        out[o + 1] = g1;
        out[o + 2] = b1;
      }
    }
  }
  return out;
}

function rgb(h: number, s: number, v: number): [number, number, number] {
  const i = Math.floor(h * 6);
  const f = h * 6 - i;
  const p = v * (1 - s);
  const q = v * (1 - f * s);
  const t = v * (1 - (1 - f) * s);
  const [r, g, b] = [
    [v, t, p],
    [q, v, p],
    [p, v, t],
    [p, q, v],
    [t, p, v],
    [v, p, q],
  ][i % 6]!;
  return [r! * 255, g! * 255, b! * 255];
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [folder = '/tmp/tripletjs-photos-100k', classes = '100', perClass = '1000'] = process.argv.slice(2);
  const { written, seconds } = await generatePhotos(folder, Number(classes), Number(perClass));
  console.log(`wrote ${written} JPEGs to ${folder} in ${seconds.toFixed(1)} s`);
}
