/**
 * The cpu device: storage is a plain TypedArray in the dtype's host representation (see
 * dtype.ts), so the frontend can wrap user arrays without copying, and every kernel is
 * synchronous JS (generated per dtype, see codegen.ts) or OpenBLAS for float matmul.
 */
import type { Backend, Conv2dParams, Handle, ReduceOp, View } from '../backend.js';
import { isBoolOp, type BinaryOp, type TernaryOp, type UnaryOp } from '../kernels.js';
import { registerBackend } from '../registry.js';
import { allocHost, ITEMSIZE, type DType, type HostArray } from '../../dtype.js';
import v8 from 'node:v8';
import { collectYoung } from '../../storage.js';
import { SLAB_MAX_BYTES, alignedArray, slabArray, tuneHostMalloc } from './hostmem.js';

/** Buffers from this size on are malloc'd uninitialised where allowed, and counted for minor GCs. */
const LARGE_BYTES = 64 * 1024;
const LARGE_GC_EVERY = 16 * 2 ** 20;
import { DTypeError } from '../../errors.js';
import { contiguousStrides } from '../../layout.js';
import { opExpr } from './codegen.js';
import { ewEntry, runElementwise, runEntry, type EwEntry, type EwSpec } from './elementwise.js';
import { copyView, fillRange, fillView } from './copy.js';
import { cumsum, reduce } from './reduce.js';
import * as conv from './conv.js';
import { gather, scatter, sort } from './indexing.js';
import { canAccumulate, matmul, type MatmulOptions } from './matmul.js';
import { isContig, isScalarLike, numelOf, planLoops } from './strided.js';
import { nativeBatchNormTrain, nativeBinary, nativeBinaryNd, nativeCopy2d, nativeUnaryNd, nativeReduceAxes, nativeReduceRows, nativeSoftmaxRows, nativeUnary } from './native.js';

export { blasInfo, setNumThreads } from './matmul.js';

/** Builds the spec for an elementwise op whose numeric operands have dtype `dt`. */
function opSpec(op: string, loads: DType[], dt: DType, out: DType): EwSpec {
  const { expr, exactInt } = opExpr(op, dt, out);
  // bool ops already produce 0/1, which every output dtype stores as is
  return { loads, expr, store: isBoolOp(op) ? null : out, exactInt };
}

/** Holds the last ballast array, so the allocation cannot be optimised away. */
let ballast: number[] | null = null;
/**
 * After each scavenge V8 uncommits the young generation's spare half (MADV_DONTNEED on its
 * 256 KiB pages, done on a helper thread, then faulted back in by the next JS allocations)
 * whenever the program allocated under ~1000 bytes of JS objects per ms since the last GCs:
 * its sign of an idle process. A tensor loop allocates a few small objects and many large
 * off-heap buffers, so every forced minor GC above paid that (a 4M-element add: 1.7 ms ->
 * 2.2 ms, four madvise and eight mprotect calls an op). A little young garbage, twice the
 * threshold rate over the time since the last forced GC, keeps V8 out of that path.
 */
function keepYoungSpaceCommitted(elapsedMs: number): void {
  const bytes = Math.min(256 * 1024, Math.max(2048, 2000 * elapsedMs));
  ballast = new Array<number>(Math.ceil(bytes / 8)).fill(0);
}

export class CpuBackend implements Backend {
  readonly type = 'cpu' as const;
  readonly name = 'cpu';
  readonly canReadSync = true;
  /** Host memory is the GC's: storages are tracked only once memory statistics are asked for (see storage.ts). */
  readonly untrackedBelowBytes = Infinity;
  /** Once tracked, reclaim unreachable storage (a full GC) when tracked live bytes pass this. */
  readonly reclaimBudgetBytes = 64 * 2 ** 20;
  private largeSinceGc = 0;
  private lastYoungGc = 0;
  private readonly matmulOpts: MatmulOptions;
  private readonly addmmOpts: MatmulOptions;
  private readonly unaryEntries = new Map<string, Map<DType, { outDtype: DType; entry: EwEntry }>>();
  private readonly binaryEntries = new Map<string, Map<DType, { outDtype: DType; entry: EwEntry }>>();

  /** `noBlas` forces the JS GEMM (for tests; TORCHLET_NO_BLAS=1 does the same process-wide). */
  constructor(opts: { noBlas?: boolean } = {}) {
    this.matmulOpts = { noBlas: opts.noBlas };
    this.addmmOpts = { noBlas: opts.noBlas, accumulate: true };
    tuneHostMalloc();
    // A minor GC frees dead young ArrayBuffers on a background thread by default, usually after
    // the next large tensor was already malloc'd: its memory is then fresh pages (a fault per
    // 4 KiB) instead of the buffer just freed. Freeing them within the GC pause keeps reuse
    // deterministic (a 4M-element op: ~3x fewer page faults, ~25% less time).
    try {
      v8.setFlagsFromString('--no-concurrent-array-buffer-sweeping');
    } catch {
      // an engine without the flag: buffers are still reused, just less reliably
    }
    // A training step's saved activations outlive the young generation (the scavenges above come
    // every 16 MiB), so their buffers die in the old generation, where only a full mark-compact
    // frees them; V8 then sizes its next limit from a live heap of a few MB and runs a full GC
    // almost every step of the benchmark CNN (each a 2-5 ms pause plus concurrent marking that
    // takes the second core from the kernels). A fixed growing factor of 3 (V8 picks 1.1-4 from
    // its own measurements) halves those GCs: CNN step -10-15%, peak RSS unchanged. Left alone
    // when the user sets the flag.
    const userSet = [...process.execArgv, process.env.NODE_OPTIONS ?? ''].some((a) => a.includes('heap-growing-percent'));
    if (!userSet) {
      try {
        v8.setFlagsFromString('--heap-growing-percent=200');
      } catch {
        // an engine without the flag: GC as usual
      }
    }
  }

  supportsDtype(_d: DType): boolean {
    return true;
  }
  supportsCompute(d: DType): boolean {
    return d !== 'float16' && d !== 'bfloat16';
  }

  alloc(numel: number, dtype: DType): Handle {
    // up to 64 bytes V8's own (zeroed) heap array; beyond, the buffer allocUninit picks, cleared
    if (numel * ITEMSIZE[dtype] <= 64) return allocHost(dtype, numel);
    const h = this.allocUninit(numel, dtype) as HostArray;
    fillRange(h, 0, 0, numel);
    return h;
  }
  allocUninit(numel: number, dtype: DType): Handle {
    const bytes = numel * ITEMSIZE[dtype];
    // up to 64 bytes V8 keeps the array on its own heap (fastest); beyond, slab slots and
    // aligned malloc'd buffers (a calloc'd array's clearing would dominate: 1.4 us at 16 KiB)
    if (bytes <= 64) return allocHost(dtype, numel);
    if (bytes <= SLAB_MAX_BYTES) return slabArray(dtype, numel, bytes);
    if (bytes >= LARGE_BYTES) this.beforeLargeAlloc(bytes);
    // malloc'd, not calloc'd: the caller overwrites every element
    return alignedArray(dtype, numel, bytes);
  }
  /**
   * Buffers are plain TypedArrays that the GC frees (into malloc's free lists, which reuse them
   * for the next buffer of that size without new page faults). Temporaries of an op-by-op loop
   * die young, but a minor GC only comes with JS allocation, which large tensors barely do; so
   * every LARGE_GC_EVERY bytes of large allocations start with one (~0.1-0.5 ms, much less than
   * faulting in that much fresh memory).
   */
  private beforeLargeAlloc(bytes: number): void {
    this.largeSinceGc += bytes;
    if (this.largeSinceGc >= LARGE_GC_EVERY) {
      this.largeSinceGc = 0;
      const now = performance.now();
      keepYoungSpaceCommitted(now - this.lastYoungGc);
      this.lastYoungGc = now;
      collectYoung();
    }
  }
  free(_handle: Handle, _numel: number, _dtype: DType): void {
    // garbage collected (see beforeLargeAlloc)
  }
  write(handle: Handle, _dtype: DType, src: HostArray, dstOffset: number): void {
    (handle as HostArray).set(src, dstOffset);
  }
  readSync(v: View): HostArray {
    const h = v.handle as HostArray;
    const n = numelOf(v.shape);
    if (isContig(v.shape, v.strides)) return h.slice(v.offset, v.offset + n);
    const out = allocHost(v.dtype, n);
    copyView(v, { handle: out, dtype: v.dtype, shape: v.shape, strides: contiguousStrides(v.shape), offset: 0 });
    return out;
  }
  read(v: View): Promise<HostArray> {
    return Promise.resolve(this.readSync(v));
  }
  synchronize(): Promise<void> {
    return Promise.resolve();
  }

  copy(src: View, dst: View): void {
    if (src.dtype === dst.dtype && this.copyNative(src, dst)) return;
    copyView(src, dst);
  }
  /** A strided source into a contiguous destination (transposes, permutes): the native tiled copy. */
  private copyNative(src: View, dst: View): boolean {
    const shape = dst.shape;
    if (isContig(shape, src.strides) || isScalarLike(shape, src.strides)) return false;
    if (!isContig(shape, dst.strides)) {
      // both strided alike (e.g. a transposed view into a transposed view): one memmove when the
      // layouts coalesce to a single contiguous run
      if (numelOf(shape) < 1024) return false;
      const q = planLoops(shape, [dst.strides, src.strides]);
      if (q.shape.length !== 1 || q.strides[0][0] !== 1 || q.strides[1][0] !== 1) return false;
      const s = src.handle as HostArray, d = dst.handle as HostArray;
      // offsets are where the run starts: the lowest address (strides are never negative)
      d.set(s.subarray(src.offset, src.offset + q.shape[0]) as never, dst.offset);
      return true;
    }
    const p = planLoops(shape, [dst.strides, src.strides]);
    const L = p.shape.length, ds = p.strides[0], ss = p.strides[1];
    if (L < 2 || ds[L - 1] !== 1 || ds[L - 2] !== p.shape[L - 1]) return false;
    const rows = p.shape[L - 2], cols = p.shape[L - 1], es = ITEMSIZE[dst.dtype];
    const s = src.handle as HostArray, d = dst.handle as HostArray;
    if (L === 2) return nativeCopy2d(es, s, src.offset, ss[0], ss[1], d, dst.offset, rows, cols);
    if (L !== 3 || ds[0] !== rows * cols) return false;
    // a batch of equal slabs: the first call decides (too small or no library: JS for all)
    if (!nativeCopy2d(es, s, src.offset, ss[1], ss[2], d, dst.offset, rows, cols)) return false;
    for (let b = 1; b < p.shape[0]; b++) nativeCopy2d(es, s, src.offset + b * ss[0], ss[1], ss[2], d, dst.offset + b * ds[0], rows, cols);
    return true;
  }
  fill(dst: View, value: number): void {
    fillView(dst, value);
  }

  unary(op: UnaryOp, x: View, out: View): void {
    // entries by op, then input dtype: no key strings on the hot path
    let byDtype = this.unaryEntries.get(op);
    if (!byDtype) this.unaryEntries.set(op, (byDtype = new Map()));
    let e = byDtype.get(x.dtype);
    if (!e || e.outDtype !== out.dtype) {
      const xd = x.dtype, od = out.dtype;
      byDtype.set(xd, (e = { outDtype: od, entry: ewEntry(`u:${op}:${xd}:${od}`, () => opSpec(op, [xd], xd, od)) }));
    }
    if (x.dtype === out.dtype && (x.dtype === 'float32' || x.dtype === 'float64') && this.unaryNative(op, x, out)) return;
    runEntry(e.entry, out.shape, out, [x]);
  }
  binary(op: BinaryOp, x: View, y: View, out: View): void {
    if (x.dtype !== y.dtype) {
      runElementwise(`b:${op}:${x.dtype}:${y.dtype}:${out.dtype}`, () => opSpec(op, [x.dtype, y.dtype], x.dtype, out.dtype),
        out.shape, out, [x, y]);
      return;
    }
    let byDtype = this.binaryEntries.get(op);
    if (!byDtype) this.binaryEntries.set(op, (byDtype = new Map()));
    let e = byDtype.get(x.dtype);
    if (!e || e.outDtype !== out.dtype) {
      const xd = x.dtype, od = out.dtype;
      byDtype.set(xd, (e = { outDtype: od, entry: ewEntry(`b:${op}:${xd}:${xd}:${od}`, () => opSpec(op, [xd, xd], xd, od)) }));
    }
    if (x.dtype === out.dtype && (x.dtype === 'float32' || x.dtype === 'float64') && this.binaryNative(op, x, y, out)) return;
    runEntry(e.entry, out.shape, out, [x, y]);
  }
  /** The native kernel for contiguous operands, or strided ones whose innermost dim is contiguous. */
  private unaryNative(op: UnaryOp, x: View, out: View): boolean {
    const shape = out.shape;
    const oc = isContig(shape, out.strides), xc = isContig(shape, x.strides);
    if (oc && xc) return nativeUnary(op, x.dtype, x.handle as HostArray, x.offset, out.handle as HostArray, out.offset, numelOf(shape));
    if (numelOf(shape) < 256) return false;
    const p = planLoops(shape, [out.strides, x.strides]);
    return nativeUnaryNd(op, x.dtype, p.shape, p.strides, x.handle as HostArray, x.offset, out.handle as HostArray, out.offset);
  }
  /** The native kernel for contiguous operands (either input may be one broadcast value). */
  private binaryNative(op: BinaryOp, x: View, y: View, out: View): boolean {
    const shape = out.shape;
    if (!isContig(shape, out.strides)) return false;
    const xs = isContig(shape, x.strides) ? 0 : isScalarLike(shape, x.strides) ? 1 : -1;
    const ys = isContig(shape, y.strides) ? 0 : isScalarLike(shape, y.strides) ? 2 : -1;
    if (xs < 0 || ys < 0) {
      // broadcasting (bias adds, normalisation statistics): the n-d kernel, on the coalesced layout
      if (numelOf(shape) < 4096) return false;
      const p = planLoops(shape, [out.strides, x.strides, y.strides]);
      return nativeBinaryNd(op, x.dtype, p.shape, p.strides, x.handle as HostArray, x.offset, y.handle as HostArray, y.offset,
        out.handle as HostArray, out.offset);
    }
    if (xs === 1 && ys === 2) return false;
    return nativeBinary(op, x.dtype, xs + ys, x.handle as HostArray, x.offset, y.handle as HostArray, y.offset,
      out.handle as HostArray, out.offset, numelOf(shape));
  }
  ternary(op: TernaryOp, x: View, y: View, z: View, out: View): void {
    // where's condition (x) is bool; the numeric dtype is y's
    const dt = op === 'where' ? y.dtype : x.dtype;
    runElementwise(`t:${op}:${x.dtype}:${y.dtype}:${z.dtype}:${out.dtype}`,
      () => opSpec(op, [x.dtype, y.dtype, z.dtype], dt, out.dtype), out.shape, out, [x, y, z]);
  }

  reduce(op: ReduceOp, x: View, dims: readonly number[], out: View): void {
    this.checkCompute('reduce', x.dtype);
    if (dims.length === 0) {
      // 0-d input: the reduction of one element is the element itself (index 0 for arg ops)
      if (op === 'argmax' || op === 'argmin') fillView(out, 0);
      else copyView(x, out);
      return;
    }
    if (this.reduceNative(op, x, dims, out)) return;
    reduce(op, x, dims, out);
  }
  /** sum/max/min over the trailing dims of a contiguous float tensor: the native row kernel. */
  private reduceNative(op: ReduceOp, x: View, dims: readonly number[], out: View): boolean {
    if ((op !== 'sum' && op !== 'max' && op !== 'min') || x.dtype !== out.dtype || (x.dtype !== 'float32' && x.dtype !== 'float64')) return false;
    if (!isContig(x.shape, x.strides) || !isContig(out.shape, out.strides)) return false;
    // reduced dims must be a leading block and/or a trailing block: [A | K kept | B]
    const nd = x.shape.length, k = dims.length;
    let trailing = true;
    for (let i = 0; i < k; i++) if (dims[i] !== nd - k + i) trailing = false;
    let lead = 0;
    if (!trailing) while (lead < k && dims[lead] === lead) lead++;
    for (let i = lead; i < k; i++) if (dims[i] !== nd - k + i) return false;
    let A = 1, K = 1, B = 1;
    for (let d = 0; d < nd; d++) {
      if (d < lead) A *= x.shape[d];
      else if (d < nd - (k - lead)) K *= x.shape[d];
      else B *= x.shape[d];
    }
    if (A * K * B === 0) return false;
    const xh = x.handle as HostArray, oh = out.handle as HostArray;
    if (A === 1) return nativeReduceRows(op, x.dtype, xh, x.offset, oh, out.offset, K, B);
    return nativeReduceAxes(op, x.dtype, xh, x.offset, oh, out.offset, A, K, B);
  }
  /** Softmax (or log-softmax) along `dim` when it is the last dim of a contiguous float tensor. */
  softmax(x: View, dim: number, out: View, log: boolean): boolean {
    const nd = x.shape.length;
    if (dim !== nd - 1 || x.dtype !== out.dtype || !isContig(x.shape, x.strides) || !isContig(out.shape, out.strides)) return false;
    const n = x.shape[nd - 1], rows = numelOf(x.shape) / Math.max(n, 1);
    if (n === 0 || rows === 0) return false;
    return nativeSoftmaxRows(log, x.dtype, x.handle as HostArray, x.offset, out.handle as HostArray, out.offset, rows, n);
  }
  /**
   * Training-mode batch normalization of a contiguous float [N, C, ...] x by its own per-channel
   * statistics into y (contiguous, x's shape); mean and v (contiguous [C]) receive the mean and
   * the biased variance. weight and bias: [C] or null. False when not handled (nothing done).
   */
  batchNormTrain(x: View, weight: View | null, bias: View | null, eps: number, y: View, mean: View, v: View): boolean {
    const dt = x.dtype, nd = x.shape.length;
    if ((dt !== 'float32' && dt !== 'float64') || nd < 2) return false;
    for (const t of [y, mean, v, weight, bias]) if (t && (t.dtype !== dt || !isContig(t.shape, t.strides))) return false;
    if (!isContig(x.shape, x.strides)) return false;
    const N = x.shape[0], C = x.shape[1], S = numelOf(x.shape) / Math.max(N * C, 1);
    // each channel is N runs of S elements: short runs ([N, C] inputs) are left to the composite
    if (N * C * S === 0 || S < 16) return false;
    const h = (t: View | null) => (t ? (t.handle as HostArray) : null);
    return nativeBatchNormTrain(dt, N, C, S, h(x)!, x.offset, h(y)!, y.offset, h(weight), weight?.offset ?? 0, h(bias), bias?.offset ?? 0,
      eps, h(mean)!, mean.offset, h(v)!, v.offset);
  }
  cumsum(x: View, dim: number, out: View): void {
    this.checkCompute('cumsum', x.dtype);
    if (x.shape.length === 0) copyView(x, out);
    else cumsum(x, dim, out);
  }
  matmul(a: View, b: View, out: View): void {
    matmul(a, b, out, this.matmulOpts);
  }
  addmm(bias: View, a: View, b: View, out: View): boolean {
    if (!canAccumulate(out.dtype, this.matmulOpts) || bias.dtype !== out.dtype) return false;
    // the bias rows first, then BLAS adds the product to them (beta = 1), as PyTorch's addmm
    this.copy(bias, out);
    matmul(a, b, out, this.addmmOpts);
    return true;
  }
  gather(x: View, dim: number, index: View, out: View): void {
    if (x.dtype !== out.dtype) throw new DTypeError('gather', `out dtype ${out.dtype} differs from input dtype ${x.dtype}`);
    gather(x, dim, index, out);
  }
  scatter(out: View, dim: number, index: View, src: View, accumulate: boolean): void {
    if (accumulate) this.checkCompute('scatter_add', out.dtype);
    else if (src.dtype !== out.dtype) throw new DTypeError('scatter', `src dtype ${src.dtype} differs from out dtype ${out.dtype}`);
    scatter(out, dim, index, src, accumulate);
  }
  sort(x: View, dim: number, descending: boolean, values: View, indices: View): void {
    this.checkCompute('sort', x.dtype);
    sort(x, dim, descending, values, indices);
  }

  // 2-D convolution: the fused native kernels (./conv.ts) for float batches of 2 or more
  conv2d(x: View, w: View, b: View | null, out: View, p: Conv2dParams): boolean {
    return conv.conv2d(x, w, b, out, p);
  }
  conv2dBackwardInput(gy: View, w: View, gx: View, p: Conv2dParams): boolean {
    return conv.conv2dBackwardInput(gy, w, gx, p);
  }
  conv2dBackwardWeight(x: View, gy: View, gw: View, gb: View | null, p: Conv2dParams): boolean {
    return conv.conv2dBackwardWeight(x, gy, gw, gb, p);
  }

  private checkCompute(op: string, d: DType): void {
    if (!this.supportsCompute(d)) throw new DTypeError(op, `the cpu device computes ${d} in float32; upcast first`);
  }
}

registerBackend({
  type: 'cpu',
  unavailableReason: () => null,
  deviceCount: () => 1,
  create: () => new CpuBackend(),
});
