/**
 * The webgpu backend tested directly: views are built by hand (contiguous, broadcast,
 * transposed, offset) over buffers written from the host, and every result is read back and
 * compared with a plain JS reference. Skipped, with the reason printed, when no adapter exists.
 */
import t, { type Test } from 'tap';
import { getBackend, unavailableReason } from '../src/device/registry.js';
import { webgpuInfo, webgpuMemoryStats, webgpuEmptyCache, releaseBuffer, initWebGPU, setWebGPUHostCopies, type MemoryStats } from '../src/device/webgpu/index.js';
import { adamKernel } from '../src/optim/fused.js';
import { UNARY, BINARY, TERNARY, JS, JS_HELPERS, renderOp, isBoolOp } from '../src/device/kernels.js';
import { allocHost, fromStored, toStored, f32ToF16, type DType, type HostArray } from '../src/dtype.js';
import { DTypeError, IndexError, ShapeError } from '../src/errors.js';
import type { Backend, Handle, View, ReduceOp } from '../src/device/backend.js';
import { contiguous, numel, indices, offsetOf, mismatch } from './helpers/strided.js';

// ------------------------------------------------------------------ helpers

/** A device buffer plus the host copy of its logical values (decoded numbers). */
interface Buf { handle: Handle; dtype: DType; vals: number[] }
interface TView extends View { buf: Buf }

let be: Backend;

function buf(dtype: DType, vals: readonly number[]): Buf {
  const handle = be.alloc(vals.length, dtype);
  const host = allocHost(dtype, vals.length);
  vals.forEach((v, i) => { host[i] = toStored(dtype, v); });
  if (vals.length) be.write(handle, dtype, host, 0);
  const stored = [...host].map((v) => fromStored(dtype, v));
  return { handle, dtype, vals: stored };
}
function empty(dtype: DType, n: number): Buf {
  return { handle: be.alloc(n, dtype), dtype, vals: new Array(n).fill(0) };
}
function view(b: Buf, shape: number[], strides = contiguous(shape), offset = 0): TView {
  return { handle: b.handle, dtype: b.dtype, shape, strides, offset, buf: b };
}
/** Host-side logical values of a view (row-major). */
function hostValues(v: TView): number[] {
  return [...indices(v.shape)].map((i) => v.buf.vals[offsetOf(v, i)]);
}
/** Reads a view back (decoded numbers, row-major). */
function read(v: View): number[] {
  const h = be.readSync!(v);
  return [...h].map((x) => fromStored(v.dtype, x));
}

let seed = 987654321;
function rand(): number {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return seed / 2147483648;
}
const randIn = (lo: number, hi: number): number => Math.fround(lo + (hi - lo) * rand());
const randInt = (lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1));

function close(tt: Test, actual: readonly number[], expected: readonly number[], msg: string, rtol = 0, atol = 0): void {
  const m = mismatch(actual, expected, rtol, atol);
  tt.ok(m === null, m === null ? msg : `${msg}: ${m}`);
}

/** The JS reference of a table op, from the same expression table (computed in doubles). */
function reference(op: string): (x: number, y: number, z: number) => number {
  const body = renderOp(op, JS, { x: 'x', y: 'y', z: 'z' });
  const f = new Function('rint', 'erf', 'fmod', 'x', 'y', 'z', `return ${body};`);
  return (x, y, z) => f(JS_HELPERS.rint, JS_HELPERS.erf, JS_HELPERS.fmod, x, y, z) as number;
}

/** Input domains that keep every op away from poles and undefined results. */
function domain(op: string, k: number): [number, number] {
  if (['log', 'sqrt', 'rsqrt'].includes(op)) return [0.05, 4];
  if (op === 'log1p') return [-0.9, 4];
  if (op === 'pow') return k === 0 ? [0.1, 3] : [-2.5, 2.5];
  if (['div', 'fmod', 'remainder', 'atan2'].includes(op) && k === 1) return [0.25, 3];
  if (op === 'reciprocal') return [0.25, 3];
  if (op === 'where' && k === 0) return [0, 1];
  if (op === 'lerp' && k === 2) return [0, 1];
  if (['sigmoidBackward'].includes(op) && k === 1) return [0, 1];
  return [-3, 3];
}
/** Tolerances vs a double-precision reference: [rtol, atol]. */
function tolerance(op: string): [number, number] {
  if (['pow', 'exp', 'expm1', 'softplus'].includes(op)) return [2e-5, 1e-6];
  if (['erf', 'gelu', 'geluBackward', 'tanh', 'tanhBackward'].includes(op)) return [1e-5, 2e-6];
  return [1e-5, 1e-6];
}

// ------------------------------------------------------------------ tests

const reason = unavailableReason('webgpu');
if (reason !== null) {
  t.comment(`webgpu backend tests skipped: ${reason}`);
  console.log(`# webgpu unavailable: ${reason}`);
}

t.test('webgpu backend', { skip: reason ?? false }, async (t) => {
  be = getBackend('webgpu');
  const info = webgpuInfo()!;
  t.comment(`adapter: ${info.adapter}; features: ${info.features.join(', ') || 'none'}; requestAdapter ${info.adapterMs.toFixed(0)} ms, requestDevice ${info.deviceMs.toFixed(0)} ms`);
  t.comment(`kernels for ${info.software ? 'a software adapter' : 'a GPU'}${process.env.TORCHLET_WEBGPU_KERNELS ? ` (TORCHLET_WEBGPU_KERNELS=${process.env.TORCHLET_WEBGPU_KERNELS})` : ''}`);
  const hasF16 = be.supportsDtype('float16');
  // every read below goes to the device (host copies are tested on their own at the end)
  setWebGPUHostCopies(false);
  const drains = () => webgpuMemoryStats().drains!;

  t.test('registry and dtypes', async (t) => {
    t.equal(be.type, 'webgpu');
    t.equal(be.name, 'webgpu');
    t.equal(be.canReadSync, true);
    t.equal(await initWebGPU(), true, 'initWebGPU resolves true once started');
    t.equal(be.supportsDtype('float64'), false, 'float64 is not supported');
    t.equal(be.supportsDtype('bfloat16'), false, 'bfloat16 is not supported');
    for (const d of ['float32', 'int32', 'int64', 'uint8', 'bool'] as DType[]) t.ok(be.supportsDtype(d), `${d} supported`);
    t.equal(be.supportsDtype('float16'), info.features.includes('shader-f16'), "float16 follows 'shader-f16'");
    t.throws(() => be.alloc(4, 'float64'), DTypeError);
  });

  t.test('write / read round trips', async (t) => {
    const cases: [DType, number[]][] = [
      ['float32', [1.5, -2.25, 0, 3e38, -1e-30, NaN, Infinity, -Infinity]],
      ['int32', [0, 1, -1, 2147483647, -2147483648, 12345]],
      ['int64', [0, -5, 2147483647, -2147483648, 42]],
      ['uint8', [0, 1, 127, 128, 255]],
      ['bool', [0, 1, 1, 0]],
    ];
    if (hasF16) cases.push(['float16', [0, 1, -2, 0.5, 65504, 0.000061035156, NaN, -Infinity]]);
    for (const [d, vals] of cases) {
      const b = buf(d, vals);
      close(t, read(view(b, [vals.length])), b.vals, `${d} sync read`);
      const h = await be.read(view(b, [vals.length]));
      close(t, [...h].map((x) => fromStored(d, x)), b.vals, `${d} async read`);
      t.equal(h.constructor, allocHost(d, 0).constructor, `${d} host array type`);
    }
    // writes at an offset, reads at an offset and through strides
    const b = buf('float32', [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    be.write(b.handle, 'float32', new Float32Array([70, 80]), 7);
    close(t, read(view(b, [4], [1], 6)), [6, 70, 80, 9], 'offset write and read');
    close(t, read(view(b, [2, 3], [1, 3], 1)), [1, 4, 70, 2, 5, 80], 'strided read');
    if (hasF16) {
      const h = buf('float16', [1, 2, 3, 4, 5]);
      be.write(h.handle, 'float16', new Uint16Array([f32ToF16(-7), f32ToF16(-8), f32ToF16(-9)]), 1);
      close(t, read(view(h, [5])), [1, -7, -8, -9, 5], 'float16 write at an odd offset');
      close(t, read(view(h, [3], [1], 1)), [-7, -8, -9], 'float16 read at an odd offset');
    }
    t.throws(() => be.write(empty('int64', 2).handle, 'int64', new Float64Array([2 ** 31]), 0), DTypeError, 'int64 beyond int32 is rejected');
    t.equal(read(view(empty('float32', 0), [0])).length, 0, 'empty read');
  });

  t.test('alloc returns zeroed memory, also when reusing pooled buffers', async (t) => {
    const vals = Array.from({ length: 1000 }, (_, i) => i + 1);
    const a = buf('float32', vals);
    be.free(a.handle, 1000, 'float32');
    const before = webgpuMemoryStats();
    const b = empty('float32', 1000);
    const after = webgpuMemoryStats();
    t.equal(after.buffers, before.buffers, 'the freed buffer was reused');
    close(t, read(view(b, [1000])), new Array(1000).fill(0), 'reused buffer is zeroed');
    releaseBuffer(b.handle);
    releaseBuffer(b.handle); // a second release is ignored
    const s: MemoryStats = webgpuMemoryStats();
    t.ok(s.pooledBytes >= 4000, 'freed bytes are pooled');
  });

  t.test('fill', async (t) => {
    const b = empty('float32', 12);
    be.fill(view(b, [3, 2], [4, 2], 1), 2.5);
    close(t, read(view(b, [12])), [0, 2.5, 0, 2.5, 0, 2.5, 0, 2.5, 0, 2.5, 0, 2.5], 'strided fill');
    const cases: [DType, number][] = [['int32', -7], ['int64', 123456], ['uint8', 200], ['bool', 1]];
    if (hasF16) cases.push(['float16', f32ToF16(-1.5)]);
    for (const [d, v] of cases) {
      const x = empty(d, 5);
      be.fill(view(x, [5]), v);
      close(t, read(view(x, [5])), new Array(5).fill(fromStored(d, v)), `fill ${d}`);
    }
    t.throws(() => be.fill(view(empty('int64', 1), [1]), 2 ** 40), DTypeError, 'int64 fill beyond int32');
  });

  t.test('copy and casts', async (t) => {
    const src = [-2.7, -1, -0.5, 0, 0.5, 1.9, 300.7, 255, 256, -1e9, 1e9, NaN, Infinity, -Infinity];
    const f = buf('float32', src);
    for (const d of ['int32', 'int64', 'uint8', 'bool'] as DType[]) {
      const o = empty(d, src.length);
      be.copy(view(f, [src.length]), view(o, [src.length]));
      close(t, read(view(o, [src.length])), f.vals.map((v) => fromStored(d, toStored(d, v))), `float32 -> ${d} (truncation, non-finite -> 0 for integers)`);
    }
    const ints = buf('int32', [-300, -1, 0, 1, 255, 256, 70000]);
    for (const d of ['float32', 'int64', 'uint8', 'bool'] as DType[]) {
      const o = empty(d, 7);
      be.copy(view(ints, [7]), view(o, [7]));
      close(t, read(view(o, [7])), ints.vals.map((v) => fromStored(d, toStored(d, v))), `int32 -> ${d}`);
    }
    const bools = buf('bool', [1, 0, 1]);
    for (const d of ['float32', 'int32', 'uint8'] as DType[]) {
      const o = empty(d, 3);
      be.copy(view(bools, [3]), view(o, [3]));
      close(t, read(view(o, [3])), [1, 0, 1], `bool -> ${d}`);
    }
    const u8 = buf('uint8', [0, 7, 255]);
    const ub = empty('bool', 3);
    be.copy(view(u8, [3]), view(ub, [3]));
    close(t, read(view(ub, [3])), [0, 1, 1], 'uint8 -> bool');
    if (hasF16) {
      const h = empty('float16', src.length);
      be.copy(view(f, [src.length]), view(h, [src.length]));
      close(t, read(view(h, [src.length])), f.vals.map((v) => fromStored('float16', f32ToF16(v))), 'float32 -> float16');
      const back = empty('float32', src.length);
      be.copy(view(h, [src.length]), view(back, [src.length]));
      close(t, read(view(back, [src.length])), f.vals.map((v) => fromStored('float16', f32ToF16(v))), 'float16 -> float32');
    }
    // strided copies: transpose materialisation, broadcast source, strided destination
    const m = buf('float32', Array.from({ length: 12 }, (_, i) => i));
    const tr = empty('float32', 12);
    be.copy(view(m, [4, 3], [1, 4]), view(tr, [4, 3]));
    close(t, read(view(tr, [12])), hostValues(view(m, [4, 3], [1, 4])), 'transpose copy');
    const bc = empty('float32', 12);
    be.copy(view(m, [4, 3], [0, 1], 3), view(bc, [4, 3], [1, 4]));
    close(t, read(view(bc, [3, 4])), [3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5], 'broadcast source into a transposed destination');
    // a 10-d view with mergeable dims works; an unmergeable one is rejected synchronously
    const big = buf('float32', Array.from({ length: 1024 }, (_, i) => i));
    const o10 = empty('float32', 1024);
    be.copy(view(big, new Array(10).fill(2)), view(o10, new Array(10).fill(2)));
    close(t, read(view(o10, [1024])), big.vals, '10-d contiguous copy');
    const rev = new Array(10).fill(0).map((_, i) => 2 ** i); // every dim reversed: nothing merges
    t.throws(() => be.copy(view(big, new Array(10).fill(2), rev), view(o10, new Array(10).fill(2))), ShapeError, 'more than 8 unmergeable dims');
  });

  t.test('elementwise float32 ops vs a JS reference', async (t) => {
    const R = 5, C = 7;
    const ops: [string, number][] = [
      ...Object.keys(UNARY).map((o) => [o, 1] as [string, number]),
      ...Object.keys(BINARY).map((o) => [o, 2] as [string, number]),
      ...Object.keys(TERNARY).map((o) => [o, 3] as [string, number]),
    ];
    for (const [op, arity] of ops) {
      const ref = reference(op);
      const [rtol, atol] = tolerance(op);
      const outDtype: DType = isBoolOp(op) ? 'bool' : 'float32';
      const inDtype = (k: number): DType => (op === 'where' && k === 0 ? 'bool' : 'float32');
      const gen = (k: number, n: number) => {
        const [lo, hi] = domain(op, k);
        return Array.from({ length: n }, () => (inDtype(k) === 'bool' ? (rand() < 0.5 ? 0 : 1) : randIn(lo, hi)));
      };
      // operands as contiguous, broadcast (0-stride) and transposed views
      const layouts: Record<string, (k: number) => TView> = {
        contiguous: (k) => view(buf(inDtype(k), gen(k, R * C)), [R, C]),
        broadcast: (k) => (k % 2 === 0 ? view(buf(inDtype(k), gen(k, C)), [R, C], [0, 1]) : view(buf(inDtype(k), gen(k, R)), [R, C], [1, 0])),
        transposed: (k) => view(buf(inDtype(k), gen(k, R * C + 3)), [R, C], [1, R], 3),
      };
      const results: string[] = [];
      for (const [name, mk] of Object.entries(layouts)) {
        const ins = Array.from({ length: arity }, (_, k) => mk(k));
        const outTransposed = name === 'transposed';
        const ob = empty(outDtype, R * C);
        const out = outTransposed ? view(ob, [R, C], [1, R]) : view(ob, [R, C]);
        if (arity === 1) be.unary(op as never, ins[0], out);
        else if (arity === 2) be.binary(op as never, ins[0], ins[1], out);
        else be.ternary(op as never, ins[0], ins[1], ins[2], out);
        const xs = ins.map(hostValues);
        const exp = xs[0].map((_, i) => {
          const r = ref(xs[0][i], xs[1]?.[i] ?? 0, xs[2]?.[i] ?? 0);
          return outDtype === 'bool' ? (r ? 1 : 0) : Math.fround(r);
        });
        const act = read(out);
        const m = mismatch(act, exp, rtol, atol);
        if (m) results.push(`${name}: ${m}`);
      }
      t.ok(results.length === 0, `${op}${results.length ? ': ' + results.join('; ') : ''}`);
    }
  });

  t.test('elementwise special values (NaN, infinities, signed zero)', async (t) => {
    const xs = [NaN, Infinity, -Infinity, 0, -0, 1, -1, 2.5];
    const ys = [1, NaN, 2, -Infinity, 0, NaN, 3, -2.5];
    const x = buf('float32', xs), y = buf('float32', ys);
    for (const op of ['maximum', 'minimum', 'add', 'mul', 'eq', 'ne', 'lt', 'ge', 'logicalAnd', 'logicalOr', 'reluBackward'] as const) {
      const ref = reference(op);
      const od: DType = isBoolOp(op) ? 'bool' : 'float32';
      const o = empty(od, 8);
      be.binary(op, view(x, [8]), view(y, [8]), view(o, [8]));
      close(t, read(view(o, [8])), xs.map((a, i) => { const r = ref(a, ys[i], 0); return od === 'bool' ? (r ? 1 : 0) : r; }), `${op} with specials`);
    }
    for (const op of ['isnan', 'isfinite', 'relu', 'sign', 'abs', 'neg', 'logicalNot', 'sigmoid', 'exp', 'tanh'] as const) {
      const ref = reference(op);
      const od: DType = isBoolOp(op) ? 'bool' : 'float32';
      const o = empty(od, 8);
      be.unary(op, view(x, [8]), view(o, [8]));
      close(t, read(view(o, [8])), xs.map((a) => { const r = ref(a, 0, 0); return od === 'bool' ? (r ? 1 : 0) : r; }), `${op} with specials`, 1e-6);
    }
    const o = empty('float32', 4);
    be.binary('pow', view(buf('float32', [-2, -2, 0, 5]), [4]), view(buf('float32', [3, 2, 0, 0]), [4]), view(o, [4]));
    close(t, read(view(o, [4])), [-8, 4, 1, 1], 'pow with negative bases and zero exponents');
  });

  t.test('elementwise integer and bool ops', async (t) => {
    const xs = [-7, -3, -1, 0, 1, 2, 5, 100, 2147483647, -2147483648, 46341, 3];
    const ys = [2, 3, -4, 5, 1, -2, 3, 7, 1, 1, 46341, 0];
    for (const d of ['int32', 'int64'] as DType[]) {
      const x = buf(d, xs), y = buf(d, ys);
      const wrap = (v: number) => v | 0;
      const cases: [string, (a: number, b: number) => number][] = [
        ['add', (a, b) => wrap(a + b)], ['sub', (a, b) => wrap(a - b)], ['mul', (a, b) => Math.imul(a, b)],
        ['maximum', Math.max], ['minimum', Math.min], ['eq', (a, b) => +(a === b)], ['lt', (a, b) => +(a < b)],
        ['ge', (a, b) => +(a >= b)], ['logicalAnd', (a, b) => +(a !== 0 && b !== 0)],
      ];
      for (const [op, f] of cases) {
        const od: DType = isBoolOp(op) ? 'bool' : d;
        const o = empty(od, xs.length);
        be.binary(op as never, view(x, [xs.length]), view(y, [xs.length]), view(o, [xs.length]));
        close(t, read(view(o, [xs.length])), xs.map((a, i) => f(a, ys[i])), `${d} ${op} (exact, wrapping)`);
      }
      const small = buf(d, [-7, -3, 3, 7, 2, -2]), div = buf(d, [2, 2, -2, 5, 10, 3]);
      const o = empty(d, 6);
      be.binary('remainder', view(small, [6]), view(div, [6]), view(o, [6]));
      close(t, read(view(o, [6])), [1, 1, -1, 2, 2, 1], `${d} remainder (floor semantics)`);
      be.binary('fmod', view(small, [6]), view(div, [6]), view(o, [6]));
      close(t, read(view(o, [6])), [-1, -1, 1, 2, 2, -2], `${d} fmod (truncated)`);
      const big = buf(d, [2147483647, -2147483647]), bd = buf(d, [2, 3]);
      be.binary('remainder', view(big, [2]), view(bd, [2]), view(o, [2]));
      close(t, read(view(o, [2])), [1, 2], `${d} remainder is exact beyond float32 precision`);
      be.binary('pow', view(small, [6]), view(buf(d, [2, 3, 0, 2, 10, -1]), [6]), view(o, [6]));
      close(t, read(view(o, [6])), [49, -27, 1, 49, 1024, 0], `${d} pow (integer)`);
      for (const [op, f] of [['neg', (a: number) => -a], ['abs', Math.abs], ['sign', Math.sign], ['square', (a: number) => a * a], ['relu', (a: number) => Math.max(a, 0)]] as const) {
        const v = [-5, -1, 0, 3, 9];
        const o2 = empty(d, 5);
        be.unary(op as never, view(buf(d, v), [5]), view(o2, [5]));
        close(t, read(view(o2, [5])), v.map((a) => f(a) + 0), `${d} ${op}`);
      }
    }
    // where with int operands and a broadcast bool condition
    const c = buf('bool', [1, 0, 1]);
    const a = buf('int32', [1, 2, 3, 4, 5, 6]), b = buf('int32', [-1, -2, -3, -4, -5, -6]);
    const o = empty('int32', 6);
    be.ternary('where', view(c, [2, 3], [0, 1]), view(a, [2, 3]), view(b, [2, 3]), view(o, [2, 3]));
    close(t, read(view(o, [6])), [1, -2, 3, 4, -5, 6], 'where (int32, broadcast condition)');
    const u = buf('uint8', [250, 10, 0]), u2 = buf('uint8', [10, 250, 1]);
    const uo = empty('uint8', 3);
    be.binary('add', view(u, [3]), view(u2, [3]), view(uo, [3]));
    close(t, read(view(uo, [3])), [4, 4, 1], 'uint8 add wraps');
    be.binary('sub', view(u2, [3]), view(u, [3]), view(uo, [3]));
    close(t, read(view(uo, [3])), [16, 240, 1], 'uint8 sub wraps');
    const bo = empty('bool', 3);
    be.binary('logicalOr', view(buf('bool', [0, 0, 1]), [3]), view(buf('bool', [0, 1, 0]), [3]), view(bo, [3]));
    close(t, read(view(bo, [3])), [0, 1, 1], 'bool logicalOr');
    if (hasF16) {
      const h = buf('float16', [0.5, -1.25, 3]), h2 = buf('float16', [2, 2, 2]);
      const ho = empty('float16', 3);
      be.binary('mul', view(h, [3]), view(h2, [3]), view(ho, [3]));
      close(t, read(view(ho, [3])), [1, -2.5, 6], 'float16 mul');
      be.unary('exp', view(h, [3]), view(ho, [3]));
      close(t, read(view(ho, [3])), [0.5, -1.25, 3].map((v) => fromStored('float16', f32ToF16(Math.exp(v)))), 'float16 exp', 1e-3);
    }
  });

  t.test('in-place elementwise (output aliases an input)', async (t) => {
    const a = buf('float32', [1, 2, 3, 4]);
    be.binary('mul', view(a, [4]), view(buf('float32', [2, 2, 2, 2]), [4]), view(a, [4]));
    be.unary('neg', view(a, [4]), view(a, [4]));
    close(t, read(view(a, [4])), [-2, -4, -6, -8], 'a = -(a * 2) in place');
    be.binary('add', view(a, [4]), view(a, [4]), view(a, [4]));
    close(t, read(view(a, [4])), [-4, -8, -12, -16], 'a = a + a in place');
  });

  t.test('1-d and 0-d operands (the flat kernel variants)', async (t) => {
    const a = buf('float32', [1, 2, 3, 4, 5]), s = buf('float32', [10]);
    const o = empty('float32', 5);
    be.binary('mul', view(a, [5]), view(s, [5], [0]), view(o, [5]));
    t.same(read(view(o, [5])), [10, 20, 30, 40, 50], 'tensor * broadcast scalar');
    be.binary('sub', view(a, [3], [2], 0), view(a, [3], [1], 2), view(o, [3], [2]));
    t.same(read(view(o, [5])), [-2, 20, -1, 40, 0], 'strided 1-d operands and output');
    const z = empty('float32', 1);
    be.binary('add', view(s, []), view(a, [], [], 4), view(z, []));
    t.same(read(view(z, [])), [15], '0-d operands');
    be.fill(view(o, [5], [0]), 7);
    t.same(read(view(o, [5])), [7, 20, -1, 40, 0], 'fill through a 0-stride view writes one element');
    const g = empty('float32', 3);
    be.gather(view(a, [5]), 0, view(buf('int32', [4, 4, 0]), [3]), view(g, [3]));
    t.same(read(view(g, [3])), [5, 5, 1], '1-d gather');
  });

  t.test('reductions', async (t) => {
    const shape = [4, 5, 70];
    const n = numel(shape);
    const xb = buf('float32', Array.from({ length: n }, () => randIn(-2, 2)));
    const x = view(xb, shape);
    const xt = view(xb, [70, 5, 4], [1, 70, 350]); // fully transposed view
    const refReduce = (op: ReduceOp, v: TView, dims: number[]): number[] => {
      const vals = hostValues(v);
      const kept = v.shape.map((_, d) => d).filter((d) => !dims.includes(d));
      const outShape = kept.map((d) => v.shape[d]);
      const groups: { v: number; i: number }[][] = Array.from({ length: numel(outShape) }, () => []);
      const redShape = dims.map((d) => v.shape[d]);
      [...indices(v.shape)].forEach((idx, q) => {
        let o = 0;
        for (const d of kept) o = o * v.shape[d] + idx[d];
        let r = 0;
        for (const d of dims) r = r * v.shape[d] + idx[d];
        groups[o].push({ v: vals[q], i: r });
      });
      void redShape;
      return groups.map((g) => {
        switch (op) {
          case 'sum': return g.reduce((a, b) => a + b.v, 0);
          case 'prod': return g.reduce((a, b) => a * b.v, 1);
          case 'max': return g.some((e) => Number.isNaN(e.v)) ? NaN : Math.max(...g.map((e) => e.v));
          case 'min': return g.some((e) => Number.isNaN(e.v)) ? NaN : Math.min(...g.map((e) => e.v));
          case 'argmax': case 'argmin': {
            let best = 0;
            for (let k = 1; k < g.length; k++) {
              const a = g[k].v, b = g[best].v;
              if (Number.isNaN(b)) break;
              if (Number.isNaN(a) || (op === 'argmax' ? a > b : a < b)) best = k;
            }
            return g[best].i;
          }
        }
      });
    };
    const dimsCases: [TView, number[], string][] = [
      [x, [2], 'last dim (70, one workgroup per output)'], [x, [1], 'middle dim (5, one thread per output)'], [x, [0, 2], 'dims 0 and 2'],
      [x, [0, 1, 2], 'all dims'], [xt, [0], 'transposed view, dim 0'], [xt, [1, 2], 'transposed view, dims 1 and 2'],
    ];
    for (const op of ['sum', 'prod', 'max', 'min'] as ReduceOp[]) {
      for (const [v, dims, what] of dimsCases) {
        const outShape = v.shape.filter((_, d) => !dims.includes(d));
        const o = empty('float32', numel(outShape));
        be.reduce(op, v, dims, view(o, outShape));
        const exp = refReduce(op, v, dims).map(Math.fround);
        close(t, read(view(o, outShape)), exp, `${op} over ${what}`, op === 'prod' ? 1e-4 : 1e-5, op === 'sum' ? 1e-4 : 1e-30);
      }
    }
    for (const op of ['argmax', 'argmin'] as ReduceOp[]) {
      for (const [v, dims, what] of dimsCases.filter((c) => c[1].length === 1)) {
        const outShape = v.shape.filter((_, d) => !dims.includes(d));
        const o = empty('int64', numel(outShape));
        be.reduce(op, v, dims, view(o, outShape));
        close(t, read(view(o, outShape)), refReduce(op, v, dims), `${op} over ${what}`);
      }
    }
    // ties pick the first occurrence; NaN wins and propagates
    for (const len of [6, 300]) {
      const vals = new Array(len).fill(1);
      vals[3] = 5; vals[len - 2] = 5; vals[1] = -5; vals[len - 1] = -5;
      const v = view(buf('float32', vals), [len]);
      const o = empty('int64', 1);
      be.reduce('argmax', v, [0], view(o, []));
      t.same(read(view(o, [])), [3], `argmax tie -> first (n=${len})`);
      be.reduce('argmin', v, [0], view(o, []));
      t.same(read(view(o, [])), [1], `argmin tie -> first (n=${len})`);
      vals[len - 3] = NaN; vals[len - 4] = NaN;
      const w = view(buf('float32', vals), [len]);
      for (const op of ['argmax', 'argmin'] as ReduceOp[]) {
        be.reduce(op, w, [0], view(o, []));
        t.same(read(view(o, [])), [len - 4], `${op} -> first NaN (n=${len})`);
      }
      const f = empty('float32', 1);
      for (const op of ['max', 'min', 'sum'] as ReduceOp[]) {
        be.reduce(op, w, [0], view(f, []));
        t.ok(Number.isNaN(read(view(f, []))[0]), `${op} propagates NaN (n=${len})`);
      }
    }
    // integer and bool sums accumulate into int64; empty reductions give the identity
    const ib = buf('int32', Array.from({ length: 200 }, (_, i) => (i % 2 ? 1000000 : -999999)));
    const io = empty('int64', 2);
    be.reduce('sum', view(ib, [2, 100]), [1], view(io, [2]));
    const isum = (off: number) => Array.from({ length: 100 }, (_, i) => ((i + off) % 2 ? 1000000 : -999999)).reduce((a, b) => a + b, 0);
    t.same(read(view(io, [2])), [isum(0), isum(100)], 'int32 sum -> int64');
    const bb = buf('bool', [1, 0, 1, 1, 1, 0]);
    be.reduce('sum', view(bb, [2, 3]), [1], view(io, [2]));
    t.same(read(view(io, [2])), [2, 2], 'bool sum -> int64');
    const imax = empty('int32', 1);
    be.reduce('max', view(buf('int32', [-5, -2147483648, 7, 3]), [4]), [0], view(imax, []));
    t.same(read(view(imax, [])), [7], 'int32 max');
    const e = empty('float32', 3);
    const ez = empty('float32', 1);
    be.reduce('sum', view(ez, [3, 0], [0, 1]), [1], view(e, [3]));
    t.same(read(view(e, [3])), [0, 0, 0], 'empty sum is 0');
    be.reduce('prod', view(ez, [3, 0], [0, 1]), [1], view(e, [3]));
    t.same(read(view(e, [3])), [1, 1, 1], 'empty prod is 1');
    // a long reduction
    const longVals = Array.from({ length: 100000 }, () => randIn(0, 1));
    const lo = empty('float32', 1);
    be.reduce('sum', view(buf('float32', longVals), [100000]), [0], view(lo, []));
    close(t, read(view(lo, [])), [longVals.reduce((a, b) => a + b, 0)], 'sum of 100000', 1e-5);
  });

  t.test('cumsum', async (t) => {
    const ref = (v: TView, dim: number): number[] => {
      const vals = hostValues(v);
      const st = contiguous(v.shape);
      const out = vals.slice();
      [...indices(v.shape)].forEach((idx, q) => { if (idx[dim] > 0) out[q] = out[q - st[dim]] + vals[q]; });
      return out;
    };
    const xb = buf('float32', Array.from({ length: 37 * 300 }, () => randIn(-1, 1)));
    for (const [v, dim, what] of [[view(xb, [37, 300]), 1, 'rows of 300'], [view(xb, [37, 300]), 0, 'columns of 37'], [view(xb, [300, 37], [1, 300]), 1, 'transposed view']] as [TView, number, string][]) {
      const o = empty('float32', numel(v.shape));
      be.cumsum(v, dim, view(o, [...v.shape]));
      close(t, read(view(o, [...v.shape])), ref(v, dim), `float32 cumsum over ${what}`, 1e-4, 1e-4);
    }
    const long = buf('float32', Array.from({ length: 20000 }, () => randIn(0, 1)));
    const lo = empty('float32', 20000);
    be.cumsum(view(long, [20000]), 0, view(lo, [20000]));
    close(t, read(view(lo, [20000])), ref(view(long, [20000]), 0), 'one long row', 1e-5, 1e-3);
    const ib = buf('int32', [1, 2, 3, 4, 5, 6]);
    const io = empty('int64', 6);
    be.cumsum(view(ib, [2, 3]), 1, view(io, [2, 3]));
    t.same(read(view(io, [6])), [1, 3, 6, 4, 9, 15], 'int32 -> int64 cumsum');
    be.cumsum(view(ib, [2, 3]), 0, view(ib, [2, 3]));
    t.same(read(view(ib, [6])), [1, 2, 3, 5, 7, 9], 'in-place cumsum');
  });

  t.test('matmul', async (t) => {
    const naive = (a: TView, b: TView): number[] => {
      const [B, M, K] = a.shape, N = b.shape[2];
      const av = hostValues(a), bv = hostValues(b);
      const out: number[] = [];
      for (let q = 0; q < B; q++) for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += av[q * M * K + i * K + k] * bv[q * K * N + k * N + j];
        out.push(s);
      }
      return out;
    };
    const rnd = (n: number) => buf('float32', Array.from({ length: n }, () => randIn(-1, 1)));
    const cases: [string, TView, TView][] = [];
    cases.push(['[3,33,17] @ [3,17,65]', view(rnd(3 * 33 * 17), [3, 33, 17]), view(rnd(3 * 17 * 65), [3, 17, 65])]);
    cases.push(['transposed a and b', view(rnd(2 * 40 * 30), [2, 30, 40], [1200, 1, 30]), view(rnd(2 * 50 * 40), [2, 40, 50], [2000, 1, 40])]);
    cases.push(['broadcast batch of b', view(rnd(4 * 5 * 6), [4, 5, 6]), view(rnd(6 * 7), [4, 6, 7], [0, 7, 1])]);
    cases.push(['offset views', view(rnd(1 * 64 * 64 + 5), [1, 64, 64], [0, 64, 1], 5), view(rnd(64 * 130), [1, 64, 129], [0, 130, 1], 1)]);
    cases.push(['1x1', view(rnd(1), [1, 1, 1]), view(rnd(1), [1, 1, 1])]);
    cases.push(['K = 0', view(rnd(1), [2, 3, 0], [0, 0, 1]), view(rnd(1), [2, 0, 4], [0, 4, 1])]);
    for (const [what, a, b] of cases) {
      const [B, M] = a.shape, N = b.shape[2];
      const o = empty('float32', B * M * N);
      be.matmul(a, b, view(o, [B, M, N]));
      close(t, read(view(o, [B, M, N])), naive(a, b), `matmul ${what}`, 1e-4, 1e-5);
    }
    if (hasF16) {
      const a = buf('float16', [1, 2, 3, 4]), b = buf('float16', [0.5, 1, 1.5, 2]);
      const o = empty('float16', 4);
      be.matmul(view(a, [1, 2, 2]), view(b, [1, 2, 2]), view(o, [1, 2, 2]));
      t.same(read(view(o, [4])), [3.5, 5, 7.5, 11], 'float16 matmul');
    }
  });

  t.test('gather and scatter', async (t) => {
    const xb = buf('float32', Array.from({ length: 12 }, (_, i) => i * 10));
    const x = view(xb, [3, 4]);
    for (const idt of ['int64', 'int32'] as DType[]) {
      const idx = buf(idt, [2, 0, 1, 1, 0, 0]);
      const o = empty('float32', 6);
      be.gather(x, 0, view(idx, [2, 3]), view(o, [2, 3]));
      t.same(read(view(o, [6])), [80, 10, 60, 40, 10, 20], `gather dim 0 (${idt} index)`);
      be.gather(x, 1, view(idx, [3, 2]), view(o, [3, 2]));
      t.same(read(view(o, [6])), [20, 0, 50, 50, 80, 80], `gather dim 1 (${idt} index)`);
    }
    const xtv = view(xb, [4, 3], [1, 4]);
    const o = empty('float32', 4);
    be.gather(xtv, 1, view(buf('int64', [2, 0, 1, 2]), [4, 1]), view(o, [4, 1]));
    t.same(read(view(o, [4])), [80, 10, 60, 110], 'gather from a transposed view');
    // scatter without accumulation (unique targets) and with accumulation (duplicates)
    const out = buf('float32', new Array(12).fill(0));
    be.scatter(view(out, [3, 4]), 1, view(buf('int64', [3, 0, 1, 2]), [2, 2]), view(buf('float32', [1, 2, 3, 4, 5, 6]), [2, 3]), false);
    t.same(read(view(out, [12])), [2, 0, 0, 1, 0, 4, 5, 0, 0, 0, 0, 0], 'scatter dim 1 (src larger than index)');
    const acc = buf('float32', new Array(4).fill(0.5));
    const many = 3000;
    const idx = Array.from({ length: many }, (_, i) => i % 4);
    const src = Array.from({ length: many }, (_, i) => (i % 7) * 0.25);
    be.scatter(view(acc, [4]), 0, view(buf('int64', idx), [many]), view(buf('float32', src), [many]), true);
    const expAcc = [0.5, 0.5, 0.5, 0.5];
    idx.forEach((j, i) => { expAcc[j] += src[i]; });
    close(t, read(view(acc, [4])), expAcc, 'scatter-add float32 with 750 duplicates per target', 1e-6);
    const iacc = buf('int32', [0, 0, 100]);
    be.scatter(view(iacc, [3]), 0, view(buf('int32', [0, 2, 0, 2, 1]), [5]), view(buf('int32', [1, -2, 3, -4, 5]), [5]), true);
    t.same(read(view(iacc, [3])), [4, 5, 94], 'scatter-add int32');
    const uacc = buf('uint8', [250, 0]);
    be.scatter(view(uacc, [2]), 0, view(buf('int64', [0, 0, 1]), [3]), view(buf('uint8', [3, 4, 9]), [3]), true);
    t.same(read(view(uacc, [2])), [1, 9], 'scatter-add uint8 wraps');
    if (hasF16) {
      const hacc = buf('float16', [0, 0, 0]);
      be.scatter(view(hacc, [3]), 0, view(buf('int64', [0, 1, 2, 1, 0, 2, 2]), [7]), view(buf('float16', [1, 2, 3, 4, 5, 6, 7]), [7]), true);
      t.same(read(view(hacc, [3])), [6, 6, 16], 'scatter-add float16 (two halves per word)');
    }
    // out-of-range indices throw IndexError at the call, before anything is written
    const bad = buf('float32', [-1, -1]);
    t.throws(() => be.gather(x, 1, view(buf('int64', [1, 4]), [1, 2]), view(bad, [1, 2])), { name: 'IndexError', message: /index 4 is out of bounds for dimension 1 with size 4/ }, 'gather with index 4 of 4');
    t.same(read(view(bad, [2])), [-1, -1], 'nothing was written');
    const before = read(view(out, [12]));
    t.throws(() => be.scatter(view(out, [3, 4]), 0, view(buf('int64', [0, -1]), [1, 2]), view(buf('float32', [1, 2]), [1, 2]), false), { name: 'IndexError', message: /index -1 is out of bounds for dimension 0 with size 3/ }, 'scatter with index -1');
    t.throws(() => be.scatter(view(out, [3, 4]), 0, view(buf('int32', [3]), [1, 1]), view(buf('float32', [1]), [1, 1]), true), IndexError, 'scatter-add with index 3 of 3');
    t.same(read(view(out, [12])), before, 'scatter left the output untouched');
    await be.synchronize!();
    t.pass('no error is left pending afterwards');
  });

  t.test('sort', async (t) => {
    const refSort = (vals: number[], desc: boolean): { v: number[]; i: number[] } => {
      const idx = vals.map((_, i) => i);
      const key = (a: number) => (Number.isNaN(a) ? Infinity : a);
      idx.sort((a, b) => {
        const na = Number.isNaN(vals[a]), nb = Number.isNaN(vals[b]);
        if (na || nb) return na && nb ? a - b : (na ? 1 : -1) * (desc ? -1 : 1);
        const d = desc ? key(vals[b]) - key(vals[a]) : key(vals[a]) - key(vals[b]);
        return d !== 0 ? d : a - b;
      });
      return { v: idx.map((i) => vals[i]), i: idx };
    };
    for (const len of [1, 2, 5, 64, 100, 1000]) {
      for (const desc of [false, true]) {
        const vals = Array.from({ length: 3 * len }, () => Math.fround(Math.round(randIn(-5, 5) * 2) / 2)); // many ties
        if (len > 2) { vals[1] = NaN; vals[len + 2] = NaN; vals[len + 3] = NaN; }
        const b = buf('float32', vals);
        const v = empty('float32', 3 * len), ix = empty('int64', 3 * len);
        be.sort(view(b, [3, len]), 1, desc, view(v, [3, len]), view(ix, [3, len]));
        const ev: number[] = [], ei: number[] = [];
        for (let r = 0; r < 3; r++) {
          const s = refSort(b.vals.slice(r * len, (r + 1) * len), desc);
          ev.push(...s.v); ei.push(...s.i);
        }
        close(t, read(view(v, [3 * len])), ev, `sort values, rows of ${len}, ${desc ? 'descending' : 'ascending'}`);
        t.same(read(view(ix, [3 * len])), ei, `sort indices (stable), rows of ${len}, ${desc ? 'descending' : 'ascending'}`);
      }
    }
    // along dim 0 of a transposed view, and int32
    const vals = [5, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8];
    const b = buf('int32', vals);
    const x = view(b, [4, 3], [1, 4]); // x[i][j] = vals[j * 4 + i]
    const v = empty('int32', 12), ix = empty('int64', 12);
    be.sort(x, 0, false, view(v, [4, 3]), view(ix, [4, 3]));
    const cols = [0, 1, 2].map((j) => refSort([0, 1, 2, 3].map((i) => vals[j * 4 + i]), false));
    const ev: number[] = [], ei: number[] = [];
    for (let i = 0; i < 4; i++) for (let j = 0; j < 3; j++) { ev.push(cols[j].v[i]); ei.push(cols[j].i[i]); }
    t.same(read(view(v, [12])), ev, 'int32 sort along dim 0 of a transposed view (values)');
    t.same(read(view(ix, [12])), ei, 'int32 sort along dim 0 of a transposed view (indices)');
  });

  t.test('float16 compute (when supported)', { skip: hasF16 ? false : "the adapter lacks 'shader-f16'" }, async (t) => {
    const vals = [3, -1, 0.5, 2, -1, 7];
    const h = buf('float16', vals);
    const s = empty('float16', 2);
    be.reduce('sum', view(h, [2, 3]), [1], view(s, [2]));
    t.same(read(view(s, [2])), [2.5, 8], 'float16 sum');
    const am = empty('int64', 1);
    be.reduce('argmax', view(h, [6]), [0], view(am, []));
    t.same(read(view(am, [])), [5], 'float16 argmax');
    const v = empty('float16', 6), ix = empty('int64', 6);
    be.sort(view(h, [6]), 0, false, view(v, [6]), view(ix, [6]));
    t.same(read(view(v, [6])), [-1, -1, 0.5, 2, 3, 7], 'float16 sort values');
    t.same(read(view(ix, [6])), [1, 4, 2, 3, 0, 5], 'float16 sort indices (stable)');
    const c = empty('float16', 6);
    be.cumsum(view(h, [6]), 0, view(c, [6]));
    t.same(read(view(c, [6])), [3, 2, 2.5, 4.5, 3.5, 10.5], 'float16 cumsum');
    const g = empty('float16', 3);
    be.gather(view(h, [6]), 0, view(buf('int64', [5, 0, 2]), [3]), view(g, [3]));
    t.same(read(view(g, [3])), [7, 3, 0.5], 'float16 gather');
  });

  t.test('ordering of host writes, kernels and reads', async (t) => {
    const a = buf('float32', [1, 2, 3, 4]);
    const o = empty('float32', 4);
    be.unary('neg', view(a, [4]), view(o, [4])); // queued: reads the old contents of a
    be.write(a.handle, 'float32', new Float32Array([10, 20, 30, 40]), 0);
    be.binary('add', view(o, [4]), view(a, [4]), view(o, [4])); // sees the new contents
    t.same(read(view(o, [4])), [9, 18, 27, 36], 'a kernel queued before a write sees the old data, one after sees the new');
    be.fill(view(a, [4]), 5);
    be.write(a.handle, 'float32', new Float32Array([6]), 2);
    t.same(await be.read(view(a, [4])), new Float32Array([5, 5, 6, 5]), 'a write after a queued fill wins');
    const reads = [be.read(view(a, [1])), be.read(view(a, [2], [1], 2))];
    be.fill(view(a, [4]), 0);
    const [r1, r2] = await Promise.all(reads);
    t.same([...r1, ...r2], [5, 6, 5], 'reads capture the data at the time they were issued');
  });

  t.test('memory: pool statistics, emptyCache, limits, op names', async (t) => {
    const x = empty('float32', 100000);
    be.free(x.handle, 100000, 'float32');
    const before = webgpuMemoryStats();
    t.ok(before.pooledBytes >= 400000, 'a freed buffer is pooled');
    webgpuEmptyCache();
    const after = webgpuMemoryStats();
    t.equal(after.pooledBytes, 0, 'emptyCache destroys pooled buffers');
    t.ok(after.buffers < before.buffers, 'fewer device buffers after emptyCache');
    t.ok(after.pipelines > 0 && after.dispatches > 0 && after.submits > 0, 'counters are reported');
    t.throws(() => be.alloc(2 ** 31, 'float32'), /largest buffer/, 'a tensor beyond the binding limit is rejected synchronously');
    const a = view(empty('float32', 2), [2]);
    t.throws(() => be.unary('nosuchop' as never, a, a), /no unary elementwise op named/);
    t.throws(() => be.binary('neg' as never, a, a, a), /no binary elementwise op named/);
    t.throws(() => be.copy(a, { ...a, handle: new Float32Array(2) }), /not a buffer of this webgpu device/);
    const freed = empty('float32', 2);
    be.free(freed.handle, 2, 'float32');
    t.throws(() => read(view(freed, [2])), /already freed/);
  });

  t.test('batching and backpressure: many small kernels, then one read', async (t) => {
    const a = buf('float32', [1]);
    const o = view(empty('float32', 1), [1]);
    be.copy(view(a, [1]), o);
    const t0 = performance.now();
    for (let i = 0; i < 6000; i++) be.binary('add', o, view(a, [1]), o);
    const queued = performance.now() - t0;
    t.same(read(o), [6001], '6000 chained in-place adds (posting blocks while more than ~4000 are in flight)');
    t.comment(`6000 adds queued in ${queued.toFixed(1)} ms; total with readback ${(performance.now() - t0).toFixed(1)} ms`);
    const t1 = performance.now();
    for (let i = 0; i < 50; i++) read(o);
    t.comment(`readSync round trip: ${((performance.now() - t1) / 50).toFixed(3)} ms`);
  });

  t.test('host copies: reads of host-written data need no device round trip', async (t) => {
    setWebGPUHostCopies(true);
    try {
      const b = buf('int64', [3, 1, 4, 1, 5, 9]);
      const d0 = drains();
      t.same(read(view(b, [6])), [3, 1, 4, 1, 5, 9], 'a written buffer');
      t.same(read(view(b, [2, 2], [1, 2], 1)), [1, 1, 4, 5], 'a strided view of it');
      t.same(read(view(empty('float32', 3), [3])), [0, 0, 0], 'a fresh (zeroed) buffer');
      t.same([...(await be.read(view(b, [2], [1], 4)))], [5, 9], 'async reads too');
      be.write(b.handle, 'int64', new Float64Array([-2]), 2);
      be.fill(view(b, [2], [3], 1), 7);
      const known = read(view(b, [6]));
      t.equal(drains(), d0, 'none of these waited for the device');
      setWebGPUHostCopies(false);
      t.same(read(view(b, [6])), known, 'after a partial write and a strided fill, the host copy equals the device');
      setWebGPUHostCopies(true);
      t.same(known, [3, 7, -2, 1, 7, 9]);
      be.unary('neg', view(b, [6]), view(b, [6]));
      const dn = drains();
      t.same(read(view(b, [6])), [-3, -7, 2, -1, -7, -9], 'a kernel writing the buffer drops the host copy');
      t.equal(drains(), dn + 1, 'that read went to the device');
      const big = buf('float32', new Array(20000).fill(1.5));
      const d1 = drains();
      t.same(read(view(big, [2])), [1.5, 1.5], 'large buffers keep no host copy');
      t.equal(drains(), d1 + 1);
    } finally {
      setWebGPUHostCopies(false);
    }
  });

  t.test('index checks: indices known to be in range skip the device round trip', async (t) => {
    const x = view(buf('float32', Array.from({ length: 12 }, (_, i) => i)), [3, 4]);
    const o = view(empty('float32', 6), [3, 2]);
    const hostIdx = view(buf('int64', [3, 0, 2, 2, 1, 0]), [3, 2]);
    let d0 = drains();
    be.gather(x, 1, hostIdx, o);
    t.same(read(o), [3, 0, 6, 6, 9, 8], 'gather with indices written from the host');
    t.equal(drains(), d0 + 1, 'only the read waited for the device');
    // argmax results and where() of known ranges are known too
    const am = view(empty('int64', 3), [3, 1]);
    be.reduce('argmax', x, [1], view(am.buf, [3]));
    const zeros = view(empty('int64', 3), [3, 1]);
    const mask = view(buf('bool', [1, 0, 1]), [3, 1]);
    const w = view(empty('int64', 3), [3, 1]);
    be.ternary('where', mask, am, zeros, w);
    const o2 = view(empty('float32', 3), [3, 1]);
    d0 = drains();
    be.gather(x, 1, am, o2);
    be.gather(x, 1, w, o2);
    be.scatter(view(empty('float32', 12), [3, 4]), 1, w, o2, true);
    t.equal(drains(), d0, 'argmax, where and scatter-add with them: no device round trip');
    t.same(read(o2), [3, 4, 11], 'gathered through where(mask, argmax, 0)');
    // computed indices are checked on the device: in range they pass, out of range they throw
    const one = view(buf('int64', [1]), [3, 1], [0, 0]);
    const shifted = view(empty('int64', 3), [3, 1]);
    be.binary('add', zeros, one, shifted);
    d0 = drains();
    be.gather(x, 1, shifted, o2);
    t.equal(drains(), d0 + 1, 'a computed index is checked on the device');
    t.same(read(o2), [1, 5, 9], 'and gathers correctly');
    be.binary('add', am, one, shifted);
    t.throws(() => be.gather(x, 1, shifted, o2), { name: 'IndexError', message: /index 4 is out of bounds for dimension 1 with size 4/ }, 'argmax + 1 reaches 4');
    // an index buffer reused after a kernel wrote values the host does not know
    const idx2 = buf('int32', [0, 1]);
    be.binary('mul', view(idx2, [2]), view(buf('int32', [13]), [2], [0]), view(idx2, [2]));
    t.throws(() => be.gather(view(x.buf, [12]), 0, view(idx2, [2]), view(empty('float32', 2), [2])), { name: 'IndexError', message: /index 13 is out of bounds/ }, 'a kernel-written index is not trusted');
    t.throws(() => be.gather(view(x.buf, [12]), 0, view(buf('int64', [12]), [1]), view(empty('float32', 1), [1])), IndexError, 'a host index out of range still throws');
    await be.synchronize!();
  });

  t.test('allocUninit: a pooled buffer is reused without clearing, then fully written', async (t) => {
    const a = buf('float32', [1, 2, 3, 4, 5, 6, 7, 8]);
    be.free(a.handle, 8, 'float32');
    const u = { handle: be.allocUninit!(8, 'float32'), dtype: 'float32' as DType, vals: [] as number[] };
    const src = buf('float32', [8, 7, 6, 5, 4, 3, 2, 1]);
    be.copy(view(src, [8]), view(u, [8]));
    t.same(read(view(u, [8])), [8, 7, 6, 5, 4, 3, 2, 1], 'written as any buffer');
    const ui = { handle: be.allocUninit!(4, 'int64'), dtype: 'int64' as DType, vals: [] as number[] };
    be.binary('add', view(buf('int64', [1, 2, 3, 4]), [4]), view(buf('int64', [0]), [4], [0]), view(ui, [4]));
    const d0 = drains();
    be.gather(view(src, [8]), 0, view(ui, [4]), view(empty('float32', 4), [4]));
    t.equal(drains(), d0 + 1, 'indices in an uninitialised buffer written by a kernel are checked on the device');
    const uh = { handle: be.allocUninit!(3, 'int64'), dtype: 'int64' as DType, vals: [] as number[] };
    be.write(uh.handle, 'int64', Float64Array.from([7, 0, 3]), 0);
    const d1 = drains();
    const og = view(empty('float32', 3), [3]);
    be.gather(view(src, [8]), 0, view(uh, [3]), og);
    t.equal(drains(), d1, 'indices the host wrote over all of it are known');
    t.same(read(og), [1, 8, 5]);
  });

  t.test('fused Adam step equals the cpu update', async (t) => {
    const n = 1000;
    const rnd = (lo: number, hi: number) => Array.from({ length: n }, () => randIn(lo, hi));
    const variants: [string, { weightDecay: number; decoupled: boolean; maximize: boolean; amsgrad: boolean; beta1: number }][] = [
      ['Adam', { weightDecay: 0, decoupled: false, maximize: false, amsgrad: false, beta1: 0.9 }],
      ['Adam weight decay, maximize', { weightDecay: 0.1, decoupled: false, maximize: true, amsgrad: false, beta1: 0.9 }],
      ['AdamW amsgrad', { weightDecay: 0.01, decoupled: true, maximize: false, amsgrad: true, beta1: 0.3 }],
    ];
    for (const [what, v] of variants) {
      const P = rnd(-1, 1), G = rnd(-1, 1), M = rnd(-0.1, 0.1), V = rnd(0, 0.01), X = rnd(0, 0.02);
      const views = { param: buf('float32', P), grad: buf('float32', G), expAvg: buf('float32', M), expAvgSq: buf('float32', V), max: buf('float32', X) };
      const step = 3, lr = 0.01, beta2 = 0.999;
      const args = { lr, beta1: v.beta1, beta2, eps: 1e-8, weightDecay: v.weightDecay, decoupled: v.decoupled, maximize: v.maximize,
        stepSize: lr / (1 - v.beta1 ** step), bc2Sqrt: Math.sqrt(1 - beta2 ** step) };
      const ok = be.adamStep!({ param: view(views.param, [n]), grad: view(views.grad, [n]), expAvg: view(views.expAvg, [n]), expAvgSq: view(views.expAvgSq, [n]),
        maxExpAvgSq: v.amsgrad ? view(views.max, [n]) : null }, args);
      t.ok(ok, `${what}: taken`);
      const [hp, hg, hm, hv, hx] = [P, G, M, V, X].map((a) => Float32Array.from(a));
      adamKernel(n, hp, 0, hg, 0, hm, 0, hv, 0, v.amsgrad ? hx : null, 0, args);
      close(t, read(view(views.param, [n])), [...hp], `${what}: parameters`, 1e-5, 1e-7);
      // the cpu computes in doubles, the device in float32
      close(t, read(view(views.expAvg, [n])), [...hm], `${what}: first moments`, 1e-5, 1e-8);
      close(t, read(view(views.expAvgSq, [n])), [...hv], `${what}: second moments`, 1e-5, 1e-10);
      if (v.amsgrad) close(t, read(view(views.max, [n])), [...hx], `${what}: max second moments`, 1e-5, 1e-10);
    }
    const p = buf('float32', [1, 2, 3, 4]), g = buf('float32', [1, 1, 1, 1]);
    const args = { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupled: false, maximize: false, stepSize: 1, bc2Sqrt: 1 };
    const mk = () => view(empty('float32', 4), [4]);
    t.equal(be.adamStep!({ param: view(p, [2, 2], [1, 2]), grad: view(g, [2, 2], [1, 2]), expAvg: view(empty('float32', 4), [2, 2]), expAvgSq: view(empty('float32', 4), [2, 2]), maxExpAvgSq: null }, args),
      false, 'a non-contiguous parameter is left to the tensor ops');
    t.equal(be.adamStep!({ param: view(p, [4]), grad: view(buf('int32', [1, 1, 1, 1]), [4]), expAvg: mk(), expAvgSq: mk(), maxExpAvgSq: null }, args), false, 'mixed dtypes are refused');
    const shared = mk();
    t.equal(be.adamStep!({ param: view(p, [4]), grad: view(g, [4]), expAvg: shared, expAvgSq: shared, maxExpAvgSq: null }, args), false, 'state sharing one buffer is refused');
    t.same(read(view(p, [4])), [1, 2, 3, 4], 'refused steps change nothing');
  });
});
