/**
 * The process one study run executes in (forked by `pool.ts`). Its one message is either a run
 * configuration, answered with `{ record }`, or `{ kind: 'engine' }`, answered with the
 * description of the backend and kernels it starts (`{ record: description }`); failures are
 * answered with `{ error }`. Then it exits. A fresh process per run makes every run independent
 * of what ran before it and of how many run at once.
 */
import { initBackend } from '../engine/backend.js';
import { executeRun } from './execute-run.js';
import type { RunConfig } from './run.js';

/** What a study sends a worker. */
export type WorkerMessage = RunConfig | { readonly kind: 'engine' };

process.once('message', (message: WorkerMessage) => {
  void (async () => {
    let reply: unknown;
    try {
      let engine = '';
      await initBackend({ announce: (description) => (engine = description) });
      if (message.kind === 'engine') {
        reply = { record: engine };
      } else if (message.engine !== engine) {
        throw new Error(`the engine changed since the study started (now: ${engine}; planned: ${message.engine}); run the study again`);
      } else {
        reply = { record: await executeRun(message) };
      }
    } catch (error) {
      reply = { error: (error as Error).message ?? String(error) };
    }
    process.send!(reply, () => process.exit(0));
  })();
});
