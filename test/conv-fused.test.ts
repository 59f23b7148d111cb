// The fused cpu convolution (native/conv.inc.c via src/nn/functional/conv_cpu.ts) against the
// composite im2col + matmul path, which the PyTorch fixtures and gradchecks in nn-layers cover.
import t from 'tap';
import torch, { Tensor, nn } from '../src/index.js';
import { nativeInfo } from '../src/device/cpu/native.js';
import { blasInfo } from '../src/device/cpu/index.js';
import { _setFusedConv } from '../src/nn/functional/conv_cpu.js';
import type { DType } from '../src/dtype.js';

const F = nn.functional;
const available = nativeInfo().loaded && blasInfo().kind === 'openblas';

function maxRel(a: Tensor, b: Tensor): number {
  const x = a.dataSync(), y = b.dataSync();
  let scale = 0, worst = 0;
  for (let i = 0; i < y.length; i++) scale = Math.max(scale, Math.abs(Number(y[i])));
  for (let i = 0; i < y.length; i++) worst = Math.max(worst, Math.abs(Number(x[i]) - Number(y[i])));
  return scale === 0 ? worst : worst / scale;
}

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
  ];
  for (const dtype of ['float32', 'float64'] as DType[]) {
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
        t.ok(r <= tol, `${dtype} ${JSON.stringify([N, C, H, W, Co, kh, kw, o])} ${k}: max relative difference ${r.toExponential(2)} <= ${tol}`);
      }
    }
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
