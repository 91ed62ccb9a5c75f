import { decode as decodeJpeg } from 'jpeg-js';
import { PNG } from 'pngjs';
import { TripletjsInputError } from '../common/errors.js';
import { decodePgm } from './pgm.js';

/** A decoded image, `height × width × channels` bytes, row-major. */
export interface DecodedImage {
  readonly width: number;
  readonly height: number;
  /** 1 for grey, 3 for RGB. */
  readonly channels: 1 | 3;
  readonly pixels: Uint8Array;
}

/** File name extensions {@link decodeImage} reads (lower case). */
export const IMAGE_EXTENSIONS: readonly string[] = ['.png', '.jpg', '.jpeg', '.pgm'];

/**
 * Decodes a PNG (pngjs), JPEG (jpeg-js) or PGM image, recognised by its first bytes, not its name.
 *
 * An image whose pixels all have R = G = B comes back grey (1 channel), whatever its format says,
 * otherwise RGB; alpha is dropped (not composited). A file that is not one of these formats, or is
 * truncated or corrupt, is a {@link TripletjsInputError} naming `file`.
 */
export function decodeImage(bytes: Uint8Array, file: string): DecodedImage {
  if (startsWith(bytes, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) {
    const png = decodeOrFail('PNG', file, () => PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)));
    return fromRgba(png.width, png.height, png.data);
  }
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) {
    const jpeg = decodeOrFail('JPEG', file, () => decodeJpeg(bytes, { useTArray: true, formatAsRGBA: true }));
    return fromRgba(jpeg.width, jpeg.height, jpeg.data);
  }
  if (bytes[0] === 0x50 && (bytes[1] === 0x35 || bytes[1] === 0x32)) {
    return { ...decodePgm(bytes, file), channels: 1 };
  }
  throw new TripletjsInputError(`${file}: not a PNG, JPEG or PGM image`);
}

/**
 * The image with `channels` channels: grey is repeated into R, G and B; RGB becomes grey by the
 * ITU-R BT.601 luma, 0.299 R + 0.587 G + 0.114 B (as Pillow's `convert('L')`).
 */
export function withChannels(image: DecodedImage, channels: 1 | 3): DecodedImage {
  if (image.channels === channels) return image;
  const n = image.width * image.height;
  const from = image.pixels;
  const pixels = new Uint8Array(n * channels);
  if (channels === 3) {
    for (let i = 0; i < n; i++) pixels[3 * i] = pixels[3 * i + 1] = pixels[3 * i + 2] = from[i]!;
  } else {
    for (let i = 0; i < n; i++) pixels[i] = Math.round(0.299 * from[3 * i]! + 0.587 * from[3 * i + 1]! + 0.114 * from[3 * i + 2]!);
  }
  return { width: image.width, height: image.height, channels, pixels };
}

function startsWith(bytes: Uint8Array, magic: number[]): boolean {
  return magic.every((b, i) => bytes[i] === b);
}

/** Runs a third-party decoder, turning its cryptic errors into one line that names the file. */
function decodeOrFail<T>(format: string, file: string, decode: () => T): T {
  try {
    return decode();
  } catch (error) {
    throw new TripletjsInputError(`${file}: cannot decode this ${format} image, it is truncated or corrupt (${(error as Error).message})`);
  }
}

/** Grey when every pixel has R = G = B, else RGB; alpha dropped. */
function fromRgba(width: number, height: number, rgba: Uint8Array): DecodedImage {
  const n = width * height;
  let grey = true;
  for (let i = 0; i < n && grey; i++) grey = rgba[4 * i] === rgba[4 * i + 1] && rgba[4 * i] === rgba[4 * i + 2];
  const channels = grey ? 1 : 3;
  const pixels = new Uint8Array(n * channels);
  for (let i = 0; i < n; i++) for (let c = 0; c < channels; c++) pixels[channels * i + c] = rgba[4 * i + c]!;
  return { width, height, channels, pixels };
}
