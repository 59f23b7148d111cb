/**
 * Assertions shared by the test files: an error of a given class whose message matches.
 *
 * Not a test file: tap runs test/**\/*.test.ts only (the "tap" section of package.json).
 */
import type { Test } from 'tap';
import { TorchError } from '../../src/errors.js';

/** Asserts fn throws an instance of cls whose message matches re (one assertion). */
export function throwsLike(tt: Test, fn: () => unknown, cls: new (...a: any[]) => Error, re: RegExp, what = ''): void {
  let err: unknown = null;
  try { fn(); } catch (e) { err = e; }
  tt.ok(err instanceof cls && re.test((err as Error).message), `${what || re.source}: ${cls.name} ${err instanceof Error ? `got ${err.name}: ${err.message}` : 'but nothing was thrown'}`);
}

/** Asserts fn throws a TorchError whose message matches re (two assertions; one failure when nothing is thrown). */
export function throwsTorch(tt: Test, fn: () => unknown, re: RegExp, what: string): void {
  try {
    fn();
    tt.fail(`${what}: did not throw`);
  } catch (e) {
    tt.ok(e instanceof TorchError, `${what}: a TorchError (got ${(e as Error)?.name}: ${(e as Error)?.message})`);
    tt.match((e as Error).message, re, what);
  }
}
