/**
 * Numeric comparisons shared by the test files. Not a test file (see assert.ts).
 */
import type { Tensor } from '../../src/index.js';

/** The largest absolute difference between a and b, relative to the largest magnitude in b (absolute when b is all zero). */
export function maxRel(a: Tensor, b: Tensor): number {
  const x = a.dataSync(), y = b.dataSync();
  let scale = 0, worst = 0;
  for (let i = 0; i < y.length; i++) scale = Math.max(scale, Math.abs(Number(y[i])));
  for (let i = 0; i < y.length; i++) worst = Math.max(worst, Math.abs(Number(x[i]) - Number(y[i])));
  return scale === 0 ? worst : worst / scale;
}
