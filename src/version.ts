import { readFileSync } from 'node:fs';

/** The library's version, from its package.json (build/src/ → package root). */
export const VERSION: string = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;
