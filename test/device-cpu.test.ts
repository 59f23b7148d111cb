/**
 * The cpu backend tested directly: views are built by hand (contiguous, broadcast, transposed,
 * offset) and every result is compared with a plain JS reference computed element by element.
 */
import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { CpuBackend, blasInfo } from '../src/device/cpu/index.js';
import { getBackend } from '../src/device/registry.js';
import { erf as cpuErf, exp32, tanh32 } from '../src/device/cpu/mathfns.js';
import { UNARY, BINARY, TERNARY, JS_HELPERS, type UnaryOp, type BinaryOp, type TernaryOp } from '../src/device/kernels.js';
import { DTYPES, allocHost, fromStored, toStored, isFloating, type DType, type HostArray } from '../src/dtype.js';
import { IndexError } from '../src/errors.js';
import type { View } from '../src/device/backend.js';
import { contiguous, numel, indices, offsetOf } from './helpers/strided.js';

const be = new CpuBackend();
const jsBe = new CpuBackend({ noBlas: true });

// ------------------------------------------------------------------ helpers

function view(handle: HostArray, dtype: DType, shape: number[], strides = contiguous(shape), offset = 0): View {
  return { handle, dtype, shape, strides, offset };
}
/** Element of a view as a number (16-bit floats decoded). */
function get(v: View, idx: readonly number[]): number {
  return fromStored(v.dtype, (v.handle as HostArray)[offsetOf(v, idx)]);
}
/** Logical contents of a view, row-major. */
function values(v: View): number[] {
  return [...indices(v.shape)].map((i) => get(v, i));
}

let seed = 12345;
function rand(): number { // deterministic LCG in [0, 1)
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return seed / 2147483648;
}
function randomValue(d: DType): number {
  switch (d) {
    case 'bool': return rand() < 0.5 ? 0 : 1;
    case 'uint8': return Math.floor(rand() * 256);
    case 'int32': return Math.floor(rand() * 200) - 100;
    case 'int64': return Math.floor(rand() * 2000) - 1000;
    default: return Math.round((rand() * 6 - 3) * 64) / 64;
  }
}
/** A buffer of `n` random stored values of dtype d. */
function randomBuffer(d: DType, n: number, gen: () => number = () => randomValue(d)): HostArray {
  const a = allocHost(d, n);
  for (let i = 0; i < n; i++) a[i] = toStored(d, gen());
  return a;
}

/**
 * The four layouts every elementwise test runs on, for a logical shape [3, 4, 5]:
 * contiguous, broadcast (0 strides), transposed (a permuted buffer), offset+padded.
 */
type LayoutKind = 'contiguous' | 'broadcast' | 'transposed' | 'offset';
const LAYOUTS: LayoutKind[] = ['contiguous', 'broadcast', 'transposed', 'offset'];
const SHAPE = [3, 4, 5];
function makeInput(kind: LayoutKind, d: DType, operand: number, gen?: () => number): View {
  switch (kind) {
    case 'contiguous': return view(randomBuffer(d, 60, gen), d, SHAPE);
    case 'broadcast':
      // operand 0: [1, 4, 1] expanded; operand 1: a scalar; operand 2: [3, 1, 5] expanded
      if (operand === 0) return view(randomBuffer(d, 4, gen), d, SHAPE, [0, 1, 0]);
      if (operand === 1) return view(randomBuffer(d, 3, gen), d, SHAPE, [0, 0, 0], 2);
      return view(randomBuffer(d, 15, gen), d, SHAPE, [5, 0, 1]);
    case 'transposed': return view(randomBuffer(d, 60, gen), d, SHAPE, [1, 3, 12]); // a [5, 4, 3] buffer permuted
    case 'offset': return view(randomBuffer(d, 7 + 3 * 32, gen), d, SHAPE, [32, 8, 1], 7 + operand);
  }
}
function makeOutput(kind: LayoutKind, d: DType): View {
  if (kind === 'transposed') return view(allocHost(d, 60), d, SHAPE, [1, 3, 12]);
  if (kind === 'offset') return view(allocHost(d, 5 + 3 * 32), d, SHAPE, [32, 8, 1], 5);
  return view(allocHost(d, 60), d, SHAPE);
}

/** Tolerant comparison; NaN equals NaN; exact for integer dtypes. */
function close(got: number, want: number, d: DType): boolean {
  if (Number.isNaN(want)) return Number.isNaN(got);
  if (!Number.isFinite(want)) return got === want;
  if (!isFloating(d)) return got === want;
  const tol = d === 'float64' ? 1e-12 : d === 'float32' ? 2e-6 : 1e-2;
  return Math.abs(got - want) <= tol * Math.max(1, Math.abs(want));
}
function checkAll(tt: Tap, got: View, want: (idx: number[]) => number, what: string): void {
  let bad = 0, first = '';
  for (const idx of indices(got.shape)) {
    const g = get(got, idx), w = want(idx);
    if (!close(g, w, got.dtype)) {
      if (!bad) first = `at [${idx}] got ${g}, want ${w}`;
      bad++;
    }
  }
  tt.equal(bad, 0, `${what}${bad ? ': ' + first : ''}`);
}
type Tap = Test;

// ------------------------------------------------------------------ JS references

// erf by Abramowitz-Stegun 7.1.26 (|error| < 1.5e-7): independent of the kernel's series
function erfRef(x: number): number {
  const s = Math.sign(x), ax = Math.abs(x);
  const tt = 1 / (1 + 0.3275911 * ax);
  const y = 1 - ((((1.061405429 * tt - 1.453152027) * tt + 1.421413741) * tt - 0.284496736) * tt + 0.254829592) * tt * Math.exp(-ax * ax);
  return s * y;
}
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
const roundHalfEven = (x: number) => {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
};
const b = (c: boolean) => (c ? 1 : 0);

const UNARY_REF: Record<UnaryOp, (x: number) => number> = {
  neg: (x) => -x,
  abs: Math.abs,
  sign: (x) => (x > 0 ? 1 : x < 0 ? -1 : 0), // NaN -> 0 as PyTorch
  exp: Math.exp, log: Math.log, log1p: Math.log1p, expm1: Math.expm1, sqrt: Math.sqrt,
  rsqrt: (x) => 1 / Math.sqrt(x), sin: Math.sin, cos: Math.cos, tanh: Math.tanh,
  sigmoid,
  relu: (x) => (Number.isNaN(x) ? x : x > 0 ? x : 0),
  gelu: (x) => 0.5 * x * (1 + erfRef(x / Math.SQRT2)),
  silu: (x) => x * sigmoid(x),
  softplus: (x) => (x > 20 ? x : Math.log1p(Math.exp(x))),
  erf: erfRef,
  floor: Math.floor, ceil: Math.ceil, round: roundHalfEven, trunc: Math.trunc,
  reciprocal: (x) => 1 / x,
  square: (x) => x * x,
  logicalNot: (x) => b(x === 0),
  isnan: (x) => b(Number.isNaN(x)),
  isfinite: (x) => b(Number.isFinite(x)),
};
const BINARY_REF: Record<BinaryOp, (x: number, y: number) => number> = {
  add: (x, y) => x + y, sub: (x, y) => x - y, mul: (x, y) => x * y, div: (x, y) => x / y,
  pow: (x, y) => x ** y,
  maximum: (x, y) => (Number.isNaN(x) || Number.isNaN(y) ? NaN : Math.max(x, y)),
  minimum: (x, y) => (Number.isNaN(x) || Number.isNaN(y) ? NaN : Math.min(x, y)),
  atan2: Math.atan2,
  fmod: (x, y) => x % y,
  remainder: (x, y) => { const r = x % y; return r !== 0 && (r < 0) !== (y < 0) ? r + y : r; }, // Python's modulo
  eq: (x, y) => b(x === y), ne: (x, y) => b(x !== y), lt: (x, y) => b(x < y), le: (x, y) => b(x <= y),
  gt: (x, y) => b(x > y), ge: (x, y) => b(x >= y),
  logicalAnd: (x, y) => b(x !== 0 && y !== 0), logicalOr: (x, y) => b(x !== 0 || y !== 0),
  reluBackward: (g, y) => (y <= 0 ? 0 : g), // a NaN input passes the gradient, as PyTorch
  sigmoidBackward: (g, y) => g * y * (1 - y),
  tanhBackward: (g, y) => g * (1 - y * y),
  geluBackward: (g, y) => g * (0.5 * (1 + erfRef(y / Math.SQRT2)) + y * Math.exp(-0.5 * y * y) / Math.sqrt(2 * Math.PI)),
  siluBackward: (g, y) => g * sigmoid(y) * (1 + y * (1 - sigmoid(y))),
  softplusBackward: (g, y) => (y > 20 ? g : g * sigmoid(y)),
};
const TERNARY_REF: Record<TernaryOp, (x: number, y: number, z: number) => number> = {
  where: (c, y, z) => (c !== 0 ? y : z),
  lerp: (x, y, w) => x + w * (y - x),
  addcmul: (x, y, z) => x + y * z,
};
const BOOL_OPS = new Set(['logicalNot', 'isnan', 'isfinite', 'eq', 'ne', 'lt', 'le', 'gt', 'ge', 'logicalAnd', 'logicalOr']);
/** erf-based ops are checked against a 1.5e-7 reference erf. */
const LOOSE_OPS = new Set(['erf', 'gelu', 'geluBackward']);

/** Integer ops (what the frontend sends with integer dtypes) and PyTorch's integer results. */
const INT_UNARY: UnaryOp[] = ['neg', 'abs', 'sign', 'square', 'relu', 'logicalNot', 'isnan', 'isfinite', 'floor', 'ceil', 'round', 'trunc'];
const INT_BINARY: BinaryOp[] = ['add', 'sub', 'mul', 'pow', 'maximum', 'minimum', 'remainder', 'fmod', 'eq', 'ne', 'lt', 'le', 'gt', 'ge', 'logicalAnd', 'logicalOr'];
/** Wraps an exact integer result to what dtype d holds. */
function wrapInt(d: DType, v: number): number {
  if (d === 'int32') return Number(BigInt.asIntN(32, BigInt(v)));
  if (d === 'uint8') return Number(BigInt.asUintN(8, BigInt(v)));
  if (d === 'bool') return b(v !== 0);
  return v;
}
function intRef(op: string, d: DType, args: number[]): number {
  const B = args.map((v) => BigInt(v));
  let r: bigint;
  switch (op) {
    case 'mul': r = B[0] * B[1]; break;
    case 'square': r = B[0] * B[0]; break;
    case 'pow': r = B[0] ** B[1]; break;
    case 'addcmul': r = B[0] + B[1] * B[2]; break;
    default: {
      const f = (UNARY_REF as any)[op] ?? (BINARY_REF as any)[op] ?? (TERNARY_REF as any)[op];
      return BOOL_OPS.has(op) ? f(...args) : wrapInt(d, f(...args));
    }
  }
  return wrapInt(d, Number(d === 'int32' ? BigInt.asIntN(32, r) : d === 'uint8' ? BigInt.asUintN(8, r) : r));
}

// ------------------------------------------------------------------ elementwise

const FLOATS: DType[] = ['float32', 'float64'];
const INTS: DType[] = ['int32', 'int64', 'uint8'];
/** Float inputs with the special values mixed in. */
const floatGen = () => { const r = rand(); return r < 0.03 ? NaN : r < 0.05 ? Infinity : r < 0.07 ? -Infinity : r < 0.1 ? 0 : (rand() * 8 - 4); };

t.test('unary ops: every op, float dtypes, every layout', async (tt) => {
  for (const op of Object.keys(UNARY) as UnaryOp[]) {
    for (const d of FLOATS) for (const kind of LAYOUTS) {
      const x = makeInput(kind, d, 0, floatGen);
      const od: DType = BOOL_OPS.has(op) ? 'bool' : d;
      const out = makeOutput(kind, od);
      be.unary(op, x, out);
      checkAll(tt, LOOSE_OPS.has(op) ? loosen(out) : out, (i) => {
        const w = UNARY_REF[op](get(x, i));
        return od === 'float32' ? Math.fround(w) : w;
      }, `${op} ${d} ${kind}`);
    }
  }
});

/** Marks a float view for the 1e-6 tolerance the reference erf needs. */
function loosen(v: View): View { return { ...v, dtype: v.dtype === 'float64' ? 'float32' : v.dtype }; }

t.test('unary ops on integer dtypes', async (tt) => {
  for (const op of INT_UNARY) for (const d of INTS) for (const kind of LAYOUTS) {
    const x = makeInput(kind, d, 0);
    const od: DType = BOOL_OPS.has(op) ? 'bool' : d;
    const out = makeOutput(kind, od);
    be.unary(op, x, out);
    checkAll(tt, out, (i) => intRef(op, d, [get(x, i)]), `${op} ${d} ${kind}`);
  }
  // int32 overflow wraps like PyTorch
  const x = view(new Int32Array([2 ** 31 - 1, -(2 ** 31), 65536 * 3]), 'int32', [3]);
  const out = view(new Int32Array(3), 'int32', [3]);
  be.unary('square', x, out);
  tt.same([...out.handle as Int32Array], [1, 0, 0], 'square wraps in int32');
  be.unary('neg', x, out);
  tt.same([...out.handle as Int32Array], [-(2 ** 31 - 1), -(2 ** 31), -196608], 'neg of INT_MIN wraps');
});

t.test('binary ops: every op, float dtypes, every layout', async (tt) => {
  for (const op of Object.keys(BINARY) as BinaryOp[]) {
    for (const d of FLOATS) for (const kind of LAYOUTS) {
      const x = makeInput(kind, d, 0, floatGen), y = makeInput(kind, d, 1, floatGen);
      const od: DType = BOOL_OPS.has(op) ? 'bool' : d;
      const out = makeOutput(kind, od);
      be.binary(op, x, y, out);
      checkAll(tt, LOOSE_OPS.has(op) ? loosen(out) : out, (i) => {
        const w = BINARY_REF[op](get(x, i), get(y, i));
        return od === 'float32' ? Math.fround(w) : w;
      }, `${op} ${d} ${kind}`);
    }
  }
});

t.test('binary ops on integer dtypes (exact, wrapping)', async (tt) => {
  for (const op of INT_BINARY) for (const d of INTS) for (const kind of LAYOUTS) {
    const x = makeInput(kind, d, 0);
    // nonzero divisors; small non-negative exponents
    const yGen = op === 'pow' ? () => Math.floor(rand() * 6) : op === 'remainder' || op === 'fmod'
      ? () => { const v = randomValue(d); return v === 0 ? 3 : v; } : undefined;
    const y = makeInput(kind, d, 1, yGen);
    const od: DType = BOOL_OPS.has(op) ? 'bool' : d;
    const out = makeOutput(kind, od);
    be.binary(op, x, y, out);
    checkAll(tt, out, (i) => intRef(op, d, [get(x, i), get(y, i)]), `${op} ${d} ${kind}`);
  }
  const big = view(new Int32Array([2 ** 31 - 1, 123456789, -7]), 'int32', [3]);
  const o = view(new Int32Array(3), 'int32', [3]);
  be.binary('mul', big, big, o);
  tt.same([...o.handle as Int32Array], [1, Number(BigInt.asIntN(32, 123456789n * 123456789n)), 49], 'int32 mul wraps exactly');
  be.binary('add', big, big, o);
  tt.equal((o.handle as Int32Array)[0], -2, 'int32 add wraps');
  const e = view(new Float64Array([3, 2, 10]), 'int64', [3]), p = view(new Float64Array([33, 52, 15]), 'int64', [3]);
  const po = view(new Float64Array(3), 'int64', [3]);
  be.binary('pow', e, p, po);
  tt.same([...po.handle as Float64Array], [3 ** 33, 2 ** 52, 10 ** 15], 'int64 pow is exact');
  const u = view(new Uint8Array([200, 3]), 'uint8', [2]), uo = view(new Uint8Array(2), 'uint8', [2]);
  be.binary('pow', u, view(new Uint8Array([3, 7]), 'uint8', [2]), uo);
  tt.same([...uo.handle as Uint8Array], [Number((200n ** 3n) % 256n), 2187 % 256], 'uint8 pow wraps');
  const bo = view(new Uint8Array(2), 'bool', [2]);
  be.binary('add', view(new Uint8Array([1, 0]), 'bool', [2]), view(new Uint8Array([1, 0]), 'bool', [2]), bo);
  tt.same([...bo.handle as Uint8Array], [1, 0], 'bool add stores 0/1');
});

t.test('the cpu erf agrees with JS_HELPERS.erf', async (tt) => {
  let worst = 0, at = 0;
  for (let k = 0; k <= 200000; k++) {
    const x = -7 + (14 * k) / 200000 + 1e-9;
    const want = JS_HELPERS.erf(x), got = cpuErf(x);
    const e = Math.abs(got - want) / Math.max(Math.abs(want), 1e-300);
    if (e > worst) { worst = e; at = x; }
  }
  tt.ok(worst < 1e-13, `max relative difference ${worst} at ${at}`);
  for (const x of [1e-300, -1e-12, 0.5, -0.5, 6, -6, 30, Infinity, -Infinity]) {
    const want = JS_HELPERS.erf(x);
    tt.ok(Math.abs(cpuErf(x) - want) <= 4e-16 * Math.abs(want), `erf(${x}) within 2 ulp`);
  }
  tt.ok(Object.is(cpuErf(0), 0) && Object.is(cpuErf(-0), -0), 'erf keeps the sign of zero');
  tt.ok(Number.isNaN(cpuErf(NaN)));
});

t.test('the float32 exp and tanh agree with Math.exp and Math.tanh', async (tt) => {
  let worstExp = 0, worstTanh = 0, f32diff = 0;
  for (let k = 0; k <= 400000; k++) {
    const x = -720 + (1440 * k) / 400000 + 1e-7;
    const e = Math.exp(x);
    if (e > 0 && Number.isFinite(e)) worstExp = Math.max(worstExp, Math.abs(exp32(x) / e - 1));
    const y = (x / 720) * 12; // tanh over [-12, 12]
    const th = Math.tanh(y);
    if (th !== 0) worstTanh = Math.max(worstTanh, Math.abs(tanh32(y) / th - 1));
    if (Math.fround(exp32(y)) !== Math.fround(Math.exp(y)) || Math.fround(tanh32(y)) !== Math.fround(th)) f32diff++;
  }
  tt.ok(worstExp < 1e-15, `exp32 max relative error ${worstExp}`);
  tt.ok(worstTanh < 1e-12, `tanh32 max relative error ${worstTanh}`);
  tt.ok(f32diff <= 2, `float32 roundings differ at ${f32diff} of 400001 points`);
  for (const x of [1e-300, -1e-9, 5e-5, -9.99e-5]) tt.ok(Math.abs(tanh32(x) / Math.tanh(x) - 1) < 1e-15, `tanh32(${x})`);
  tt.ok(Object.is(tanh32(0), 0) && Object.is(tanh32(-0), -0), 'tanh32 keeps the sign of zero');
  tt.same([exp32(-Infinity), exp32(Infinity), exp32(710), exp32(-746), exp32(0)], [0, Infinity, Infinity, 0, 1]);
  tt.same([tanh32(Infinity), tanh32(-Infinity), tanh32(30), tanh32(-30)], [1, -1, 1, -1]);
  tt.ok(Number.isNaN(exp32(NaN)) && Number.isNaN(tanh32(NaN)));
});

t.test('ternary ops', async (tt) => {
  for (const op of Object.keys(TERNARY) as TernaryOp[]) {
    for (const d of [...FLOATS, ...(op === 'lerp' ? [] : INTS)]) for (const kind of LAYOUTS) {
      const gen = isFloating(d) ? floatGen : undefined;
      const x = op === 'where' ? makeInput(kind, 'bool', 0) : makeInput(kind, d, 0, gen);
      const y = makeInput(kind, d, 1, gen), z = makeInput(kind, d, 2, gen);
      const out = makeOutput(kind, d);
      be.ternary(op, x, y, z, out);
      checkAll(tt, out, (i) => {
        const args = [get(x, i), get(y, i), get(z, i)];
        if (!isFloating(d)) return intRef(op, d, args);
        const w = TERNARY_REF[op](args[0], args[1], args[2]);
        return d === 'float32' ? Math.fround(w) : w;
      }, `${op} ${d} ${kind}`);
    }
  }
});

t.test('elementwise: in-place aliasing, empty, 0-d, large and higher-rank views', async (tt) => {
  const a = new Float32Array([1, 2, 3, 4]);
  be.binary('mul', view(a, 'float32', [4]), view(a, 'float32', [4]), view(a, 'float32', [4]));
  tt.same([...a], [1, 4, 9, 16], 'out aliasing the input');
  be.unary('neg', view(new Float32Array(0), 'float32', [0, 3]), view(new Float32Array(0), 'float32', [0, 3]));
  const s = new Float64Array([5]), so = new Float64Array(1);
  be.unary('sqrt', view(s, 'float64', [], []), view(so, 'float64', [], []));
  tt.equal(so[0], Math.sqrt(5), '0-d');
  // 5-d with a transposed input and a broadcast input: the odometer path
  const shape = [2, 3, 2, 4, 3];
  const n = numel(shape);
  const xb = randomBuffer('float32', n), yb = randomBuffer('float32', 4);
  const xs = contiguous([3, 4, 2, 3, 2]); // buffer [3,4,2,3,2] permuted to [2,3,2,4,3] -> dims (4, 0, 2, 1, 3)
  const x = view(xb, 'float32', shape, [xs[4], xs[0], xs[2], xs[1], xs[3]]);
  const y = view(yb, 'float32', shape, [0, 0, 0, 1, 0]);
  const out = view(new Float32Array(n), 'float32', shape);
  be.binary('sub', x, y, out);
  checkAll(tt, out, (i) => Math.fround(get(x, i) - get(y, i)), '5-d strided + broadcast');
  const outT = view(new Float32Array(n), 'float32', shape, [...x.strides]);
  be.binary('sub', x, y, outT);
  checkAll(tt, outT, (i) => Math.fround(get(x, i) - get(y, i)), '5-d with a permuted output');
  // long flat run through the contiguous and scalar fast paths
  const N = 100003;
  const big = randomBuffer('float64', N);
  const bo = new Float64Array(N);
  be.binary('add', view(big, 'float64', [N]), view(new Float64Array([0.5]), 'float64', [N], [0]), view(bo, 'float64', [N]));
  let ok = true;
  for (let i = 0; i < N; i++) if (bo[i] !== big[i] + 0.5) ok = false;
  tt.ok(ok, 'scalar broadcast over 100003 elements');
});

// ------------------------------------------------------------------ copy / fill

t.test('copy converts between every pair of dtypes', async (tt) => {
  const samples = [0, -0, 1, -1, 2.5, -2.5, 2.7, -2.7, 255, 256, 300.75, -129, 65504, 1e-8, 3e9, -3e9, 1 / 3, NaN, Infinity, -Infinity];
  for (const sd of DTYPES) for (const dd of DTYPES) {
    const src = allocHost(sd, samples.length);
    samples.forEach((v, i) => (src[i] = toStored(sd, v)));
    const dst = allocHost(dd, samples.length);
    be.copy(view(src, sd, [samples.length]), view(dst, dd, [samples.length]));
    let bad = '';
    for (let i = 0; i < samples.length && !bad; i++) {
      const want = toStored(dd, fromStored(sd, src[i]));
      if (!(Object.is(dst[i], want) || (Number.isNaN(want) && Number.isNaN(dst[i])) || (want === 0 && dst[i] === 0 && !isFloating(dd))))
        bad = `${samples[i]}: got ${dst[i]}, want ${want}`;
    }
    tt.equal(bad, '', `${sd} -> ${dd}`);
  }
  // PyTorch truncation toward zero
  const f = new Float32Array([2.9, -2.9, 0.5, -0.5]);
  const i32 = new Int32Array(4), i64 = new Float64Array(4), u8 = new Uint8Array(4), bl = new Uint8Array(4);
  be.copy(view(f, 'float32', [4]), view(i32, 'int32', [4]));
  be.copy(view(f, 'float32', [4]), view(i64, 'int64', [4]));
  be.copy(view(f, 'float32', [4]), view(bl, 'bool', [4]));
  tt.same([...i32], [2, -2, 0, 0]);
  tt.same([...i64], [2, -2, 0, 0]);
  tt.same([...bl], [1, 1, 1, 1], 'bool is v != 0');
  be.copy(view(new Float32Array([-1, 257]), 'float32', [2]), view(u8, 'uint8', [2]));
  tt.same([...u8.subarray(0, 2)], [255, 1], 'uint8 wraps');
  // float16 / bfloat16 round trip through float32
  const h = new Uint16Array(3), back = new Float32Array(3);
  be.copy(view(new Float32Array([1.5, 65504, 1e-5]), 'float32', [3]), view(h, 'float16', [3]));
  be.copy(view(h, 'float16', [3]), view(back, 'float32', [3]));
  tt.same([...back], [1.5, 65504, Math.fround(toStoredRound16(1e-5))]);
  const bf = new Uint16Array(1), bback = new Float64Array(1);
  be.copy(view(new Float64Array([3.140625]), 'float64', [1]), view(bf, 'bfloat16', [1]));
  be.copy(view(bf, 'bfloat16', [1]), view(bback, 'float64', [1]));
  tt.equal(bback[0], 3.140625, 'bfloat16 round trip');
});
function toStoredRound16(v: number): number { return fromStored('float16', toStored('float16', v)); }

t.test('copy and fill on strided views', async (tt) => {
  for (const [sd, dd] of [['float32', 'float32'], ['float32', 'float64'], ['int32', 'float16'], ['float64', 'int64']] as [DType, DType][]) {
    for (const sk of LAYOUTS) for (const dk of LAYOUTS) {
      if (dk === 'broadcast') continue;
      const src = makeInput(sk, sd, 0);
      const dst = makeOutput(dk, dd);
      be.copy(src, dst);
      checkAll(tt, dst, (i) => fromStored(dd, toStored(dd, get(src, i))), `copy ${sd} ${sk} -> ${dd} ${dk}`);
    }
  }
  for (const d of ['float32', 'int64', 'bool', 'float16'] as DType[]) {
    for (const kind of ['contiguous', 'transposed', 'offset'] as LayoutKind[]) {
      const dst = makeOutput(kind, d);
      const before = [...(dst.handle as HostArray)];
      be.fill(dst, toStored(d, 1));
      checkAll(tt, dst, () => 1, `fill ${d} ${kind}`);
      // elements outside the view are untouched
      const inView = new Set([...indices(dst.shape)].map((i) => offsetOf(dst, i)));
      tt.ok(before.every((v, i) => inView.has(i) || (dst.handle as HostArray)[i] === v), `fill ${d} ${kind} stays in its view`);
    }
  }
  const r = be.readSync!(makeInput('transposed', 'float64', 0));
  tt.equal(r.length, 60, 'readSync of a strided view is a contiguous copy');
});

t.test('storage: alloc, write, read', async (tt) => {
  for (const d of DTYPES) {
    tt.ok(be.supportsDtype(d), `stores ${d}`);
    tt.equal(be.supportsCompute(d), d !== 'float16' && d !== 'bfloat16', `computes ${d}`);
    const h = be.alloc(5, d) as HostArray;
    tt.equal(h.constructor, allocHost(d, 0).constructor, `${d} handle is its host array`);
    tt.ok(h.every((v) => v === 0), 'zero-filled');
  }
  const h = be.alloc(6, 'float32') as Float32Array;
  be.write(h, 'float32', new Float32Array([1, 2, 3]), 2);
  tt.same([...h], [0, 0, 1, 2, 3, 0]);
  const r = await be.read(view(h, 'float32', [2], [2], 1));
  tt.same([...r], [0, 2]);
  tt.equal(getBackend('cpu').type, 'cpu', 'registered as cpu');
  tt.equal(getBackend('cpu').name, 'cpu');
});

// ------------------------------------------------------------------ reductions

/** Reference reduction over dims (keepdim=false), in doubles. */
function reduceRef(op: string, x: View, dims: number[]): (idx: number[]) => number {
  return (outIdx) => {
    const redShape = dims.map((d) => x.shape[d]);
    let acc = op === 'sum' ? 0 : op === 'prod' ? 1 : NaN, best = -1, pos = 0;
    for (const r of indices(redShape)) {
      const full: number[] = [];
      let oi = 0, ri = 0;
      for (let d = 0; d < x.shape.length; d++) full.push(dims.includes(d) ? r[ri++] : outIdx[oi++]);
      const v = get(x, full);
      if (op === 'sum') acc += v;
      else if (op === 'prod') acc *= v;
      else if (op === 'max' || op === 'min') {
        if (pos === 0 || Number.isNaN(v) || (!Number.isNaN(acc) && (op === 'max' ? v > acc : v < acc))) acc = Number.isNaN(acc) && pos > 0 ? acc : v;
      } else {
        const better = pos === 0 || (!Number.isNaN(acc) && (Number.isNaN(v) || (op === 'argmax' ? v > acc : v < acc)));
        if (better) { acc = v; best = pos; }
      }
      pos++;
    }
    return op === 'argmax' || op === 'argmin' ? best : acc;
  };
}

t.test('reductions over every dim set, contiguous and strided', async (tt) => {
  const dimSets = [[0], [1], [2], [0, 1], [1, 2], [0, 2], [0, 1, 2]];
  for (const op of ['sum', 'prod', 'max', 'min'] as const) {
    for (const d of ['float32', 'float64', 'int32', 'int64', 'uint8'] as DType[]) {
      for (const kind of ['contiguous', 'transposed', 'offset', 'broadcast'] as LayoutKind[]) {
        const gen = op === 'prod' ? () => [0.5, 1, 2, -1, 1.5][Math.floor(rand() * 5)] : undefined;
        const x = makeInput(kind, d, 0, gen && isFloating(d) ? gen : gen ? () => [1, 2, 1, 1, 3][Math.floor(rand() * 5)] : undefined);
        for (const dims of dimSets) {
          const oshape = SHAPE.filter((_, i) => !dims.includes(i));
          const od: DType = (op === 'sum' || op === 'prod') && !isFloating(d) ? 'int64' : d;
          const out = view(allocHost(od, Math.max(numel(oshape), 1)), od, oshape);
          be.reduce(op, x, dims, out);
          const ref = reduceRef(op, x, dims);
          checkAll(tt, out, (i) => (od === 'float32' ? Math.fround(ref(i)) : ref(i)), `${op} ${d} ${kind} dims ${dims}`);
        }
      }
    }
  }
});

t.test('outer-mode reductions (a kept dim is innermost) and NaN propagation', async (tt) => {
  // [50, 40]: reducing dim 0 keeps a 40-long contiguous dim -> accumulator rows
  const shape = [50, 40];
  const xb = randomBuffer('float32', 2000, floatGen);
  const x = view(xb, 'float32', shape);
  for (const op of ['sum', 'prod', 'max', 'min', 'argmax', 'argmin'] as const) {
    const od: DType = op.startsWith('arg') ? 'int64' : 'float32';
    const out = view(allocHost(od, 40), od, [40]);
    be.reduce(op, x, [0], out);
    const ref = reduceRef(op, x, [0]);
    checkAll(tt, out, (i) => (od === 'float32' ? Math.fround(ref(i)) : ref(i)), `${op} over dim 0 of [50, 40]`);
    // the same through a transposed view: inner mode
    const xt = view(xb, 'float32', [40, 50], [1, 40]);
    const out2 = view(allocHost(od, 40), od, [40]);
    be.reduce(op, xt, [1], out2);
    checkAll(tt, out2, (i) => get(out, i), `${op} over dim 1 of the transpose agrees`);
  }
  const m = view(new Float32Array([1, NaN, 3, -Infinity]), 'float32', [4]);
  const mo = view(new Float32Array(1), 'float32', []);
  be.reduce('max', m, [0], mo);
  tt.ok(Number.isNaN((mo.handle as Float32Array)[0]), 'max propagates NaN');
  be.reduce('min', m, [0], mo);
  tt.ok(Number.isNaN((mo.handle as Float32Array)[0]), 'min propagates NaN');
  const allNegInf = view(new Float64Array([-Infinity, -Infinity]), 'float64', [2]);
  const o64 = view(new Float64Array(1), 'float64', []);
  be.reduce('max', allNegInf, [0], o64);
  tt.equal((o64.handle as Float64Array)[0], -Infinity);
});

t.test('argmax/argmin: first occurrence, NaN wins', async (tt) => {
  const cases: [number[], number, number][] = [
    [[1, 3, 3, 2], 1, 0],
    [[5, 5, 5], 0, 0],
    [[1, NaN, 7, NaN], 1, 1],
    [[NaN, 1], 0, 0],
    [[-Infinity, -Infinity, -5], 2, 0],
    [[2, 0, 0, 2], 0, 1],
  ];
  for (const [vals, amax, amin] of cases) {
    const x = view(new Float32Array(vals), 'float32', [vals.length]);
    const o = view(new Float64Array(1), 'int64', []);
    be.reduce('argmax', x, [0], o);
    tt.equal((o.handle as Float64Array)[0], amax, `argmax ${vals}`);
    be.reduce('argmin', x, [0], o);
    tt.equal((o.handle as Float64Array)[0], amin, `argmin ${vals}`);
  }
  for (const kind of ['contiguous', 'transposed', 'offset'] as LayoutKind[]) {
    for (const d of ['float32', 'int32', 'uint8'] as DType[]) {
      // few distinct values so that ties are common
      const x = makeInput(kind, d, 0, () => Math.floor(rand() * 3));
      for (const dim of [0, 1, 2]) for (const op of ['argmax', 'argmin'] as const) {
        const oshape = SHAPE.filter((_, i) => i !== dim);
        const out = view(allocHost('int64', numel(oshape)), 'int64', oshape);
        be.reduce(op, x, [dim], out);
        checkAll(tt, out, reduceRef(op, x, [dim]), `${op} ${d} ${kind} dim ${dim}`);
      }
    }
  }
});

t.test('reduction edge cases: empty, 0-d, size-1 dims, strided output', async (tt) => {
  const e = view(new Float32Array(0), 'float32', [3, 0]);
  const s = view(new Float32Array([9, 9, 9]), 'float32', [3]);
  be.reduce('sum', e, [1], s);
  tt.same([...s.handle as Float32Array], [0, 0, 0], 'empty sum is 0');
  be.reduce('prod', e, [1], s);
  tt.same([...s.handle as Float32Array], [1, 1, 1], 'empty prod is 1');
  const z = view(new Float64Array([4]), 'float64', [], []);
  const zo = view(new Float64Array([0]), 'float64', [], []);
  be.reduce('sum', z, [], zo);
  tt.equal((zo.handle as Float64Array)[0], 4, '0-d sum');
  const ai = view(new Float64Array([7]), 'int64', [], []);
  be.reduce('argmax', z, [], ai);
  tt.equal((ai.handle as Float64Array)[0], 0, '0-d argmax');
  const one = view(new Float32Array([1, 2, 3]), 'float32', [3, 1]);
  const oo = view(new Float32Array(3), 'float32', [3]);
  be.reduce('sum', one, [1], oo);
  tt.same([...oo.handle as Float32Array], [1, 2, 3], 'reducing a size-1 dim');
  const x = view(new Float64Array([1, 2, 3, 4, 5, 6]), 'float64', [2, 3]);
  const so = view(new Float64Array(5), 'float64', [2], [3], 1);
  be.reduce('sum', x, [1], so);
  tt.same([...so.handle as Float64Array], [0, 6, 0, 0, 15], 'strided output');
  const bsum = view(new Float64Array(1), 'int64', []);
  be.reduce('sum', view(new Uint8Array([1, 1, 0, 1]), 'bool', [4]), [0], bsum);
  tt.equal((bsum.handle as Float64Array)[0], 3, 'bool sum counts');
});

t.test('float32 sums of 4M elements stay accurate', async (tt) => {
  const n = 4 << 20;
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = Math.fround(rand());
  // exact reference with BigInt fixed point (values are multiples of 2^-24... of float32 in [0,1))
  let exact = 0n;
  for (let i = 0; i < n; i++) exact += BigInt(Math.round(a[i] * 2 ** 30));
  const ref = Number(exact) / 2 ** 30;
  const o = view(new Float32Array(1), 'float32', []);
  be.reduce('sum', view(a, 'float32', [n]), [0], o);
  tt.equal((o.handle as Float32Array)[0], Math.fround(ref), 'full sum is correctly rounded');
  const rows = view(new Float32Array(4), 'float32', [4]);
  be.reduce('sum', view(a, 'float32', [4, n / 4]), [1], rows);
  let rowsTotal = 0;
  for (const v of rows.handle as Float32Array) rowsTotal += v;
  tt.ok(Math.abs(rowsTotal - ref) / ref < 1e-6, 'row sums');
  // a constant large row: naive float32 accumulation would stall at 2^24
  const ones = new Float32Array(n).fill(1);
  be.reduce('sum', view(ones, 'float32', [n]), [0], o);
  tt.equal((o.handle as Float32Array)[0], n);
});

t.test('cumsum along every dim', async (tt) => {
  for (const [d, od] of [['float32', 'float32'], ['float64', 'float64'], ['int32', 'int64'], ['uint8', 'int64']] as [DType, DType][]) {
    for (const kind of ['contiguous', 'transposed', 'offset', 'broadcast'] as LayoutKind[]) {
      const x = makeInput(kind, d, 0);
      for (const dim of [0, 1, 2]) {
        for (const okind of ['contiguous', 'transposed'] as LayoutKind[]) {
          const out = makeOutput(okind, od);
          be.cumsum(x, dim, out);
          checkAll(tt, out, (i) => {
            let s = 0;
            for (let k = 0; k <= i[dim]; k++) { const j = i.slice(); j[dim] = k; s += get(x, j); }
            return od === 'float32' ? Math.fround(s) : s;
          }, `cumsum ${d} ${kind} dim ${dim} into ${okind}`);
        }
      }
    }
  }
});

// ------------------------------------------------------------------ gather / scatter / sort

t.test('gather', async (tt) => {
  for (const idt of ['int64', 'int32'] as DType[]) for (const kind of ['contiguous', 'transposed', 'offset'] as LayoutKind[]) {
    const x = makeInput(kind, 'float32', 0);
    for (const dim of [0, 1, 2]) {
      const ishape = [2, 3, 4];
      const idx = view(randomBuffer(idt, 24, () => Math.floor(rand() * SHAPE[dim])), idt, ishape);
      const out = view(new Float32Array(24), 'float32', ishape);
      be.gather(x, dim, idx, out);
      checkAll(tt, out, (i) => { const j = i.slice(); j[dim] = get(idx, i); return get(x, j); }, `gather ${idt} ${kind} dim ${dim}`);
    }
  }
  const x = view(new Float32Array([1, 2, 3]), 'float32', [3]);
  const out = view(new Float32Array(2), 'float32', [2]);
  for (const bad of [3, -1, 7]) {
    tt.throws(() => be.gather(x, 0, view(new Float64Array([0, bad]), 'int64', [2]), out), IndexError, `index ${bad} throws`);
    try { be.gather(x, 0, view(new Float64Array([0, bad]), 'int64', [2]), out); } catch (e) {
      tt.match((e as Error).message, /gather/, 'names the op');
      tt.match((e as Error).message, new RegExp(`index ${bad} `), 'names the index');
      tt.match((e as Error).message, /0\.\.2/, 'names the valid range');
    }
  }
  tt.throws(() => be.gather(x, 0, view(new Int32Array([-3]), 'int32', [1]), out), IndexError, 'negative int32 index');
});

t.test('scatter and scatter_add', async (tt) => {
  for (const acc of [false, true]) for (const dim of [0, 1]) {
    const base = randomBuffer('float64', 12);
    const out = view(base.slice(), 'float64', [3, 4]);
    const ishape = [2, 3];
    const idxVals = [...indices(ishape)].map(() => Math.floor(rand() * [3, 4][dim]));
    const idx = view(new Float64Array(idxVals), 'int64', ishape);
    const src = view(randomBuffer('float64', 6 * 2), 'float64', ishape, [6, 2], 1); // strided src
    be.scatter(out, dim, idx, src, acc);
    const want = [...base];
    for (const i of indices(ishape)) {
      const j = i.slice(); j[dim] = get(idx, i);
      const p = j[0] * 4 + j[1];
      want[p] = acc ? want[p] + get(src, i) : get(src, i);
    }
    tt.same([...(out.handle as Float64Array)], want, `scatter accumulate=${acc} dim ${dim}`);
  }
  // set: the last duplicate wins; int dtype accumulate
  const o = view(new Int32Array(3), 'int32', [3]);
  be.scatter(o, 0, view(new Int32Array([1, 1, 2]), 'int32', [3]), view(new Int32Array([5, 6, 7]), 'int32', [3]), false);
  tt.same([...o.handle as Int32Array], [0, 6, 7]);
  be.scatter(o, 0, view(new Int32Array([1, 1, 0]), 'int32', [3]), view(new Int32Array([5, 6, 7]), 'int32', [3]), true);
  tt.same([...o.handle as Int32Array], [7, 17, 7]);
  // an out-of-range index writes nothing
  const before = [...o.handle as Int32Array];
  for (const accumulate of [false, true]) {
    try {
      be.scatter(o, 0, view(new Float64Array([0, 3]), 'int64', [2]), view(new Int32Array([1, 1]), 'int32', [2]), accumulate);
      tt.fail('should throw');
    } catch (e) {
      tt.type(e, IndexError);
      tt.match((e as Error).message, accumulate ? /^scatter_add:/ : /^scatter:/);
      tt.match((e as Error).message, /index 3 .*0\.\.2/);
    }
  }
  tt.same([...o.handle as Int32Array], before, 'out untouched after the error');
});

t.test('sort: stable, NaN largest, descending, any dim', async (tt) => {
  const vals = [3, 1, NaN, 2, 1, -Infinity, 3, NaN, 0, -0, 2];
  const x = view(new Float32Array(vals), 'float32', [vals.length]);
  const v = view(new Float32Array(vals.length), 'float32', [vals.length]);
  const ix = view(new Float64Array(vals.length), 'int64', [vals.length]);
  be.sort(x, 0, false, v, ix);
  tt.same([...(ix.handle as Float64Array)], [5, 8, 9, 1, 4, 3, 10, 0, 6, 2, 7], 'ascending: stable, NaN last');
  be.sort(x, 0, true, v, ix);
  tt.same([...(ix.handle as Float64Array)], [2, 7, 0, 6, 3, 10, 1, 4, 8, 9, 5], 'descending: stable, NaN first');
  tt.same([...(v.handle as Float32Array)].slice(2), [3, 3, 2, 2, 1, 1, 0, -0, -Infinity]);
  // against a reference on random data with many ties, every dim, strided input
  for (const d of ['float64', 'int32', 'uint8'] as DType[]) for (const kind of ['contiguous', 'transposed', 'offset'] as LayoutKind[]) {
    const xin = makeInput(kind, d, 0, () => Math.floor(rand() * 4));
    for (const dim of [0, 1, 2]) for (const desc of [false, true]) {
      const vals2 = view(allocHost(d, 60), d, SHAPE), idx2 = view(allocHost('int64', 60), 'int64', SHAPE);
      be.sort(xin, dim, desc, vals2, idx2);
      let bad = 0;
      for (const i of indices(SHAPE)) {
        if (i[dim] !== 0) continue;
        const line = [...Array(SHAPE[dim]).keys()].map((k) => { const j = i.slice(); j[dim] = k; return { k, v: get(xin, j) }; });
        line.sort((p, q) => (desc ? q.v - p.v : p.v - q.v)); // Array.prototype.sort is stable
        line.forEach((e, k) => {
          const j = i.slice(); j[dim] = k;
          if (get(idx2, j) !== e.k || get(vals2, j) !== e.v) bad++;
        });
      }
      tt.equal(bad, 0, `sort ${d} ${kind} dim ${dim} desc=${desc}`);
    }
  }
  // long lines take the radix path: every dtype, special values, both directions, strided lines
  for (const d of ['float32', 'float64', 'int32', 'int64', 'uint8', 'bool'] as DType[]) {
    const special = isFloating(d) ? [NaN, -0, 0, Infinity, -Infinity, -1e-30, 1e30] : [];
    const L = 300;
    const gen = () => (special.length && rand() < 0.2 ? special[Math.floor(rand() * special.length)]
      : d === 'bool' ? Math.floor(rand() * 2) : d === 'uint8' ? Math.floor(rand() * 256) : d === 'int32' ? Math.floor(rand() * 2 ** 32) - 2 ** 31
      : d === 'int64' ? Math.floor(rand() * 2 ** 50) - 2 ** 49 : (rand() - 0.5) * 10 ** Math.floor(rand() * 8 - 4));
    const xin = view(randomBuffer(d, 2 * L, gen), d, [L, 2], [1, L]); // two lines along dim 0, stride 1
    for (const desc of [false, true]) {
      const vo = view(allocHost(d, 2 * L), d, [L, 2]), io = view(allocHost('int64', 2 * L), 'int64', [L, 2]);
      be.sort(xin, 0, desc, vo, io);
      let bad = 0;
      for (let c = 0; c < 2; c++) {
        const line = [...Array(L).keys()].map((k) => ({ k, v: get(xin, [k, c]) }));
        const key = (v: number) => (Number.isNaN(v) ? Infinity : v);
        line.sort((p, q) => { // NaN largest, then stable
          const a = key(p.v), bb = key(q.v);
          if (Number.isNaN(p.v) !== Number.isNaN(q.v)) return (Number.isNaN(p.v) ? 1 : -1) * (desc ? -1 : 1);
          return a === bb ? 0 : (a < bb ? -1 : 1) * (desc ? -1 : 1);
        });
        line.forEach((e, k) => { if (get(io, [k, c]) !== e.k || !Object.is(get(vo, [k, c]), e.v)) bad++; });
      }
      tt.equal(bad, 0, `radix sort ${d} desc=${desc}`);
    }
  }
  // long lines exercise the merge passes
  const n = 5000;
  const long = new Float64Array(n).map(() => Math.floor(rand() * 50));
  const lv = view(new Float64Array(n), 'float64', [n]), li = view(new Float64Array(n), 'int64', [n]);
  be.sort(view(long, 'float64', [n]), 0, false, lv, li);
  const ref = [...long.keys()].sort((p, q) => long[p] - long[q]);
  tt.same([...(li.handle as Float64Array)], ref, '5000 elements, stable');
});

// ------------------------------------------------------------------ matmul

function naiveMatmul(a: View, bv: View): (idx: number[]) => number {
  return ([bi, i, j]) => {
    let s = 0;
    for (let k = 0; k < a.shape[2]; k++) s += get(a, [bi, i, k]) * get(bv, [bi, k, j]);
    return s;
  };
}
/** [B, R, C] operands in several layouts over fresh random buffers. */
function matOperand(kind: string, d: DType, B: number, R: number, C: number): View {
  const gen = isFloating(d) ? () => rand() * 2 - 1 : () => Math.floor(rand() * 7) - 3;
  const g = d === 'uint8' ? () => Math.floor(rand() * 5) : gen;
  switch (kind) {
    case 'contiguous': return view(randomBuffer(d, B * R * C, g), d, [B, R, C]);
    case 'transposed': return view(randomBuffer(d, B * R * C, g), d, [B, R, C], [R * C, 1, R]); // each matrix column-major
    case 'offset': return view(randomBuffer(d, 3 + B * R * (C + 2), g), d, [B, R, C], [R * (C + 2), C + 2, 1], 3); // padded rows
    case 'batch-broadcast': return view(randomBuffer(d, R * C, g), d, [B, R, C], [0, C, 1]);
    default: return view(randomBuffer(d, 2 * B * R * C * 3, g), d, [B, R, C], [R * C * 6, 2 * C * 3, 3]); // 'strided': no BLAS layout
  }
}

t.test('matmul against a naive loop, OpenBLAS and JS GEMM', async (tt) => {
  const kinds = ['contiguous', 'transposed', 'offset', 'batch-broadcast', 'strided'];
  const sizes: [number, number, number, number][] = [[2, 5, 7, 3], [1, 1, 4, 1], [3, 1, 6, 9], [1, 40, 33, 37], [2, 65, 130, 70], [1, 3, 0, 2]];
  for (const backend of [be, jsBe]) for (const d of ['float32', 'float64'] as DType[]) {
    for (const [B, M, K, N] of sizes) for (const ka of kinds) for (const kb of kinds) {
      if (B * M * K * N > 100000 && (ka !== kb || ka === 'batch-broadcast')) continue; // keep the big case short
      const a = matOperand(ka, d, B, M, K), bm = matOperand(kb, d, B, K, N);
      const out = view(allocHost(d, B * M * N).fill(7), d, [B, M, N]);
      backend.matmul(a, bm, out);
      const ref = naiveMatmul(a, bm);
      const tol = d === 'float32' ? 1e-5 : 1e-12;
      let bad = 0;
      for (const i of indices(out.shape)) if (Math.abs(get(out, i) - ref(i)) > tol * Math.max(1, K)) bad++;
      tt.equal(bad, 0, `${backend === be ? 'blas' : 'js'} ${d} [${B},${M},${K}]x[${K},${N}] ${ka} x ${kb}`);
    }
  }
});

t.test('integer matmul is exact (int32 wraps)', async (tt) => {
  for (const d of ['int32', 'int64', 'uint8'] as DType[]) for (const ka of ['contiguous', 'transposed']) {
    const a = matOperand(ka, d, 2, 6, 9), bm = matOperand('offset', d, 2, 9, 5);
    const out = view(allocHost(d, 60), d, [2, 6, 5]);
    be.matmul(a, bm, out);
    const ref = naiveMatmul(a, bm);
    checkAll(tt, out, (i) => wrapInt(d, ref(i)), `${d} ${ka}`);
  }
  const big = view(new Int32Array([65536, 65536]), 'int32', [1, 1, 2]);
  const bt = view(new Int32Array([65536, 3]), 'int32', [1, 2, 1]);
  const o = view(new Int32Array(1), 'int32', [1, 1, 1]);
  be.matmul(big, bt, o);
  tt.equal((o.handle as Int32Array)[0], 196608, '2^32 wraps away exactly');
  const i64 = view(new Float64Array(64).fill(2 ** 20), 'int64', [1, 8, 8]);
  const o64 = view(new Float64Array(64), 'int64', [1, 8, 8]);
  jsBe.matmul(i64, i64, o64);
  tt.equal((o64.handle as Float64Array)[9], 8 * 2 ** 40, 'int64 exact beyond 2^32');
});

t.test('OpenBLAS binding and TORCHLET_NO_BLAS', async (tt) => {
  const info = blasInfo();
  if (process.env.TORCHLET_NO_BLAS === '1') tt.same(info, { kind: 'js' }, 'TORCHLET_NO_BLAS=1 in this run');
  else if (info.kind === 'openblas') tt.match(info.library, /blas/, `using ${info.library}`);
  else tt.comment('OpenBLAS is not installed here; float matmul used the JS GEMM above');
  const here = fileURLToPath(new URL('.', import.meta.url));
  const script = `
    import { CpuBackend, blasInfo } from '${here}../src/device/cpu/index.ts';
    const be = new CpuBackend();
    const a = { handle: new Float32Array([1, 2, 3, 4]), dtype: 'float32', shape: [1, 2, 2], strides: [4, 2, 1], offset: 0 };
    const o = { handle: new Float32Array(4), dtype: 'float32', shape: [1, 2, 2], strides: [4, 2, 1], offset: 0 };
    be.matmul(a, a, o);
    console.log(JSON.stringify({ info: blasInfo(), out: [...o.handle] }));`;
  const r = spawnSync(process.execPath, ['--import=tsx', '--input-type=module', '-e', script], {
    env: { ...process.env, TORCHLET_NO_BLAS: '1' }, encoding: 'utf8', cwd: here + '..',
  });
  tt.equal(r.status, 0, r.stderr);
  const res = JSON.parse(r.stdout.trim().split('\n').pop()!);
  tt.same(res, { info: { kind: 'js' }, out: [7, 10, 15, 22] }, 'forced JS GEMM');
  tt.notMatch(r.stderr, /OpenBLAS not found/, 'a forced fallback prints no missing-library notice');
});
