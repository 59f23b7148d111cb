/**
 * Sliding windows over the last two dims of an [N, C, H, W] tensor, as two ops that are each
 * other's adjoint:
 *
 * - `unfold2d` (im2col): one strided copy of the (padded) input into a contiguous tensor whose
 *   six axes N, C, KH, KW, OH, OW come in any requested order. Convolution asks for
 *   [C, KH, KW, N, OH, OW] so that one GEMM per group does the whole batch; pooling asks for
 *   [N, C, OH, OW, KH, KW] and reduces the last two axes.
 * - `fold2d` (col2im): sums windows back into an image, one strided in-place add per kernel
 *   offset (kh * kw backend calls), then crops the padding.
 *
 * Both use only backend primitives (copy, fill, binary add), so they run on every device, and
 * the backward of each is the other, so higher-order gradients work too.
 */
import { Tensor } from '../../tensor.js';
import { apply, empty_, fillRaw, castRaw, type OpSpec } from '../../ops/core.js';
import { toStored } from '../../dtype.js';
import type { Backend, View } from '../../device/backend.js';
import { nativeCol2im, nativeIm2col, nativeMaxPool, nativeMaxPoolBackward } from '../../device/cpu/native.js';

export type Axis = 'N' | 'C' | 'KH' | 'KW' | 'OH' | 'OW';

/** Where windows sit on an image: kernel, stride, dilation, padding (top, bottom, left, right) and the output grid. */
export interface WindowGeom {
  N: number; C: number; H: number; W: number;
  kh: number; kw: number;
  sh: number; sw: number;
  dh: number; dw: number;
  pt: number; pb: number; pl: number; pr: number;
  OH: number; OW: number;
}

function axisSize(g: WindowGeom, a: Axis): number {
  switch (a) {
    case 'N': return g.N;
    case 'C': return g.C;
    case 'KH': return g.kh;
    case 'KW': return g.kw;
    case 'OH': return g.OH;
    case 'OW': return g.OW;
  }
}

/** Strides of each window axis, given the strides of a padded [N, C, Hp, Wp] image. */
function windowStrides(g: WindowGeom, s: readonly number[]): Record<Axis, number> {
  return { N: s[0], C: s[1], KH: g.dh * s[2], KW: g.dw * s[3], OH: g.sh * s[2], OW: g.sw * s[3] };
}

function padded(g: WindowGeom): boolean { return g.pt !== 0 || g.pb !== 0 || g.pl !== 0 || g.pr !== 0; }

/** The [N, C, H, W] interior of a padded [N, C, Hp, Wp] buffer, as a View. */
function interior(buf: Tensor, g: WindowGeom): View {
  const s = buf._strides;
  return { handle: buf._storage.handle, dtype: buf.dtype, shape: [g.N, g.C, g.H, g.W], strides: s, offset: buf._offset + g.pt * s[2] + g.pl * s[3] };
}

/** Whether the direct TypedArray loops below can run (cpu float tensors); other devices use the primitives. */
function cpuFloat(be: Backend, dtype: string): boolean {
  return fastPaths && be.type === 'cpu' && (dtype === 'float32' || dtype === 'float64');
}
let fastPaths = true;
/**
 * @internal turns the cpu loops off so tests can check the primitive-only path (what devices
 * without their own window kernels run) on cpu; the backends' conv2d hooks are skipped too.
 */
export function _setCpuFastPaths(on: boolean): void { fastPaths = on; }
/** False while tests run the primitive-only path (see _setCpuFastPaths). */
export function fastPathsOn(): boolean { return fastPaths; }

/** The range [lo, hi) of output positions o with 0 <= o * stride - pad + k <= n - 1. */
function validRange(n: number, out: number, stride: number, pad: number, k: number): [number, number] {
  const lo = Math.max(0, Math.ceil((pad - k) / stride));
  const hi = Math.min(out, Math.floor((n - 1 + pad - k) / stride) + 1);
  return [lo, Math.max(lo, hi)];
}

/** cpu im2col: reads x (any strides) with padding by bounds, writes dst (any strides). */
function unfoldCpu(x: Tensor, g: WindowGeom, perm: readonly Axis[], padValue: number, dst: View): void {
  const s = x._storage.handle as Float32Array | Float64Array, d = dst.handle as Float32Array | Float64Array;
  const [xsN, xsC, xsH, xsW] = x._strides;
  const ds = {} as Record<Axis, number>;
  perm.forEach((a, i) => { ds[a] = dst.strides[i]; });
  if (nativeIm2col(x.dtype, g, s, [x._offset, xsN, xsC, xsH, xsW], d, [dst.offset, ds.N, ds.C, ds.KH, ds.KW, ds.OH, ds.OW], padValue)) return;
  const { N, C, H, W, kh, kw, sh, sw, dh, dw, pt, pl, OH, OW } = g;
  const dOW = ds.OW, dOH = ds.OH;
  for (let kj = 0; kj < kw; kj++) {
    const [owLo, owHi] = validRange(W, OW, sw, pl, kj * dw);
    for (let ki = 0; ki < kh; ki++) {
      const [ohLo, ohHi] = validRange(H, OH, sh, pt, ki * dh);
      for (let n = 0; n < N; n++) {
        for (let c = 0; c < C; c++) {
          const dBase = dst.offset + n * ds.N + c * ds.C + ki * ds.KH + kj * ds.KW;
          const sBase = x._offset + n * xsN + c * xsC + (ki * dh - pt) * xsH + (kj * dw - pl) * xsW;
          for (let oh = 0; oh < OH; oh++) {
            const rd = dBase + oh * dOH;
            if (oh < ohLo || oh >= ohHi) {
              for (let ow = 0; ow < OW; ow++) d[rd + ow * dOW] = padValue;
              continue;
            }
            for (let ow = 0; ow < owLo; ow++) d[rd + ow * dOW] = padValue;
            const rs = sBase + oh * sh * xsH, step = sw * xsW;
            if (dOW === 1) for (let ow = owLo; ow < owHi; ow++) d[rd + ow] = s[rs + ow * step];
            else for (let ow = owLo; ow < owHi; ow++) d[rd + ow * dOW] = s[rs + ow * step];
            for (let ow = owHi; ow < OW; ow++) d[rd + ow * dOW] = padValue;
          }
        }
      }
    }
  }
}

/** cpu col2im: sums the windows of cols (axes in `perm` order, any strides) into a zeroed [N, C, H, W] output. */
function foldCpu(cols: Tensor, g: WindowGeom, perm: readonly Axis[], out: Tensor): void {
  const s = cols._storage.handle as Float32Array | Float64Array, o = out._storage.handle as Float32Array | Float64Array;
  const cs = {} as Record<Axis, number>;
  perm.forEach((a, i) => { cs[a] = cols._strides[i]; });
  if (out.isContiguous() && nativeCol2im(cols.dtype, g, s, [cols._offset, cs.N, cs.C, cs.KH, cs.KW, cs.OH, cs.OW], o, out._offset)) return;
  const { N, C, H, W, kh, kw, sh, sw, dh, dw, pt, pl, OH, OW } = g;
  const cOW = cs.OW;
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      const oImg = out._offset + (n * C + c) * H * W;
      for (let ki = 0; ki < kh; ki++) {
        const [ohLo, ohHi] = validRange(H, OH, sh, pt, ki * dh);
        for (let kj = 0; kj < kw; kj++) {
          const [owLo, owHi] = validRange(W, OW, sw, pl, kj * dw);
          const cBase = cols._offset + n * cs.N + c * cs.C + ki * cs.KH + kj * cs.KW;
          for (let oh = ohLo; oh < ohHi; oh++) {
            const orow = oImg + (oh * sh - pt + ki * dh) * W + (kj * dw - pl);
            const crow = cBase + oh * cs.OH;
            if (sw === 1 && cOW === 1) for (let ow = owLo; ow < owHi; ow++) o[orow + ow] += s[crow + ow];
            else for (let ow = owLo; ow < owHi; ow++) o[orow + ow * sw] += s[crow + ow * cOW];
          }
        }
      }
    }
  }
}

/** Copies the windows of x (axes in `perm` order) into dst, a view of that shape. */
function unfoldInto(x: Tensor, g: WindowGeom, perm: readonly Axis[], padValue: number, dst: View): void {
  const be = x._backend;
  if (cpuFloat(be, x.dtype) && dst.dtype === x.dtype) { unfoldCpu(x, g, perm, padValue, dst); return; }
  let src = x;
  if (padded(g)) {
    const shape = [g.N, g.C, g.H + g.pt + g.pb, g.W + g.pl + g.pr];
    src = fillRaw(be, shape, x.dtype, padValue);
    if (x.numel() > 0) be.copy(x._view, interior(src, g));
  }
  const ws = windowStrides(g, src._strides);
  be.copy({ handle: src._storage.handle, dtype: src.dtype, shape: dst.shape, strides: perm.map((a) => ws[a]), offset: src._offset }, dst);
}

/** im2col without autograd: a contiguous tensor of the windows in `perm` axis order. */
function unfoldRaw(x: Tensor, g: WindowGeom, perm: readonly Axis[], padValue: number): Tensor {
  const shape = perm.map((a) => axisSize(g, a));
  const out = empty_(x._backend, shape, x.dtype, true); // unfoldInto writes every element
  if (out.numel() > 0) unfoldInto(x, g, perm, padValue, out._view);
  return out;
}

/** col2im without autograd: sums the windows of `cols` (axes in `perm` order) into an [N, C, H, W] image. */
function foldRaw(cols: Tensor, g: WindowGeom, perm: readonly Axis[]): Tensor {
  const be = cols._backend;
  if (cpuFloat(be, cols.dtype)) {
    const out = empty_(be, [g.N, g.C, g.H, g.W], cols.dtype);
    if (out.numel() > 0 && cols.numel() > 0) foldCpu(cols, g, perm, out);
    return out;
  }
  const cd = be.supportsCompute(cols.dtype) ? cols.dtype : 'float32';
  const c = castRaw(cols, cd);
  const Hp = g.H + g.pt + g.pb, Wp = g.W + g.pl + g.pr;
  const buf = empty_(be, [g.N, g.C, Hp, Wp], cd);
  const bs = buf._strides;
  const cs = {} as Record<Axis, number>;
  perm.forEach((a, i) => { cs[a] = c._strides[i]; });
  const shape = [g.N, g.C, g.OH, g.OW];
  if (buf.numel() > 0 && c.numel() > 0) {
    const regionStrides = [bs[0], bs[1], g.sh * bs[2], g.sw * bs[3]];
    const srcStrides = [cs.N, cs.C, cs.OH, cs.OW];
    for (let i = 0; i < g.kh; i++) {
      for (let j = 0; j < g.kw; j++) {
        const region: View = { handle: buf._storage.handle, dtype: cd, shape, strides: regionStrides, offset: i * g.dh * bs[2] + j * g.dw * bs[3] };
        const src: View = { handle: c._storage.handle, dtype: cd, shape, strides: srcStrides, offset: c._offset + i * cs.KH + j * cs.KW };
        be.binary('add', region, src, region);
      }
    }
  }
  let out = buf;
  if (padded(g)) {
    out = empty_(be, [g.N, g.C, g.H, g.W], cd);
    if (out.numel() > 0) be.copy(interior(buf, g), out._view);
  }
  return castRaw(out, cols.dtype);
}

type Args = [WindowGeom, readonly Axis[], number];

const unfoldSpec: OpSpec<Args> = {
  name: 'im2col',
  forward: ([x], g, perm, padValue) => unfoldRaw(x, g, perm, padValue),
  backward: (grad, c) => [fold2d(grad, c.args[0], c.args[1])],
  save: () => ({}),
};
const foldSpec: OpSpec<Args> = {
  name: 'col2im',
  forward: ([cols], g, perm) => foldRaw(cols, g, perm),
  backward: (grad, c) => [unfold2d(grad, c.args[0], c.args[1], 0)],
  save: () => ({}),
};

/** Windows of x ([N, C, H, W]) as a contiguous tensor with axes in `perm` order; padding reads `padValue`. */
export function unfold2d(x: Tensor, g: WindowGeom, perm: readonly Axis[], padValue = 0): Tensor {
  return apply(unfoldSpec, [x], g, perm, padValue);
}
/** Sums windows (axes in `perm` order) back into an [N, C, H, W] image (the adjoint of unfold2d). */
export function fold2d(cols: Tensor, g: WindowGeom, perm: readonly Axis[]): Tensor {
  return apply(foldSpec, [cols], g, perm, 0);
}
/**
 * im2col for a convolution with bias: [N, C*kh*kw + 1, OH*OW], the windows of each image
 * followed by a row of ones, so that one GEMM with [weight | bias] also adds the bias.
 */
const unfoldOnesSpec: OpSpec<[WindowGeom]> = {
  name: 'im2col',
  forward: ([x], g) => {
    const K = g.C * g.kh * g.kw, L = g.OH * g.OW;
    const be = x._backend;
    const out = empty_(be, [g.N, K + 1, L], x.dtype, true); // every element is written below
    if (out.numel() === 0) return out;
    const st = out._strides;
    const win = [g.N, g.C, g.kh, g.kw, g.OH, g.OW];
    unfoldInto(x, g, BATCH_CONV_LAYOUT, 0, { handle: out._storage.handle, dtype: out.dtype, shape: win, strides: [st[0], g.kh * g.kw * L, g.kw * L, L, g.OW, 1], offset: 0 });
    be.fill({ handle: out._storage.handle, dtype: out.dtype, shape: [g.N, L], strides: [st[0], st[2]], offset: K * st[1] }, toStored(out.dtype, 1));
    return out;
  },
  backward: (grad, c) => {
    const g = c.args[0];
    const K = g.C * g.kh * g.kw;
    return [fold2d(grad.narrow(1, 0, K).view(g.N, g.C, g.kh, g.kw, g.OH, g.OW), g, BATCH_CONV_LAYOUT)];
  },
  save: () => ({}),
};
/** Windows of x as [N, C*kh*kw + 1, OH*OW] with a last row of ones (for a bias folded into the GEMM). */
export function unfold2dWithOnes(x: Tensor, g: WindowGeom): Tensor {
  return apply(unfoldOnesSpec, [x], g);
}

/** The axis order convolution uses: [C, KH, KW, N, OH, OW]. */
export const CONV_LAYOUT: readonly Axis[] = ['C', 'KH', 'KW', 'N', 'OH', 'OW'];
/** The axis order per-image convolution uses: [N, C, KH, KW, OH, OW]. */
export const BATCH_CONV_LAYOUT: readonly Axis[] = ['N', 'C', 'KH', 'KW', 'OH', 'OW'];
/** The axis order pooling uses: [N, C, OH, OW, KH, KW]. */
export const POOL_LAYOUT: readonly Axis[] = ['N', 'C', 'OH', 'OW', 'KH', 'KW'];

// ---------------------------------------------------------------- cpu max pooling

/** Whether the cpu loops serve this tensor (cpu, float32/float64, fast paths on). */
export function cpuFastPath(x: Tensor): boolean { return cpuFloat(x._backend, x.dtype); }

/**
 * cpu max pooling in one pass: the max over each window's in-bounds elements (the first
 * maximum, or the last NaN, as PyTorch's kernel) and its flat h * W + w index (int64).
 */
export function maxPoolCpu(x: Tensor, g: WindowGeom): { values: Tensor; indices: Tensor } {
  const be = x._backend;
  const values = empty_(be, [g.N, g.C, g.OH, g.OW], x.dtype);
  const indices = empty_(be, [g.N, g.C, g.OH, g.OW], 'int64');
  const s = x._storage.handle as Float32Array | Float64Array;
  const v = values._storage.handle as Float32Array | Float64Array, ix = indices._storage.handle as Float64Array;
  const [xsN, xsC, xsH, xsW] = x._strides;
  if (nativeMaxPool(x.dtype, g, s, [x._offset, xsN, xsC, xsH, xsW], v, values._offset, ix, indices._offset)) return { values, indices };
  const { N, C, H, W, kh, kw, sh, sw, dh, dw, pt, pl, OH, OW } = g;
  let o = 0;
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      const base = x._offset + n * xsN + c * xsC;
      for (let oh = 0; oh < OH; oh++) {
        const h0 = oh * sh - pt;
        for (let ow = 0; ow < OW; ow++, o++) {
          const w0 = ow * sw - pl;
          let best = -Infinity, at = -1;
          for (let ki = 0; ki < kh; ki++) {
            const h = h0 + ki * dh;
            if (h < 0 || h >= H) continue;
            for (let kj = 0; kj < kw; kj++) {
              const w = w0 + kj * dw;
              if (w < 0 || w >= W) continue;
              const val = s[base + h * xsH + w * xsW];
              if (at < 0 || val > best || val !== val) { best = val; at = h * W + w; }
            }
          }
          v[o] = at < 0 ? -Infinity : best;
          ix[o] = at < 0 ? 0 : at;
        }
      }
    }
  }
  return { values, indices };
}

/** cpu max-pool backward without autograd: grad[i] added at its window's argmax. */
export function maxPoolBackwardCpu(grad: Tensor, indices: Tensor, g: WindowGeom): Tensor {
  const gc = grad.isContiguous() ? grad : grad.contiguous();
  const out = empty_(grad._backend, [g.N, g.C, g.H, g.W], grad.dtype);
  const o = out._storage.handle as Float32Array | Float64Array, s = gc._storage.handle as Float32Array | Float64Array;
  const ix = indices._storage.handle as Float64Array;
  if (indices.isContiguous() && nativeMaxPoolBackward(grad.dtype, g, s, gc._offset, ix, indices._offset, o, out._offset)) return out;
  const plane = g.OH * g.OW, HW = g.H * g.W;
  let i = 0;
  for (let nc = 0; nc < g.N * g.C; nc++) {
    const ob = nc * HW;
    for (let k = 0; k < plane; k++, i++) o[ob + ix[indices._offset + i]] += s[gc._offset + i];
  }
  return out;
}
