/**
 * Batched matmul for the cpu device: OpenBLAS sgemm/dgemm through koffi when available,
 * a packed, register-blocked JS GEMM otherwise (and for int64), and an exact wrapping
 * integer kernel for int32/uint8.
 *
 * OpenBLAS is loaded lazily on the first float matmul (or blasInfo/setNumThreads call), so
 * importing torchlet never touches native code it does not need.
 */
import { getKoffi } from '../koffi.js';
import type { View } from '../backend.js';
import type { HostArray } from '../../dtype.js';
import { DTypeError } from '../../errors.js';
import { copyView, fillView } from './copy.js';
import { numelOf } from './strided.js';
import { nativeGemmSplit, setNativeThreads } from './native.js';

// ---------------------------------------------------------------- OpenBLAS binding

type Gemm = (order: number, ta: number, tb: number, m: number, n: number, k: number, alpha: number,
  a: HostArray, lda: number, b: HostArray, ldb: number, beta: number, c: HostArray, ldc: number) => void;

interface Blas {
  library: string;
  sgemm: Gemm;
  dgemm: Gemm;
  setThreads: ((n: number) => void) | null;
}

const ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112;
const LIBRARIES = ['libopenblas.so.0', 'libopenblas.so', 'libblas.so.3'];

let blas: Blas | null | undefined; // undefined: not probed yet
let pendingThreads: number | null = null;

function loadBlas(): Blas | null {
  if (blas !== undefined) return blas;
  blas = null;
  if (process.env.TORCHLET_NO_BLAS === '1') return blas; // forced fallback (CI): no notice
  const koffi: any = getKoffi();
  // OpenBLAS's idle threads spin for 2^28 cycles (~0.1 s) after each threaded GEMM, read once
  // when the library loads. Here they then share the second core with the native pool's work
  // (fused convolutions, elementwise ops) for the whole of a training step: 2^22 cycles (~1 ms)
  // still bridges the gaps between a step's GEMMs, and the benchmark CNN step takes ~15% less
  // CPU time (MLP unchanged or faster). A value the user set is kept.
  if (koffi && process.env.OPENBLAS_THREAD_TIMEOUT === undefined) process.env.OPENBLAS_THREAD_TIMEOUT = '22';
  for (const name of koffi ? LIBRARIES : []) {
    try {
      const lib = koffi.load(name);
      const decl = (t: string) =>
        `void cblas_${t}gemm(int order, int ta, int tb, int m, int n, int k, ${t === 's' ? 'float' : 'double'} alpha, ` +
        `${t === 's' ? 'float' : 'double'} *a, int lda, ${t === 's' ? 'float' : 'double'} *b, int ldb, ` +
        `${t === 's' ? 'float' : 'double'} beta, ${t === 's' ? 'float' : 'double'} *c, int ldc)`;
      const sgemm = lib.func(decl('s')) as Gemm;
      const dgemm = lib.func(decl('d')) as Gemm;
      let setThreads: ((n: number) => void) | null = null;
      try {
        setThreads = lib.func('void openblas_set_num_threads(int n)');
        defaultBlasThreads = Math.max(1, lib.func('int openblas_get_num_threads()')());
      } catch {
        setThreads = null; // not OpenBLAS (e.g. reference BLAS): single threaded anyway
      }
      blas = { library: name, sgemm, dgemm, setThreads };
      if (pendingThreads !== null && setThreads) setThreads(pendingThreads);
      return blas;
    } catch {
      // try the next name
    }
  }
  process.stderr.write('torchlet: OpenBLAS not found (apt-get install libopenblas0-pthread); the cpu device uses a slower JS matmul\n');
  return blas;
}

/**
 * OpenBLAS threads per product: all of them only for large products. A small GEMM split between
 * threads spends more in waking and spin-waiting them than it saves (on a busy 2-core machine an
 * MLP step got slower with 2), and OpenBLAS's own cut-off (~0.26M multiply-adds) is far lower.
 */
const BLAS_PARALLEL_WORK = 2 ** 20;
/**
 * Products from BLAS_PARALLEL_WORK up to SPLIT_MAX_WORK multiply-adds run as one single-threaded
 * GEMM per native pool thread, each on a block of C (native tl_gemm_split), instead of on
 * OpenBLAS's threads: the pool's worker is usually still spinning from the previous op, and two
 * pools on two cores hand the second core back and forth (MLP training step 1.60 -> 1.32 ms,
 * 256^3 0.30 -> 0.25 ms; 512^3 equal). Larger products keep OpenBLAS's threads, which share
 * one packed copy of the operands (1024^3 and 2048^3 were 5-10% slower split).
 */
const SPLIT_MAX_WORK = 2 ** 28;
let splitOn = process.env.TORCHLET_NO_GEMM_SPLIT !== '1';
/** @internal How many products ran split over the pool (tests check the path is taken). */
export let _gemmSplitCalls = 0;
/** @internal Turns the pool split off or on (tests compare both). */
export function _setGemmSplit(on: boolean): void { splitOn = on; }
let blasThreadsNow = -1;
/** OpenBLAS's own thread count when loaded (before any change), for when setNumThreads was never called. */
let defaultBlasThreads = 1;
function blasThreadsFor(lib: Blas, work: number): void {
  if (!lib.setThreads) return;
  const want = work >= BLAS_PARALLEL_WORK ? (pendingThreads ?? defaultBlasThreads) : 1;
  if (want === blasThreadsNow) return;
  lib.setThreads(want);
  blasThreadsNow = want;
}

/** Which GEMM float matmuls on the cpu device use. */
export function blasInfo(): { kind: 'openblas' | 'js'; library?: string } {
  const b = loadBlas();
  return b ? { kind: 'openblas', library: b.library } : { kind: 'js' };
}

/** Sets OpenBLAS's thread count (the JS fallback is single threaded). */
export function setNumThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`setNumThreads: expected a positive integer, got ${n}`);
  pendingThreads = n;
  setNativeThreads(n);
  const b = loadBlas();
  if (b?.setThreads) { b.setThreads(n); blasThreadsNow = n; }
}

/**
 * C = alpha op(A) op(B) + beta C on row-major host arrays at element offsets (BLAS's gemm:
 * op(A) is [M, K], op(B) is [K, N], lda/ldb/ldc the row strides of A, B, C as stored). For
 * callers that manage their own buffers (the fused LSTM); OpenBLAS when loaded, else a plain
 * JS loop (accumulating in double). With beta 0, C is not read. OpenBLAS runs on all its
 * threads from `parallelWork` multiply-adds on (at least matmul's own cut-off), else on one: a
 * chain of small dependent products (a recurrence) loses more to waking and synchronising
 * threads on a busy machine than it gains.
 */
export function gemmRaw(dtype: 'float32' | 'float64', transA: boolean, transB: boolean, M: number, N: number, K: number,
  alpha: number, A: HostArray, ao: number, lda: number, B: HostArray, bo: number, ldb: number,
  beta: number, C: HostArray, co: number, ldc: number, parallelWork = BLAS_PARALLEL_WORK): void {
  if (M === 0 || N === 0) return;
  if (K === 0) {
    for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) C[co + i * ldc + j] = beta === 0 ? 0 : beta * C[co + i * ldc + j];
    return;
  }
  const lib = loadBlas();
  if (lib) {
    const work = M * N * K;
    blasThreadsFor(lib, work >= parallelWork ? Math.max(work, BLAS_PARALLEL_WORK) : 0);
    (dtype === 'float32' ? lib.sgemm : lib.dgemm)(ROW_MAJOR, transA ? TRANS : NO_TRANS, transB ? TRANS : NO_TRANS, M, N, K, alpha,
      ao === 0 ? A : A.subarray(ao), lda, bo === 0 ? B : B.subarray(bo), ldb, beta, co === 0 ? C : C.subarray(co), ldc);
    return;
  }
  // A(i, k) = A[ao + i*ars + k*acs], B(k, j) = B[bo + k*brs + j*bcs]
  const ars = transA ? 1 : lda, acs = transA ? lda : 1, brs = transB ? 1 : ldb, bcs = transB ? ldb : 1;
  const row = new Float64Array(N);
  for (let i = 0; i < M; i++) {
    row.fill(0);
    for (let k = 0; k < K; k++) {
      const a = A[ao + i * ars + k * acs];
      const b0 = bo + k * brs;
      for (let j = 0; j < N; j++) row[j] += a * B[b0 + j * bcs];
    }
    const c0 = co + i * ldc;
    if (beta === 0) for (let j = 0; j < N; j++) C[c0 + j] = alpha * row[j];
    else for (let j = 0; j < N; j++) C[c0 + j] = alpha * row[j] + beta * C[c0 + j];
  }
}

/**
 * For native kernels that call BLAS themselves from their own threads (the fused convolution):
 * the loaded BLAS library's name with OpenBLAS set to one thread (the caller parallelises), or
 * null when float matmul has no BLAS (the JS GEMM).
 */
export function blasForNativeCallers(): string | null {
  const lib = loadBlas();
  if (!lib) return null;
  blasThreadsFor(lib, 0);
  return lib.library;
}

// ---------------------------------------------------------------- matmul entry

/** A [M, K] or [K, N] operand as BLAS sees it: row-major with a leading dim, or transposed. */
function blasOperand(rows: number, cols: number, rs: number, cs: number): { trans: boolean; ld: number } | null {
  if (cs === 1 || cols === 1) {
    const ld = rows === 1 ? Math.max(cols, 1) : rs;
    if (ld >= Math.max(cols, 1)) return { trans: false, ld };
  }
  if (rs === 1 || rows === 1) {
    const ld = cols === 1 ? Math.max(rows, 1) : cs;
    if (ld >= Math.max(rows, 1)) return { trans: true, ld };
  }
  return null;
}

export interface MatmulOptions {
  /** Forces the JS GEMM for float dtypes (tests, TORCHLET_NO_BLAS). */
  noBlas?: boolean;
  /** out += a b instead of out = a b (BLAS's beta = 1); float32/float64 with BLAS only, see canAccumulate. */
  accumulate?: boolean;
}

/** Whether matmul can take { accumulate: true } for this dtype (it needs BLAS). */
export function canAccumulate(dtype: string, opts: MatmulOptions): boolean {
  return (dtype === 'float32' || dtype === 'float64') && !opts.noBlas && loadBlas() !== null;
}

/**
 * A batch of row-major A matrices stacked without gaps times one shared B ([B, M, K] x [K, N],
 * e.g. a Linear layer) is a single [B*M, K] x [K, N] product: one GEMM call instead of B.
 */
function foldBatch(a: View, b: View, out: View): [View, View, View] {
  const [B, M, K] = a.shape, N = b.shape[2];
  if (B <= 1 || b.strides[0] !== 0 || M === 1) return [a, b, out];
  const rowsA = a.strides[2] === 1 || K === 1, rowsO = out.strides[2] === 1 || N === 1;
  if (!rowsA || !rowsO || a.strides[0] !== M * a.strides[1] || out.strides[0] !== M * out.strides[1]) return [a, b, out];
  const fold = (v: View, cols: number): View =>
    ({ handle: v.handle, dtype: v.dtype, shape: [1, B * M, cols], strides: [0, v.strides[1], v.strides[2]], offset: v.offset });
  return [fold(a, K), { ...b, shape: [1, K, N] }, fold(out, N)];
}

export function matmul(a0: View, b0: View, out0: View, opts: MatmulOptions = {}): void {
  const [a, b, out] = foldBatch(a0, b0, out0);
  const dt = out.dtype;
  const [B, M, K] = a.shape, N = b.shape[2];
  if (B === 0 || M === 0 || N === 0) return;
  const A = a.handle as HostArray, Bh = b.handle as HostArray;
  if (dt === 'int32' || dt === 'uint8') {
    for (let i = 0; i < B; i++) {
      gemmWrapInt(M, N, K, A, a.offset + i * a.strides[0], a.strides[1], a.strides[2],
        Bh, b.offset + i * b.strides[0], b.strides[1], b.strides[2], out, i);
    }
    return;
  }
  if (dt !== 'float32' && dt !== 'float64' && dt !== 'int64')
    throw new DTypeError('matmul', `the cpu device has no matmul for ${dt} (16-bit floats are computed in float32)`);
  // OpenBLAS wins from 4x4 up (a koffi call costs ~1us, less than packing for the JS GEMM)
  const lib = dt === 'int64' || opts.noBlas ? null : loadBlas();
  const beta = opts.accumulate ? 1 : 0;
  if (beta !== 0 && !lib) throw new Error('matmul: accumulate needs BLAS (check canAccumulate first)');
  if (!lib) {
    for (let i = 0; i < B; i++) {
      gemmJS(M, N, K, A, a.offset + i * a.strides[0], a.strides[1], a.strides[2],
        Bh, b.offset + i * b.strides[0], b.strides[1], b.strides[2], out, i);
    }
    return;
  }
  if (K === 0) {
    if (beta === 0) fillView(out, 0); // the empty sum (BLAS would reject the zero leading dims)
    return;
  }
  const gemm = dt === 'float32' ? lib.sgemm : lib.dgemm;
  const outDirect = out.strides[2] === 1 && (M === 1 || out.strides[1] >= N);
  if (beta !== 0 && !outDirect) throw new Error('matmul: accumulate needs an output with unit column stride');
  const ldc = M === 1 ? N : out.strides[1];
  const O = out.handle as HostArray;
  const work = B * M * N * K;
  // batch 0's operands, which broadcast operands (stride 0) reuse: one needing a contiguous copy
  // is copied once, not once per batch (nor again when the split below declines)
  const a0v = matrixView(a, 0), b0v = matrixView(b, 0);
  if (B === 1 && outDirect && splitOn && work >= BLAS_PARALLEL_WORK && work <= SPLIT_MAX_WORK) {
    blasThreadsFor(lib, 0);
    if (nativeGemmSplit(dt, a0v.trans, b0v.trans, M, N, K, a0v.arr, a0v.ld, b0v.arr, b0v.ld, beta,
      out.offset === 0 ? O : O.subarray(out.offset), ldc, lib.library)) {
      _gemmSplitCalls++;
      return;
    }
  }
  blasThreadsFor(lib, work);
  for (let i = 0; i < B; i++) {
    const av = i === 0 || a.strides[0] === 0 ? a0v : matrixView(a, i), bv = i === 0 || b.strides[0] === 0 ? b0v : matrixView(b, i);
    const c = outDirect ? O.subarray(out.offset + i * out.strides[0]) : newLike(O, M * N);
    gemm(ROW_MAJOR, av.trans ? TRANS : NO_TRANS, bv.trans ? TRANS : NO_TRANS, M, N, K, 1,
      av.arr, av.ld, bv.arr, bv.ld, beta, c, outDirect ? ldc : N);
    if (!outDirect) {
      copyView({ handle: c, dtype: dt, shape: [M, N], strides: [N, 1], offset: 0 },
        { handle: O, dtype: dt, shape: [M, N], strides: [out.strides[1], out.strides[2]], offset: out.offset + i * out.strides[0] });
    }
  }
}

function newLike(arr: HostArray, n: number): HostArray {
  return new (arr.constructor as new (n: number) => HostArray)(n);
}

/** Batch i of a [B, R, C] view as a BLAS operand, copying it contiguous when its strides do not fit. */
function matrixView(v: View, i: number): { arr: HostArray; trans: boolean; ld: number } {
  const [, R, C] = v.shape;
  const h = v.handle as HostArray;
  const off = v.offset + i * v.strides[0];
  const op = blasOperand(R, C, v.strides[1], v.strides[2]);
  if (op) return { arr: off === 0 ? h : h.subarray(off), ...op };
  const tmp = newLike(h, R * C);
  copyView({ handle: h, dtype: v.dtype, shape: [R, C], strides: [v.strides[1], v.strides[2]], offset: off },
    { handle: tmp, dtype: v.dtype, shape: [R, C], strides: [C, 1], offset: 0 });
  return { arr: tmp, trans: false, ld: Math.max(C, 1) };
}

// ---------------------------------------------------------------- JS GEMM

/** Block sizes: a KC x 4 panel of A and of B stay in L1 while the 4x4 micro-kernel runs over K. */
const KC = 256, MC = 128;

let packA: Float64Array = new Float64Array(0), packB: Float64Array = new Float64Array(0), acc: Float64Array = new Float64Array(0);
function grow(buf: Float64Array, n: number): Float64Array {
  return buf.length >= n ? buf : new Float64Array(Math.max(n, buf.length * 2));
}

/**
 * C = A B for one batch in doubles (exact for int64 below 2^53), then stored into out[batch].
 * A and B blocks are packed into 4-wide panels (any strides and transposes become the same
 * unit-stride layout), and a 4x4 register-blocked micro-kernel accumulates over a K block.
 */
function gemmJS(M: number, N: number, K: number, A: HostArray, ao: number, ars: number, acs: number,
  B: HostArray, bo: number, brs: number, bcs: number, out: View, batch: number): void {
  if (M * N * K <= SMALL_WORK) {
    gemmSmall(M, N, K, A, ao, ars, acs, B, bo, brs, bcs, out, batch);
    return;
  }
  const Mp = (M + 3) & ~3, Np = (N + 3) & ~3;
  const C = (acc = grow(acc, Mp * Np));
  C.fill(0, 0, Mp * Np);
  packB = grow(packB, KC * Np);
  packA = grow(packA, KC * MC);
  const Ap = packA, Bp = packB;
  for (let kk = 0; kk < K; kk += KC) {
    const kc = Math.min(KC, K - kk);
    // B block [kc, N] -> panels of 4 columns: Bp[q*kc + k*4 + c], zero-padded past N
    for (let q = 0; q < Np; q += 4) {
      let p = q * kc;
      for (let k = 0; k < kc; k++) {
        const row = bo + (kk + k) * brs;
        for (let c = 0; c < 4; c++) Bp[p++] = q + c < N ? B[row + (q + c) * bcs] : 0;
      }
    }
    for (let ii = 0; ii < M; ii += MC) {
      const mc = Math.min(MC, M - ii), mcp = (mc + 3) & ~3;
      // A block [mc, kc] -> panels of 4 rows: Ap[p*kc + k*4 + r], zero-padded past M
      for (let pr = 0; pr < mcp; pr += 4) {
        let p = pr * kc;
        for (let k = 0; k < kc; k++) {
          const col = ao + (kk + k) * acs;
          for (let r = 0; r < 4; r++) Ap[p++] = pr + r < mc ? A[col + (ii + pr + r) * ars] : 0;
        }
      }
      for (let pr = 0; pr < mcp; pr += 4) {
        for (let q = 0; q < Np; q += 4) micro4x4(kc, Ap, pr * kc, Bp, q * kc, C, (ii + pr) * Np + q, Np);
      }
    }
  }
  storeRows(C, Np, M, N, out, batch);
}

/** Products this small skip packing: a dot product per output element, stored straight to out. */
const SMALL_WORK = 8192;

function gemmSmall(M: number, N: number, K: number, A: HostArray, ao: number, ars: number, acs: number,
  B: HostArray, bo: number, brs: number, bcs: number, out: View, batch: number): void {
  const O = out.handle as HostArray;
  const oo = out.offset + batch * out.strides[0], ors = out.strides[1], ocs = out.strides[2];
  for (let i = 0; i < M; i++) {
    const ai = ao + i * ars;
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0, p = ai, q = bo + j * bcs; k < K; k++, p += acs, q += brs) s += A[p] * B[q];
      // float32 rounds on store; int64 sums of integer products are integers already
      O[oo + i * ors + j * ocs] = s;
    }
  }
}

function micro4x4(kc: number, Ap: Float64Array, ai: number, Bp: Float64Array, bi: number, C: Float64Array, ci: number, ldc: number): void {
  let c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
  let c20 = 0, c21 = 0, c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0;
  for (let k = 0; k < kc; k++, ai += 4, bi += 4) {
    const a0 = Ap[ai], a1 = Ap[ai + 1], a2 = Ap[ai + 2], a3 = Ap[ai + 3];
    const b0 = Bp[bi], b1 = Bp[bi + 1], b2 = Bp[bi + 2], b3 = Bp[bi + 3];
    c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3;
    c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3;
    c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3;
    c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3;
  }
  C[ci] += c00; C[ci + 1] += c01; C[ci + 2] += c02; C[ci + 3] += c03; ci += ldc;
  C[ci] += c10; C[ci + 1] += c11; C[ci + 2] += c12; C[ci + 3] += c13; ci += ldc;
  C[ci] += c20; C[ci + 1] += c21; C[ci + 2] += c22; C[ci + 3] += c23; ci += ldc;
  C[ci] += c30; C[ci + 1] += c31; C[ci + 2] += c32; C[ci + 3] += c33;
}

/** Copies the [M, N] top-left of a row-major double buffer (leading dim ld) into out[batch]. */
function storeRows(C: Float64Array | Int32Array, ld: number, M: number, N: number, out: View, batch: number): void {
  copyView({ handle: C, dtype: C instanceof Float64Array ? 'float64' : 'int32', shape: [M, N], strides: [ld, 1], offset: 0 },
    { handle: out.handle, dtype: out.dtype, shape: [M, N], strides: [out.strides[1], out.strides[2]], offset: out.offset + batch * out.strides[0] });
}

let packInt: Int32Array = new Int32Array(0), rowInt: Int32Array = new Int32Array(0);

/**
 * int32/uint8 matmul with PyTorch's wrap-around: products via Math.imul and sums kept in int32
 * are exact modulo 2^32 (uint8 then keeps the low 8 bits on store). B is packed contiguous.
 */
function gemmWrapInt(M: number, N: number, K: number, A: HostArray, ao: number, ars: number, acs: number,
  B: HostArray, bo: number, brs: number, bcs: number, out: View, batch: number): void {
  if (packInt.length < K * N) packInt = new Int32Array(K * N);
  if (rowInt.length < M * N) rowInt = new Int32Array(M * N);
  const Bp = packInt, C = rowInt;
  for (let k = 0, p = 0; k < K; k++) for (let j = 0; j < N; j++) Bp[p++] = B[bo + k * brs + j * bcs];
  C.fill(0, 0, M * N);
  for (let i = 0; i < M; i++) {
    const ci = i * N;
    for (let k = 0; k < K; k++) {
      const aik = A[ao + i * ars + k * acs] | 0;
      if (aik === 0) continue;
      for (let j = 0, p = k * N; j < N; j++, p++) C[ci + j] = (C[ci + j] + Math.imul(aik, Bp[p])) | 0;
    }
  }
  storeRows(C, N, M, N, out, batch);
}
