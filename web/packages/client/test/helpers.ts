import { expect } from 'vitest';
import { AuthError } from '../src/index.js';

// Helpers the SDK's tests share.

/** rejection awaits p's failure and checks that it is an AuthError. */
export async function rejection(p: Promise<unknown>): Promise<AuthError> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(AuthError);
  return e as AuthError;
}

/** until resolves when cond holds, polling every 5 ms, and fails after ms. */
export function until(cond: () => boolean, what: string, ms = 2000): Promise<void> {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const poll = () => {
      if (cond()) return resolve();
      if (Date.now() - start > ms) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(poll, 5);
    };
    poll();
  });
}
