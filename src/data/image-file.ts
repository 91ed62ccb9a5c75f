import sharp, { type OutputInfo, type Sharp } from 'sharp';
import { TripletjsInputError } from '../common/errors.js';
import { DEFAULT_FITTING, type ImageFormat } from './image-format.js';
import { decodePgm } from './pgm.js';

/** A decoded image, `height × width × channels` bytes, row-major. */
export interface DecodedImage {
  readonly width: number;
  readonly height: number;
  /** 1 for grey, 3 for RGB. */
  readonly channels: 1 | 3;
  readonly pixels: Uint8Array;
}

/**
 * Decodes an image file's bytes with sharp (libvips): JPEG, PNG, WebP, TIFF, AVIF, GIF (its first
 * frame), recognised by content, not name; PGM by tripletjs's own reader. The EXIF orientation is
 * applied and transparency is flattened onto `background`. Given a `format`, the image is brought
 * to it in the same pipeline (so a large JPEG is shrunk while it is decoded) with a Lanczos filter.
 *
 * An image whose pixels all have R = G = B comes back grey (1 channel) unless `format` sets its channels.
 * A file that is not an image, is truncated or corrupt is a {@link TripletjsInputError} naming `file`.
 */
export async function decodeImage(bytes: Uint8Array, file: string, format?: ImageFormat, background = DEFAULT_FITTING.background): Promise<DecodedImage> {
  if (isPgm(bytes)) {
    const grey: DecodedImage = { ...decodePgm(bytes, file), channels: 1 };
    return format ? fitImage(grey, format) : grey;
  }
  return runSharp(file, () => sharp(bytes, { failOn: 'truncated' }), format, format?.background ?? background);
}

/** A decoded image brought to `format` (see {@link decodeImage}); the image itself when it already is. */
export async function fitImage(image: DecodedImage, format: ImageFormat): Promise<DecodedImage> {
  if (image.height === format.height && image.width === format.width) return format.channels ? withChannels(image, format.channels) : image;
  return runSharp('image', () => fromPixels(image), format, format.background);
}

/**
 * A PNG of `image` no larger than `longSide` pixels on its longer side (aspect kept), to show an
 * enrolled image without keeping the original.
 */
export async function thumbnailPng(image: DecodedImage, longSide = 96): Promise<Uint8Array> {
  const png = await fromPixels(image).resize({ width: longSide, height: longSide, fit: 'inside', withoutEnlargement: true }).png().toBuffer();
  return new Uint8Array(png.buffer, png.byteOffset, png.byteLength);
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

function isPgm(bytes: Uint8Array): boolean {
  return bytes[0] === 0x50 && (bytes[1] === 0x35 || bytes[1] === 0x32);
}

function fromPixels(image: DecodedImage): Sharp {
  return sharp(image.pixels, { raw: { width: image.width, height: image.height, channels: image.channels } });
}

/** Orients, flattens and (given a format) resizes, then reads the pixels back; libvips errors become one line naming the file. */
async function runSharp(file: string, open: () => Sharp, format: ImageFormat | undefined, background: string): Promise<DecodedImage> {
  let output: { data: Buffer; info: OutputInfo };
  try {
    let pipeline = open().autoOrient().flatten({ background });
    if (format) pipeline = pipeline.resize({ width: format.width, height: format.height, fit: format.fit, position: 'centre', background, kernel: 'lanczos3' });
    // sRGB and 8 bits whatever the file holds (CMYK, 16-bit PNG, grey with alpha).
    output = await pipeline.toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  } catch (error) {
    const reason = (error as Error).message.split('\n')[0]!;
    const what = /unsupported image format/i.test(reason) ? 'not an image tripletjs reads (JPEG, PNG, WebP, TIFF, AVIF, GIF or PGM)' : `cannot decode this image, it is truncated or corrupt (${reason})`;
    throw new TripletjsInputError(`${file}: ${what}`);
  }
  const { width, height, channels } = output.info;
  const image = toGreyOrRgb(width, height, channels, new Uint8Array(output.data.buffer, output.data.byteOffset, output.data.byteLength));
  return format?.channels ? withChannels(image, format.channels) : image;
}

/** Grey when every pixel has R = G = B (or the decoder gave one channel), else RGB. */
function toGreyOrRgb(width: number, height: number, channels: number, data: Uint8Array): DecodedImage {
  if (channels === 1) return { width, height, channels: 1, pixels: data };
  const n = width * height;
  let grey = true;
  for (let i = 0; i < n && grey; i++) grey = data[3 * i] === data[3 * i + 1] && data[3 * i] === data[3 * i + 2];
  if (!grey) return { width, height, channels: 3, pixels: data };
  const pixels = new Uint8Array(n);
  for (let i = 0; i < n; i++) pixels[i] = data[3 * i]!;
  return { width, height, channels: 1, pixels };
}
