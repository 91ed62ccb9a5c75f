import { require } from '../common/errors.js';

/** How the learning rate changes over training. */
export const SCHEDULES = ['constant', 'cosine', 'step'] as const;
export type ScheduleName = (typeof SCHEDULES)[number];

/**
 * The learning rate at `epoch` (0-based) of `epochs`: constant; cosine annealing from the base
 * rate to 1% of it; or step decay, ×0.1 at 2/3 of training.
 */
export function learningRateAt(schedule: string, base: number, epoch: number, epochs: number): number {
  require((SCHEDULES as readonly string[]).includes(schedule), `unknown learning-rate schedule '${schedule}' (choose from ${SCHEDULES.join(', ')})`);
  switch (schedule as ScheduleName) {
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
