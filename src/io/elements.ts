/**
 * Conversion between the element encodings found in files (little-endian machine types)
 * and torchlet's host arrays (dtype.ts): int64 is read from real 64-bit integers into a
 * Float64Array, narrow integer types are widened to a dtype torchlet has.
 */
import { TorchError } from '../errors.js';
import { ITEMSIZE, type DType, type HostArray } from '../dtype.js';
import { LITTLE_ENDIAN } from './source.js';

/** Element encodings that can appear in a file. */
export type FileElementType =
  | 'f64' | 'f32' | 'f16' | 'bf16'
  | 'i64' | 'i32' | 'i16' | 'i8'
  | 'u32' | 'u16' | 'u8' | 'bool';

export const FILE_ITEMSIZE: Record<FileElementType, number> = {
  f64: 8, f32: 4, f16: 2, bf16: 2, i64: 8, i32: 4, i16: 2, i8: 1, u32: 4, u16: 2, u8: 1, bool: 1,
};

/** The torchlet dtype a file element type loads as (narrow integers are widened losslessly). */
export const LOADS_AS: Record<FileElementType, DType> = {
  f64: 'float64', f32: 'float32', f16: 'float16', bf16: 'bfloat16',
  i64: 'int64', i32: 'int32', i16: 'int32', i8: 'int32',
  u32: 'int64', u16: 'int32', u8: 'uint8', bool: 'bool',
};

/** The file element type a torchlet dtype is written as. */
export const WRITES_AS: Record<DType, FileElementType> = {
  float64: 'f64', float32: 'f32', float16: 'f16', bfloat16: 'bf16',
  int64: 'i64', int32: 'i32', uint8: 'u8', bool: 'bool',
};

/** Reverses the byte order of each `itemsize`-byte element, in place. */
export function swapBytes(bytes: Uint8Array, itemsize: number): void {
  if (itemsize === 1) return;
  for (let i = 0; i + itemsize <= bytes.length; i += itemsize) {
    for (let a = i, b = i + itemsize - 1; a < b; a++, b--) {
      const t = bytes[a]; bytes[a] = bytes[b]; bytes[b] = t;
    }
  }
}

/**
 * Decodes `count` little-endian elements into a fresh host array. `bytes` may be any
 * view (unaligned is fine: it is copied first). `bigEndian` marks data written on a
 * big-endian machine.
 */
export function decodeElements(op: string, type: FileElementType, bytes: Uint8Array, count: number, bigEndian = false): { dtype: DType; data: HostArray } {
  const itemsize = FILE_ITEMSIZE[type];
  if (bytes.byteLength !== count * itemsize)
    throw new TorchError(op, `expected ${count} elements of ${itemsize} bytes (${count * itemsize} bytes), got ${bytes.byteLength} bytes`);
  // One aligned copy, in machine byte order; the typed views below alias it.
  const own = new Uint8Array(bytes.byteLength);
  own.set(bytes);
  if (bigEndian === LITTLE_ENDIAN) swapBytes(own, itemsize);
  const buf = own.buffer;
  const dtype = LOADS_AS[type];
  switch (type) {
    case 'f64': return { dtype, data: new Float64Array(buf, 0, count) };
    case 'f32': return { dtype, data: new Float32Array(buf, 0, count) };
    case 'f16': case 'bf16': return { dtype, data: new Uint16Array(buf, 0, count) };
    case 'i32': return { dtype, data: new Int32Array(buf, 0, count) };
    case 'u8': return { dtype, data: own };
    case 'bool': {
      for (let i = 0; i < count; i++) if (own[i] > 1) own[i] = 1;
      return { dtype, data: own };
    }
    case 'i64': {
      // Values beyond 2^53 round to the nearest double: the int64 host representation's limit.
      const src = new BigInt64Array(buf, 0, count);
      const out = new Float64Array(count);
      for (let i = 0; i < count; i++) out[i] = Number(src[i]);
      return { dtype, data: out };
    }
    case 'u32': return { dtype, data: Float64Array.from(new Uint32Array(buf, 0, count)) };
    case 'i16': return { dtype, data: Int32Array.from(new Int16Array(buf, 0, count)) };
    case 'u16': return { dtype, data: Int32Array.from(new Uint16Array(buf, 0, count)) };
    case 'i8': return { dtype, data: Int32Array.from(new Int8Array(buf, 0, count)) };
  }
}

/** The host array type a dtype must be held in (dtype.ts), as a constructor. */
function expectedHost(d: DType): Function {
  switch (d) {
    case 'float32': return Float32Array;
    case 'float64': case 'int64': return Float64Array;
    case 'int32': return Int32Array;
    case 'uint8': case 'bool': return Uint8Array;
    case 'float16': case 'bfloat16': return Uint16Array;
  }
}

/** Checks that a record's data is the right host array with numel(shape) elements. */
export function checkRecord(op: string, name: string, dtype: DType, shape: readonly number[], data: HostArray): void {
  if (!(ITEMSIZE as Record<string, number>)[dtype]) throw new TorchError(op, `${name}: unknown dtype ${String(dtype)}`);
  let n = 1;
  for (const s of shape) {
    if (!Number.isSafeInteger(s) || s < 0) throw new TorchError(op, `${name}: invalid shape [${shape.join(', ')}]`);
    n *= s;
  }
  if (!(data instanceof expectedHost(dtype)))
    throw new TorchError(op, `${name}: a ${dtype} tensor's data must be a ${expectedHost(dtype).name}, got ${data?.constructor?.name}`);
  if (data.length !== n)
    throw new TorchError(op, `${name}: shape [${shape.join(', ')}] has ${n} elements but the data has ${data.length}`);
}

/** Encodes a host array as little-endian bytes of the dtype's file type (a fresh buffer). */
export function encodeElements(op: string, dtype: DType, data: HostArray): Uint8Array {
  let out: Uint8Array;
  if (dtype === 'int64') {
    const big = new BigInt64Array(data.length);
    for (let i = 0; i < data.length; i++) {
      const v = data[i];
      if (!Number.isFinite(v)) throw new TorchError(op, `int64 element ${i} is ${v}, which is not an integer`);
      big[i] = BigInt(Math.trunc(v));
    }
    out = new Uint8Array(big.buffer);
  } else if (dtype === 'bool') {
    out = new Uint8Array(data.length);
    for (let i = 0; i < data.length; i++) out[i] = data[i] ? 1 : 0;
    return out;
  } else {
    out = new Uint8Array(data.byteLength);
    out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  }
  if (!LITTLE_ENDIAN) swapBytes(out, ITEMSIZE[dtype]);
  return out;
}
