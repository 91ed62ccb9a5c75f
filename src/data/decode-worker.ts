/**
 * A decoding worker of a streamed folder dataset (see `WorkerPool` and `decodeFiles`): each
 * message is a batch of files to decode; the answer is their pixels, or their model inputs,
 * augmented when asked (transferred, not copied).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { TripletjsInputError } from '../common/errors.js';
import { answer, type DecodeRequest } from './decode-files.js';
import { ImageCache, type CacheFormat } from './image-cache.js';

const { format, cache: useCache } = workerData as { format: CacheFormat; cache: boolean };
const cache = useCache ? new ImageCache(format) : undefined;

parentPort!.on('message', ({ id, request }: { id: number; request: DecodeRequest }) => {
  answer(request, format, cache).then(
    (result) => parentPort!.postMessage({ id, result }, [(result.inputs ?? result.pixels)!.buffer as ArrayBuffer]),
    (error: Error) => parentPort!.postMessage({ id, error: { message: error.message, input: error instanceof TripletjsInputError } }),
  );
});
