/**
 * The backend boundary: the small primitive set every device implements. Everything
 * above it (ops, autograd, nn) is device-independent. Kernels take (storage, layout):
 * a View names a storage handle plus shape/strides/offset in elements, so a backend
 * never needs to know what a view is.
 *
 * Conventions every backend can rely on (the frontend in src/ops guarantees them):
 * - All shapes, strides, offsets are safe integers already bounds-checked against the
 *   storage by the frontend; strides may be 0 (broadcast) but never negative.
 * - Elementwise inputs are already broadcast to the output's shape (via 0 strides)
 *   and share one dtype; the output dtype equals the input dtype, except for ops whose
 *   expression kind is 'bool' (see kernels.ts isBoolOp), whose output is 'bool'.
 *   `where`'s condition (x) is 'bool'; y and z share the output's dtype.
 * - Outputs may be strided (in-place ops write into views) and may alias an input
 *   with the identical layout.
 * - Index tensors are 'int64' or 'int32'. Index values are NOT pre-checked: a backend
 *   must throw an IndexError (src/errors.ts) for out-of-range indices if it can
 *   detect them synchronously, and must never read or write outside a buffer.
 * - Only dtypes for which supportsDtype() is true reach compute methods; float16 and
 *   bfloat16 compute is upcast to float32 by the frontend unless supportsCompute says yes.
 */
import type { DType, HostArray } from '../dtype.js';
import type { UnaryOp, BinaryOp, TernaryOp } from './kernels.js';

export type DeviceType = 'cpu' | 'cuda' | 'webgpu' | 'opencl';

/** An opaque per-backend buffer handle (a TypedArray on cpu, a GPUBuffer on webgpu, ...). */
export type Handle = unknown;

export interface View {
  readonly handle: Handle;
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly strides: readonly number[];
  readonly offset: number;
}

export type ReduceOp = 'sum' | 'prod' | 'max' | 'min' | 'argmax' | 'argmin';

export interface Backend {
  /** 'cpu', 'cuda', 'webgpu', 'opencl' */
  readonly type: DeviceType;
  /** The device string tensors report: 'cpu', 'cuda:0', 'webgpu', ... */
  readonly name: string;
  /** True when readSync is available (cpu; GPUs may only read back asynchronously). */
  readonly canReadSync: boolean;

  /** Whether tensors of this dtype can live on this device (storage). */
  supportsDtype(d: DType): boolean;
  /** Whether elementwise/reduce/matmul kernels exist for this dtype (else the frontend upcasts 16-bit floats). */
  supportsCompute(d: DType): boolean;

  /** A new buffer of `numel` elements of `dtype`, zero-filled. */
  alloc(numel: number, dtype: DType): Handle;
  /** Like alloc, but the contents may be arbitrary (the caller overwrites every element first). */
  allocUninit?(numel: number, dtype: DType): Handle;
  /**
   * Allocations smaller than this are memory the JS garbage collector manages by itself (cpu):
   * they skip per-storage tracking (a FinalizationRegistry entry costs more than a small op)
   * until memory statistics are first requested, and are never passed to free().
   */
  readonly untrackedBelowBytes?: number;
  /** Live bytes above which allocating first reclaims unreachable storage (default 256 MiB). */
  readonly reclaimBudgetBytes?: number;
  /** Releases a buffer (returns it to the device's pool). Called at most once per handle. */
  free(handle: Handle, numel: number, dtype: DType): void;
  /** Copies host data (in dtype's host representation, see dtype.ts) into a buffer at element offset. */
  write(handle: Handle, dtype: DType, src: HostArray, dstOffset: number): void;
  /** A contiguous host copy of a view, in dtype's host representation. */
  read(v: View): Promise<HostArray>;
  /** Synchronous read; only when canReadSync. */
  readSync?(v: View): HostArray;
  /** Waits for queued work (no-op on cpu). */
  synchronize?(): Promise<void>;

  /** dst[i] = cast(src[i]) over equal shapes; src.dtype may differ from dst.dtype. */
  copy(src: View, dst: View): void;
  /** dst[i] = value (already representable in dst.dtype's host representation). */
  fill(dst: View, value: number): void;
  unary(op: UnaryOp, x: View, out: View): void;
  binary(op: BinaryOp, x: View, y: View, out: View): void;
  ternary(op: TernaryOp, x: View, y: View, z: View, out: View): void;
  /**
   * Reduces x over `dims` (sorted, distinct; non-empty unless x is 0-d) into out, whose shape is
   * x.shape without those dims. sum/prod accumulate in out.dtype (int64 for integer sums);
   * max/min propagate NaN; argmax/argmin take exactly one dim, write int64 indices and pick the
   * first occurrence (NaN counts as the maximum). Empty reductions: sum 0, prod 1; the frontend
   * rejects empty max/min/argmax/argmin.
   */
  reduce(op: ReduceOp, x: View, dims: readonly number[], out: View): void;
  /** Inclusive prefix sum along dim (out same shape as x). */
  cumsum(x: View, dim: number, out: View): void;
  /** Batched matmul: a [B, M, K], b [B, K, N] (any strides), out [B, M, N] contiguous; one float dtype. */
  matmul(a: View, b: View, out: View): void;
  /**
   * out = bias + a b with bias broadcast over out's rows (a [1, M, K], b [1, K, N], bias and out
   * [1, M, N], out contiguous): PyTorch's addmm, the product added to the bias in one GEMM.
   * Returns false, having written nothing, where not supported (the caller adds separately).
   */
  addmm?(bias: View, a: View, b: View, out: View): boolean;
  /** out[...i_dim...] = x[... index[...] ...] along dim (torch.gather); out and index share a shape. */
  gather(x: View, dim: number, index: View, out: View): void;
  /** In place on out: out[... index[...] ...] = src[...] (or += when accumulate), torch.scatter_/scatter_add_. */
  scatter(out: View, dim: number, index: View, src: View, accumulate: boolean): void;
  /** Stable sort along dim: values (x's dtype) and int64 indices, both contiguous of x's shape. */
  sort(x: View, dim: number, descending: boolean, values: View, indices: View): void;

  // Optional fast paths: the composite forms above the boundary are the reference.

  /**
   * 2-D convolution (cross-correlation) out = conv(x, w) + b, for the frontend's conv2d op
   * (src/nn/functional/conv_op.ts; the composite im2col + matmul there is the reference).
   * x [N, C, H, W] (any strides), w [Cout, C/groups, kh, kw] and b [Cout] (both contiguous, b
   * may be null), out [N, Cout, OH, OW] (contiguous, fresh: every element must be written).
   * All of one float dtype; no size is 0 (empty convolutions never get here). Returns false
   * when it cannot take the views (dtype, shapes, padding it has no kernel for...); the frontend
   * then discards out and runs the composite.
   */
  conv2d?(x: View, w: View, b: View | null, out: View, p: Conv2dParams): boolean;
  /**
   * The input gradient of conv2d: gx [N, C, H, W] from gy [N, Cout, OH, OW] and w (gx fresh,
   * all three contiguous; shapes as in conv2d). Returns false, as conv2d, when not handled.
   * Only called outside createGraph (the frontend differentiates its composite form there).
   */
  conv2dBackwardInput?(gy: View, w: View, gx: View, p: Conv2dParams): boolean;
  /**
   * The weight gradient of conv2d: gw [Cout, C/groups, kh, kw] from x (any strides) and gy
   * (contiguous), and the bias gradient gb [Cout] (the sum of gy over N, OH, OW) when gb is not
   * null; gw and gb contiguous and fresh. Returns false, as conv2d, when not handled.
   */
  conv2dBackwardWeight?(x: View, gy: View, gw: View, gb: View | null, p: Conv2dParams): boolean;
  /**
   * Softmax (log-softmax when `log`) of x along dim into out (same shape and dtype, contiguous).
   * Returns false, doing nothing, when it cannot take these views.
   */
  softmax?(x: View, dim: number, out: View, log: boolean): boolean;
  /**
   * Optional fused Adam/AdamW update (the tensor-op path in src/optim/adam.ts is the reference):
   * in place on param, expAvg, expAvgSq (and maxExpAvgSq with amsgrad), reading grad; all views
   * of one float dtype and numel. Returns false, doing nothing, when it cannot take the views.
   */
  adamStep?(v: AdamViews, a: AdamStepArgs): boolean;
  /**
   * Optional training-mode batch normalization without autograd (the composite in
   * nn/functional/impl.ts is the reference): x [N, C, ...] normalised by its own per-channel
   * statistics into y; mean and v ([C]) receive the mean and the biased variance; weight and
   * bias [C] or null. Returns false, doing nothing, when it cannot take the views.
   */
  batchNormTrain?(x: View, weight: View | null, bias: View | null, eps: number, y: View, mean: View, v: View): boolean;
}

export interface AdamViews { param: View; grad: View; expAvg: View; expAvgSq: View; maxExpAvgSq: View | null }
export interface AdamStepArgs {
  lr: number; beta1: number; beta2: number; eps: number; weightDecay: number; decoupled: boolean; maximize: boolean;
  /** lr / (1 - beta1^step) */
  stepSize: number;
  /** sqrt(1 - beta2^step) */
  bc2Sqrt: number;
}

/** The geometry of a 2-D convolution beyond its views' shapes (Backend.conv2d and its backward hooks). */
export interface Conv2dParams {
  /** [vertical, horizontal] */
  stride: [number, number];
  /** [vertical, horizontal] */
  dilation: [number, number];
  /** Channel groups: input channel block g (C/groups wide) feeds output channel block g. */
  groups: number;
  /**
   * Implicit zero padding on each side of the input. Not always symmetric: padding='same' with
   * an even effective kernel puts the odd extra row/column at the bottom/right, as PyTorch does.
   * OH = floor((H + top + bottom - dilation[0] * (kh - 1) - 1) / stride[0]) + 1, likewise OW.
   */
  padding: { top: number; bottom: number; left: number; right: number };
}

/** What a device module registers: a cheap synchronous probe and a constructor. */
export interface BackendFactory {
  type: DeviceType;
  /** null when usable, else a one-line reason the device is unavailable (missing library, no adapter). */
  unavailableReason(): string | null;
  /** Number of devices of this type (0 when unavailable). */
  deviceCount(): number;
  create(index: number): Backend;
}
