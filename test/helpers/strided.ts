/**
 * Strided views built by hand, for the backend suites (test/device-cpu.test.ts,
 * device-cuda.test.ts, device-webgpu.test.ts): contiguous strides, element counts, row-major
 * multi-indices, element offsets, and comparing read-back values with a JS reference.
 *
 * Not a test file: tap runs test/**\/*.test.ts only (the "tap" section of package.json).
 */
import type { View } from '../../src/device/backend.js';

/** Row-major strides of a shape (a size-0 dimension counts as 1). */
export function contiguous(shape: readonly number[]): number[] {
  const st: number[] = [];
  for (let i = shape.length - 1, a = 1; i >= 0; i--) { st[i] = a; a *= Math.max(shape[i], 1); }
  return st;
}

export function numel(shape: readonly number[]): number { return shape.reduce((a, b) => a * b, 1); }

/** All multi-indices of a shape in row-major order. */
export function* indices(shape: readonly number[]): Generator<number[]> {
  const n = numel(shape);
  const idx = new Array(shape.length).fill(0);
  for (let q = 0; q < n; q++) {
    yield idx.slice();
    for (let d = shape.length - 1; d >= 0; d--) { if (++idx[d] < shape[d]) break; idx[d] = 0; }
  }
}

/** The storage offset of a view's element at a multi-index. */
export function offsetOf(v: View, idx: readonly number[]): number {
  let o = v.offset;
  for (let i = 0; i < idx.length; i++) o += idx[i] * v.strides[i];
  return o;
}

/** First mismatch between actual and expected (NaN equals NaN), or null. */
export function mismatch(actual: readonly number[], expected: readonly number[], rtol = 0, atol = 0): string | null {
  if (actual.length !== expected.length) return `length ${actual.length} != ${expected.length}`;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i], e = expected[i];
    if (Number.isNaN(e) ? Number.isNaN(a) : a === e || Math.abs(a - e) <= atol + rtol * Math.abs(e)) continue;
    return `at ${i}: got ${a}, expected ${e}`;
  }
  return null;
}
