/**
 * How each dtype is laid out in a webgpu buffer, and the WGSL that loads/stores it.
 *
 *   dtype     GPU element   bytes   notes
 *   float32   f32           4
 *   float16   f16           2       only with the adapter's 'shader-f16' feature; math runs in f32
 *   int32     i32           4
 *   int64     i32           4       values must fit in int32 (checked on write and fill)
 *   uint8     u32           4       one element per 32-bit word, value in 0..255
 *   bool      u32           4       one element per 32-bit word, value 0 or 1
 *   float64, bfloat16: not supported (the frontend reports a clear error).
 *
 * Kernels compute in a "compute type": f32 for floating dtypes and i32 for the integer ones
 * (the elementwise kernels fall back to f32 for integer ops that need real arithmetic).
 */
import type { DType, HostArray } from '../../dtype.js';
import { DTypeError } from '../../errors.js';

export type WgslElem = 'f32' | 'f16' | 'i32' | 'u32';
export type ComputeType = 'f32' | 'i32';

export const GPU_DTYPES: readonly DType[] = ['float32', 'float16', 'int32', 'int64', 'uint8', 'bool'];

export function elemType(d: DType): WgslElem {
  switch (d) {
    case 'float32': return 'f32';
    case 'float16': return 'f16';
    case 'int32': case 'int64': return 'i32';
    case 'uint8': case 'bool': return 'u32';
    default: throw new DTypeError('webgpu', `dtype ${d} is not supported on the webgpu device`);
  }
}

/** Bytes per element in a GPU buffer. */
export function elemBytes(d: DType): number {
  return d === 'float16' ? 2 : 4;
}

/** Buffer bytes for numel elements (rounded up to a 4-byte multiple, never 0). */
export function bufferBytes(numel: number, d: DType): number {
  return Math.max(4, Math.ceil((numel * elemBytes(d)) / 4) * 4);
}

export function isFloatDtype(d: DType): boolean {
  return d === 'float32' || d === 'float16';
}

/** The natural compute type of a dtype. */
export function computeOf(d: DType): ComputeType {
  return isFloatDtype(d) ? 'f32' : 'i32';
}

/** WGSL converting a stored element `e` of dtype d to compute type c. */
export function loadAs(d: DType, e: string, c: ComputeType): string {
  const t = elemType(d);
  if (t === c) return e;
  return `${c}(${e})`;
}

/**
 * WGSL converting a compute-type value `e` (of type c) to what dtype d stores. Floats become
 * integers by truncation, non-finite values as 0 (tl_f2i, like toStored; beyond the int32 range
 * they saturate where the host wraps).
 */
export function storeAs(d: DType, e: string, c: ComputeType): string {
  switch (d) {
    case 'float32': return c === 'f32' ? e : `f32(${e})`;
    case 'float16': return c === 'f32' ? `f16(${e})` : `f16(f32(${e}))`;
    case 'int32': case 'int64': return c === 'i32' ? e : `tl_f2i(${e})`;
    // for f32, test the bits: any non-zero magnitude, NaN included, is true (see nanSafe in shaders.ts)
    case 'bool': return c === 'f32' ? `select(0u, 1u, (bitcast<u32>(${e}) & 0x7fffffffu) != 0u)` : `select(0u, 1u, ${e} != 0i)`;
    case 'uint8': return c === 'f32' ? `(bitcast<u32>(tl_f2i(${e})) & 0xffu)` : `(bitcast<u32>(${e}) & 0xffu)`;
    default: throw new DTypeError('webgpu', `dtype ${d} is not supported on the webgpu device`);
  }
}

const I32_MIN = -2147483648, I32_MAX = 2147483647;

/** Checks that a value can be held by the int32 the device stores int64 in. */
export function checkInt64(op: string, v: number): void {
  if (!(v >= I32_MIN && v <= I32_MAX))
    throw new DTypeError(op, `int64 value ${v} does not fit in int32, which the webgpu device stores int64 in; keep such tensors on the cpu`);
}

/** Host array (dtype.ts representation) -> the bytes the GPU buffer holds. Always a fresh copy. */
export function hostToGpu(op: string, d: DType, src: HostArray): ArrayBuffer {
  switch (d) {
    case 'float32': return Float32Array.from(src as Float32Array).buffer;
    case 'float16': return Uint16Array.from(src as Uint16Array).buffer;
    case 'int32': return Int32Array.from(src as Int32Array).buffer;
    case 'int64': {
      const out = new Int32Array(src.length);
      for (let i = 0; i < src.length; i++) {
        const v = src[i];
        checkInt64(op, v);
        out[i] = v;
      }
      return out.buffer;
    }
    case 'uint8': case 'bool': return Uint32Array.from(src as Uint8Array).buffer;
    default: throw new DTypeError(op, `dtype ${d} is not supported on the webgpu device`);
  }
}

/** GPU bytes of `numel` contiguous elements -> the dtype's host representation. */
export function gpuToHost(d: DType, bytes: ArrayBuffer, byteOffset: number, numel: number): HostArray {
  switch (d) {
    case 'float32': return new Float32Array(bytes, byteOffset, numel);
    case 'float16': return new Uint16Array(bytes.slice(byteOffset, byteOffset + numel * 2));
    case 'int32': return new Int32Array(bytes, byteOffset, numel);
    case 'int64': return Float64Array.from(new Int32Array(bytes, byteOffset, numel));
    case 'uint8': case 'bool': return Uint8Array.from(new Uint32Array(bytes, byteOffset, numel));
    default: throw new DTypeError('webgpu', `dtype ${d} is not supported on the webgpu device`);
  }
}

/** The 32-bit pattern a kernel uses to fill dtype d with a stored value (see Backend.fill). */
export function fillBits(op: string, d: DType, value: number): number {
  const f = new Float32Array(1), u = new Uint32Array(f.buffer), i = new Int32Array(f.buffer);
  switch (d) {
    case 'float32': f[0] = value; return u[0];
    case 'float16': return value & 0xffff; // stored value is already the raw half
    case 'int32': i[0] = value; return u[0];
    case 'int64': checkInt64(op, value); i[0] = value; return u[0];
    case 'uint8': return value & 0xff;
    case 'bool': return value ? 1 : 0;
    default: throw new DTypeError(op, `dtype ${d} is not supported on the webgpu device`);
  }
}
