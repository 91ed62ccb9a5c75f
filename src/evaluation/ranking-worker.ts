/**
 * Entry point of a ranking worker thread (see `ranking-pool.ts`): waits for each block, ranks
 * the rows it claims, reports done; on any error, records the message and stops.
 */
import { workerData } from 'node:worker_threads';
import { rankClaimedRows, rankerFor, Slot, type SharedRanking } from './shared-ranking.js';

const shared = workerData as SharedRanking;
const { control } = shared;
try {
  const ranker = rankerFor(shared);
  Atomics.add(control, Slot.Ready, 1);
  Atomics.notify(control, Slot.Ready);
  for (let seen = 0; ; ) {
    Atomics.wait(control, Slot.Generation, seen);
    const generation = Atomics.load(control, Slot.Generation);
    if (generation < 0) break;
    if (generation === seen) continue;
    seen = generation;
    rankClaimedRows(shared, ranker);
    Atomics.add(control, Slot.Done, 1);
    Atomics.notify(control, Slot.Done);
  }
} catch (error) {
  shared.error.set(new TextEncoder().encode(String(error instanceof Error ? error.stack ?? error.message : error)).subarray(0, shared.error.length));
  Atomics.store(control, Slot.Failed, 1);
  Atomics.add(control, Slot.Done, 1);
  Atomics.notify(control, Slot.Done);
  Atomics.notify(control, Slot.Ready);
}
