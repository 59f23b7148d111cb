/**
 * Optional native kernels for the cpu device (native/kernels.c, prebuilt into
 * prebuilds/<platform>-<arch>/): vectorised, multithreaded elementwise ops, row reductions,
 * softmax rows and strided copies over contiguous float32/float64 data.
 *
 * Loaded lazily through koffi on first use. Installs never compile anything: when there is no
 * prebuilt library for this platform, it fails to load, or TORCHLET_NO_NATIVE=1, every caller
 * falls back to the JS kernels (which are the reference: the native ones match them exactly
 * for exact ops and to a few ulp for float32 transcendental functions).
 */
import { getKoffi, koffiLoadError } from '../koffi.js';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DType, HostArray } from '../../dtype.js';

/** Unary op codes of native/kernels.c (same order as its U_* enum). */
const UNARY_CODES: Record<string, number> = {
  neg: 0, abs: 1, exp: 2, log: 3, sqrt: 4, rsqrt: 5, tanh: 6, sigmoid: 7, relu: 8, gelu: 9, silu: 10,
  erf: 11, reciprocal: 12, square: 13, softplus: 14,
};
/** Unary ops with a float64 native kernel (those that are exact, so results equal the JS ones). */
const UNARY_F64 = new Set(['neg', 'abs', 'sqrt', 'rsqrt', 'reciprocal', 'square', 'relu']);
/** Unary ops whose kernels are compute-heavy: worth a native call from fewer elements on. */
const TRANSCENDENTAL = new Set(['exp', 'log', 'tanh', 'sigmoid', 'gelu', 'silu', 'erf', 'softplus']);

/** Binary op codes (B_* enum). */
const BINARY_CODES: Record<string, number> = {
  add: 0, sub: 1, mul: 2, div: 3, maximum: 4, minimum: 5, reluBackward: 6, sigmoidBackward: 7,
  tanhBackward: 8, geluBackward: 9, siluBackward: 10,
};
const BINARY_F32_ONLY = new Set(['geluBackward', 'siluBackward']);

/**
 * Below these element counts the JS kernels win: a native call costs a few hundred ns of FFI
 * overhead, a JS loop about 2 ns per element for arithmetic (measured on the ops themselves:
 * neg/add/mul, sums over all, rows or columns, a transposing copy; the native kernel is ahead
 * from ~128 elements, 1.5-4x ahead at 1-2K: a 2048-element mul 6.8 -> 1.9 us, a column sum
 * 8.5 -> 1.7 us) and 5-20 ns for exp/tanh/erf (native ahead from ~64 elements: 128-element tanh
 * 2.0 -> 0.9 us). Softmax rows go native at any size: the JS composite is five ops (~7 us for 16
 * elements, against ~1.7 us).
 */
const MIN_CHEAP = 128;
const MIN_TRANSCENDENTAL = 64;

type Ptr = ArrayBufferView;
interface Lib {
  unary: (dt: number, op: number, x: Ptr, xo: number, y: Ptr, yo: number, n: number) => number;
  binary: (dt: number, op: number, mode: number, x: Ptr, xo: number, y: Ptr, yo: number, o: Ptr, oo: number, n: number) => number;
  unaryNd: (dt: number, op: number, dims: Float64Array, x: Ptr, xo: number, o: Ptr, oo: number) => number;
  binaryNd: (dt: number, op: number, dims: Float64Array, x: Ptr, xo: number, y: Ptr, yo: number, o: Ptr, oo: number) => number;
  reduceRows: (dt: number, op: number, x: Ptr, xo: number, o: Ptr, oo: number, rows: number, n: number) => number;
  reduceAxes: (dt: number, op: number, x: Ptr, xo: number, o: Ptr, oo: number, A: number, K: number, B: number) => number;
  softmaxRows: (dt: number, log: number, x: Ptr, xo: number, o: Ptr, oo: number, rows: number, n: number) => number;
  copy2d: (es: number, src: Ptr, so: number, rs: number, cs: number, dst: Ptr, dof: number, rows: number, cols: number) => number;
  fill: (es: number, dst: Ptr | HostArray, dof: number, n: number, pattern: Uint8Array) => number;
  im2col: (dt: number, geom: Float64Array, x: Ptr, d: Ptr) => number;
  col2im: (dt: number, geom: Float64Array, cols: Ptr, out: Ptr) => number;
  maxpool: (dt: number, geom: Float64Array, x: Ptr, values: Ptr, indices: Ptr) => number;
  maxpoolBackward: (dt: number, geom: Float64Array, grad: Ptr, indices: Ptr, out: Ptr) => number;
  adam: (dt: number, n: number, hp: Float64Array, P: Ptr, po: number, G: Ptr, go: number, M: Ptr, mo: number, V: Ptr, vo: number, MX: Ptr, xo: number) => number;
  setNumThreads: (n: number) => void;
  path: string;
  /** the koffi library handle (kept for the life of the process; optional kernels are bound from it) */
  so: { func: (decl: string) => unknown };
}

const ABI_VERSION = 8;
let lib: Lib | null | undefined; // undefined: not tried yet
let loadError: string | null = null;
let pendingThreads: number | null = null;

/** CPU flags from /proc/cpuinfo (empty when unreadable). */
function cpuFlags(): Set<string> {
  try {
    const m = /^flags\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    return new Set(m ? m[1].split(/\s+/) : []);
  } catch {
    return new Set();
  }
}

/** Candidate library files, best first: the x86-64-v3 (AVX2/FMA) build when the cpu has those features. */
function candidates(): string[] {
  // TORCHLET_NATIVE_LIB=/path/to.so loads that build instead (profiling with symbols, testing a rebuild)
  if (process.env.TORCHLET_NATIVE_LIB) return [process.env.TORCHLET_NATIVE_LIB];
  const here = dirname(fileURLToPath(import.meta.url));
  // src/device/cpu/ in a checkout, dist/ in a build: look upwards for prebuilds/
  const roots = [join(here, '..', '..', '..'), join(here, '..'), here];
  const dir = roots.map((r) => join(r, 'prebuilds', `${process.platform}-${process.arch}`)).find((d) => existsSync(d));
  if (!dir) return [];
  const out: string[] = [];
  // TORCHLET_NATIVE_VARIANT=baseline skips the v3 build (to test the baseline one on any cpu)
  if (process.arch === 'x64' && process.env.TORCHLET_NATIVE_VARIANT !== 'baseline') {
    const f = cpuFlags();
    const v3 = ['avx2', 'fma', 'bmi1', 'bmi2', 'f16c', 'movbe'].every((x) => f.has(x)) && (f.has('abm') || f.has('lzcnt'));
    if (v3) out.push(join(dir, 'libtorchlet_kernels_v3.so'));
  }
  out.push(join(dir, 'libtorchlet_kernels.so'));
  return out.filter((p) => existsSync(p));
}

function load(): Lib | null {
  if (lib !== undefined) return lib;
  lib = null;
  if (process.env.TORCHLET_NO_NATIVE === '1') {
    loadError = 'disabled by TORCHLET_NO_NATIVE=1';
    return lib;
  }
  const koffi: any = getKoffi();
  if (!koffi) {
    loadError = koffiLoadError();
    return lib;
  }
  const paths = candidates();
  if (paths.length === 0) loadError = `no prebuilt native kernels for ${process.platform}-${process.arch}`;
  for (const path of paths) {
    try {
      const so = koffi.load(path);
      const version = so.func('int tl_abi_version(void)')();
      if (version !== ABI_VERSION) throw new Error(`ABI version ${version}, expected ${ABI_VERSION}`);
      lib = {
        unary: so.func('int tl_unary(int, int, const void *, int64_t, void *, int64_t, int64_t)'),
        binary: so.func('int tl_binary(int, int, int, const void *, int64_t, const void *, int64_t, void *, int64_t, int64_t)'),
        unaryNd: so.func('int tl_unary_nd(int, int, const double *, const void *, int64_t, void *, int64_t)'),
        binaryNd: so.func('int tl_binary_nd(int, int, const double *, const void *, int64_t, const void *, int64_t, void *, int64_t)'),
        reduceRows: so.func('int tl_reduce_rows(int, int, const void *, int64_t, void *, int64_t, int64_t, int64_t)'),
        reduceAxes: so.func('int tl_reduce_axes(int, int, const void *, int64_t, void *, int64_t, int64_t, int64_t, int64_t)'),
        softmaxRows: so.func('int tl_softmax_rows(int, int, const void *, int64_t, void *, int64_t, int64_t, int64_t)'),
        copy2d: so.func('int tl_copy2d(int, const void *, int64_t, int64_t, int64_t, void *, int64_t, int64_t, int64_t)'),
        fill: so.func('int tl_fill(int, void *, int64_t, int64_t, const void *)'),
        im2col: so.func('int tl_im2col(int, const double *, const void *, void *)'),
        col2im: so.func('int tl_col2im(int, const double *, const void *, void *)'),
        maxpool: so.func('int tl_maxpool(int, const double *, const void *, void *, void *)'),
        maxpoolBackward: so.func('int tl_maxpool_backward(int, const double *, const void *, const void *, void *)'),
        adam: so.func('int tl_adam(int, int64_t, const double *, void *, int64_t, const void *, int64_t, void *, int64_t, void *, int64_t, void *, int64_t)'),
        setNumThreads: so.func('void tl_set_num_threads(int)'),
        path,
        so,
      };
      if (pendingThreads !== null) lib.setNumThreads(pendingThreads);
      loadError = null;
      return lib;
    } catch (e) {
      loadError = `${path}: ${(e as Error).message}`;
    }
  }
  return lib;
}

/** Which native kernels the cpu device uses, or why none. */
export function nativeInfo(): { loaded: boolean; library?: string; reason?: string } {
  const l = load();
  return l ? { loaded: true, library: l.path } : { loaded: false, reason: loadError ?? 'not loaded' };
}

/** Threads for large native ops (the caller included). */
export function setNativeThreads(n: number): void {
  pendingThreads = n;
  if (lib) lib.setNumThreads(n);
}

let enabled = true;
/** Turns the native kernels off (JS kernels only) or back on; for tests and comparisons. */
export function setNativeEnabled(on: boolean): void { enabled = on; }

const dtypeCode = (d: DType): number => (!enabled ? -1 : d === 'float32' ? 0 : d === 'float64' ? 1 : -1);

/**
 * y[yo..yo+n) = op(x[xo..xo+n)) natively when worthwhile; false (nothing done) otherwise.
 * x and y are contiguous runs of one float dtype.
 */
export function nativeUnary(op: string, dtype: DType, x: Ptr, xo: number, y: Ptr, yo: number, n: number): boolean {
  const code = UNARY_CODES[op];
  if (code === undefined || n < (TRANSCENDENTAL.has(op) ? MIN_TRANSCENDENTAL : MIN_CHEAP)) return false;
  const dt = dtypeCode(dtype);
  if (dt < 0 || (dt === 1 && !UNARY_F64.has(op))) return false;
  const l = load();
  return l !== null && l.unary(dt, code, x, xo, y, yo, n) === 1;
}

/**
 * out = op(x, y) over n contiguous elements; mode 1: x is a single broadcast value at xo,
 * mode 2: y is. False (nothing done) when there is no native kernel or n is small.
 */
export function nativeBinary(op: string, dtype: DType, mode: number, x: Ptr, xo: number, y: Ptr, yo: number, out: Ptr, oo: number, n: number): boolean {
  const code = BINARY_CODES[op];
  if (code === undefined || n < (code >= 9 ? MIN_TRANSCENDENTAL : MIN_CHEAP)) return false;
  const dt = dtypeCode(dtype);
  if (dt < 0 || (dt === 1 && BINARY_F32_ONLY.has(op))) return false;
  const l = load();
  return l !== null && l.binary(dt, code, mode, x, xo, y, yo, out, oo, n) === 1;
}

const ndBuf = new Float64Array(1 + 4 * 12);
/**
 * The n-d layout as the native unaryNd/binaryNd read it: [nd, shape, then each operand's
 * strides] for the first `operands` stride lists (out first). One shared buffer: the call that
 * reads it runs synchronously, before anything can pack the next layout.
 */
function packNd(shape: readonly number[], strides: readonly (readonly number[])[], operands: number): Float64Array {
  const nd = shape.length;
  const b = ndBuf;
  b[0] = nd;
  for (let i = 0; i < nd; i++) b[1 + i] = shape[i];
  for (let k = 0; k < operands; k++)
    for (let i = 0; i < nd; i++) b[1 + (k + 1) * nd + i] = strides[k][i];
  return b;
}
/**
 * y = op(x) over a layout already reordered and coalesced (strided.ts planLoops): `strides`
 * lists out's and x's strides for `shape`; the innermost dim must be contiguous in both.
 */
export function nativeUnaryNd(op: string, dtype: DType, shape: readonly number[], strides: readonly (readonly number[])[],
  x: Ptr, xo: number, out: Ptr, oo: number): boolean {
  const code = UNARY_CODES[op];
  const nd = shape.length;
  if (code === undefined || nd > 12 || shape[nd - 1] < 8) return false;
  let n = 1;
  for (let i = 0; i < nd; i++) n *= shape[i];
  if (n < (TRANSCENDENTAL.has(op) ? MIN_TRANSCENDENTAL : MIN_CHEAP)) return false;
  const dt = dtypeCode(dtype);
  if (dt < 0 || (dt === 1 && !UNARY_F64.has(op))) return false;
  const l = load();
  if (l === null) return false;
  return l.unaryNd(dt, code, packNd(shape, strides, 2), x, xo, out, oo) === 1;
}
/**
 * out = op(x, y) over a broadcasting layout already reordered and coalesced (strided.ts
 * planLoops): `strides` lists out's, x's and y's strides for `shape`. The innermost dim must be
 * contiguous in out and contiguous or broadcast in each input. False when not handled.
 */
export function nativeBinaryNd(op: string, dtype: DType, shape: readonly number[], strides: readonly (readonly number[])[],
  x: Ptr, xo: number, y: Ptr, yo: number, out: Ptr, oo: number): boolean {
  const code = BINARY_CODES[op];
  const nd = shape.length;
  if (code === undefined || nd > 12) return false;
  let n = 1;
  for (let i = 0; i < nd; i++) n *= shape[i];
  if (n < (code >= 9 ? MIN_TRANSCENDENTAL : MIN_CHEAP) || shape[nd - 1] < 8) return false;
  const dt = dtypeCode(dtype);
  if (dt < 0 || (dt === 1 && BINARY_F32_ONLY.has(op))) return false;
  const l = load();
  if (l === null) return false;
  return l.binaryNd(dt, code, packNd(shape, strides, 3), x, xo, y, yo, out, oo) === 1;
}

const REDUCE_CODES: Record<string, number> = { sum: 0, max: 1, min: 2 };

/** out[oo + r] = op(row r) for `rows` contiguous rows of n elements; false when not handled. */
export function nativeReduceRows(op: string, dtype: DType, x: Ptr, xo: number, out: Ptr, oo: number, rows: number, n: number): boolean {
  const code = REDUCE_CODES[op];
  if (code === undefined || rows * n < MIN_CHEAP || n < 1) return false;
  const dt = dtypeCode(dtype);
  if (dt < 0) return false;
  const l = load();
  return l !== null && l.reduceRows(dt, code, x, xo, out, oo, rows, n) === 1;
}

/**
 * out[oo + k] = op over a < A, b < B of x[xo + (a*K + k)*B + b]: the reduction of a contiguous
 * tensor over leading and trailing dims that keeps the middle ones. False when not handled
 * (B must be 1 or at least 16).
 */
export function nativeReduceAxes(op: string, dtype: DType, x: Ptr, xo: number, out: Ptr, oo: number, A: number, K: number, B: number): boolean {
  const code = REDUCE_CODES[op];
  if (code === undefined || A * K * B < MIN_CHEAP || (B !== 1 && B < 16)) return false;
  const dt = dtypeCode(dtype);
  if (dt < 0) return false;
  const l = load();
  return l !== null && l.reduceAxes(dt, code, x, xo, out, oo, A, K, B) === 1;
}

/** Softmax (or log-softmax) of `rows` contiguous rows of n elements; false when not handled. */
export function nativeSoftmaxRows(log: boolean, dtype: DType, x: Ptr, xo: number, out: Ptr, oo: number, rows: number, n: number): boolean {
  if (n < 1) return false;
  const dt = dtypeCode(dtype);
  if (dt < 0) return false;
  const l = load();
  return l !== null && l.softmaxRows(dt, log ? 1 : 0, x, xo, out, oo, rows, n) === 1;
}

/** Fills below this many bytes stay TypedArray.fill (one thread, no call overhead). */
const FILL_NATIVE_BYTES = 1 << 20;
/**
 * dst[start .. end) = value on the native pool, for large fills (zeros/ones/full tensors, the
 * zero-filled allocations, a broadcast scalar made contiguous); false when not handled (small,
 * or no library), and the caller uses TypedArray.fill. V8's fill runs on one thread at ~33 GB/s.
 */
export function nativeFill(dst: HostArray, start: number, end: number, value: number): boolean {
  const es = dst.BYTES_PER_ELEMENT;
  if (!enabled || (end - start) * es < FILL_NATIVE_BYTES) return false;
  const l = load();
  if (l === null) return false;
  const one = new (dst.constructor as new (n: number) => HostArray)(1);
  one[0] = value;
  return l.fill(es, dst, start, end - start, new Uint8Array(one.buffer, 0, es)) === 1;
}

/** dst[do + r*cols + c] = src[so + r*rs + c*cs] (contiguous destination); false when not handled. */
export function nativeCopy2d(itemsize: number, src: Ptr, so: number, rs: number, cs: number, dst: Ptr, dof: number, rows: number, cols: number): boolean {
  if (!enabled || rows * cols < MIN_CHEAP) return false;
  const l = load();
  return l !== null && l.copy2d(itemsize, src, so, rs, cs, dst, dof, rows, cols) === 1;
}

// ---------------------------------------------------------------- windows (conv / pooling)

/** Window geometry as windows.ts describes it, plus the strides of the two arrays involved. */
export interface NativeWindow {
  N: number; C: number; H: number; W: number; kh: number; kw: number; sh: number; sw: number;
  dh: number; dw: number; pt: number; pl: number; OH: number; OW: number;
}
const geomBuf = new Float64Array(27);
/** Packs the geometry in native/kernels.c's win_geom order. */
function packGeom(g: NativeWindow, src: readonly number[], dst: readonly number[], pad: number): Float64Array {
  const b = geomBuf;
  b[0] = g.N; b[1] = g.C; b[2] = g.H; b[3] = g.W; b[4] = g.kh; b[5] = g.kw; b[6] = g.sh; b[7] = g.sw;
  b[8] = g.dh; b[9] = g.dw; b[10] = g.pt; b[11] = g.pl; b[12] = g.OH; b[13] = g.OW;
  for (let i = 0; i < 5; i++) b[14 + i] = src[i];
  for (let i = 0; i < 7; i++) b[19 + i] = dst[i];
  b[26] = pad;
  return b;
}
const MIN_WINDOW_WORK = 16384;

/**
 * im2col: windows of x (offset, strides N C H W in `xs`) into d (offset, strides N C KH KW OH OW
 * in `ds`), padding reads `pad`. False (nothing done) when not handled.
 */
export function nativeIm2col(dtype: DType, g: NativeWindow, x: Ptr, xs: readonly number[], d: Ptr, ds: readonly number[], pad: number): boolean {
  const dt = dtypeCode(dtype);
  if (dt < 0 || g.N * g.C * g.kh * g.kw * g.OH * g.OW < MIN_WINDOW_WORK) return false;
  const l = load();
  return l !== null && l.im2col(dt, packGeom(g, xs, ds, pad), x, d) === 1;
}
/** col2im into the zero-filled contiguous image `out` (at offset outOffset) from cols (offset, strides in cs). */
export function nativeCol2im(dtype: DType, g: NativeWindow, cols: Ptr, cs: readonly number[], out: Ptr, outOffset: number): boolean {
  const dt = dtypeCode(dtype);
  if (dt < 0 || g.N * g.C * g.kh * g.kw * g.OH * g.OW < MIN_WINDOW_WORK) return false;
  const l = load();
  return l !== null && l.col2im(dt, packGeom(g, [outOffset, 0, 0, 0, 0], cs, 0), cols, out) === 1;
}
/** Max pooling into contiguous values/indices (offsets vo, io); x's offset and strides in xs. */
export function nativeMaxPool(dtype: DType, g: NativeWindow, x: Ptr, xs: readonly number[], values: Ptr, vo: number, indices: Float64Array, io: number): boolean {
  const dt = dtypeCode(dtype);
  if (dt < 0 || g.N * g.C * g.kh * g.kw * g.OH * g.OW < MIN_WINDOW_WORK) return false;
  const l = load();
  return l !== null && l.maxpool(dt, packGeom(g, xs, [vo, io, 0, 0, 0, 0, 0], 0), x, values, indices) === 1;
}
/** Max-pool backward: contiguous grad (offset go) added at indices (offset io) into the zeroed contiguous out (offset oo). */
export function nativeMaxPoolBackward(dtype: DType, g: NativeWindow, grad: Ptr, go: number, indices: Float64Array, io: number, out: Ptr, oo: number): boolean {
  const dt = dtypeCode(dtype);
  if (dt < 0 || g.N * g.C * g.OH * g.OW < MIN_WINDOW_WORK) return false;
  const l = load();
  return l !== null && l.maxpoolBackward(dt, packGeom(g, [go, 0, 0, 0, 0], [oo, io, 0, 0, 0, 0, 0], 0), grad, indices, out) === 1;
}

// ---------------------------------------------------------------- fused Adam

const adamBuf = new Float64Array(10);
export interface NativeAdamArgs {
  lr: number; beta1: number; beta2: number; eps: number; weightDecay: number; decoupled: boolean; maximize: boolean;
  stepSize: number; bc2Sqrt: number;
}
/**
 * One fused Adam/AdamW step (src/optim/fused.ts adamKernel's arithmetic: float64 bit for bit;
 * float32 in float32 arithmetic, as PyTorch); false when not handled.
 */
export function nativeAdam(dtype: DType, n: number, P: Ptr, po: number, G: Ptr, go: number, M: Ptr, mo: number, V: Ptr, vo: number,
  MX: Ptr | null, xo: number, a: NativeAdamArgs): boolean {
  const dt = dtypeCode(dtype);
  if (dt < 0 || n < 1024) return false;
  const l = load();
  if (l === null) return false;
  const h = adamBuf;
  h[0] = a.lr; h[1] = a.beta1; h[2] = a.beta2; h[3] = a.eps; h[4] = a.weightDecay; h[5] = a.decoupled ? 1 : 0;
  h[6] = a.maximize ? 1 : 0; h[7] = a.stepSize; h[8] = a.bc2Sqrt; h[9] = MX ? 1 : 0;
  return l.adam(dt, n, h, P, po, G, go, M, mo, V, vo, MX ?? P, xo) === 1;
}

/**
 * Kernels that an older build of the library may lack, bound from the loaded library by name
 * (declarations in koffi's C syntax): null when there is no library or any of them is missing,
 * so callers run their composite or JS path instead.
 */
function bindOptional<T>(decls: { [K in keyof T]: string }): T | null {
  const l = load();
  if (!l) return null;
  try {
    const out = {} as Record<string, unknown>;
    for (const [k, decl] of Object.entries(decls) as [string, string][]) out[k] = l.so.func(decl);
    return out as T;
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------- batch normalization with batch statistics

type BnTrainFn = (dt: number, N: number, C: number, S: number, x: Ptr, xo: number, y: Ptr, yo: number, w: Ptr | null, wo: number,
  b: Ptr | null, bo: number, eps: number, mean: Ptr, mo: number, v: Ptr, vo: number) => number;
let bnTrain: { fn: BnTrainFn } | null | undefined;
function loadBnTrain(): BnTrainFn | null {
  if (bnTrain === undefined) {
    bnTrain = bindOptional<{ fn: BnTrainFn }>({
      fn: 'int tl_batchnorm_train(int, int64_t, int64_t, int64_t, const void *, int64_t, void *, int64_t, const void *, int64_t, const void *, int64_t, double, void *, int64_t, void *, int64_t)',
    });
  }
  return bnTrain?.fn ?? null;
}
/**
 * Training-mode batch normalization of x (contiguous [N, C, S] from offset xo) into y (same
 * layout, offset yo) by the batch's own per-channel statistics: y = (x - mean) w / sqrt(var + eps)
 * + b (w, b: length C, or null). The statistics go to mean and v (biased variance; length C).
 * False (nothing done) when there is no native kernel.
 */
export function nativeBatchNormTrain(dtype: DType, N: number, C: number, S: number, x: Ptr, xo: number, y: Ptr, yo: number,
  w: Ptr | null, wo: number, b: Ptr | null, bo: number, eps: number, mean: Ptr, mo: number, v: Ptr, vo: number): boolean {
  const dt = dtypeCode(dtype);
  if (dt < 0 || N * C * S < 4096) return false;
  const f = loadBnTrain();
  return f !== null && f(dt, N, C, S, x, xo, y, yo, w, wo, b, bo, eps, mean, mo, v, vo) === 1;
}

// ---------------------------------------------------------------- fused LSTM cell (native/rnn.inc.c; used by src/nn/rnn.ts)

interface LstmLib {
  fwd: (dt: number, N: number, H: number, gz: number, gates: Ptr, go: number, xp: Ptr, xo: number, xs: number, cp: Ptr, cpo: number,
    c: Ptr, co: number, h: Ptr, ho: number, hs: number, h2: Ptr | null, h2o: number, h2s: number) => number;
  bwd: (dt: number, N: number, H: number, gates: Ptr, go: number, c: Ptr, co: number, cp: Ptr, cpo: number, gout: Ptr, goo: number, gos: number,
    dhn: Ptr, dho: number, dc: Ptr, dco: number, dG: Ptr, dgo: number, dgs: number) => number;
}
let lstmLib: LstmLib | null | undefined;
function loadLstm(): LstmLib | null {
  if (lstmLib === undefined) {
    lstmLib = bindOptional<LstmLib>({
      fwd: 'int tl_lstm_fwd(int, int64_t, int64_t, int, void *, int64_t, const void *, int64_t, int64_t, const void *, int64_t, void *, int64_t, void *, int64_t, int64_t, void *, int64_t, int64_t)',
      bwd: 'int tl_lstm_bwd(int, int64_t, int64_t, const void *, int64_t, const void *, int64_t, const void *, int64_t, const void *, int64_t, int64_t, const void *, int64_t, void *, int64_t, void *, int64_t, int64_t)',
    });
  }
  return lstmLib;
}

/**
 * One LSTM step forward over N rows of H units (gates/xp rows of 4H, others of H; xs and hs the
 * row strides of xp and h, the other arrays' rows contiguous): gates (holding h_{t-1} W_hh^T)
 * += xp, activated in place (i, f, g, o), then c and h (and a copy of h in h2 when not null,
 * row stride h2s); gz: gates' contents are taken as zero. False (nothing done) when there is no
 * native kernel.
 */
export function nativeLstmForward(dtype: DType, N: number, H: number, gz: boolean, gates: Ptr, go: number, xp: Ptr, xo: number, xs: number,
  cp: Ptr, cpo: number, c: Ptr, co: number, h: Ptr, ho: number, hs: number, h2: Ptr | null, h2o: number, h2s: number): boolean {
  const dt = dtypeCode(dtype);
  if (dt < 0) return false;
  const l = loadLstm();
  return l !== null && l.fwd(dt, N, H, gz ? 1 : 0, gates, go, xp, xo, xs, cp, cpo, c, co, h, ho, hs, h2, h2o, h2s) === 1;
}

/**
 * One LSTM step backward: dh = gout + dhn; dc (in: from the next step, out: for c_prev); dG the
 * pre-activation gate gradients (gos and dgs the row strides of gout and dG). False (nothing
 * done) when there is no native kernel.
 */
export function nativeLstmBackward(dtype: DType, N: number, H: number, gates: Ptr, go: number, c: Ptr, co: number, cp: Ptr, cpo: number,
  gout: Ptr, goo: number, gos: number, dhn: Ptr, dho: number, dc: Ptr, dco: number, dG: Ptr, dgo: number, dgs: number): boolean {
  const dt = dtypeCode(dtype);
  if (dt < 0) return false;
  const l = loadLstm();
  return l !== null && l.bwd(dt, N, H, gates, go, c, co, cp, cpo, gout, goo, gos, dhn, dho, dc, dco, dG, dgo, dgs) === 1;
}

// ---------------------------------------------------------------- fused conv2d (native/conv.inc.c; behind the cpu backend's conv2d hooks, src/device/cpu/conv.ts)

interface ConvLib {
  blas: (path: string) => number;
  fwd: (dt: number, geom: Float64Array, groups: number, Cout: number, x: Ptr, w: Ptr, b: Ptr | null, out: Ptr) => number;
  bwdData: (dt: number, geom: Float64Array, groups: number, Cout: number, w: Ptr, gy: Ptr, gx: Ptr) => number;
  bwdWeight: (dt: number, geom: Float64Array, groups: number, Cout: number, x: Ptr, gy: Ptr, gw: Ptr, gb: Ptr | null) => number;
  directMaxK: (k: number) => number;
  gemmSplit: (dt: number, ta: number, tb: number, M: number, N: number, K: number, A: Ptr, lda: number,
    B: Ptr, ldb: number, beta: number, C: Ptr, ldc: number) => number;
}
let convLib: ConvLib | null | undefined;
let convBlasPath: string | null = null;
/** The fused convolution kernels bound to the BLAS library at `blasPath` (loaded by matmul.ts), or null. */
function loadConv(blasPath: string): ConvLib | null {
  if (!bindConv()) return null;
  if (convBlasPath !== blasPath) {
    if (convLib!.blas(blasPath) !== 1) return null;
    convBlasPath = blasPath;
  }
  return convLib!;
}
/** The fused convolution kernels' bindings (no BLAS library bound yet), or null. */
function bindConv(): ConvLib | null {
  if (convLib === undefined) {
    convLib = bindOptional<ConvLib>({
      blas: 'int tl_conv_blas(const char *)',
      fwd: 'int tl_conv2d_fwd(int, const double *, int64_t, int64_t, const void *, const void *, const void *, void *)',
      bwdData: 'int tl_conv2d_bwd_data(int, const double *, int64_t, int64_t, const void *, const void *, void *)',
      bwdWeight: 'int tl_conv2d_bwd_weight(int, const double *, int64_t, int64_t, const void *, const void *, void *, void *)',
      directMaxK: 'int tl_conv_direct_max_k(int)',
      gemmSplit: 'int tl_gemm_split(int, int, int, int64_t, int64_t, int64_t, const void *, int64_t, const void *, int64_t, double, void *, int64_t)',
    });
  }
  return convLib;
}

/** Whether the fused convolution kernels can run for this dtype with the BLAS library at `blasPath`. */
export function nativeConvAvailable(dtype: DType, blasPath: string): boolean {
  return dtypeCode(dtype) >= 0 && loadConv(blasPath) !== null;
}
/** Forward: out (contiguous [N, Cout, OH, OW], from offset 0) = conv(x (offset + N C H W strides in xs), w, b). */
export function nativeConv2d(dtype: DType, g: NativeWindow, xs: readonly number[], groups: number, Cout: number,
  x: Ptr, w: Ptr, b: Ptr | null, out: Ptr, blasPath: string): boolean {
  const l = loadConv(blasPath);
  return l !== null && l.fwd(dtypeCode(dtype), packGeom(g, xs, [0, 0, 0, 0, 0, 0, 0], 0), groups, Cout, x, w, b, out) === 1;
}
/**
 * @internal The largest C * kh * kw that the direct float32 kernels take instead of BLAS (k < 0
 * only reads it; 0 sends every convolution to BLAS). Returns the previous value, or -1 when the
 * kernels are not loaded. Tests use it to run both paths.
 */
export function nativeConvDirectMaxK(k: number): number {
  const l = bindConv();
  return l === null ? -1 : l.directMaxK(k);
}
/**
 * Row-major C = op(A) op(B) + beta C (arrays from element 0) as single-threaded BLAS calls
 * on the native pool's threads, one block of C each (native/conv.inc.c: tl_gemm_split). The
 * caller has set OpenBLAS to one thread (blasForNativeCallers). False when not done.
 */
export function nativeGemmSplit(dtype: DType, transA: boolean, transB: boolean, M: number, N: number, K: number,
  A: Ptr, lda: number, B: Ptr, ldb: number, beta: number, C: Ptr, ldc: number, blasPath: string): boolean {
  const l = loadConv(blasPath);
  return l !== null && l.gemmSplit(dtypeCode(dtype), transA ? 1 : 0, transB ? 1 : 0, M, N, K, A, lda, B, ldb, beta, C, ldc) === 1;
}
/** Input gradient: gx (contiguous [N, C, H, W]) from w and gy (both contiguous, from offset 0). */
export function nativeConv2dBackwardData(dtype: DType, g: NativeWindow, groups: number, Cout: number,
  w: Ptr, gy: Ptr, gx: Ptr, blasPath: string): boolean {
  const l = loadConv(blasPath);
  return l !== null && l.bwdData(dtypeCode(dtype), packGeom(g, [0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0], 0), groups, Cout, w, gy, gx) === 1;
}
/** Weight gradient: gw (contiguous) from x (offset + strides in xs) and gy (contiguous, from offset 0); the bias gradient into gb when not null. */
export function nativeConv2dBackwardWeight(dtype: DType, g: NativeWindow, xs: readonly number[], groups: number, Cout: number,
  x: Ptr, gy: Ptr, gw: Ptr, gb: Ptr | null, blasPath: string): boolean {
  const l = loadConv(blasPath);
  return l !== null && l.bwdWeight(dtypeCode(dtype), packGeom(g, xs, [0, 0, 0, 0, 0, 0, 0], 0), groups, Cout, x, gy, gw, gb) === 1;
}
