/**
 * Reading the PyTorch fixtures under test/fixtures/ (written by scripts/gen_*fixtures.py) and
 * decoding their numbers. Nothing here imports torchlet, so test/io.test.ts can use it without
 * loading the library's entry point; decoding fixture tensors into torchlet tensors and
 * comparing with them is in ./tensors.ts.
 *
 * Not a test file: tap runs test/**\/*.test.ts only (the "tap" section of package.json).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

/** test/fixtures */
export const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');

/** The folder of one generator's fixtures: test/fixtures/<dir>. */
export function fixtureDir(dir: string): string {
  return path.join(FIXTURES, dir);
}

/** test/fixtures/<dir>/<name>, parsed as JSON. */
export function loadFixture(dir: string, name: string): any {
  return JSON.parse(fs.readFileSync(path.join(FIXTURES, dir, name), 'utf8'));
}

/** A loader for one folder: load(name) is loadFixture(dir, name). */
export function fixtureLoader(dir: string): (name: string) => any {
  return (name) => loadFixture(dir, name);
}

/** A fixture number as a JS number: JSON has no NaN or infinities, the generators write them as
 * the strings 'nan', 'inf' and '-inf'; booleans count as 1 and 0. */
export function num(v: number | string | boolean): number {
  return v === 'nan' ? NaN : v === 'inf' ? Infinity : v === '-inf' ? -Infinity : typeof v === 'boolean' ? (v ? 1 : 0) : Number(v);
}
