/**
 * 2-D convolution for every device, behind F.conv2d / F.conv1d / nn.Conv2d / nn.Conv1d.
 *
 * - Where the backend has a conv2d hook that takes the views (cpu: the fused native kernels for
 *   float batches of 2 or more; cuda: cuDNN), the convolution is one recorded op, 'conv2d'. Its
 *   backward asks the backend's conv2dBackwardInput / conv2dBackwardWeight hooks for each
 *   gradient and computes any they decline (or lack: cuda) with the composite ops below, run
 *   without grad. Under createGraph the whole backward is the composite, differentiable form, so
 *   higher-order gradients work as on the composite path.
 * - Otherwise the composite forward runs: im2col (unfold2d, one strided copy) and one GEMM per
 *   image and group, recorded as those ops, whose backwards are each other (fold2d / unfold2d).
 *
 * The composite is the reference: a backend hook must agree with it to rounding.
 */
import { Tensor } from '../../tensor.js';
import * as ops from '../../ops/index.js';
import { apply, contiguousRaw, empty_, type OpSpec } from '../../ops/core.js';
import { isGradEnabled } from '../../autograd/grad_mode.js';
import type { Conv2dParams } from '../../device/backend.js';
import { unfold2d, unfold2dWithOnes, fold2d, fastPathsOn, BATCH_CONV_LAYOUT, type WindowGeom } from './windows.js';

/** The hooks' parameters for a window geometry. */
function hookParams(g: WindowGeom, groups: number): Conv2dParams {
  return {
    stride: [g.sh, g.sw], dilation: [g.dh, g.dw], groups,
    padding: { top: g.pt, bottom: g.pb, left: g.pl, right: g.pr },
  };
}

// ---------------------------------------------------------------- the composite form

/** Forward by differentiable ops: [N, C*kh*kw, OH*OW] windows, then one GEMM per image (and group) that writes NCHW directly. */
function compositeForward(x: Tensor, w: Tensor, b: Tensor | null, g: WindowGeom, groups: number): Tensor {
  const { N, OH, OW } = g;
  const [Cout, Cg, kh, kw] = w.shape;
  const K = Cg * kh * kw, L = OH * OW;
  if (groups === 1 && b) {
    // the bias rides in the GEMM: [weight | bias] x [windows ; ones]
    const cols = unfold2dWithOnes(x, g);
    return ops.matmul(ops.cat([w.reshape(Cout, K), b.view(Cout, 1)], 1), cols).view(N, Cout, OH, OW);
  }
  const cols = unfold2d(x, g, BATCH_CONV_LAYOUT);
  const y = groups === 1
    ? ops.matmul(w.reshape(Cout, K), cols.view(N, K, L))
    : ops.matmul(w.reshape(groups, Cout / groups, K), cols.view(N, groups, K, L));
  const out = y.view(N, Cout, OH, OW);
  return b ? ops.add(out, b.view(1, Cout, 1, 1)) : out;
}

/** The input gradient by differentiable ops: w^T gy per image and group, summed back into images (col2im). */
function compositeInputGrad(gy: Tensor, w: Tensor, g: WindowGeom, groups: number): Tensor {
  const Cout = w.shape[0], Cg = Cout / groups, Kg = (g.C / groups) * g.kh * g.kw;
  const wt = w.reshape([groups, Cg, Kg]).transpose(1, 2);
  const cols = ops.matmul(wt, gy.reshape([g.N, groups, Cg, g.OH * g.OW]));
  return fold2d(cols.reshape([g.N, g.C, g.kh, g.kw, g.OH, g.OW]), g, BATCH_CONV_LAYOUT);
}

/** The weight gradient by differentiable ops: gy times the windows of x, summed over the batch. */
function compositeWeightGrad(gy: Tensor, x: Tensor, wShape: readonly number[], g: WindowGeom, groups: number): Tensor {
  const Cout = wShape[0], L = g.OH * g.OW, Kg = (g.C / groups) * g.kh * g.kw;
  const cols = unfold2d(x, g, BATCH_CONV_LAYOUT).reshape([g.N, groups, Kg, L]);
  const gyg = gy.reshape([g.N, groups, Cout / groups, L]);
  return ops.sum(ops.matmul(gyg, cols.transpose(2, 3)), 0).reshape([...wShape]);
}

// ---------------------------------------------------------------- the op over the backend hooks

/**
 * The output the hook already wrote, handed to the op's forward once (then dropped, so the
 * tape node does not keep the output alive through its args).
 */
interface Computed { out: Tensor | null }
type Args = [WindowGeom, number, Conv2dParams, Computed];

/** A fresh contiguous tensor for a hook to fill, or null with nothing kept when the hook declines. */
function viaHook(t: Tensor, run: (t: Tensor) => boolean): Tensor | null {
  if (run(t)) return t;
  t._storage.dispose(); // back to the device's pool now: the composite allocates its own
  return null;
}

const convSpec: OpSpec<Args> = {
  name: 'conv2d',
  forward: (_inputs, _g, _groups, _p, computed) => {
    const out = computed.out!;
    computed.out = null;
    return out;
  },
  backward: (gy, c) => {
    const [x, w, b] = c.inputs;
    const [g, groups, p] = c.args;
    const needs = c.needs;
    const wantB = !!b && needs[2];
    if (isGradEnabled()) {
      // createGraph: the same gradients from differentiable ops
      return [
        needs[0] ? compositeInputGrad(gy, w, g, groups) : null,
        needs[1] ? compositeWeightGrad(gy, x, w.shape, g, groups) : null,
        wantB ? ops.sum(gy, [0, 2, 3]) : null,
      ];
    }
    const be = gy._backend;
    const gyc = contiguousRaw(gy);
    let gx: Tensor | null = null, gw: Tensor | null = null, gb: Tensor | null = null;
    if (needs[0]) {
      if (be.conv2dBackwardInput) {
        const wc = contiguousRaw(w);
        gx = viaHook(empty_(be, [g.N, g.C, g.H, g.W], w.dtype, true), (t) => be.conv2dBackwardInput!(gyc._view, wc._view, t._view, p));
      }
      // declined (or no hook): the composite form, here without grad
      gx ??= compositeInputGrad(gyc, w, g, groups);
    }
    if (needs[1]) {
      if (be.conv2dBackwardWeight) {
        const bias = wantB ? empty_(be, [w.shape[0]], b!.dtype, true) : null;
        gw = viaHook(empty_(be, w.shape, w.dtype, true), (t) => be.conv2dBackwardWeight!(x._view, gyc._view, t._view, bias?._view ?? null, p));
        if (gw) gb = bias;
        else bias?._storage.dispose();
      }
      gw ??= compositeWeightGrad(gyc, x, w.shape, g, groups);
    }
    if (wantB) gb ??= ops.sum(gyc, [0, 2, 3]);
    return [gx, gw, gb];
  },
  // x for the weight gradient, w for the input gradient
  save: (needs) => ({ inputs: [...(needs[1] ? [0] : []), ...(needs[0] ? [1] : [])] }),
};

/**
 * conv2d of x [N, C, H, W] by w [Cout, C/groups, kh, kw] (+ b [Cout]) over the window geometry
 * g (already checked by the caller): the backend's conv2d hook when it takes these views, else
 * the composite form.
 */
export function conv2dOp(x: Tensor, w: Tensor, b: Tensor | null, g: WindowGeom, groups: number): Tensor {
  const be = x._backend;
  // Whether the hook takes the views is known only by calling it, so it runs here, before
  // anything is recorded, and the op below just hands its output over. Empty convolutions
  // never reach a hook (the composite returns them without a kernel launch).
  if (be.conv2d && fastPathsOn() && x.numel() > 0 && w.numel() > 0) {
    const p = hookParams(g, groups);
    const wc = contiguousRaw(w), bc = b ? contiguousRaw(b) : null;
    const out = viaHook(empty_(be, [g.N, w.shape[0], g.OH, g.OW], x.dtype, true), (t) => be.conv2d!(x._view, wc._view, bc?._view ?? null, t._view, p));
    if (out) return apply(convSpec, b ? [x, w, b] : [x, w], g, groups, p, { out });
  }
  return compositeForward(x, w, b, g, groups);
}
