import { require } from '../common/errors.js';

/** How the learning rate changes over training. */
export const SCHEDULES = ['constant', 'cosine', 'step'] as const;
export type ScheduleName = (typeof SCHEDULES)[number];

/**
 * The learning rate at `epoch` (0-based) of `epochs`: constant; cosine annealing from the base
 * rate to 1% of it; or step decay, ×0.1 at 2/3 of training. With `warmupEpochs` = w, the first w
 * epochs rise linearly to the base rate (epoch e gets (e + 1) / (w + 1) of it) and the schedule
 * then runs over the remaining epochs.
 */
export function learningRateAt(schedule: string, base: number, epoch: number, epochs: number, warmupEpochs = 0): number {
  require((SCHEDULES as readonly string[]).includes(schedule), `unknown learning-rate schedule '${schedule}' (choose from ${SCHEDULES.join(', ')})`);
  if (epoch < warmupEpochs) return (base * (epoch + 1)) / (warmupEpochs + 1);
  return scheduled(schedule as ScheduleName, base, epoch - warmupEpochs, epochs - warmupEpochs);
}

function scheduled(schedule: ScheduleName, base: number, epoch: number, epochs: number): number {
  switch (schedule) {
    case 'constant':
      return base;
    case 'cosine': {
      const progress = epochs <= 1 ? 0 : epoch / (epochs - 1);
      return base * (0.01 + 0.99 * 0.5 * (1 + Math.cos(Math.PI * progress)));
    }
    case 'step':
      return epoch < Math.floor((2 * epochs) / 3) ? base : base * 0.1;
  }
}
