/** A worker for the WorkerPool tests: echoes, fails, or crashes as asked. */
import { parentPort } from 'node:worker_threads';

parentPort!.on('message', ({ id, request }: { id: number; request: string }) => {
  if (request === 'exit') process.exit(7);
  if (request === 'throw') {
    setTimeout(() => {
      throw new Error('uncaught in the worker');
    });
    return;
  }
  if (request === 'input') {
    parentPort!.postMessage({ id, error: { message: 'bad.jpg: corrupt', input: true } });
    return;
  }
  setTimeout(() => parentPort!.postMessage({ id, result: `echo ${request}` }), request === 'slow' ? 50 : 0);
});
