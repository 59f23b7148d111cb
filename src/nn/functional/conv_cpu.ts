/**
 * 2-D convolution as one recorded op on the cpu device (float32/float64, batch of 2 or more),
 * run by the fused native kernels of native/conv.inc.c: per image, im2col into a small
 * per-thread scratch matrix and a BLAS GEMM, images in parallel. No batch-sized column tensor
 * is allocated, and both cores work on every layer.
 *
 * Its backward is native too (input gradient: GEMM + col2im per image; weight gradient:
 * per-part GEMMs over recomputed windows, summed in a fixed order). Under createGraph the
 * backward is written with differentiable ops instead (unfold2d/fold2d/matmul), so higher-order
 * gradients work as on the composite path.
 */
import { Tensor } from '../../tensor.js';
import * as ops from '../../ops/index.js';
import { apply, contiguousRaw, empty_, type OpSpec } from '../../ops/core.js';
import { isGradEnabled } from '../../autograd/grad_mode.js';
import { TorchError } from '../../errors.js';
import { blasForNativeCallers } from '../../device/cpu/matmul.js';
import { nativeConv2d, nativeConv2dBackwardData, nativeConv2dBackwardWeight, nativeConvAvailable } from '../../device/cpu/native.js';
import { unfold2d, fold2d, cpuFastPath, BATCH_CONV_LAYOUT, type WindowGeom } from './windows.js';

let enabled = process.env.TORCHLET_NO_FUSED_CONV !== '1';
/** @internal turns the fused path off (tests compare it with the composite one). */
export function _setFusedConv(on: boolean): void { enabled = on; }

/** Whether conv2dCpu can run this convolution (else the composite im2col + matmul path does). */
export function fusedConvUsable(x: Tensor, w: Tensor, N: number): boolean {
  if (!enabled || N < 2 || x.numel() === 0 || w.numel() === 0 || !cpuFastPath(x)) return false;
  const blas = blasForNativeCallers();
  return blas !== null && nativeConvAvailable(x.dtype, blas);
}

type Args = [WindowGeom, number];

function blasOrThrow(): string {
  const b = blasForNativeCallers();
  if (b === null) throw new TorchError('conv2d', 'BLAS is no longer available');
  return b;
}
/** A cpu float tensor's host array from its first element (the kernels take arrays at offset 0). */
function hostAt(t: Tensor): Float32Array {
  const h = t._storage.handle as Float32Array;
  return t._offset === 0 ? h : h.subarray(t._offset);
}
function failed(what: string): never {
  throw new TorchError('conv2d', `the native ${what} kernel failed (out of memory for its scratch buffers?)`);
}

const convSpec: OpSpec<Args> = {
  name: 'conv2d',
  forward: ([x, w, b], g, groups) => {
    const Cout = w.shape[0];
    const out = empty_(x._backend, [g.N, Cout, g.OH, g.OW], x.dtype, true); // every element is written
    if (out.numel() === 0) return out;
    if (!nativeConv2d(x.dtype, g, [x._offset, ...x._strides], groups, Cout, x._storage.handle as Float32Array, hostAt(contiguousRaw(w)),
      b ? hostAt(contiguousRaw(b)) : null, hostAt(out), blasOrThrow())) failed('convolution');
    return out;
  },
  backward: (gy, c) => {
    const [x, w, b] = c.inputs;
    const [g, groups] = c.args;
    const needs = c.needs;
    const Cout = w.shape[0], L = g.OH * g.OW, Cg = Cout / groups, Kg = (g.C / groups) * g.kh * g.kw;
    if (isGradEnabled()) {
      // createGraph: the same gradients from differentiable ops
      const gyg = gy.reshape([g.N, groups, Cg, L]);
      let gx: Tensor | null = null, gw: Tensor | null = null;
      if (needs[0]) {
        const wt = w.reshape([groups, Cg, Kg]).transpose(1, 2);
        gx = fold2d(ops.matmul(wt, gyg).reshape([g.N, g.C, g.kh, g.kw, g.OH, g.OW]), g, BATCH_CONV_LAYOUT);
      }
      if (needs[1]) {
        const cols = unfold2d(x, g, BATCH_CONV_LAYOUT).reshape([g.N, groups, Kg, L]);
        gw = ops.sum(ops.matmul(gyg, cols.transpose(2, 3)), 0).reshape([...w.shape]);
      }
      return [gx, gw, b && needs[2] ? ops.sum(gy, [0, 2, 3]) : null];
    }
    const gyArr = hostAt(contiguousRaw(gy));
    const blas = blasOrThrow();
    let gx: Tensor | null = null, gw: Tensor | null = null;
    if (needs[0]) {
      gx = empty_(x._backend, [g.N, g.C, g.H, g.W], x.dtype, true);
      if (gx.numel() > 0 && !nativeConv2dBackwardData(x.dtype, g, groups, Cout, hostAt(contiguousRaw(w)), gyArr, hostAt(gx), blas)) failed('input-gradient');
    }
    const wantB = b !== undefined && b !== null && needs[2];
    let gb: Tensor | null = null;
    if (needs[1]) {
      gw = empty_(w._backend, [...w.shape], w.dtype, true);
      gb = wantB ? empty_(b!._backend, [Cout], b!.dtype, true) : null;
      if (!nativeConv2dBackwardWeight(x.dtype, g, [x._offset, ...x._strides], groups, Cout,
        x._storage.handle as Float32Array, gyArr, hostAt(gw), gb ? hostAt(gb) : null, blas)) failed('weight-gradient');
    }
    return [gx, gw, wantB ? gb ?? ops.sum(gy, [0, 2, 3]) : null];
  },
  // x for the weight gradient, w for the input gradient
  save: (needs) => ({ inputs: [...(needs[1] ? [0] : []), ...(needs[0] ? [1] : [])] }),
};

/** conv2d of x [N, C, H, W] by w [Cout, C/groups, kh, kw] (+ b) as one op; call only when fusedConvUsable. */
export function conv2dCpu(x: Tensor, w: Tensor, b: Tensor | null, g: WindowGeom, groups: number): Tensor {
  return apply(convSpec, b ? [x, w, b] : [x, w], g, groups);
}
