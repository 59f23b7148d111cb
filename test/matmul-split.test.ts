// Mid-sized float matmuls on the cpu run as one single-threaded GEMM per native pool thread, each
// on a block of the output's columns or rows (src/device/cpu/matmul.ts, native tl_gemm_split).
// Checked against float64 products and against OpenBLAS's own threading, with transposed and
// offset operands, narrow outputs (split by rows) and block edges off the 16-element tiles.
import t from 'tap';
import torch, { Tensor } from '../src/index.js';
import { maxRel } from './helpers/compare.js';
import { nativeInfo } from '../src/device/cpu/native.js';
import { blasInfo } from '../src/device/cpu/index.js';
import * as matmulMod from '../src/device/cpu/matmul.js';

const { _setGemmSplit } = matmulMod;

const available = nativeInfo().loaded && blasInfo().kind === 'openblas';

t.test('matmul split over the native pool equals float64 and OpenBLAS-threaded products', (t) => {
  if (!available) return t.skip(`needs the native kernels and OpenBLAS: native ${nativeInfo().loaded ? 'loaded' : nativeInfo().reason}, blas ${blasInfo().kind}`);
  torch.setNumThreads(2);
  // [M, K, N, transpose A, transpose B]
  const cases: [number, number, number, boolean, boolean][] = [
    [64, 784, 256, false, false], // an MLP layer: split by columns
    [256, 64, 784, true, false], // its weight gradient (gy^T x)
    [64, 256, 784, false, true], // its input gradient (gy W)
    [700, 300, 40, false, false], // narrow output: split by rows
    [333, 97, 211, true, true], // block edges off the 16-element tiles
    [1, 4096, 300, false, false], // a single row
  ];
  for (const dtype of ['float32', 'float64'] as const) {
    for (const [M, K, N, ta, tb] of cases) {
      torch.manualSeed(M + N);
      const a = ta ? torch.randn([K, M], { dtype }).t() : torch.randn([M, K], { dtype });
      const b = tb ? torch.randn([N, K], { dtype }).t() : torch.randn([K, N], { dtype });
      const before = matmulMod._gemmSplitCalls;
      const y = a.matmul(b);
      const split = matmulMod._gemmSplitCalls - before;
      const label = `${dtype} [${M},${K}]${ta ? 'T' : ''} x [${K},${N}]${tb ? 'T' : ''}`;
      if (M * N >= 64 && M * N * K >= 2 ** 20) t.equal(split, 1, `${label}: ran split over the pool`);
      const ref = a.double().matmul(b.double());
      const r = maxRel(y, ref);
      t.ok(r <= (dtype === 'float32' ? 1e-5 : 1e-13), `${label}: max relative difference to float64 ${r.toExponential(2)}`);
      _setGemmSplit(false);
      try {
        const before2 = matmulMod._gemmSplitCalls;
        const z = a.matmul(b);
        t.equal(matmulMod._gemmSplitCalls, before2, `${label}: not split when turned off`);
        const rz = maxRel(y, z);
        t.ok(rz <= (dtype === 'float32' ? 1e-5 : 1e-13), `${label}: equals OpenBLAS's threaded product (${rz.toExponential(2)})`);
      } finally {
        _setGemmSplit(true);
      }
    }
  }
  t.end();
});

t.test('a matmul into a view of a larger output and with one thread', (t) => {
  if (!available) return t.skip('needs the native kernels and OpenBLAS (see above)');
  torch.manualSeed(3);
  const a = torch.randn([128, 512]), w = torch.randn([512, 300]);
  const y = a.matmul(w);
  // the same rows of a taken from an offset view
  const big = torch.randn([256, 512]);
  big.narrow(0, 100, 128).copy_(a);
  const y2 = big.narrow(0, 100, 128).matmul(w);
  t.ok(maxRel(y2, y) <= 1e-6, 'offset operand: same product');
  torch.setNumThreads(1);
  try {
    const before = matmulMod._gemmSplitCalls;
    const y1 = a.matmul(w);
    t.equal(matmulMod._gemmSplitCalls, before, 'one thread: not split');
    t.ok(maxRel(y1, y) <= 1e-5, 'one thread: same product');
  } finally {
    torch.setNumThreads(2);
  }
  t.end();
});

// nn.Linear with a bias on 2-D (or contiguous N-D) input is one addmm: the bias rows written first,
// the GEMM accumulating into them (beta = 1) on every path: a small single-threaded product, the
// pool split, OpenBLAS's own threads (from 2^28 multiply-adds), and the JS GEMM without BLAS.
t.test('linear through addmm equals the product plus the bias, with its gradients', (t) => {
  const F = torch.nn.functional;
  // [rows, in, out]
  const cases: [number, number, number][] = [[5, 7, 3], [64, 784, 256], [700, 300, 40], [1024, 1024, 260]];
  for (const dtype of ['float32', 'float64'] as const) {
    for (const [M, K, N] of cases) {
      torch.manualSeed(M + K);
      const x = torch.randn([M, K], { dtype, requiresGrad: true }), w = torch.randn([N, K], { dtype, requiresGrad: true });
      const b = torch.randn([N], { dtype, requiresGrad: true });
      const y = F.linear(x, w, b);
      if (available) t.equal(y.gradFn?.displayName, 'AddmmBackward0', `${dtype} ${M}x${K}x${N}: one addmm`);
      const ref = x.double().matmul(w.double().t()).add(b.double());
      const r = maxRel(y, ref);
      t.ok(r <= (dtype === 'float32' ? 2e-5 : 1e-12), `${dtype} ${M}x${K}x${N}: value, max relative difference ${r.toExponential(2)}`);
      const gy = torch.randn([M, N], { dtype });
      y.backward(gy);
      const gx = gy.double().matmul(w.double()), gw = gy.double().t().matmul(x.double()), gb = gy.double().sum(0);
      t.ok(maxRel(x.grad!, gx) <= (dtype === 'float32' ? 2e-5 : 1e-12), `${dtype} ${M}x${K}x${N}: input gradient`);
      t.ok(maxRel(w.grad!, gw) <= (dtype === 'float32' ? 2e-5 : 1e-12), `${dtype} ${M}x${K}x${N}: weight gradient`);
      t.ok(w.grad!.isContiguous(), 'the weight gradient is contiguous, in the weight\'s layout');
      t.ok(maxRel(b.grad!, gb) <= (dtype === 'float32' ? 2e-5 : 1e-12), `${dtype} ${M}x${K}x${N}: bias gradient`);
    }
  }
  // N-D input (a sequence model's head) and a bias broadcast from a strided view
  const x3 = torch.randn([4, 6, 8], { dtype: 'float64', requiresGrad: true }), w3 = torch.randn([5, 8], { dtype: 'float64', requiresGrad: true });
  const b3 = torch.randn([5], { dtype: 'float64', requiresGrad: true });
  const strided = (d: Tensor) => torch.stack([d, d], 1).select(1, 0); // d's values with stride 2
  t.equal(strided(b3).stride()[0], 2);
  t.ok(torch.autograd.gradcheck((a, c, d) => F.linear(a, c, strided(d)), [x3, w3, b3]), 'gradcheck 3-D input, strided bias');
  t.same(F.linear(x3, w3, b3).shape, [4, 6, 5]);
  // second derivatives through the addmm node agree with the two-op composite's
  const x2 = torch.randn([3, 4], { dtype: 'float64', requiresGrad: true }), w2 = torch.randn([2, 4], { dtype: 'float64', requiresGrad: true });
  const b2 = torch.randn([2], { dtype: 'float64', requiresGrad: true }), v = torch.randn([3, 4], { dtype: 'float64' });
  const second = (f: (a: Tensor) => Tensor) => {
    const [gx] = torch.autograd.grad(f(x2).pow(2).sum(), x2, { createGraph: true });
    return torch.autograd.grad(gx!.mul(v).sum(), [w2, b2]);
  };
  const [hw, hb] = second((a) => F.linear(a, w2, b2)), [rw, rb] = second((a) => a.matmul(w2.t()).add(b2));
  t.ok(maxRel(hw!, rw!) < 1e-12 && maxRel(hb!, rb!) < 1e-12, 'second derivatives');
  t.end();
});
