import { require } from '../common/errors.js';

/**
 * Encodes a float32 matrix as a NumPy `.npy` file (format 1.0, little-endian `<f4`, C order), so
 * that `numpy.load` reads it as an array of shape (rows, cols).
 */
export function encodeNpy(values: Float32Array, rows: number, cols: number): Uint8Array {
  require(values.length === rows * cols, `encodeNpy: ${values.length} values are not ${rows} × ${cols}`);
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${rows}, ${cols}), }`;
  // Magic (6) + version (2) + header length (2) + header + '\n' must be a multiple of 64.
  const unpadded = 10 + header.length + 1;
  header += ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
  const out = new Uint8Array(10 + header.length + values.byteLength);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0], 0);
  new DataView(out.buffer).setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  out.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength), 10 + header.length);
  return out;
}

/** Decodes a 2-D little-endian float32 `.npy` file (as {@link encodeNpy} writes); `file` names it in errors. */
export function decodeNpy(bytes: Uint8Array, file: string): { values: Float32Array; rows: number; cols: number } {
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
  require(bytes.length >= 10 && magic.every((b, i) => bytes[i] === b), `${file} is not a .npy file`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const major = bytes[6]!;
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const offset = (major === 1 ? 10 : 12) + headerLength;
  require(bytes.length >= offset, `${file} is truncated (header)`);
  const header = String.fromCharCode(...bytes.subarray(major === 1 ? 10 : 12, offset));
  require(/'descr':\s*'<f4'/.test(header) && /'fortran_order':\s*False/.test(header), `${file}: only little-endian float32 arrays in C order are supported (header ${header.trim()})`);
  const shape = /'shape':\s*\((\d+),\s*(\d+)\)/.exec(header);
  require(shape !== null, `${file}: expected a 2-D array, header says ${header.trim()}`);
  const rows = Number(shape[1]);
  const cols = Number(shape[2]);
  require(bytes.length - offset === rows * cols * 4, `${file} holds ${bytes.length - offset} data bytes but its shape (${rows}, ${cols}) needs ${rows * cols * 4}: truncated or corrupt`);
  const values = new Float32Array(rows * cols);
  new Uint8Array(values.buffer).set(bytes.subarray(offset));
  return { values, rows, cols };
}
