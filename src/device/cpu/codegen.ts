/**
 * Runtime kernel generation for the cpu device.
 *
 * Hot loops are compiled with `new Function` from source text that names one concrete
 * dtype per operand. Every generated function therefore sees a single TypedArray class per
 * parameter, so V8 keeps its element accesses monomorphic and inlines them; a hand-written
 * generic loop shared by all dtypes would go polymorphic after the first few dtypes.
 * Each source embeds its cache key in a comment, so two kernels never share V8 feedback.
 */
import { JS, JS_HELPERS, renderOp, type Dialect, type MathFn } from '../kernels.js';
import { f16ToF32, bf16ToF32, f32ToF16, f32ToBf16, type DType } from '../../dtype.js';
import { erf, exp32, tanh32 } from './mathfns.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Kernel = (...args: any[]) => any;

let f16Table: Float32Array | null = null;
let bf16Table: Float32Array | null = null;
/** Decode tables for 16-bit floats (one lookup per element instead of bit twiddling). */
function f16Tab(): Float32Array {
  if (!f16Table) {
    f16Table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) f16Table[h] = f16ToF32(h);
  }
  return f16Table;
}
function bf16Tab(): Float32Array {
  if (!bf16Table) {
    bf16Table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) bf16Table[h] = bf16ToF32(h);
  }
  return bf16Table;
}

/** torch.pow semantics where C's pow and JS's Math.pow differ: pow(1, y) and pow(-1, +-inf) are 1. */
function powf(a: number, b: number): number {
  if (a === 1 || (a === -1 && (b === Infinity || b === -Infinity))) return 1;
  return Math.pow(a, b);
}
/**
 * Integer power with int32 wrap-around (also right for uint8, whose store keeps the low 8 bits).
 * Negative exponents: 1 and -1 keep their power, every other base gives 0 (integer 1/x^n).
 */
function ipow32(a: number, b: number): number {
  if (b < 0) return a === 1 ? 1 : a === -1 ? (b % 2 === 0 ? 1 : -1) : 0;
  let r = 1, base = a | 0, e = b;
  while (e > 0) {
    if (e & 1) r = Math.imul(r, base);
    base = Math.imul(base, base);
    e = Math.floor(e / 2);
  }
  return r;
}
/** Integer power for int64 held in doubles (exact while the result stays below 2^53). */
function ipow64(a: number, b: number): number {
  if (b < 0) return a === 1 ? 1 : a === -1 ? (b % 2 === 0 ? 1 : -1) : 0;
  let r = 1, base = a, e = b;
  while (e > 0) {
    if (e % 2 === 1) r *= base;
    e = Math.floor(e / 2);
    if (e > 0) base *= base;
  }
  return r;
}
/** float -> int64 as toStored does: truncate toward zero, non-finite becomes 0. */
function toI64(v: number): number {
  return v - v === 0 ? Math.trunc(v) + 0 : 0; // + 0 turns -0 into 0
}

/** Names every generated kernel may use; F16/BF16 tables are bound lazily (they cost 512 KiB). */
const HELPERS: Record<string, unknown> = {
  rint: JS_HELPERS.rint, fmod: JS_HELPERS.fmod,
  erf, exp32, tanh32, // see mathfns.ts
  powf, ipow32, ipow64, toI64, f32ToF16, f32ToBf16,
};

const compiled = new Map<string, Kernel>();

/**
 * Compiles `return function name(params) { body }` once per key. `body` may use every name in
 * HELPERS plus F16/BF16 (decode tables).
 */
export function compile(key: string, params: string[], body: string): Kernel {
  let k = compiled.get(key);
  if (k) return k;
  const names = Object.keys(HELPERS);
  const values = names.map((n) => HELPERS[n]);
  const uses16 = /\bF16\b/.test(body), usesB16 = /\bBF16\b/.test(body);
  names.push('F16', 'BF16');
  values.push(uses16 ? f16Tab() : null, usesB16 ? bf16Tab() : null);
  const fname = kernelName(key);
  // the name (key with every non-identifier character replaced) keeps sources distinct per key
  const src = `"use strict";\nreturn function ${fname}(${params.join(', ')}) {\n${body}\n};`;
  k = new Function(...names, src)(...values) as Kernel;
  compiled.set(key, k);
  return k;
}

/** The name a compiled kernel has inside its own body (for recursive kernels). */
export function kernelName(key: string): string {
  return 'k_' + key.replace(/[^A-Za-z0-9_]/g, '_');
}

/** JS source reading element `idx` of array `arr` of dtype `d` as a JS number. */
export function loadSrc(d: DType, arr: string, idx: string): string {
  if (d === 'float16') return `F16[${arr}[${idx}]]`;
  if (d === 'bfloat16') return `BF16[${arr}[${idx}]]`;
  return `${arr}[${idx}]`;
}

/**
 * JS source converting number `v` to what dtype `d` stores. Typed-array stores already round
 * to float32, and truncate + wrap for Int32Array/Uint8Array (NaN -> 0), as toStored does;
 * int64 (a Float64Array) needs an explicit truncation unless `exactInt` says v is an integer.
 */
export function storeSrc(d: DType, v: string, exactInt: boolean): string {
  switch (d) {
    case 'float32': case 'float64': case 'int32': case 'uint8': return v;
    case 'int64': return exactInt ? `(${v} + 0)` : `toI64(${v})`; // + 0: integers have no -0 (neg 0, 0 * -1)
    case 'bool': return `(${v} !== 0 ? 1 : 0)`;
    case 'float16': return `f32ToF16(${v})`;
    case 'bfloat16': return `f32ToBf16(${v})`;
  }
}

/** The JS dialect with torch's pow corner cases, and faster exp/tanh when the result is float32. */
function cpuDialect(f32: boolean): Dialect {
  return {
    ...JS,
    call: (fn: MathFn, a: string[]) => {
      if (fn === 'pow') return `powf(${a.join(', ')})`;
      if (f32 && fn === 'exp') return `exp32(${a[0]})`;
      if (f32 && fn === 'tanh') return `tanh32(${a[0]})`;
      return JS.call(fn, a);
    },
  };
}
const CPU_JS = cpuDialect(false), CPU_JS_F32 = cpuDialect(true);

/** Ops whose result is an integer whenever their inputs are (so int64 stores need no truncation). */
const INTEGER_CLOSED = new Set([
  'neg', 'abs', 'sign', 'floor', 'ceil', 'round', 'trunc', 'square', 'relu', 'logicalNot', 'isnan', 'isfinite',
  'add', 'sub', 'mul', 'pow', 'maximum', 'minimum', 'eq', 'ne', 'lt', 'le', 'gt', 'ge', 'logicalAnd', 'logicalOr',
  'reluBackward', 'where', 'addcmul', 'lerp',
]);

const VARS = { x: 'x0', y: 'y0', z: 'z0' };

/**
 * The JS expression (over locals x0, y0, z0) computing `op` for operands of dtype `dt`
 * (the numeric input dtype; where's condition is separate) into an `out` result, plus whether
 * it is exact-integer.
 */
export function opExpr(op: string, dt: DType, out: DType): { expr: string; exactInt: boolean } {
  const int = dt === 'int32' || dt === 'int64' || dt === 'uint8' || dt === 'bool';
  // int32 products must wrap exactly: a double product of two int32 can exceed 2^53 and lose
  // the low bits that survive the wrap, so use Math.imul (also right for uint8/bool mod 256).
  const imul = dt === 'int32' || dt === 'uint8' || dt === 'bool';
  let expr: string | null = null;
  if (int && op === 'pow') expr = dt === 'int64' ? 'ipow64(x0, y0)' : 'ipow32(x0, y0)';
  else if (imul && op === 'mul') expr = 'Math.imul(x0, y0)';
  else if (imul && op === 'square') expr = 'Math.imul(x0, x0)';
  else if (imul && op === 'addcmul') expr = '((x0 + Math.imul(y0, z0)) | 0)';
  else if (imul && op === 'lerp') expr = '((x0 + Math.imul(z0, (y0 - x0) | 0)) | 0)';
  if (expr === null) expr = renderOp(op, out === 'float32' ? CPU_JS_F32 : CPU_JS, VARS);
  return { expr, exactInt: int && INTEGER_CLOSED.has(op) };
}
