import { TripletjsInputError } from '../common/errors.js';

/** An IDX array of unsigned bytes: its dimensions and its values, row-major. */
export interface IdxArray {
  readonly dims: readonly number[];
  readonly data: Uint8Array;
}

/**
 * Decodes an IDX file of unsigned bytes (the format of MNIST and Fashion-MNIST): two zero bytes,
 * type 0x08, the number of dimensions, each dimension as a big-endian uint32, then the values.
 * The data is a view into `bytes`, not a copy. A length that does not match the dimensions is a
 * {@link TripletjsInputError} naming `file` (a truncated download is the usual cause).
 */
export function decodeIdx(bytes: Uint8Array, file: string): IdxArray {
  const fail = (problem: string): never => {
    throw new TripletjsInputError(`${file}: ${problem}`);
  };
  if (bytes.length < 4 || bytes[0] !== 0 || bytes[1] !== 0) fail('not an IDX file (bad magic number)');
  if (bytes[2] !== 0x08) fail(`IDX value type 0x${bytes[2]!.toString(16)} is not supported (only unsigned bytes, 0x08)`);
  const rank = bytes[3]!;
  const start = 4 + 4 * rank;
  if (rank === 0 || bytes.length < start) fail('truncated IDX header');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i));
  const count = dims.reduce((a, b) => a * b, 1);
  if (bytes.length - start !== count) {
    fail(`IDX dimensions ${dims.join('×')} need ${count} values, the file has ${bytes.length - start} (truncated or corrupt: download it again)`);
  }
  return { dims, data: bytes.subarray(start) };
}
