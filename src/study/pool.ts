import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** What {@link runInChildProcesses} reports as jobs start and finish. */
export interface PoolCallbacks<J, R> {
  /** Environment of the child processes (default: this process's). */
  readonly env?: NodeJS.ProcessEnv;
  readonly onStart?: (job: J, index: number) => void;
  /** Awaited before the job's slot takes the next job. */
  readonly onResult: (result: R, job: J, index: number) => Promise<void> | void;
}

/**
 * Runs every job in a fresh child process of `script` (a module that answers its one message
 * with `{ record }` or `{ error }` and exits), at most `concurrency` at a time, in order of the
 * list. After a failure no new job starts; the running ones finish (their results are reported),
 * then the first failure is thrown.
 */
export async function runInChildProcesses<J, R>(script: URL, jobs: readonly J[], concurrency: number, callbacks: PoolCallbacks<J, R>): Promise<void> {
  let next = 0;
  let failure: Error | undefined;
  const slot = async (): Promise<void> => {
    while (failure === undefined && next < jobs.length) {
      const index = next++;
      const job = jobs[index]!;
      try {
        callbacks.onStart?.(job, index);
        await callbacks.onResult(await runInChildProcess<R>(script, job, callbacks.env), job, index);
      } catch (error) {
        failure ??= error as Error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, jobs.length)) }, slot));
  if (failure !== undefined) throw failure;
}

/**
 * One child process of `script`: sends it `message`, resolves with its `record`, rejects with its
 * `error` or with how it exited.
 */
export function runInChildProcess<R>(script: URL, message: unknown, env: NodeJS.ProcessEnv = process.env): Promise<R> {
  return new Promise((resolve, reject) => {
    // No inherited flags (a test runner's, an inspector's): every run starts the same way.
    const child = fork(fileURLToPath(script), [], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], execArgv: [], env });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4000);
    });
    let reply: { record?: R; error?: string } | undefined;
    child.once('message', (answer) => {
      reply = answer as typeof reply;
    });
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (reply?.error !== undefined) reject(new Error(reply.error));
      else if (reply?.record !== undefined) resolve(reply.record);
      else {
        const last = stderr.trim().split('\n').at(-1);
        reject(new Error(`a run's process ended without a result (${signal ?? `exit code ${code}`})${last ? `: ${last}` : ''}`));
      }
    });
    child.send(message as object);
  });
}
