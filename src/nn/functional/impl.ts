/**
 * The layer functions behind both `nn.functional` and the nn layers. Each takes the name to
 * use in error messages first (`'conv2d'` from F, `'Conv2d'` from the layer), so a user sees
 * the layer that rejected the input together with the shapes involved.
 */
import { Tensor } from '../../tensor.js';
import * as ops from '../../ops/index.js';
import { apply, empty_, fillRaw, type OpSpec } from '../../ops/core.js';
import { noGrad, isGradEnabled } from '../../autograd/grad_mode.js';
import { isFloating, type DType } from '../../dtype.js';
import { ShapeError, TorchError, DTypeError, IndexError, fmtShape } from '../../errors.js';
import {
  unfold2d, fold2d, cpuFastPath, maxPoolCpu, maxPoolBackwardCpu, CONV_LAYOUT, POOL_LAYOUT, type WindowGeom,
} from './windows.js';
import { conv2dOp } from './conv_op.js';
import { linearAddmm } from '../../ops/linalg.js';

export type IntOrTuple = number | readonly number[];

// ---------------------------------------------------------------- argument helpers

export function checkTensor(op: string, x: unknown, what = 'input'): Tensor {
  if (!(x instanceof Tensor)) throw new TorchError(op, `expected ${what} to be a Tensor, got ${x === null ? 'null' : typeof x}`);
  return x;
}
function checkOptTensor(op: string, x: unknown, what: string): Tensor | null {
  if (x === undefined || x === null) return null;
  return checkTensor(op, x, what);
}

/** Expands an int to an n-tuple and validates every entry (integers >= min). */
export function tuple(op: string, name: string, v: IntOrTuple, n: number, min: number): number[] {
  const arr = typeof v === 'number' ? new Array<number>(n).fill(v) : [...v];
  if (arr.length === 1 && n > 1) return tuple(op, name, arr[0], n, min);
  if (arr.length !== n || arr.some((e) => typeof e !== 'number' || !Number.isInteger(e) || e < min))
    throw new TorchError(op, `${name} must be ${min > 0 ? 'a positive' : 'a non-negative'} integer or a tuple of ${n} such integers, got ${JSON.stringify(v)}`);
  return arr;
}

/** A tensor from host float64 values, converted on the cpu and then moved (devices may lack float64). */
function hostTensor(values: Float64Array, shape: number[], device: string, dtype: DType): Tensor {
  return ops.fromBuffer(values, shape, { device: 'cpu' }).to({ device, dtype });
}

function sameDtype(op: string, x: Tensor, w: Tensor, what = 'weight'): void {
  if (x.dtype !== w.dtype)
    throw new DTypeError(op, `input dtype ${x.dtype} differs from ${what} dtype ${w.dtype}; convert the input (e.g. x.to('${w.dtype}')) or the module (module.to('${x.dtype}'))`);
  if (!isFloating(x.dtype)) throw new DTypeError(op, `expected a floating point input, got ${x.dtype}; convert with .float()`);
}
function sameDevice(op: string, ...ts: (Tensor | null)[]): void {
  const d = ts.find((t) => t)?.device;
  for (const t of ts) if (t && t.device !== d) throw new TorchError(op, `expected all tensors on the same device, got ${d} and ${t.device}`);
}

// ---------------------------------------------------------------- linear

/** y = x W^T + b over the last dim of x. */
export function linear(op: string, x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  checkTensor(op, x); checkTensor(op, weight, 'weight');
  const b = checkOptTensor(op, bias, 'bias');
  if (weight.ndim !== 2 && weight.ndim !== 1) throw new ShapeError(op, `weight must be 1-D or 2-D, got shape ${fmtShape(weight.shape)}`);
  const inF = weight.shape[weight.ndim - 1];
  if (x.ndim === 0 || x.shape[x.ndim - 1] !== inF)
    throw new ShapeError(op, `expected input with last dimension ${inF} (in_features), but got input of shape ${fmtShape(x.shape)} (weight ${fmtShape(weight.shape)})`);
  sameDtype(op, x, weight);
  sameDevice(op, x, weight, b);
  if (b && weight.ndim === 2) {
    // rows of features (any leading dims, stored contiguously) through one addmm
    const x2 = x.ndim === 2 ? x : x.ndim > 2 && x.isContiguous() ? x.reshape([-1, inF]) : null;
    const y = x2 ? linearAddmm(x2, weight, b) : null;
    if (y) return x2 === x ? y : y.reshape([...x.shape.slice(0, -1), weight.shape[0]]);
  }
  const y = ops.matmul(x, weight.ndim === 2 ? weight.t() : weight);
  return b ? ops.add(y, b) : y;
}

/** y = x1^T A x2 + b, A of shape [out, in1, in2]. */
export function bilinear(op: string, x1: Tensor, x2: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  checkTensor(op, x1, 'input1'); checkTensor(op, x2, 'input2'); checkTensor(op, weight, 'weight');
  const b = checkOptTensor(op, bias, 'bias');
  if (weight.ndim !== 3) throw new ShapeError(op, `weight must be 3-D [out, in1, in2], got ${fmtShape(weight.shape)}`);
  const [outF, in1, in2] = weight.shape;
  if (x1.ndim === 0 || x1.shape[x1.ndim - 1] !== in1) throw new ShapeError(op, `expected input1 with last dimension ${in1} (in1_features), got ${fmtShape(x1.shape)}`);
  if (x2.ndim === 0 || x2.shape[x2.ndim - 1] !== in2) throw new ShapeError(op, `expected input2 with last dimension ${in2} (in2_features), got ${fmtShape(x2.shape)}`);
  const lead = x1.shape.slice(0, -1);
  if (x2.ndim !== x1.ndim || x2.shape.slice(0, -1).some((s, i) => s !== lead[i]))
    throw new ShapeError(op, `input1 ${fmtShape(x1.shape)} and input2 ${fmtShape(x2.shape)} must have the same leading dimensions`);
  sameDtype(op, x1, weight); sameDtype(op, x2, weight);
  const a = x1.reshape(-1, in1), c = x2.reshape(-1, in2);
  const B = a.shape[0];
  const t = ops.matmul(a, weight.permute(1, 0, 2).reshape(in1, outF * in2)).view(B, outF, in2);
  let y = ops.sum(ops.mul(t, c.unsqueeze(1)), -1);
  if (b) y = ops.add(y, b);
  return y.reshape(...lead, outF);
}

// ---------------------------------------------------------------- convolution

export type Padding = IntOrTuple | 'same' | 'valid';
export interface ConvOptions { stride?: IntOrTuple; padding?: Padding; dilation?: IntOrTuple; groups?: number }
export interface ConvTransposeOptions { stride?: IntOrTuple; padding?: IntOrTuple; outputPadding?: IntOrTuple; dilation?: IntOrTuple; groups?: number }

/** Per spatial dim [before, after] padding, with 'same' split as PyTorch (extra on the after side). */
export function convPads(op: string, padding: Padding, kernel: number[], dilation: number[], stride: number[]): [number, number][] {
  const n = kernel.length;
  if (padding === 'valid') return kernel.map(() => [0, 0]);
  if (padding === 'same') {
    if (stride.some((s) => s !== 1)) throw new TorchError(op, "padding='same' is not supported for strided convolutions");
    return kernel.map((k, i) => { const total = dilation[i] * (k - 1); const l = Math.floor(total / 2); return [l, total - l]; });
  }
  if (typeof padding === 'string') throw new TorchError(op, `invalid padding string '${padding}'; expected 'valid', 'same', an integer or a tuple`);
  return tuple(op, 'padding', padding, n, 0).map((p) => [p, p]);
}

function checkGroups(op: string, groups: number): number {
  if (!Number.isInteger(groups) || groups < 1) throw new TorchError(op, `groups must be a positive integer, got ${groups}`);
  return groups;
}

/** Convolution of [N, C, H, W] by [Cout, C/groups, kh, kw]: checks the geometry, then one conv2d op (see conv_op.ts). */
function conv2dCore(op: string, x: Tensor, w: Tensor, b: Tensor | null, stride: number[], pads: [number, number][], dilation: number[], groups: number): Tensor {
  const [N, C, H, W] = x.shape;
  const [, , kh, kw] = w.shape;
  const [[pt, pb], [pl, pr]] = pads;
  const Hp = H + pt + pb, Wp = W + pl + pr;
  const ekh = dilation[0] * (kh - 1) + 1, ekw = dilation[1] * (kw - 1) + 1;
  if (Hp < ekh || Wp < ekw)
    throw new ShapeError(op, `calculated padded input size per channel: (${Hp} x ${Wp}). Kernel size: (${ekh} x ${ekw}). Kernel size can't be greater than actual input size (input ${fmtShape(x.shape)}, weight ${fmtShape(w.shape)})`);
  const OH = Math.floor((Hp - ekh) / stride[0]) + 1, OW = Math.floor((Wp - ekw) / stride[1]) + 1;
  const g: WindowGeom = { N, C, H, W, kh, kw, sh: stride[0], sw: stride[1], dh: dilation[0], dw: dilation[1], pt, pb, pl, pr, OH, OW };
  return conv2dOp(x, w, b, g, groups);
}

function checkConvArgs(op: string, nd: 1 | 2, x: Tensor, w: Tensor, b: Tensor | null, groups: number, transposed: boolean): void {
  if (x.ndim !== nd + 1 && x.ndim !== nd + 2)
    throw new ShapeError(op, `expected ${nd + 1}D (unbatched) or ${nd + 2}D (batched) input, but got input of shape ${fmtShape(x.shape)}`);
  if (w.ndim !== nd + 2)
    throw new ShapeError(op, `expected a ${nd + 2}D weight, got weight of shape ${fmtShape(w.shape)}`);
  const C = x.shape[x.ndim - nd - 1];
  if (!transposed) {
    if (w.shape[0] % groups !== 0) throw new ShapeError(op, `out_channels (${w.shape[0]}) must be divisible by groups (${groups})`);
    if (w.shape[1] * groups !== C)
      throw new ShapeError(op, `given groups=${groups}, weight of shape ${fmtShape(w.shape)}, expected input ${fmtShape(x.shape)} to have ${w.shape[1] * groups} channels, but got ${C} channels instead`);
    if (b && (b.ndim !== 1 || b.shape[0] !== w.shape[0])) throw new ShapeError(op, `expected bias of shape [${w.shape[0]}], got ${fmtShape(b.shape)}`);
  } else {
    if (w.shape[0] !== C)
      throw new ShapeError(op, `given transposed=1, weight of shape ${fmtShape(w.shape)}, expected input ${fmtShape(x.shape)} to have ${w.shape[0]} channels, but got ${C} channels instead`);
    if (C % groups !== 0) throw new ShapeError(op, `in_channels (${C}) must be divisible by groups (${groups})`);
    if (b && (b.ndim !== 1 || b.shape[0] !== w.shape[1] * groups)) throw new ShapeError(op, `expected bias of shape [${w.shape[1] * groups}], got ${fmtShape(b.shape)}`);
  }
  sameDtype(op, x, w);
  if (b) sameDtype(op, x, b, 'bias');
  sameDevice(op, x, w, b);
}

/** 2-D convolution (cross-correlation) as PyTorch's F.conv2d; input [N, C, H, W] or [C, H, W]. */
export function conv2d(op: string, input: Tensor, weight: Tensor, bias: Tensor | null | undefined, opts: ConvOptions = {}): Tensor {
  checkTensor(op, input); checkTensor(op, weight, 'weight');
  const b = checkOptTensor(op, bias, 'bias');
  const groups = checkGroups(op, opts.groups ?? 1);
  checkConvArgs(op, 2, input, weight, b, groups, false);
  const stride = tuple(op, 'stride', opts.stride ?? 1, 2, 1);
  const dilation = tuple(op, 'dilation', opts.dilation ?? 1, 2, 1);
  const pads = convPads(op, opts.padding ?? 0, [weight.shape[2], weight.shape[3]], dilation, stride);
  const unbatched = input.ndim === 3;
  const y = conv2dCore(op, unbatched ? input.unsqueeze(0) : input, weight, b, stride, pads, dilation, groups);
  return unbatched ? y.squeeze(0) : y;
}

/** 1-D convolution as PyTorch's F.conv1d; input [N, C, L] or [C, L] (runs as a 2-D convolution of height 1). */
export function conv1d(op: string, input: Tensor, weight: Tensor, bias: Tensor | null | undefined, opts: ConvOptions = {}): Tensor {
  checkTensor(op, input); checkTensor(op, weight, 'weight');
  const b = checkOptTensor(op, bias, 'bias');
  const groups = checkGroups(op, opts.groups ?? 1);
  checkConvArgs(op, 1, input, weight, b, groups, false);
  const [stride] = tuple(op, 'stride', opts.stride ?? 1, 1, 1);
  const [dilation] = tuple(op, 'dilation', opts.dilation ?? 1, 1, 1);
  const [pad] = convPads(op, opts.padding ?? 0, [weight.shape[2]], [dilation], [stride]);
  const unbatched = input.ndim === 2;
  const x4 = (unbatched ? input.unsqueeze(0) : input).unsqueeze(2);
  const y = conv2dCore(op, x4, weight.unsqueeze(2), b, [1, stride], [[0, 0], pad], [1, dilation], groups).squeeze(2);
  return unbatched ? y.squeeze(0) : y;
}

/** Transposed 2-D convolution as PyTorch's F.conv_transpose2d; weight [Cin, Cout/groups, kh, kw]. */
export function convTranspose2d(op: string, input: Tensor, weight: Tensor, bias: Tensor | null | undefined, opts: ConvTransposeOptions = {}): Tensor {
  checkTensor(op, input); checkTensor(op, weight, 'weight');
  const b = checkOptTensor(op, bias, 'bias');
  const groups = checkGroups(op, opts.groups ?? 1);
  checkConvArgs(op, 2, input, weight, b, groups, true);
  const stride = tuple(op, 'stride', opts.stride ?? 1, 2, 1);
  const dilation = tuple(op, 'dilation', opts.dilation ?? 1, 2, 1);
  const padding = tuple(op, 'padding', opts.padding ?? 0, 2, 0);
  const outPad = tuple(op, 'outputPadding', opts.outputPadding ?? 0, 2, 0);
  for (let i = 0; i < 2; i++)
    if (outPad[i] >= Math.max(stride[i], dilation[i]))
      throw new TorchError(op, `output padding must be smaller than either stride or dilation, got outputPadding=${fmtShape(outPad)}, stride=${fmtShape(stride)}, dilation=${fmtShape(dilation)}`);
  const unbatched = input.ndim === 3;
  const x = unbatched ? input.unsqueeze(0) : input;
  const [N, Cin, H, W] = x.shape;
  const [, Cog, kh, kw] = weight.shape;
  const Cout = Cog * groups;
  const Hout = (H - 1) * stride[0] - 2 * padding[0] + dilation[0] * (kh - 1) + outPad[0] + 1;
  const Wout = (W - 1) * stride[1] - 2 * padding[1] + dilation[1] * (kw - 1) + outPad[1] + 1;
  if (Hout <= 0 || Wout <= 0)
    throw new ShapeError(op, `given input of shape ${fmtShape(input.shape)}, the calculated output size (${Hout} x ${Wout}) is too small`);
  const g: WindowGeom = {
    N, C: Cout, H: Hout, W: Wout, kh, kw, sh: stride[0], sw: stride[1], dh: dilation[0], dw: dilation[1],
    pt: padding[0], pb: padding[0], pl: padding[1], pr: padding[1], OH: H, OW: W,
  };
  const K = Cog * kh * kw, L = N * H * W;
  const xg = x.permute(1, 0, 2, 3).reshape(groups, Cin / groups, L);
  const cols = groups === 1
    ? ops.matmul(weight.reshape(Cin, K).t(), xg.view(Cin, L))
    : ops.matmul(weight.reshape(groups, Cin / groups, K).transpose(1, 2), xg);
  let y = fold2d(cols.view(Cout, kh, kw, N, H, W), g, CONV_LAYOUT);
  if (b) y = ops.add(y, b.view(1, Cout, 1, 1));
  return unbatched ? y.squeeze(0) : y;
}

// ---------------------------------------------------------------- pooling

export interface MaxPoolOptions { stride?: IntOrTuple | null; padding?: IntOrTuple; dilation?: IntOrTuple; ceilMode?: boolean; returnIndices?: boolean }
export interface AvgPoolOptions { stride?: IntOrTuple | null; padding?: IntOrTuple; ceilMode?: boolean; countIncludePad?: boolean; divisorOverride?: number | null }

/** PyTorch's pooling_output_shape. */
function poolOut(n: number, k: number, pad: number, stride: number, dil: number, ceil: boolean): number {
  const num = n + 2 * pad - dil * (k - 1) - 1 + (ceil ? stride - 1 : 0);
  let o = Math.floor(num / stride) + 1;
  if (ceil && (o - 1) * stride >= n + pad) o--;
  return o;
}

interface PoolGeomArgs { k: number[]; s: number[]; p: number[]; d: number[]; ceil: boolean }
function poolGeom(op: string, x: Tensor, a: PoolGeomArgs): WindowGeom {
  const [N, C, H, W] = x.shape;
  for (let i = 0; i < 2; i++)
    if (a.p[i] * 2 > a.k[i])
      throw new TorchError(op, `pad should be at most half of effective kernel size, but got pad=${a.p[i]}, kernel_size=${a.k[i]} and dilation=${a.d[i]}`);
  const OH = poolOut(H, a.k[0], a.p[0], a.s[0], a.d[0], a.ceil), OW = poolOut(W, a.k[1], a.p[1], a.s[1], a.d[1], a.ceil);
  if (OH < 1 || OW < 1)
    throw new ShapeError(op, `given input of shape ${fmtShape(x.shape)}, the calculated output size (${OH} x ${OW}) is too small (kernel ${fmtShape(a.k)}, stride ${fmtShape(a.s)}, padding ${fmtShape(a.p)})`);
  // windows of the last row/column may reach past the padding in ceil mode: pad further there
  const pb = Math.max(a.p[0], (OH - 1) * a.s[0] + a.d[0] * (a.k[0] - 1) + 1 - H - a.p[0]);
  const pr = Math.max(a.p[1], (OW - 1) * a.s[1] + a.d[1] * (a.k[1] - 1) + 1 - W - a.p[1]);
  return { N, C, H, W, kh: a.k[0], kw: a.k[1], sh: a.s[0], sw: a.s[1], dh: a.d[0], dw: a.d[1], pt: a.p[0], pb, pl: a.p[1], pr, OH, OW };
}

function checkPoolInput(op: string, x: Tensor, nd: 1 | 2): void {
  checkTensor(op, x);
  if (x.ndim !== nd + 1 && x.ndim !== nd + 2)
    throw new ShapeError(op, `expected ${nd + 1}D (unbatched) or ${nd + 2}D (batched) input, but got input of shape ${fmtShape(x.shape)}`);
  if (x.shape.slice(x.ndim - nd).some((s) => s === 0)) throw new ShapeError(op, `expected non-empty spatial dims, got input of shape ${fmtShape(x.shape)}`);
}

/** Flat (h * W + w) input positions of the chosen window elements. */
function windowFlatIndex(local: Tensor, g: WindowGeom): Tensor {
  const dev = local.device;
  const ki = ops.div(local, g.kw, { roundingMode: 'floor' });
  const kj = ops.remainder(local, g.kw);
  const rowBase = ops.arange(g.OH, { device: dev, dtype: 'int64' }).mul(g.sh).sub(g.pt).view(g.OH, 1);
  const colBase = ops.arange(g.OW, { device: dev, dtype: 'int64' }).mul(g.sw).sub(g.pl).view(1, g.OW);
  const row = ops.clamp(ops.add(ops.mul(ki, g.dh), rowBase), 0, g.H - 1);
  const col = ops.clamp(ops.add(ops.mul(kj, g.dw), colBase), 0, g.W - 1);
  return ops.add(ops.mul(row, g.W), col);
}

interface MaxPoolState { local: Tensor | null; flat: Tensor | null }
function flatOf(s: MaxPoolState, g: WindowGeom): Tensor {
  if (!s.flat) s.flat = noGrad(() => windowFlatIndex(s.local!, g));
  return s.flat;
}
/** Max over windows; the argmax positions are kept for the backward (a scatter-add) and for returnIndices. */
const maxPoolSpec: OpSpec<[WindowGeom, MaxPoolState]> = {
  name: 'maxPool2d',
  forward: ([x], g, state) => noGrad(() => {
    if (cpuFastPath(x)) {
      const { values, indices } = maxPoolCpu(x, g);
      state.flat = indices;
      return values;
    }
    const win = unfold2d(x, g, POOL_LAYOUT, -Infinity).view(g.N, g.C, g.OH, g.OW, g.kh * g.kw);
    const local = ops.argmax(win, 4, true);
    state.local = local.view(g.N, g.C, g.OH, g.OW);
    return ops.gather(win, 4, local).view(g.N, g.C, g.OH, g.OW);
  }),
  backward: (grad, c) => {
    const [g, state] = c.args;
    // without a graph to record (no createGraph), the cpu loop scatters directly
    if (!isGradEnabled() && cpuFastPath(grad) && state.flat) return [maxPoolBackwardCpu(grad, state.flat, g)];
    const idx = flatOf(state, g).view(g.N, g.C, g.OH * g.OW);
    const z = ops.zeros([g.N, g.C, g.H * g.W], { dtype: grad.dtype, device: grad.device });
    return [ops.scatterAdd(z, 2, idx, grad.reshape(g.N, g.C, g.OH * g.OW)).view(g.N, g.C, g.H, g.W)];
  },
  save: () => ({}),
};

/** Max pooling over [N, C, H, W] (or [C, H, W]); with returnIndices gives [values, indices] (flat h * W + w, as PyTorch). */
export function maxPool2d(op: string, input: Tensor, kernelSize: IntOrTuple, opts: MaxPoolOptions = {}): Tensor | [Tensor, Tensor] {
  checkPoolInput(op, input, 2);
  const k = tuple(op, 'kernel_size', kernelSize, 2, 1);
  const s = opts.stride === undefined || opts.stride === null || (Array.isArray(opts.stride) && opts.stride.length === 0) ? k : tuple(op, 'stride', opts.stride, 2, 1);
  const p = tuple(op, 'padding', opts.padding ?? 0, 2, 0);
  const d = tuple(op, 'dilation', opts.dilation ?? 1, 2, 1);
  const unbatched = input.ndim === 3;
  const x = unbatched ? input.unsqueeze(0) : input;
  const g = poolGeom(op, x, { k, s, p, d, ceil: !!opts.ceilMode });
  const state: MaxPoolState = { local: null, flat: null };
  let y = apply(maxPoolSpec, [x], g, state);
  if (unbatched) y = y.squeeze(0);
  if (!opts.returnIndices) return y;
  let idx = flatOf(state, g);
  if (unbatched) idx = idx.squeeze(0);
  return [y, idx];
}

/** Max pooling over [N, C, L] (or [C, L]). */
export function maxPool1d(op: string, input: Tensor, kernelSize: IntOrTuple, opts: MaxPoolOptions = {}): Tensor | [Tensor, Tensor] {
  checkPoolInput(op, input, 1);
  const [k] = tuple(op, 'kernel_size', kernelSize, 1, 1);
  const [s] = opts.stride === undefined || opts.stride === null || (Array.isArray(opts.stride) && opts.stride.length === 0) ? [k] : tuple(op, 'stride', opts.stride, 1, 1);
  const [p] = tuple(op, 'padding', opts.padding ?? 0, 1, 0);
  const [d] = tuple(op, 'dilation', opts.dilation ?? 1, 1, 1);
  const r = maxPool2d(op, input.unsqueeze(-2), [1, k], { stride: [1, s], padding: [0, p], dilation: [1, d], ceilMode: opts.ceilMode, returnIndices: opts.returnIndices });
  if (Array.isArray(r)) return [r[0].squeeze(-2), r[1].squeeze(-2)];
  return r.squeeze(-2);
}

/** Average pooling over [N, C, H, W] (or [C, H, W]) as PyTorch's F.avg_pool2d. */
export function avgPool2d(op: string, input: Tensor, kernelSize: IntOrTuple, opts: AvgPoolOptions = {}): Tensor {
  checkPoolInput(op, input, 2);
  if (!isFloating(input.dtype)) throw new DTypeError(op, `expected a floating point input, got ${input.dtype}`);
  const k = tuple(op, 'kernel_size', kernelSize, 2, 1);
  const s = opts.stride === undefined || opts.stride === null || (Array.isArray(opts.stride) && opts.stride.length === 0) ? k : tuple(op, 'stride', opts.stride, 2, 1);
  const p = tuple(op, 'padding', opts.padding ?? 0, 2, 0);
  const includePad = opts.countIncludePad ?? true;
  const unbatched = input.ndim === 3;
  const x = unbatched ? input.unsqueeze(0) : input;
  const g = poolGeom(op, x, { k, s, p, d: [1, 1], ceil: !!opts.ceilMode });
  const sums = ops.sum(unfold2d(x, g, POOL_LAYOUT, 0), [4, 5]);
  let divisor: number | Tensor;
  if (opts.divisorOverride !== undefined && opts.divisorOverride !== null) {
    if (!Number.isInteger(opts.divisorOverride) || opts.divisorOverride === 0) throw new TorchError(op, `divisorOverride must be a non-zero integer, got ${opts.divisorOverride}`);
    divisor = opts.divisorOverride;
  } else {
    const dv = new Float64Array(g.OH * g.OW);
    for (let i = 0; i < g.OH; i++) {
      for (let j = 0; j < g.OW; j++) {
        let hs = i * g.sh - g.pt, ws = j * g.sw - g.pl;
        let he = Math.min(hs + g.kh, g.H + g.pt), we = Math.min(ws + g.kw, g.W + g.pl);
        const poolSize = (he - hs) * (we - ws);
        hs = Math.max(hs, 0); ws = Math.max(ws, 0); he = Math.min(he, g.H); we = Math.min(we, g.W);
        dv[i * g.OW + j] = includePad ? poolSize : (he - hs) * (we - ws);
      }
    }
    divisor = dv.every((v) => v === dv[0]) ? dv[0] : hostTensor(dv, [g.OH, g.OW], x.device, x.dtype);
  }
  const y = ops.div(sums, divisor);
  return unbatched ? y.squeeze(0) : y;
}

/** Adaptive average pooling to a fixed output size (null keeps that input size), as PyTorch's F.adaptive_avg_pool2d. */
export function adaptiveAvgPool2d(op: string, input: Tensor, outputSize: number | null | readonly (number | null)[]): Tensor {
  checkPoolInput(op, input, 2);
  if (!isFloating(input.dtype)) throw new DTypeError(op, `expected a floating point input, got ${input.dtype}`);
  const H = input.shape[input.ndim - 2], W = input.shape[input.ndim - 1];
  const os = typeof outputSize === 'number' || outputSize === null ? [outputSize, outputSize] : [...outputSize];
  if (os.length !== 2) throw new TorchError(op, `output_size must be an integer or a pair, got ${JSON.stringify(outputSize)}`);
  const [oh, ow] = [os[0] ?? H, os[1] ?? W];
  if (![oh, ow].every((v) => Number.isInteger(v) && v >= 1)) throw new TorchError(op, `output_size must be positive integers, got ${JSON.stringify(outputSize)}`);
  if (oh === 1 && ow === 1) return ops.mean(input, [-2, -1], true);
  if (oh === H && ow === W) return input.clone();
  if (H % oh === 0 && W % ow === 0) return avgPool2d(op, input, [H / oh, W / ow]);
  // general sizes: a pooling matrix per spatial dim (windows [floor(i*n/o), ceil((i+1)*n/o)))
  const poolMatrix = (n: number, o: number): Tensor => {
    const m = new Float64Array(n * o);
    for (let i = 0; i < o; i++) {
      const s = Math.floor((i * n) / o), e = Math.ceil(((i + 1) * n) / o);
      for (let j = s; j < e; j++) m[j * o + i] = 1 / (e - s);
    }
    return hostTensor(m, [n, o], input.device, input.dtype);
  };
  const byW = ops.matmul(input, poolMatrix(W, ow)); // [..., H, ow]
  return ops.matmul(byW.transpose(-1, -2), poolMatrix(H, oh)).transpose(-1, -2).contiguous();
}

// ---------------------------------------------------------------- normalization

export interface BatchNormOptions { training?: boolean; momentum?: number; eps?: number }

function channelShape(x: Tensor): number[] { return x.shape.map((s, i) => (i === 1 ? s : 1)); }

/** Batch normalization as PyTorch's F.batch_norm; in training mode updates runningMean/runningVar in place. */
export function batchNorm(op: string, input: Tensor, runningMean: Tensor | null | undefined, runningVar: Tensor | null | undefined,
  weight?: Tensor | null, bias?: Tensor | null, opts: BatchNormOptions = {}): Tensor {
  checkTensor(op, input);
  const rm = checkOptTensor(op, runningMean, 'runningMean'), rv = checkOptTensor(op, runningVar, 'runningVar');
  const w = checkOptTensor(op, weight, 'weight'), b = checkOptTensor(op, bias, 'bias');
  if (input.ndim < 2) throw new ShapeError(op, `expected 2D or higher input [N, C, *], got input of shape ${fmtShape(input.shape)}`);
  if (!isFloating(input.dtype)) throw new DTypeError(op, `expected a floating point input, got ${input.dtype}`);
  const C = input.shape[1];
  for (const [t, name] of [[rm, 'running_mean'], [rv, 'running_var'], [w, 'weight'], [b, 'bias']] as const)
    if (t && (t.ndim !== 1 || t.shape[0] !== C))
      throw new ShapeError(op, `expected ${name} of shape [${C}] (the input's channel dim), got ${fmtShape(t.shape)}; input has shape ${fmtShape(input.shape)}`);
  const training = opts.training ?? false, momentum = opts.momentum ?? 0.1, eps = opts.eps ?? 1e-5;
  const shape = channelShape(input);
  const dims = input.shape.map((_, i) => i).filter((i) => i !== 1);
  if (training) {
    const n = input.numel() / Math.max(C, 1);
    if (n <= 1) throw new TorchError(op, `expected more than 1 value per channel when training, got input of shape ${fmtShape(input.shape)}`);
    // running statistics from the batch's mean and biased variance (each [C])
    const track = (meanC: Tensor, varC: Tensor) => noGrad(() => {
      if (rm) rm.mul_(1 - momentum).add_(meanC.to(rm.dtype).mul(momentum));
      if (rv) rv.mul_(1 - momentum).add_(varC.to(rv.dtype).mul(momentum * n / (n - 1)));
    });
    // nothing to differentiate: a backend's fused kernel (statistics and normalization in one pass
    // over each channel) when it has one; the composite below is the reference and keeps the graph
    const be = input._backend;
    if (be.batchNormTrain && !(isGradEnabled() && (input.requiresGrad || w?.requiresGrad || b?.requiresGrad))
      && n / input.shape[0] >= 16 && input.isContiguous() && (!w || w.device === input.device) && (!b || b.device === input.device)) {
      const y = empty_(be, input.shape, input.dtype, true);
      const m = empty_(be, [C], input.dtype, true), v = empty_(be, [C], input.dtype, true);
      if (be.batchNormTrain(input._view, w?._view ?? null, b?._view ?? null, eps, y._view, m._view, v._view)) {
        track(m, v);
        return y;
      }
    }
    const mean = ops.mean(input, dims, true);
    const xc = ops.sub(input, mean);
    const variance = ops.mean(ops.mul(xc, xc), dims, true);
    track(mean.detach().view(C), variance.detach().view(C));
    let y = ops.mul(xc, ops.rsqrt(ops.add(variance, eps)));
    if (w) y = ops.mul(y, w.view(shape));
    if (b) y = ops.add(y, b.view(shape));
    return y;
  }
  if (!rm || !rv) throw new TorchError(op, 'running_mean and running_var must be defined in evaluation mode (or pass training: true)');
  // eval: y = x * alpha + beta with alpha = weight / sqrt(var + eps), beta = bias - mean * alpha
  let alpha = ops.rsqrt(ops.add(rv, eps));
  if (w) alpha = ops.mul(alpha, w);
  let beta = ops.neg(ops.mul(rm, alpha));
  if (b) beta = ops.add(beta, b);
  return ops.add(ops.mul(input, alpha.view(shape)), beta.view(shape));
}

/** Layer normalization over the trailing dims given by normalizedShape. */
export function layerNorm(op: string, input: Tensor, normalizedShape: IntOrTuple, weight?: Tensor | null, bias?: Tensor | null, opts: { eps?: number } = {}): Tensor {
  checkTensor(op, input);
  const w = checkOptTensor(op, weight, 'weight'), b = checkOptTensor(op, bias, 'bias');
  const ns = typeof normalizedShape === 'number' ? [normalizedShape] : [...normalizedShape];
  const k = ns.length;
  if (k === 0 || input.ndim < k || input.shape.slice(input.ndim - k).some((s, i) => s !== ns[i]))
    throw new ShapeError(op, `given normalized_shape=${fmtShape(ns)}, expected input with shape [*, ${ns.join(', ')}], but got input of shape ${fmtShape(input.shape)}`);
  for (const [t, name] of [[w, 'weight'], [b, 'bias']] as const)
    if (t && (t.ndim !== k || t.shape.some((s, i) => s !== ns[i]))) throw new ShapeError(op, `expected ${name} of shape ${fmtShape(ns)}, got ${fmtShape(t.shape)}`);
  if (!isFloating(input.dtype)) throw new DTypeError(op, `expected a floating point input, got ${input.dtype}`);
  const eps = opts.eps ?? 1e-5;
  const dims = ns.map((_, i) => input.ndim - k + i);
  const mean = ops.mean(input, dims, true);
  const xc = ops.sub(input, mean);
  const variance = ops.mean(ops.mul(xc, xc), dims, true);
  let y = ops.mul(xc, ops.rsqrt(ops.add(variance, eps)));
  if (w) y = ops.mul(y, w);
  if (b) y = ops.add(y, b);
  return y;
}

/** Group normalization: channels split into numGroups groups, each normalized over its channels and spatial dims. */
export function groupNorm(op: string, input: Tensor, numGroups: number, weight?: Tensor | null, bias?: Tensor | null, opts: { eps?: number } = {}): Tensor {
  checkTensor(op, input);
  const w = checkOptTensor(op, weight, 'weight'), b = checkOptTensor(op, bias, 'bias');
  if (input.ndim < 2) throw new ShapeError(op, `expected input of shape [N, C, *], got ${fmtShape(input.shape)}`);
  const [N, C] = input.shape;
  if (!Number.isInteger(numGroups) || numGroups < 1 || C % numGroups !== 0)
    throw new ShapeError(op, `expected number of channels in input to be divisible by num_groups, but got input of shape ${fmtShape(input.shape)} and num_groups=${numGroups}`);
  for (const [t, name] of [[w, 'weight'], [b, 'bias']] as const)
    if (t && (t.ndim !== 1 || t.shape[0] !== C)) throw new ShapeError(op, `expected ${name} of shape [${C}], got ${fmtShape(t.shape)}`);
  if (!isFloating(input.dtype)) throw new DTypeError(op, `expected a floating point input, got ${input.dtype}`);
  const eps = opts.eps ?? 1e-5;
  const xr = input.reshape(N, numGroups, -1);
  const mean = ops.mean(xr, [2], true);
  const xc = ops.sub(xr, mean);
  const variance = ops.mean(ops.mul(xc, xc), [2], true);
  let y = ops.mul(xc, ops.rsqrt(ops.add(variance, eps))).reshape(...input.shape);
  const shape = channelShape(input);
  if (w) y = ops.mul(y, w.view(shape));
  if (b) y = ops.add(y, b.view(shape));
  return y;
}

// ---------------------------------------------------------------- dropout, embedding

/** Zeroes elements with probability p and scales the rest by 1/(1-p) (identity when not training). */
export function dropout(op: string, input: Tensor, p = 0.5, training = true): Tensor {
  checkTensor(op, input);
  if (typeof p !== 'number' || !(p >= 0 && p <= 1)) throw new TorchError(op, `dropout probability has to be between 0 and 1, but got ${p}`);
  if (!training || p === 0) return input;
  if (p === 1) return ops.mul(input, 0);
  const dt: DType = isFloating(input.dtype) ? input.dtype : 'float32';
  const mask = noGrad(() => ops.empty([...input.shape], { dtype: dt, device: input.device }).bernoulli_(1 - p).mul(1 / (1 - p)));
  return ops.mul(input, mask);
}

export interface EmbeddingOptions { paddingIdx?: number | null; maxNorm?: number | null; normType?: number; scaleGradByFreq?: boolean }

const embeddingSpec: OpSpec<[number | null, boolean]> = {
  name: 'embedding',
  forward: ([w, idx]) => ops.indexSelect(w, 0, idx),
  backward: (g, c) => {
    const [w, idx] = c.inputs;
    const [paddingIdx, scaleByFreq] = c.args;
    const D = w.shape[1];
    let gg = g;
    if (paddingIdx !== null) gg = ops.mul(gg, ops.ne(idx, paddingIdx).unsqueeze(1).to(g.dtype));
    if (scaleByFreq) {
      const counts = ops.scatterAdd(ops.zeros([w.shape[0]], { dtype: g.dtype, device: g.device }), 0, idx, ops.ones([idx.shape[0]], { dtype: g.dtype, device: g.device }));
      gg = ops.div(gg, ops.gather(counts, 0, idx).unsqueeze(1));
    }
    const z = ops.zeros([...w.shape], { dtype: g.dtype, device: g.device });
    return [ops.scatterAdd(z, 0, idx.unsqueeze(1).expand(idx.shape[0], D), gg), null];
  },
  save: () => ({ inputs: [1] }),
};

/** Rows of weight at the integer indices in input (output shape [...input.shape, D]). */
export function embedding(op: string, input: Tensor, weight: Tensor, opts: EmbeddingOptions = {}): Tensor {
  checkTensor(op, input); checkTensor(op, weight, 'weight');
  if (input.dtype !== 'int64' && input.dtype !== 'int32')
    throw new DTypeError(op, `expected integer indices (int64 or int32), got ${input.dtype}; convert with .long()`);
  if (weight.ndim !== 2) throw new ShapeError(op, `weight must be 2-D [num_embeddings, embedding_dim], got ${fmtShape(weight.shape)}`);
  const V = weight.shape[0];
  let pad = opts.paddingIdx ?? null;
  if (pad !== null) {
    if (!Number.isInteger(pad) || pad >= V || pad < -V) throw new IndexError(op, `padding_idx must be within num_embeddings (${V}), got ${pad}`);
    if (pad < 0) pad += V;
  }
  const flat = input.reshape(-1);
  if (input._backend.readSync && flat.numel() > 0) {
    const { min, max } = noGrad(() => ({ min: flat.min().item(), max: flat.max().item() }));
    if (min < 0 || max >= V) throw new IndexError(op, `index ${min < 0 ? min : max} is out of range for an embedding with ${V} rows (input of shape ${fmtShape(input.shape)})`);
  }
  if (opts.maxNorm !== undefined && opts.maxNorm !== null) renormRows(weight, flat, opts.maxNorm, opts.normType ?? 2);
  const rows = apply(embeddingSpec, [weight, flat.to('int64')], pad, !!opts.scaleGradByFreq);
  return rows.view(...input.shape, weight.shape[1]);
}

/** Rescales (in place, without autograd) the referenced rows whose norm exceeds maxNorm, as PyTorch's embedding_renorm_. */
function renormRows(weight: Tensor, idx: Tensor, maxNorm: number, normType: number): void {
  noGrad(() => {
    const uniq = Array.from(new Set(Array.from(idx.dataSync() as ArrayLike<number>)));
    if (uniq.length === 0) return;
    const u = ops.tensor(uniq, { dtype: 'int64', device: weight.device });
    const rows = ops.indexSelect(weight, 0, u);
    const norms = ops.norm(rows, normType, 1, true);
    const scale = ops.where(ops.gt(norms, maxNorm), ops.div(maxNorm, ops.add(norms, 1e-7)), 1);
    weight.indexPut_([u], ops.mul(rows, scale));
  });
}

// ---------------------------------------------------------------- padding, oneHot

export type PadMode = 'constant' | 'reflect' | 'replicate' | 'circular';

const constantPadSpec: OpSpec<[number[], number]> = {
  name: 'constantPad',
  forward: ([x], pads, value) => {
    const nd = x.ndim;
    const outShape = [...x.shape];
    let src = x;
    const dstStart = new Array<number>(nd).fill(0);
    for (let i = 0; i < pads.length / 2; i++) {
      const d = nd - 1 - i, l = pads[2 * i], r = pads[2 * i + 1];
      outShape[d] = x.shape[d] + l + r;
      // negative pads crop the input
      const cropL = Math.max(0, -l), cropR = Math.max(0, -r);
      src = ops.slice(src, d, cropL, Math.max(0, x.shape[d] - cropL - cropR));
      dstStart[d] = Math.max(0, l);
    }
    const out = fillRaw(x._backend, outShape, x.dtype, value);
    if (src.numel() > 0) {
      const st = out._strides;
      const offset = dstStart.reduce((a, s, d) => a + s * st[d], 0);
      x._backend.copy(src._view, { handle: out._storage.handle, dtype: out.dtype, shape: src.shape, strides: st, offset });
    }
    return out;
  },
  backward: (g, c) => [apply(constantPadSpec, [g], c.args[0].map((p) => -p), 0)],
  save: () => ({}),
};

function indexPad(x: Tensor, d: number, l: number, r: number, mode: PadMode): Tensor {
  const n = x.shape[d];
  const idx = new Float64Array(n + l + r);
  for (let i = -l; i < n + r; i++) {
    let j: number;
    if (mode === 'reflect') { j = Math.abs(i); if (j >= n) j = 2 * (n - 1) - j; }
    else if (mode === 'replicate') j = Math.min(Math.max(i, 0), n - 1);
    else j = ((i % n) + n) % n;
    idx[i + l] = j;
  }
  return ops.indexSelect(x, d, hostTensor(idx, [idx.length], x.device, 'int64'));
}

/** Pads the trailing dims: pad = [left_last, right_last, left_prev, right_prev, ...] as PyTorch's F.pad. */
export function pad(op: string, input: Tensor, padding: readonly number[], mode: PadMode = 'constant', value = 0): Tensor {
  checkTensor(op, input);
  if (!Array.isArray(padding) || padding.length % 2 !== 0 || padding.some((p) => !Number.isInteger(p)))
    throw new TorchError(op, `padding must be an even-length array of integers, got ${JSON.stringify(padding)}`);
  if (padding.length / 2 > input.ndim)
    throw new ShapeError(op, `padding length ${padding.length} is too large for an input of ${input.ndim} dims (shape ${fmtShape(input.shape)}); at most ${2 * input.ndim}`);
  if (mode === 'constant') {
    for (let i = 0; i < padding.length / 2; i++) {
      const d = input.ndim - 1 - i;
      if (input.shape[d] + padding[2 * i] + padding[2 * i + 1] < 0)
        throw new ShapeError(op, `the input size ${input.shape[d]} plus negative padding ${padding[2 * i]} and ${padding[2 * i + 1]} resulted in a negative output size at dim ${d}`);
    }
    return apply(constantPadSpec, [input], [...padding], value);
  }
  if (mode !== 'reflect' && mode !== 'replicate' && mode !== 'circular')
    throw new TorchError(op, `unsupported padding mode '${mode}'; expected 'constant', 'reflect', 'replicate' or 'circular'`);
  let y = input;
  for (let i = 0; i < padding.length / 2; i++) {
    const d = input.ndim - 1 - i, l = padding[2 * i], r = padding[2 * i + 1], n = input.shape[d];
    if (l < 0 || r < 0) throw new TorchError(op, `negative padding is only supported in 'constant' mode, got ${JSON.stringify(padding)}`);
    if (mode === 'reflect' && (l >= n || r >= n))
      throw new ShapeError(op, `padding size should be less than the corresponding input dimension, but got padding (${l}, ${r}) at dim ${d} of input ${fmtShape(input.shape)}`);
    if (mode === 'circular' && (l > n || r > n))
      throw new ShapeError(op, `padding value causes wrapping around more than once: padding (${l}, ${r}) at dim ${d} of input ${fmtShape(input.shape)}`);
    if (n === 0 && (l > 0 || r > 0)) throw new ShapeError(op, `cannot pad an empty dim ${d} in '${mode}' mode`);
    if (l || r) y = indexPad(y, d, l, r, mode);
  }
  return y;
}

/** One-hot encoding of int64 class indices: shape [...input.shape, numClasses], dtype int64. */
export function oneHot(op: string, input: Tensor, numClasses = -1): Tensor {
  checkTensor(op, input);
  if (input.dtype !== 'int64' && input.dtype !== 'int32') throw new DTypeError(op, `one_hot is only applicable to index tensors (int64), got ${input.dtype}`);
  let n = numClasses;
  if (input.numel() > 0 && input._backend.readSync) {
    const { min, max } = noGrad(() => ({ min: input.min().item(), max: input.max().item() }));
    if (min < 0) throw new TorchError(op, 'class values must be non-negative');
    if (n === -1) n = max + 1;
    else if (max >= n) throw new TorchError(op, `class values must be smaller than num_classes (${n}), got ${max}`);
  } else if (n === -1) {
    if (input.numel() === 0) throw new TorchError(op, 'can not infer total number of classes from an empty tensor');
    throw new TorchError(op, `numClasses must be given for tensors on '${input.device}'`);
  }
  if (!Number.isInteger(n) || n < 0) throw new TorchError(op, `numClasses must be a non-negative integer or -1, got ${numClasses}`);
  return ops.eq(input.unsqueeze(-1), ops.arange(n, { device: input.device, dtype: input.dtype })).to('int64');
}

// ---------------------------------------------------------------- activations

export function leakyRelu(op: string, input: Tensor, negativeSlope = 0.01): Tensor {
  checkTensor(op, input);
  return ops.where(ops.gt(input, 0), input, ops.mul(input, negativeSlope));
}

/** PyTorch's implicit softmax dim (deprecated there): 0 for 0-, 1- and 3-D inputs, else 1. */
export function implicitSoftmaxDim(ndim: number): number { return ndim === 0 || ndim === 1 || ndim === 3 ? 0 : 1; }

