// The fused cpu convolution (native/conv.inc.c via src/device/cpu/conv.ts) against the
// composite im2col + matmul path, which the PyTorch fixtures and gradchecks in nn-layers cover;
// then the frontend's use of the Backend conv2d hooks (reference hooks, gradchecks on both paths).
import t, { type Test } from 'tap';
import torch, { Tensor, nn } from '../src/index.js';
import { maxRel } from './helpers/compare.js';
import { nativeInfo } from '../src/device/cpu/native.js';
import { blasInfo, CpuBackend } from '../src/device/cpu/index.js';
import { _setConvDirectMaxK, _setFusedConv } from '../src/device/cpu/conv.js';
import { getBackend } from '../src/device/registry.js';
import type { Backend, Conv2dParams, View } from '../src/device/backend.js';
import type { DType } from '../src/dtype.js';

const F = nn.functional;
const available = nativeInfo().loaded && blasInfo().kind === 'openblas';

t.test('fused conv2d equals the composite path (values, input, weight and bias gradients)', (t) => {
  if (!available) return t.skip(`fused convolution needs the native kernels and OpenBLAS: native ${nativeInfo().loaded ? 'loaded' : nativeInfo().reason}, blas ${blasInfo().kind}`);
  const cases: [number, number, number, number, number, number, number, Record<string, unknown>][] = [
    // N, C, H, W, Cout, kh, kw, options
    [2, 1, 28, 28, 8, 3, 3, { padding: 1 }],
    [4, 3, 9, 7, 6, 3, 3, { padding: 1 }],
    [3, 4, 10, 11, 6, 3, 3, { stride: 2, groups: 2 }],
    [2, 6, 8, 8, 9, 2, 2, { padding: 2, dilation: 2, groups: 3 }],
    [5, 6, 23, 19, 7, 3, 3, { stride: [1, 3], padding: [0, 1] }],
    [3, 2, 5, 5, 4, 5, 5, {}],
    [2, 4, 6, 6, 4, 1, 1, { groups: 4 }],
    [9, 5, 7, 9, 3, 3, 2, { padding: 'same' }],
    [17, 3, 6, 5, 4, 3, 3, { padding: 1 }], // more images than weight-gradient parts
    // float32 forward by the direct kernel (C * kh * kw <= 32, stride 1, one group): rows longer
    // than a block with ragged ends, output channels not a multiple of 4, dilation, 1-wide kernels
    [3, 1, 30, 45, 5, 3, 3, { padding: 1 }],
    [2, 3, 10, 6, 4, 3, 3, { padding: [2, 1], dilation: [2, 1] }],
    [2, 2, 9, 40, 3, 1, 5, { padding: [0, 2] }],
    [2, 1, 5, 17, 9, 5, 5, { padding: 2 }],
  ];
  for (const [dtype, directMaxK] of [['float32', 32], ['float32', 0], ['float64', 32]] as [DType, number][]) {
    const prevK = _setConvDirectMaxK(directMaxK);
    t.equal(prevK, 32, 'direct-kernel limit readable (the default is 32)');
    for (const [N, C, H, W, Co, kh, kw, o] of cases) {
      const groups = (o.groups as number) ?? 1;
      torch.manualSeed(7);
      const x0 = torch.randn([N, C, H, W], { dtype });
      const w0 = torch.randn([Co, C / groups, kh, kw], { dtype });
      const b0 = torch.randn([Co], { dtype });
      const run = (fused: boolean) => {
        _setFusedConv(fused);
        try {
          const x = x0.clone().requiresGrad_(true), w = w0.clone().requiresGrad_(true), b = b0.clone().requiresGrad_(true);
          const y = F.conv2d(x, w, b, o as never);
          y.backward(y.detach().sin());
          return { y: y.detach(), gx: x.grad!, gw: w.grad!, gb: b.grad!, fn: y.gradFn?.name };
        } finally {
          _setFusedConv(true);
        }
      };
      const a = run(true), c = run(false);
      t.equal(a.fn, 'conv2d', `fused op recorded (${dtype} ${JSON.stringify([N, C, H, W, Co, kh, kw, o])})`);
      t.not(c.fn, 'conv2d', 'composite path when the fused one is off');
      const tol = dtype === 'float32' ? 2e-5 : 1e-12;
      for (const k of ['y', 'gx', 'gw', 'gb'] as const) {
        t.same(a[k].shape, c[k].shape, `${k} shape`);
        const r = maxRel(a[k], c[k]);
        t.ok(r <= tol, `${dtype} (direct kernel up to K=${directMaxK}) ${JSON.stringify([N, C, H, W, Co, kh, kw, o])} ${k}: max relative difference ${r.toExponential(2)} <= ${tol}`);
      }
    }
    _setConvDirectMaxK(prevK);
  }
  t.end();
});

t.test('fused conv2d: gradcheck and second derivatives (float64, batch 2)', (t) => {
  if (!available) return t.skip('fused convolution not available here (see above)');
  torch.manualSeed(11);
  const x = torch.randn([2, 2, 5, 4], { dtype: 'float64', requiresGrad: true });
  const w = torch.randn([3, 2, 3, 2], { dtype: 'float64', requiresGrad: true });
  const b = torch.randn([3], { dtype: 'float64', requiresGrad: true });
  t.equal(F.conv2d(x, w, b).gradFn?.name, 'conv2d', 'the fused op is the one checked');
  t.ok(torch.autograd.gradcheck((xx, ww, bb) => F.conv2d(xx, ww, bb, { padding: [1, 0], stride: [1, 2] }), [x, w, b]), 'first derivatives');
  const ok = torch.autograd.gradcheck((xx, ww) => torch.enableGrad(() => {
    const y = F.conv2d(xx, ww, null, { padding: 1 });
    const [gx, gw] = torch.autograd.grad(y.square().sum(), [xx, ww], { createGraph: true });
    return gx!.sum().add(gw!.square().sum());
  }), [x, w]);
  t.ok(ok, 'second derivatives (createGraph backward uses differentiable ops)');
  t.end();
});

t.test('fused conv2d: non-contiguous input, batch 1 and empty inputs take the right path', (t) => {
  if (!available) return t.skip('fused convolution not available here (see above)');
  torch.manualSeed(12);
  const conv = new nn.Conv2d(3, 4, 3, { padding: 1 });
  const xt = torch.randn([6, 3, 8, 8]).transpose(2, 3); // strided input
  const a = conv.forward(xt);
  _setFusedConv(false);
  const c = conv.forward(xt);
  _setFusedConv(true);
  t.ok(maxRel(a, c) < 2e-6, 'strided input read correctly');
  t.not(conv.forward(torch.randn([1, 3, 8, 8])).gradFn?.name, 'conv2d', 'batch 1 uses the composite path (BLAS threads split one image)');
  t.same(conv.forward(torch.randn([0, 3, 8, 8])).shape, [0, 4, 8, 8], 'empty batch');
  t.end();
});

// ---------------------------------------------------------------- the backend hooks

// F.conv2d reaches a device's convolution through Backend.conv2d / conv2dBackwardInput /
// conv2dBackwardWeight (src/nn/functional/conv_op.ts). The hooks below are installed on the cpu
// backend instance (own properties shadowing CpuBackend's methods) and taken away again after
// each subtest: plain JS reference convolutions that count their calls and check what the
// frontend promises (contiguous weight, bias, gradients and outputs), so the plumbing is tested
// with or without the native library.

type Hooks = Pick<Backend, 'conv2d' | 'conv2dBackwardInput' | 'conv2dBackwardWeight'>;
const HOOKS = ['conv2d', 'conv2dBackwardInput', 'conv2dBackwardWeight'] as const;
const cpu = getBackend('cpu');

/** Runs fn with the cpu backend's conv hooks replaced (undefined removes one), then restores them. */
function withHooks<T>(hooks: Hooks, fn: () => T): T {
  const own = cpu as unknown as Record<string, unknown>;
  for (const k of HOOKS) own[k] = hooks[k];
  try {
    return fn();
  } finally {
    for (const k of HOOKS) delete own[k];
  }
}

interface Calls { conv2d: number; conv2dBackwardInput: number; conv2dBackwardWeight: number; broken: string[] }
const noCalls = (): Calls => ({ conv2d: 0, conv2dBackwardInput: 0, conv2dBackwardWeight: 0, broken: [] });

/** Direct (loop) float64 convolution hooks; `declines` makes the named ones return false untouched. */
function referenceHooks(calls: Calls, declines: readonly string[] = []): Required<Hooks> {
  const arr = (v: View) => v.handle as Float64Array;
  const at = (v: View, i: number[]) => v.offset + i[0] * v.strides[0] + i[1] * v.strides[1] + i[2] * v.strides[2] + i[3] * v.strides[3];
  const dense = (what: string, ...vs: (View | null)[]) => {
    for (const v of vs) if (v && v.strides.some((s, d) => s !== v.shape.slice(d + 1).reduce((a, b) => a * b, 1))) calls.broken.push(`${what}: a view is not contiguous`);
  };
  /** Visits every (output position, kernel tap) pair that reads an input element. */
  const taps = (x: readonly number[], w: readonly number[], y: readonly number[], p: Conv2dParams,
    f: (n: number, co: number, oh: number, ow: number, c: number, ci: number, i: number, j: number, ih: number, iw: number) => void) => {
    const [N, , H, W] = x, [Co, Cg, kh, kw] = w, [, , OH, OW] = y, per = Co / p.groups;
    for (let n = 0; n < N; n++) for (let co = 0; co < Co; co++) for (let oh = 0; oh < OH; oh++) for (let ow = 0; ow < OW; ow++)
      for (let c = 0; c < Cg; c++) for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) {
        const ih = oh * p.stride[0] - p.padding.top + i * p.dilation[0], iw = ow * p.stride[1] - p.padding.left + j * p.dilation[1];
        if (ih >= 0 && ih < H && iw >= 0 && iw < W) f(n, co, oh, ow, Math.floor(co / per) * Cg + c, c, i, j, ih, iw);
      }
  };
  return {
    conv2d(x, w, b, out, p) {
      calls.conv2d++;
      if (declines.includes('conv2d') || x.dtype !== 'float64') return false;
      dense('conv2d', w, b, out);
      const [N, Co, OH, OW] = out.shape, o = arr(out);
      const H = x.shape[2], kh = w.shape[2];
      if (OH !== Math.floor((H + p.padding.top + p.padding.bottom - p.dilation[0] * (kh - 1) - 1) / p.stride[0]) + 1) calls.broken.push('conv2d: OH disagrees with the padding');
      for (let n = 0; n < N; n++) for (let co = 0; co < Co; co++) for (let k = 0; k < OH * OW; k++)
        o[out.offset + (n * Co + co) * OH * OW + k] = b ? arr(b)[b.offset + co] : 0;
      taps(x.shape, w.shape, out.shape, p, (n, co, oh, ow, c, ci, i, j, ih, iw) => {
        o[at(out, [n, co, oh, ow])] += arr(x)[at(x, [n, c, ih, iw])] * arr(w)[at(w, [co, ci, i, j])];
      });
      return true;
    },
    conv2dBackwardInput(gy, w, gx, p) {
      calls.conv2dBackwardInput++;
      if (declines.includes('conv2dBackwardInput')) return false;
      dense('conv2dBackwardInput', gy, w, gx);
      const g = arr(gx);
      g.fill(0, gx.offset, gx.offset + gx.shape.reduce((a, b) => a * b, 1)); // fresh: not zeroed
      taps(gx.shape, w.shape, gy.shape, p, (n, co, oh, ow, c, ci, i, j, ih, iw) => {
        g[at(gx, [n, c, ih, iw])] += arr(gy)[at(gy, [n, co, oh, ow])] * arr(w)[at(w, [co, ci, i, j])];
      });
      return true;
    },
    conv2dBackwardWeight(x, gy, gw, gb, p) {
      calls.conv2dBackwardWeight++;
      if (declines.includes('conv2dBackwardWeight')) return false;
      dense('conv2dBackwardWeight', gy, gw, gb);
      const g = arr(gw);
      g.fill(0, gw.offset, gw.offset + gw.shape.reduce((a, b) => a * b, 1));
      taps(x.shape, gw.shape, gy.shape, p, (n, co, oh, ow, c, ci, i, j, ih, iw) => {
        g[at(gw, [co, ci, i, j])] += arr(gy)[at(gy, [n, co, oh, ow])] * arr(x)[at(x, [n, c, ih, iw])];
      });
      if (gb) {
        const [N, Co, OH, OW] = gy.shape, bb = arr(gb);
        for (let co = 0; co < Co; co++) {
          let s = 0;
          for (let n = 0; n < N; n++) for (let k = 0; k < OH * OW; k++) s += arr(gy)[gy.offset + (n * Co + co) * OH * OW + k];
          bb[gb.offset + co] = s;
        }
      }
      return true;
    },
  };
}

// x shape, w shape, options: groups, stride, dilation, asymmetric 'same' padding, a strided input
const GC_CASES: [string, number[], number[], Record<string, unknown>, boolean][] = [
  ['plain with bias', [2, 2, 5, 4], [3, 2, 3, 2], { padding: [1, 0] }, false],
  ['stride, padding, dilation, groups', [2, 4, 5, 5], [4, 2, 3, 2], { stride: [2, 1], padding: [1, 2], dilation: [1, 2], groups: 2 }, false],
  ["asymmetric 'same' padding", [3, 2, 4, 5], [3, 2, 2, 4], { padding: 'same' }, false],
  ['depthwise, strided (transposed) input', [2, 3, 5, 4], [6, 1, 3, 3], { padding: 1, groups: 3 }, true],
];

/** gradcheck (first derivatives) and createGraph second derivatives of every case; also returns the outputs. */
function gradchecks(t: Test, what: string, expectOp: boolean): Tensor[] {
  const outs: Tensor[] = [];
  for (const [name, xs, ws, o, transposed] of GC_CASES) {
    torch.manualSeed(21);
    const xr = torch.randn(transposed ? [xs[0], xs[1], xs[3], xs[2]] : xs, { dtype: 'float64' });
    const x = (transposed ? xr.transpose(2, 3) : xr).requiresGrad_(true);
    const w = torch.randn(ws, { dtype: 'float64', requiresGrad: true });
    const b = torch.randn([ws[0]], { dtype: 'float64', requiresGrad: true });
    const conv = (xx: Tensor, ww: Tensor, bb: Tensor | null) => F.conv2d(xx, ww, bb, o as never);
    const y = conv(x, w, b);
    outs.push(y.detach());
    t.equal(y.gradFn?.name === 'conv2d', expectOp, `${what}, ${name}: ${expectOp ? 'one conv2d op' : 'the composite ops'} recorded`);
    // gradcheck wants contiguous inputs: the strided case differentiates through a transpose
    const xin = transposed ? xr.clone().requiresGrad_(true) : x;
    const view = (xx: Tensor) => (transposed ? xx.transpose(2, 3) : xx);
    const check = (label: string, fn: () => boolean) => {
      let ok = false;
      try { ok = fn(); } catch (e) { t.fail(`${what}, ${name}, ${label}: ${String(e)}`); return; }
      t.ok(ok, `${what}, ${name}: ${label}`);
    };
    check('gradcheck', () => torch.autograd.gradcheck((xx, ww, bb) => conv(view(xx), ww, bb), [xin, w, b]));
    check('second derivatives (createGraph)', () => torch.autograd.gradcheck((xx, ww, bb) => torch.enableGrad(() => {
      const yy = conv(view(xx), ww, bb);
      const [gx, gw, gb] = torch.autograd.grad(yy.square().sum(), [xx, ww, bb], { createGraph: true });
      return gx!.sum().add(gw!.square().sum()).add(gb!.mul(gb!).sum());
    }), [xin, w, b]));
  }
  return outs;
}

t.test('conv2d hooks: F.conv2d and its backward go through the backend', (t) => {
  const calls = noCalls();
  torch.manualSeed(5);
  const x = torch.randn([2, 3, 6, 5], { dtype: 'float64', requiresGrad: true });
  const w = torch.randn([4, 3, 3, 3], { dtype: 'float64', requiresGrad: true });
  const b = torch.randn([4], { dtype: 'float64', requiresGrad: true });
  const run = () => {
    const y = F.conv2d(x, w, b, { padding: 1 });
    y.backward(y.detach().cos());
    const r = { y: y.detach(), gx: x.grad!, gw: w.grad!, gb: b.grad!, fn: y.gradFn?.name };
    x.grad = null; w.grad = null; b.grad = null;
    return r;
  };
  const hooked = withHooks(referenceHooks(calls), run);
  t.equal(hooked.fn, 'conv2d', 'one conv2d op recorded');
  t.same([calls.conv2d, calls.conv2dBackwardInput, calls.conv2dBackwardWeight], [1, 1, 1], 'each hook called once');
  t.same(calls.broken, [], 'the hooks got what the Backend interface promises');
  const plain = withHooks({}, run);
  t.not(plain.fn, 'conv2d', 'no hooks: the composite ops');
  for (const k of ['y', 'gx', 'gw', 'gb'] as const) t.ok(maxRel(hooked[k], plain[k]) < 1e-13, `${k} equals the composite's`);

  // the float32 call is declined by the reference hook (it takes float64 only): composite, same values
  const c2 = noCalls();
  const y32 = withHooks(referenceHooks(c2), () => F.conv2d(x.float(), w.float(), b.float(), { padding: 1 }));
  t.equal(c2.conv2d, 1, 'the hook was asked');
  t.not(y32.gradFn?.name, 'conv2d', 'declined: the composite ops recorded instead');
  t.ok(maxRel(y32.double(), hooked.y) < 1e-5, 'with the right values');

  // a forward hook only (as on cuda, which has no backward hooks yet), or backward hooks that decline
  const fwdCalls = noCalls(), declCalls = noCalls();
  const variants: [string, Hooks, Calls][] = [
    ['forward hook only', { conv2d: referenceHooks(fwdCalls).conv2d }, fwdCalls],
    ['backward hooks declining', referenceHooks(declCalls, ['conv2dBackwardInput', 'conv2dBackwardWeight']), declCalls],
  ];
  for (const [what, hooks, c] of variants) {
    const r = withHooks(hooks, run);
    t.equal(r.fn, 'conv2d', `${what}: the conv2d op`);
    for (const k of ['y', 'gx', 'gw', 'gb'] as const) t.ok(maxRel(r[k], plain[k]) < 1e-13, `${what}: ${k} from the composite backward`);
    t.equal(c.conv2d, 1, `${what}: forward hook called`);
  }
  t.same([declCalls.conv2dBackwardInput, declCalls.conv2dBackwardWeight], [1, 1], 'the declining backward hooks were asked');

  // only the gradients asked for are computed; empty inputs never reach a hook
  const c3 = noCalls();
  withHooks(referenceHooks(c3), () => {
    const xx = torch.randn([2, 3, 6, 5], { dtype: 'float64', requiresGrad: true });
    F.conv2d(xx, w.detach(), null).sum().backward();
    t.same([c3.conv2dBackwardInput, c3.conv2dBackwardWeight], [1, 0], 'input gradient only');
    t.same([...F.conv2d(torch.zeros([0, 3, 6, 5], { dtype: 'float64' }), w, b).shape], [0, 4, 4, 3], 'empty batch');
    t.equal(c3.conv2d, 1, 'no hook call for the empty batch');
  });
  t.end();
});

t.test('conv2d hooks: gradcheck (float64) through hooks and through the composite', (t) => {
  const calls = noCalls();
  const hooked = withHooks(referenceHooks(calls), () => gradchecks(t, 'reference hooks', true));
  t.ok(calls.conv2d > 0 && calls.conv2dBackwardInput > 0 && calls.conv2dBackwardWeight > 0, 'every hook was used');
  t.same(calls.broken, [], 'the hooks got what the Backend interface promises');
  const fwdOnly = noCalls();
  withHooks({ conv2d: referenceHooks(fwdOnly).conv2d }, () => gradchecks(t, 'forward hook only', true));
  const composite = withHooks({}, () => gradchecks(t, 'composite', false));
  hooked.forEach((y, i) => t.ok(maxRel(y, composite[i]) < 1e-13, `${GC_CASES[i][0]}: hook and composite outputs agree`));
  if (available) {
    // the cpu device's own hooks: the fused native kernels
    const native = gradchecks(t, 'cpu native hooks', true);
    native.forEach((y, i) => t.ok(maxRel(y, composite[i]) < 1e-12, `${GC_CASES[i][0]}: native and composite outputs agree`));
  } else t.comment('the cpu native hooks are not available here (see the first subtest)');
  t.end();
});

t.test('conv2d hooks: the cpu backend answers through its methods, and declines what the composite does better', (t) => {
  if (!available) return t.skip('fused convolution not available here (see above)');
  const be = cpu as CpuBackend;
  const seen: string[] = [];
  const own = be as unknown as Record<string, unknown>;
  for (const k of HOOKS) {
    const orig = CpuBackend.prototype[k] as (...a: unknown[]) => boolean;
    own[k] = (...a: unknown[]) => { const r = orig.apply(be, a); seen.push(`${k}:${r}`); return r; };
  }
  try {
    const x = torch.randn([3, 2, 5, 5], { requiresGrad: true }), w = torch.randn([4, 2, 3, 3], { requiresGrad: true }), b = torch.randn([4], { requiresGrad: true });
    F.conv2d(x, w, b).sum().backward();
    t.same(seen, ['conv2d:true', 'conv2dBackwardInput:true', 'conv2dBackwardWeight:true'], 'float32 batch of 3: the native kernels');
    seen.length = 0;
    F.conv2d(x.narrow(0, 0, 1), w, b);
    t.same(seen, ['conv2d:false'], 'batch 1: declined (one composite GEMM is faster)');
    seen.length = 0;
    _setFusedConv(false);
    try { F.conv2d(x, w, b); } finally { _setFusedConv(true); }
    t.same(seen, ['conv2d:false'], '_setFusedConv(false) (TORCHLET_NO_FUSED_CONV=1): declined');
  } finally {
    for (const k of HOOKS) delete own[k];
  }
  t.end();
});
