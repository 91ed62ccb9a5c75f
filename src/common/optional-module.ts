import { TripletjsInputError } from './errors.js';

/**
 * Imports a package that only some features need (not installed with tripletjs by default), with
 * a one-line error that says what needs it and how to install it when it is missing.
 */
export async function importOptional<T>(name: string, purpose: string): Promise<T> {
  try {
    return (await import(name)) as T;
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND' && (error as Error).message.includes(`'${name}'`);
    if (missing) throw new TripletjsInputError(`${purpose} needs the npm package ${name}, which is not installed: npm install ${name}`);
    throw error;
  }
}
