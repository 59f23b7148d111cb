/** dtypes, their storage, and PyTorch's type promotion rules (pure functions). */
import { TorchError } from './errors.js';

export type DType = 'float32' | 'float64' | 'float16' | 'bfloat16' | 'int32' | 'int64' | 'uint8' | 'bool';
export const DTYPES: readonly DType[] = ['float32', 'float64', 'float16', 'bfloat16', 'int32', 'int64', 'uint8', 'bool'];

/**
 * The TypedArray a dtype's elements live in on the host. int64 is held as Float64Array
 * (exact for |v| <= 2^53, PyTorch's int64 beyond that is out of range here); float16 and
 * bfloat16 are raw 16-bit patterns in Uint16Array, converted on access.
 */
export type HostArray = Float32Array | Float64Array | Int32Array | Uint8Array | Uint16Array;

export const ITEMSIZE: Record<DType, number> = {
  float32: 4, float64: 8, float16: 2, bfloat16: 2, int32: 4, int64: 8, uint8: 1, bool: 1,
};

export function isDType(x: unknown): x is DType {
  return typeof x === 'string' && (DTYPES as readonly string[]).includes(x);
}
export function isFloating(d: DType): boolean {
  return d === 'float32' || d === 'float64' || d === 'float16' || d === 'bfloat16';
}
export function isIntegral(d: DType, includeBool = false): boolean {
  return d === 'int32' || d === 'int64' || d === 'uint8' || (includeBool && d === 'bool');
}

/** Host array constructor for a dtype's elements (see HostArray). */
export function hostArrayCtor(d: DType): { new(n: number): HostArray; new(b: ArrayBufferLike, off?: number, len?: number): HostArray } {
  switch (d) {
    case 'float32': return Float32Array as any;
    case 'float64': case 'int64': return Float64Array as any;
    case 'int32': return Int32Array as any;
    case 'uint8': case 'bool': return Uint8Array as any;
    case 'float16': case 'bfloat16': return Uint16Array as any;
  }
}
export function allocHost(d: DType, n: number): HostArray {
  return new (hostArrayCtor(d))(n);
}

// ---- 16-bit float conversion ----
const f32buf = new Float32Array(1);
const u32buf = new Uint32Array(f32buf.buffer);
export function f32ToF16(v: number): number {
  f32buf[0] = v;
  const x = u32buf[0];
  const sign = (x >>> 16) & 0x8000;
  let exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  exp = exp - 127 + 15;
  if (exp >= 0x1f) return sign | 0x7c00;
  if (exp <= 0) {
    if (exp < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - exp;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1), half = 1 << (shift - 1);
    if (rem > half || (rem === half && (h & 1))) h++;
    return sign | h;
  }
  let h = sign | (exp << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1))) h++;
  return h;
}
export function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f, mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}
export function f32ToBf16(v: number): number {
  f32buf[0] = v;
  const x = u32buf[0];
  if ((x & 0x7fffffff) > 0x7f800000) return ((x >>> 16) | 0x40) & 0xffff;
  const lsb = (x >>> 16) & 1;
  return ((x + 0x7fff + lsb) >>> 16) & 0xffff;
}
export function bf16ToF32(h: number): number {
  u32buf[0] = h << 16;
  return f32buf[0];
}

/** Converts a JS number to what a dtype stores (rounding/wrapping as PyTorch's casts do). */
export function toStored(d: DType, v: number): number {
  switch (d) {
    case 'float32': return Math.fround(v);
    case 'float64': return v;
    case 'float16': return f32ToF16(v);
    case 'bfloat16': return f32ToBf16(v);
    case 'int32': return Number.isFinite(v) ? Math.trunc(v) | 0 : 0;
    case 'int64': return Number.isFinite(v) ? Math.trunc(v) : 0;
    case 'uint8': return Number.isFinite(v) ? Math.trunc(v) & 0xff : 0;
    case 'bool': return v !== 0 ? 1 : 0;
  }
}
/** The numeric value of a stored element. */
export function fromStored(d: DType, v: number): number {
  if (d === 'float16') return f16ToF32(v);
  if (d === 'bfloat16') return bf16ToF32(v);
  return v;
}

// ---- promotion ----
const RANK: Record<DType, number> = { bool: 0, uint8: 1, int32: 2, int64: 3, float16: 4, bfloat16: 4, float32: 5, float64: 6 };
export type Category = 0 | 1 | 2; // bool, integer, floating
export function category(d: DType): Category {
  return d === 'bool' ? 0 : isFloating(d) ? 2 : 1;
}
/** promote_types as PyTorch for the dtypes torchlet has. */
export function promoteTypes(a: DType, b: DType): DType {
  if (a === b) return a;
  if ((a === 'float16' && b === 'bfloat16') || (a === 'bfloat16' && b === 'float16')) return 'float32';
  return RANK[a] >= RANK[b] ? a : b;
}

let defaultDtype: DType = 'float32';
export function getDefaultDtype(): DType { return defaultDtype; }
export function setDefaultDtype(d: DType): void {
  if (d !== 'float32' && d !== 'float64' && d !== 'float16' && d !== 'bfloat16')
    throw new TorchError('setDefaultDtype', `only floating dtypes can be the default, got ${d}`);
  defaultDtype = d;
}

/** An operand as seen by result_type: a dimensioned tensor, a 0-d tensor, or a JS number/boolean. */
export type PromotionOperand = { dtype: DType; ndim: number } | number | boolean;

/** torch.result_type: dimensioned tensors > 0-d tensors > scalars, each tier only raising the category. */
export function resultType(operands: PromotionOperand[]): DType {
  let dim: DType | null = null, zero: DType | null = null, scalar: DType | null = null;
  for (const o of operands) {
    if (typeof o === 'number' || typeof o === 'boolean') {
      const d: DType = typeof o === 'boolean' ? 'bool' : Number.isInteger(o) ? 'int64' : defaultDtype;
      scalar = scalar === null ? d : promoteTypes(scalar, d);
    } else if (o.ndim === 0) zero = zero === null ? o.dtype : promoteTypes(zero, o.dtype);
    else dim = dim === null ? o.dtype : promoteTypes(dim, o.dtype);
  }
  let r = dim;
  for (const tier of [zero, scalar]) {
    if (tier === null) continue;
    if (r === null) r = tier;
    else if (category(tier) > category(r)) {
      // a lower tier only lifts the category; a scalar float becomes the default dtype
      r = tier === scalar && category(tier) === 2 ? defaultDtype : tier;
    }
  }
  return r ?? defaultDtype;
}

/** Float result dtype for ops like exp/sqrt: integers and bool become the default dtype. */
export function toFloatDtype(d: DType): DType {
  return isFloating(d) ? d : defaultDtype;
}
