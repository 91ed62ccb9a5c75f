import { tf } from '../tf.js';
import { require, TripletjsInputError } from './errors.js';

/** Labels as callers may give them: any array of integers, or a 1-D tensor. */
export type LabelsInput = ArrayLike<number> | tf.Tensor1D;

/**
 * Reads labels into an Int32Array, checking that they are integers and that there is one per row.
 * `what` names the embeddings in messages ("embeddings", "reference embeddings").
 */
export function readLabels(labels: LabelsInput, rows: number, what = 'embeddings'): Int32Array {
  let values: ArrayLike<number>;
  if (labels instanceof tf.Tensor) {
    require(labels.rank === 1, `labels must be 1-D, got a tensor of shape [${labels.shape.join(', ')}]`);
    values = labels.dataSync();
  } else {
    require(labels != null && typeof labels.length === 'number', 'labels must be an array of integers or a 1-D tensor');
    values = labels;
  }
  require(
    values.length === rows,
    () => `labels has ${values.length} entries but ${what} has ${rows} rows: give one label per row`,
  );
  const out = new Int32Array(rows);
  for (let i = 0; i < rows; i++) {
    const v = values[i]!;
    require(Number.isInteger(v) && Math.abs(v) < 2 ** 31, () => `labels[${i}] is ${v}: labels must be integers`);
    out[i] = v;
  }
  return out;
}

/**
 * Checks that `embeddings` is a non-empty 2-D float tensor of finite values, and returns its
 * number of rows. NaN or Infinity are reported here, with their position, rather than surfacing
 * later as a NaN loss.
 */
export function checkEmbeddings(embeddings: tf.Tensor, what = 'embeddings'): number {
  require(embeddings instanceof tf.Tensor, `${what} must be a tf.Tensor2D`);
  require(!embeddings.isDisposed, `${what} tensor has already been disposed`);
  require(
    embeddings.rank === 2,
    () => `${what} must be 2-D (batch × dimension), got shape [${embeddings.shape.join(', ')}]`,
  );
  const [rows, dims] = embeddings.shape as [number, number];
  require(rows > 0, `${what} is an empty batch (0 rows): a loss or miner needs at least one example`);
  require(dims > 0, `${what} has 0 dimensions`);
  require(embeddings.dtype === 'float32', () => `${what} must be float32, got ${embeddings.dtype}`);
  const values = embeddings.dataSync();
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i]!)) {
      const row = Math.floor(i / dims);
      throw new TripletjsInputError(
        `${what} contain ${values[i]} at row ${row}, column ${i - row * dims}: ` +
          'check the model output (a diverged training or an input with NaN produces this)',
      );
    }
  }
  return rows;
}
