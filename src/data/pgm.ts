import { TripletjsInputError } from '../common/errors.js';

/** A decoded greyscale image: `height × width` bytes, row-major. */
export interface GreyImage {
  readonly width: number;
  readonly height: number;
  readonly pixels: Uint8Array;
}

const isSpace = (c: number | undefined): boolean => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d || c === 0x0b || c === 0x0c;
const isDigit = (c: number | undefined): boolean => c !== undefined && c >= 0x30 && c <= 0x39;

/**
 * Decodes a PGM image, binary (`P5`) or plain (`P2`), as the Netpbm specification defines it:
 * whitespace-separated width, height and maxval, `#` comments in the header, 1 byte per sample up
 * to maxval 255 and 2 bytes (big-endian) above. Samples are scaled to 0–255 when maxval is not 255.
 *
 * Strict on purpose: a truncated raster, a sample above maxval or anything but whitespace after the
 * image is a {@link TripletjsInputError} naming `file`, rather than an image padded with zeros.
 */
export function decodePgm(bytes: Uint8Array, file: string): GreyImage {
  const fail = (problem: string): never => {
    throw new TripletjsInputError(`${file}: ${problem}`);
  };
  if (bytes[0] !== 0x50 || (bytes[1] !== 0x35 && bytes[1] !== 0x32) || !isSpace(bytes[2])) {
    fail('not a PGM image (it does not start with "P5" or "P2")');
  }
  const plain = bytes[1] === 0x32;
  let pos = 2;

  // Header numbers: whitespace and comments (from '#' to the end of the line) may come before each.
  const headerNumber = (what: string): number => {
    for (;;) {
      while (isSpace(bytes[pos])) pos++;
      if (bytes[pos] !== 0x23) break;
      while (pos < bytes.length && bytes[pos] !== 0x0a && bytes[pos] !== 0x0d) pos++;
    }
    if (pos >= bytes.length) fail(`truncated PGM: the header ends before the ${what}`);
    if (!isDigit(bytes[pos])) fail(`malformed PGM header: expected the ${what}, found '${String.fromCharCode(bytes[pos]!)}'`);
    let value = 0;
    while (isDigit(bytes[pos])) value = value * 10 + bytes[pos++]! - 0x30;
    if (pos < bytes.length && !isSpace(bytes[pos]) && bytes[pos] !== 0x23) {
      fail(`malformed PGM header: unexpected '${String.fromCharCode(bytes[pos]!)}' after the ${what}`);
    }
    return value;
  };
  const width = headerNumber('width');
  const height = headerNumber('height');
  const maxval = headerNumber('maxval');
  if (width < 1 || height < 1) fail(`malformed PGM header: size ${width}×${height}`);
  if (maxval < 1 || maxval > 65535) fail(`malformed PGM header: maxval ${maxval} is not in 1–65535`);
  if (pos >= bytes.length) fail('truncated PGM: no pixels after the header');
  if (!isSpace(bytes[pos])) fail('malformed PGM header: maxval must be followed by one whitespace character');
  pos++;

  const count = width * height;
  const samples = plain ? plainSamples(bytes, pos, count, fail) : binarySamples(bytes, pos, count, maxval > 255, fail);
  for (let i = samples.end; i < bytes.length; i++) {
    if (!isSpace(bytes[i])) fail(`malformed PGM: ${bytes.length - samples.end} unexpected bytes after the image`);
  }
  const pixels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const value = samples.values[i]!;
    if (value > maxval) fail(`malformed PGM: pixel ${i} is ${value}, above maxval ${maxval}`);
    pixels[i] = maxval === 255 ? value : Math.round((value * 255) / maxval);
  }
  return { width, height, pixels };
}

interface Samples {
  values: ArrayLike<number>;
  /** Position just after the last sample. */
  end: number;
}

function binarySamples(bytes: Uint8Array, pos: number, count: number, wide: boolean, fail: (p: string) => never): Samples {
  const needed = count * (wide ? 2 : 1);
  const available = bytes.length - pos;
  if (available < needed) fail(`truncated PGM: the image needs ${needed} bytes of pixels, the file has ${available}`);
  if (!wide) return { values: bytes.subarray(pos, pos + count), end: pos + count };
  const values = new Uint16Array(count);
  for (let i = 0; i < count; i++) values[i] = (bytes[pos + 2 * i]! << 8) | bytes[pos + 2 * i + 1]!;
  return { values, end: pos + needed };
}

function plainSamples(bytes: Uint8Array, pos: number, count: number, fail: (p: string) => never): Samples {
  // Each sample takes at least a digit and a separator: a cheap check before allocating.
  if (2 * count - 1 > bytes.length - pos) fail(`truncated PGM: too short for ${count} pixels`);
  const values = new Uint32Array(count);
  for (let i = 0; i < count; i++) {
    while (isSpace(bytes[pos])) pos++;
    if (pos >= bytes.length) fail(`truncated PGM: ${i} of ${count} pixels`);
    if (!isDigit(bytes[pos])) fail(`malformed PGM: pixel ${i} is not a number`);
    let value = 0;
    while (isDigit(bytes[pos])) value = Math.min(value * 10 + bytes[pos++]! - 0x30, 1 << 30);
    values[i] = value;
  }
  return { values, end: pos };
}
