import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { crc32 } from 'node:zlib';
import sharp from 'sharp';

/**
 * The on-disk cache of decoded, fitted images (`cacheDir` of a streamed folder dataset).
 *
 * Layout: `<cacheDir>/<format>/<class>.bin`, where `<format>` is a hash of what determines the
 * pixels besides the file (target size, channels, fit, background, the cache format and libvips's
 * version) and `<class>` a hash of the class folder's path. A class file holds one fixed-size
 * record per image of the class, at the image's position in the class's listing:
 *
 * | bytes | what |
 * |---|---|
 * | 0–3 | magic `TJC1` |
 * | 4–7 | CRC-32 of the pixels (little-endian) |
 * | 8–23 | the first 16 bytes of SHA-256 of the record's key: the file's absolute path, size and mtime, and the format |
 * | 24–31 | zero |
 * | 32– | height × width × channels pixels |
 *
 * A record is used only when its magic, key and CRC all match: a file changed since it was cached
 * (another size or mtime), a record never written (a hole reads as zeros), or one torn by a killed
 * process (its CRC no longer matches) is decoded again and rewritten. Each record is written with
 * one positional write; nothing is fsynced, as a lost record costs only a decode, never wrong pixels.
 */
export const CACHE_HEADER = 32;
const MAGIC = 0x3143_4a54; // 'TJC1' little-endian

/** What the pixels of a file depend on, besides the file itself. */
export interface CacheFormat {
  readonly height: number;
  readonly width: number;
  readonly channels: 1 | 3;
  readonly fit: string;
  readonly background: string;
  /** Whether images are resized to height × width (else they must already be that size). */
  readonly resize: boolean;
}

/** The folder of `cacheDir` that holds the records of `format`. */
export function cacheFolder(cacheDir: string, format: CacheFormat): string {
  const key = JSON.stringify(['tripletjs-image-cache', 1, sharp.versions.vips ?? '', format.height, format.width, format.channels, format.fit, format.background, format.resize]);
  const folder = join(resolve(cacheDir), createHash('sha256').update(key).digest('hex').slice(0, 24));
  mkdirSync(folder, { recursive: true });
  return folder;
}

/** The record file of a class folder inside a cache folder. */
export function classCacheFile(folder: string, classDirectory: string): string {
  return join(folder, `${createHash('sha256').update(resolve(classDirectory)).digest('hex').slice(0, 24)}.bin`);
}

/** Where an image's record is: its class's record file and its position in the class. */
export interface CacheSlot {
  readonly file: string;
  readonly slot: number;
}

/** Open record files of one thread, opened on first use. */
export class ImageCache {
  private readonly handles = new Map<string, Promise<FileHandle>>();

  constructor(private readonly format: CacheFormat) {}

  private get recordSize(): number {
    return CACHE_HEADER + this.format.height * this.format.width * this.format.channels;
  }

  /** The record key of `path` as it is now (its size and mtime), or undefined when it cannot be stat'ed. */
  async keyOf(path: string): Promise<Uint8Array | undefined> {
    const info = await stat(path).catch(() => undefined);
    if (info === undefined) return undefined;
    const f = this.format;
    const key = JSON.stringify([resolve(path), info.size, info.mtimeMs, f.height, f.width, f.channels, f.fit, f.background, f.resize]);
    return createHash('sha256').update(key).digest().subarray(0, 16);
  }

  /** The cached pixels of the record at `where` if it holds `key`, else undefined. */
  async read(where: CacheSlot, key: Uint8Array): Promise<Uint8Array | undefined> {
    const handle = await this.handle(where.file);
    const record = new Uint8Array(this.recordSize);
    const { bytesRead } = await handle.read(record, 0, record.length, where.slot * record.length);
    if (bytesRead < record.length) return undefined;
    const view = new DataView(record.buffer);
    if (view.getUint32(0, true) !== MAGIC) return undefined;
    for (let i = 0; i < 16; i++) if (record[8 + i] !== key[i]) return undefined;
    const pixels = record.subarray(CACHE_HEADER);
    if (crc32(pixels) !== view.getUint32(4, true)) return undefined;
    return pixels;
  }

  /** Writes the record of `pixels` for `key` at `where`, in one positional write. */
  async write(where: CacheSlot, key: Uint8Array, pixels: Uint8Array): Promise<void> {
    const record = new Uint8Array(this.recordSize);
    const view = new DataView(record.buffer);
    view.setUint32(0, MAGIC, true);
    view.setUint32(4, crc32(pixels), true);
    record.set(key, 8);
    record.set(pixels, CACHE_HEADER);
    const handle = await this.handle(where.file);
    await handle.write(record, 0, record.length, where.slot * record.length);
  }

  async close(): Promise<void> {
    const handles = [...this.handles.values()];
    this.handles.clear();
    await Promise.all(handles.map(async (handle) => (await handle).close()));
  }

  private handle(file: string): Promise<FileHandle> {
    let handle = this.handles.get(file);
    if (handle === undefined) {
      // 'a+' would ignore positions on Linux: open for reading and writing, creating it if missing.
      handle = open(file, 'a').then((created) => created.close()).then(() => open(file, 'r+'));
      this.handles.set(file, handle);
      handle.catch(() => this.handles.delete(file));
    }
    return handle;
  }
}
