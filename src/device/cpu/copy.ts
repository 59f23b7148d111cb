/** Strided copies with dtype conversion, and fills. */
import type { View } from '../backend.js';
import { allocHost, isIntegral, type HostArray } from '../../dtype.js';
import { runElementwise, type EwSpec } from './elementwise.js';
import { isContig, isScalarLike, numelOf } from './strided.js';
import { nativeFill } from './native.js';

/**
 * dst = cast(src) over equal shapes. Same-dtype contiguous copies are a memmove
 * (TypedArray.prototype.set); conversions are generated loops decoding src (16-bit floats via
 * tables) and encoding dst (float -> int truncates toward zero, -> bool is v != 0).
 */
export function copyView(src: View, dst: View): void {
  const n = numelOf(dst.shape);
  if (n === 0) return;
  const s = src.handle as HostArray, d = dst.handle as HostArray;
  const same = src.dtype === dst.dtype;
  if (same && isContig(dst.shape, dst.strides)) {
    if (isContig(src.shape, src.strides)) {
      if (s !== d || src.offset !== dst.offset) d.set(s.subarray(src.offset, src.offset + n), dst.offset);
      return;
    }
    if (isScalarLike(src.shape, src.strides)) {
      fillRange(d, s[src.offset], dst.offset, dst.offset + n);
      return;
    }
  }
  const key = `copy:${src.dtype}:${dst.dtype}`;
  const spec = (): EwSpec => same
    ? { loads: [null], expr: 'x0', store: null, exactInt: true }
    : { loads: [src.dtype], expr: 'x0', store: dst.dtype, exactInt: isIntegral(src.dtype, true) };
  runElementwise(key, spec, dst.shape, dst, [src]);
}

/** dst[i] = value, where value is already in dst.dtype's host representation (raw bits for 16-bit floats). */
export function fillView(dst: View, value: number): void {
  const n = numelOf(dst.shape);
  if (n === 0) return;
  const d = dst.handle as HostArray;
  if (isContig(dst.shape, dst.strides)) {
    fillRange(d, value, dst.offset, dst.offset + n);
    return;
  }
  const one = allocHost(dst.dtype, 1);
  one[0] = value;
  copyView({ handle: one, dtype: dst.dtype, shape: dst.shape, strides: dst.shape.map(() => 0), offset: 0 }, dst);
}

/** d[start .. end) = value: on the native pool when large, else TypedArray.fill. */
export function fillRange(d: HostArray, value: number, start: number, end: number): void {
  if (!nativeFill(d, start, end, value)) d.fill(value, start, end);
}
