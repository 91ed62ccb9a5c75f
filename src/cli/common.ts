import { InvalidArgumentError } from 'commander';
import { initBackend } from '../engine/backend.js';

/** Argument parsers: each names its flag in the one-line error. */
export const integer = (name: string) => (value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n)) throw new InvalidArgumentError(`${name} must be an integer`);
  return n;
};
export const number = (name: string) => (value: string): number => {
  const n = Number(value);
  if (!Number.isFinite(n)) throw new InvalidArgumentError(`${name} must be a number`);
  return n;
};
export const oneOf = <T extends string>(name: string, choices: readonly string[]) => (value: string): T => {
  if (!choices.includes(value)) throw new InvalidArgumentError(`${name} must be one of ${choices.join(', ')}`);
  return value as T;
};
export const channelCount = (value: string): 1 | 3 => {
  if (value !== '1' && value !== '3') throw new InvalidArgumentError('--channels must be 1 (grey) or 3 (RGB)');
  return Number(value) as 1 | 3;
};
export const size = (value: string): [number, number] => {
  const match = /^(\d+)x(\d+)$/.exec(value);
  if (!match) throw new InvalidArgumentError('give a size as HEIGHTxWIDTH, e.g. 56x46');
  return [Number(match[1]), Number(match[2])];
};

export const colour = (value: string): string => {
  if (!/^#[0-9a-fA-F]{6}$/.test(value)) throw new InvalidArgumentError('--background must be a colour #rrggbb, e.g. #ffffff');
  return value;
};

/** Prints JSON with --json, a human text otherwise. */
export function output(json: boolean, value: unknown, text: string): void {
  process.stdout.write(json ? JSON.stringify(value, null, 2) + '\n' : text + '\n');
}

/** Starts the TensorFlow.js backend, announcing on stderr which kernels it runs on. */
export async function start(): Promise<void> {
  await initBackend({ announce: (message) => process.stderr.write(message + '\n') });
}

