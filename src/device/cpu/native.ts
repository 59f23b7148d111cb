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
import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DType } from '../../dtype.js';

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
 * overhead, a JS loop about 1 ns per element for arithmetic and 5-20 ns for exp/tanh/erf.
 */
const MIN_CHEAP = 4096;
const MIN_TRANSCENDENTAL = 256;

type Ptr = ArrayBufferView;
interface Lib {
  unary: (dt: number, op: number, x: Ptr, xo: number, y: Ptr, yo: number, n: number) => number;
  binary: (dt: number, op: number, mode: number, x: Ptr, xo: number, y: Ptr, yo: number, o: Ptr, oo: number, n: number) => number;
  reduceRows: (dt: number, op: number, x: Ptr, xo: number, o: Ptr, oo: number, rows: number, n: number) => number;
  softmaxRows: (dt: number, log: number, x: Ptr, xo: number, o: Ptr, oo: number, rows: number, n: number) => number;
  copy2d: (es: number, src: Ptr, so: number, rs: number, cs: number, dst: Ptr, dof: number, rows: number, cols: number) => number;
  setNumThreads: (n: number) => void;
  path: string;
}

const ABI_VERSION = 1;
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
  const here = dirname(fileURLToPath(import.meta.url));
  // src/device/cpu/ in a checkout, dist/ in a build: look upwards for prebuilds/
  const roots = [join(here, '..', '..', '..'), join(here, '..'), here];
  const dir = roots.map((r) => join(r, 'prebuilds', `${process.platform}-${process.arch}`)).find((d) => existsSync(d));
  if (!dir) return [];
  const out: string[] = [];
  if (process.arch === 'x64') {
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
  let koffi: any;
  try {
    koffi = createRequire(import.meta.url)('koffi');
  } catch (e) {
    loadError = `koffi is not available (${(e as Error).message})`;
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
        reduceRows: so.func('int tl_reduce_rows(int, int, const void *, int64_t, void *, int64_t, int64_t, int64_t)'),
        softmaxRows: so.func('int tl_softmax_rows(int, int, const void *, int64_t, void *, int64_t, int64_t, int64_t)'),
        copy2d: so.func('int tl_copy2d(int, const void *, int64_t, int64_t, int64_t, void *, int64_t, int64_t, int64_t)'),
        setNumThreads: so.func('void tl_set_num_threads(int)'),
        path,
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

/** Softmax (or log-softmax) of `rows` contiguous rows of n elements; false when not handled. */
export function nativeSoftmaxRows(log: boolean, dtype: DType, x: Ptr, xo: number, out: Ptr, oo: number, rows: number, n: number): boolean {
  if (rows * n < MIN_TRANSCENDENTAL || n < 1) return false;
  const dt = dtypeCode(dtype);
  if (dt < 0) return false;
  const l = load();
  return l !== null && l.softmaxRows(dt, log ? 1 : 0, x, xo, out, oo, rows, n) === 1;
}

/** dst[do + r*cols + c] = src[so + r*rs + c*cs] (contiguous destination); false when not handled. */
export function nativeCopy2d(itemsize: number, src: Ptr, so: number, rs: number, cs: number, dst: Ptr, dof: number, rows: number, cols: number): boolean {
  if (!enabled || rows * cols < MIN_CHEAP) return false;
  const l = load();
  return l !== null && l.copy2d(itemsize, src, so, rs, cs, dst, dof, rows, cols) === 1;
}
