/**
 * The cpu device's 2-D convolution hooks (Backend.conv2d, conv2dBackwardInput,
 * conv2dBackwardWeight), run by the fused native kernels of native/conv.inc.c: per image, im2col
 * into a small per-thread scratch matrix and a BLAS GEMM, images in parallel. No batch-sized
 * column tensor is allocated, and both cores work on every layer. The input gradient is a GEMM
 * + col2im per image; the weight gradient per-part GEMMs over recomputed windows, summed in a
 * fixed order (so results do not depend on thread timing).
 *
 * A float32 forward with few input taps (C * kh * kw <= 32, stride 1, one group) runs a direct
 * kernel instead, over zero-padded copies of each image (see native/conv.inc.c).
 *
 * Taken for float32/float64 batches of 2 or more when the native library and BLAS are loaded;
 * otherwise each hook returns false and the frontend's composite (im2col + one matmul) runs,
 * which for a single image is the faster of the two: one large GEMM that BLAS threads split.
 */
import type { Conv2dParams, View } from '../backend.js';
import type { DType } from '../../dtype.js';
import { blasForNativeCallers } from './matmul.js';
import { nativeConv2d, nativeConv2dBackwardData, nativeConv2dBackwardWeight, nativeConvAvailable, nativeConvDirectMaxK, type NativeWindow } from './native.js';
import { isContig } from './strided.js';

type Ptr = Float32Array | Float64Array;

let enabled = process.env.TORCHLET_NO_FUSED_CONV !== '1';
/** @internal turns the fused kernels off, so the composite path runs (tests compare the two). */
export function _setFusedConv(on: boolean): void { enabled = on; }
/**
 * @internal The largest C/groups * kh * kw whose float32 stride-1 forward runs the direct kernel
 * instead of im2col + GEMM (0: never); returns the previous value, -1 if the kernels are not
 * loaded. Tests run both.
 */
export function _setConvDirectMaxK(k: number): number { return nativeConvDirectMaxK(k); }

/** The BLAS library the kernels should call, or null when they cannot take a batch of N in this dtype. */
function blasFor(dtype: DType, N: number): string | null {
  if (!enabled || N < 2 || (dtype !== 'float32' && dtype !== 'float64')) return null;
  const blas = blasForNativeCallers();
  return blas !== null && nativeConvAvailable(dtype, blas) ? blas : null;
}

/** Whether all views share x's dtype and each is contiguous (null entries are absent views). */
function dense(dtype: DType, ...vs: (View | null)[]): boolean {
  for (const v of vs) if (v && (v.dtype !== dtype || !isContig(v.shape, v.strides))) return false;
  return true;
}

/** A view's host array from its first element (the kernels take contiguous arrays at offset 0). */
function at(v: View): Ptr {
  const h = v.handle as Ptr;
  return v.offset === 0 ? h : h.subarray(v.offset);
}

/** The kernels' window geometry: input [N, C, H, W], kernel [kh, kw], output [OH, OW]. */
function geom(x: readonly number[], w: readonly number[], y: readonly number[], p: Conv2dParams): NativeWindow {
  return {
    N: x[0], C: x[1], H: x[2], W: x[3], kh: w[2], kw: w[3], sh: p.stride[0], sw: p.stride[1],
    dh: p.dilation[0], dw: p.dilation[1], pt: p.padding.top, pl: p.padding.left, OH: y[2], OW: y[3],
  };
}

// Each hook reports a kernel failure (out of memory for its scratch buffers) as false too: the
// frontend then computes the same result with the composite ops.

/** out = conv(x, w) + b; see Backend.conv2d. */
export function conv2d(x: View, w: View, b: View | null, out: View, p: Conv2dParams): boolean {
  const blas = blasFor(x.dtype, x.shape[0]);
  if (blas === null || !dense(x.dtype, w, b, out)) return false;
  return nativeConv2d(x.dtype, geom(x.shape, w.shape, out.shape, p), [x.offset, ...x.strides], p.groups, w.shape[0],
    x.handle as Ptr, at(w), b ? at(b) : null, at(out), blas);
}

/** gx from gy and w; see Backend.conv2dBackwardInput. */
export function conv2dBackwardInput(gy: View, w: View, gx: View, p: Conv2dParams): boolean {
  const blas = blasFor(gx.dtype, gx.shape[0]);
  if (blas === null || !dense(gx.dtype, gy, w, gx)) return false;
  return nativeConv2dBackwardData(gx.dtype, geom(gx.shape, w.shape, gy.shape, p), p.groups, w.shape[0], at(w), at(gy), at(gx), blas);
}

/** gw (and gb when not null) from x and gy; see Backend.conv2dBackwardWeight. */
export function conv2dBackwardWeight(x: View, gy: View, gw: View, gb: View | null, p: Conv2dParams): boolean {
  const blas = blasFor(x.dtype, x.shape[0]);
  if (blas === null || !dense(x.dtype, gy, gw, gb)) return false;
  return nativeConv2dBackwardWeight(x.dtype, geom(x.shape, gw.shape, gy.shape, p), [x.offset, ...x.strides], p.groups, gw.shape[0],
    x.handle as Ptr, at(gy), at(gw), gb ? at(gb) : null, blas);
}
