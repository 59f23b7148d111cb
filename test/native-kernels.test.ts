/**
 * The native cpu kernels (native/kernels.c through src/device/cpu/native.ts) against the JS
 * kernels they replace: the same tensor ops run with the native kernels on and off. Inputs mix
 * random values with NaN, +-Inf, +-0, subnormals and huge values; sizes are not multiples of the
 * vector widths (8, 16) and views start at odd offsets. Exact ops (float64, arithmetic, copies,
 * max/min) must agree bit for bit; float32 transcendental functions within a few ulp; sums to
 * rounding. The last test reruns a sample with TORCHLET_NO_NATIVE=1 in a child process.
 */
import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import torch, { Tensor, nn, optim } from '../src/index.js';
import { CpuBackend } from '../src/device/cpu/index.js';
import { nativeInfo, setNativeEnabled } from '../src/device/cpu/native.js';
import { _setFusedConv } from '../src/device/cpu/conv.js';
import type { DType } from '../src/dtype.js';

const info = nativeInfo();
const haveNative = info.loaded;

/** Deterministic values: random normals at several scales plus special values spread through. */
function values(n: number, seed: number, opts: { positive?: boolean; specials?: boolean } = {}): number[] {
  let s = seed >>> 0;
  const rnd = () => ((s = (Math.imul(s ^ (s >>> 15), 2246822507) + 0x6d2b79f5) >>> 0) / 4294967296);
  const specials = [NaN, Infinity, -Infinity, 0, -0, 1e-40, -1e-40, 1e-310, 88.8, -88.8, 104, -104, 1e30, -1e30, 20, -20, 9.5, -13];
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    if (opts.specials !== false && i % 97 === 5) { out.push(specials[(i / 97) | 0 % specials.length] ?? NaN); continue; }
    const u = Math.max(rnd(), 1e-12), v = rnd();
    const g = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    const scale = [0.01, 1, 3, 10][i % 4];
    out.push(opts.positive ? Math.abs(g * scale) : g * scale);
  }
  return out;
}

/** A 1-d view of n elements starting at an odd offset inside a bigger tensor. */
function offsetView(vals: number[], dtype: DType, offset = 3): Tensor {
  const big = torch.tensor([...new Array(offset).fill(0.5), ...vals, 0.25], { dtype });
  return big.narrow(0, offset, vals.length);
}

function withNative<T>(on: boolean, fn: () => T): T {
  setNativeEnabled(on);
  try { return fn(); } finally { setNativeEnabled(true); }
}

/** Ulp distance measure: |a - b| <= atol + rtol |b|, NaN matching NaN, infinities exactly. */
function compare(t: Test, name: string, got: Tensor, want: Tensor, rtol: number, atol: number): void {
  const a = got.dataSync(), b = want.dataSync();
  t.equal(a.length, b.length, `${name}: length`);
  let bad = 0, first = '';
  for (let i = 0; i < b.length; i++) {
    const x = a[i], y = b[i];
    let ok: boolean;
    if (Number.isNaN(y)) ok = Number.isNaN(x);
    else if (!Number.isFinite(y)) ok = x === y;
    else if (rtol === 0 && atol === 0) ok = Object.is(x, y);
    else ok = Math.abs(x - y) <= atol + rtol * Math.abs(y);
    if (!ok) { if (!bad) first = `at ${i}: native ${x}, js ${y}`; bad++; }
  }
  t.equal(bad, 0, `${name}: ${bad ? `${bad} mismatches, first ${first}` : 'matches the JS kernel'}`);
}

const N = 4099; // not a multiple of 8 or 16, above the native thresholds

t.test('native library loads on linux-x64', async (t) => {
  if (process.platform !== 'linux' || process.arch !== 'x64') return t.pass(`no prebuilt library for ${process.platform}-${process.arch}: JS kernels (${info.reason})`);
  if (process.env.TORCHLET_NO_NATIVE === '1') return t.notOk(info.loaded, 'disabled by TORCHLET_NO_NATIVE=1');
  t.ok(info.loaded, `loaded ${info.library ?? info.reason}`);
  if (process.env.TORCHLET_NATIVE_VARIANT === 'baseline') t.match(info.library, /libtorchlet_kernels\.so$/, 'the baseline build');
});

t.test('unary ops', async (t) => {
  if (!haveNative) return t.pass('no native library');
  const exact = ['neg', 'abs', 'sqrt', 'relu', 'square', 'reciprocal', 'rsqrt'] as const;
  const approx = ['exp', 'log', 'tanh', 'sigmoid', 'gelu', 'silu', 'erf', 'softplus'] as const;
  for (const dtype of ['float32', 'float64'] as DType[]) {
    for (const op of [...exact, ...approx]) {
      const positive = op === 'log' || op === 'sqrt' || op === 'rsqrt';
      for (const [n, off] of [[N, 3], [263, 1], [8192 + 5, 0]] as const) {
        const x = offsetView(values(n, n + op.length, { positive }), dtype, off);
        const f = (v: Tensor) => (v as any)[op]() as Tensor;
        const nat = withNative(true, () => f(x)), js = withNative(false, () => f(x));
        const isExact = (exact as readonly string[]).includes(op) || dtype === 'float64';
        // float32: a few ulp (2^-23 = 1.2e-7); the tails of sigmoid near the subnormals absolutely.
        // gelu's JS composite 0.5 x (1 + erf(x / sqrt 2)) cancels in double precision for x << 0
        // (absolute error ~1e-16 |x|), where the native kernel computes erfc directly.
        const atol = isExact ? 0 : op === 'gelu' ? 1e-14 : 1e-36;
        compare(t, `${op} ${dtype} n=${n} offset=${off}`, nat, js, isExact ? 0 : 6e-7, atol);
      }
    }
  }
});

t.test('binary ops, contiguous and with one broadcast value', async (t) => {
  if (!haveNative) return t.pass('no native library');
  const ops = ['add', 'sub', 'mul', 'div', 'maximum', 'minimum'] as const;
  for (const dtype of ['float32', 'float64'] as DType[]) {
    const a = offsetView(values(N, 1), dtype, 5), b = offsetView(values(N, 2), dtype, 2);
    const s = torch.tensor(-0.0, { dtype }), s2 = torch.tensor(2.5, { dtype });
    for (const op of ops) {
      const f = (x: Tensor | number, y: Tensor | number) => (torch as any)[op](x, y) as Tensor;
      for (const [name, x, y] of [['tensors', a, b], ['scalar x', s2, b], ['scalar y', a, s], ['same', a, a]] as [string, Tensor, Tensor][]) {
        compare(t, `${op} ${dtype} ${name}`, withNative(true, () => f(x, y)), withNative(false, () => f(x, y)), 0, 0);
      }
    }
    // maximum/minimum of +0 and -0, as Math.max/min
    const z = torch.tensor(new Array(N).fill(0).map((_, i) => (i % 2 ? 0 : -0)), { dtype });
    const zr = torch.tensor(new Array(N).fill(0).map((_, i) => (i % 3 ? -0 : 0)), { dtype });
    for (const op of ['maximum', 'minimum'] as const)
      compare(t, `${op} ${dtype} signed zeros`, withNative(true, () => (torch as any)[op](z, zr)), withNative(false, () => (torch as any)[op](z, zr)), 0, 0);
  }
});

t.test('activation gradient kernels', async (t) => {
  if (!haveNative) return t.pass('no native library');
  // the backward kernels themselves, on identical inputs (through autograd, ulp differences in a
  // float32 forward result would be amplified by the gradient formula, e.g. 1 - y for y near 1)
  const be = new CpuBackend();
  for (const dtype of ['float32', 'float64'] as DType[]) {
    for (const op of ['reluBackward', 'sigmoidBackward', 'tanhBackward', 'geluBackward', 'siluBackward'] as const) {
      if (dtype === 'float64' && (op === 'geluBackward' || op === 'siluBackward')) continue; // JS kernels only
      const y0 = values(N, 7, { specials: true }).map((v) => (op === 'sigmoidBackward' || op === 'tanhBackward' ? Math.tanh(v) : v));
      const g = offsetView(values(N, 8), dtype, 1), y = offsetView(y0, dtype, 6);
      const run = () => {
        const out = torch.empty([N], { dtype });
        be.binary(op, g._view, y._view, out._view);
        return out;
      };
      const exact = op !== 'geluBackward' && op !== 'siluBackward';
      // gelu' and silu' cross zero (near -0.75 and -1.28), where float32 terms of size ~|g| cancel
      compare(t, `${op} ${dtype}`, withNative(true, run), withNative(false, run), exact ? 0 : 6e-7, exact ? 0 : 1e-5);
    }
  }
});

t.test('reductions over trailing dims', async (t) => {
  if (!haveNative) return t.pass('no native library');
  for (const dtype of ['float32', 'float64'] as DType[]) {
    for (const shape of [[1, 100003], [37, 1029], [5000, 3], [3, 7, 513], [3, 40000]]) {
      const n = shape.reduce((a, b) => a * b, 1);
      const x = torch.tensor(values(n, n, { specials: false }), { dtype }).reshape(shape);
      const xn = torch.tensor(values(n, n + 1), { dtype }).reshape(shape); // with NaN and infinities
      for (const op of ['sum', 'amax', 'amin'] as const) {
        for (const dims of [[-1], null]) {
          const f = (v: Tensor) => (v as any)[op](dims) as Tensor;
          // sums: the JS kernel adds pairwise in double precision; the native one adds blocks of
          // 64 floats in float32 (as PyTorch does), then those in double: allow a few float32
          // roundings of the sum of magnitudes
          let at = 0;
          if (op === 'sum') at = (dtype === 'float32' ? 4e-7 : 1e-14) * (x.abs().sum(dims).max().item() as number);
          compare(t, `${op}(${dims}) ${dtype} [${shape}]`, withNative(true, () => f(x)), withNative(false, () => f(x)), op === 'sum' ? 1e-12 : 0, at);
          if (op !== 'sum') compare(t, `${op}(${dims}) ${dtype} [${shape}] with NaN`, withNative(true, () => f(xn)), withNative(false, () => f(xn)), 0, 0);
        }
      }
    }
  }
});

t.test('long-row reductions do not depend on the thread count', async (t) => {
  if (!haveNative) return t.pass('no native library');
  const x = torch.tensor(values(3 * 200003, 21, { specials: false }), { dtype: 'float32' }).reshape(3, 200003);
  const xn = torch.tensor(values(3 * 200003, 22), { dtype: 'float32' }).reshape(3, 200003);
  const run = (threads: number) => {
    torch.setNumThreads(threads);
    try { return [x.sum(-1), x.sum(), x.amax(-1), x.amin(-1), xn.amax(-1), xn.sum(-1)]; } finally { torch.setNumThreads(2); }
  };
  const one = run(1), two = run(2);
  for (let i = 0; i < one.length; i++) compare(t, `reduction ${i}, 1 vs 2 threads`, two[i], one[i], 0, 0);
});

t.test('reductions keeping middle dims (leading and trailing reduced)', async (t) => {
  if (!haveNative) return t.pass('no native library');
  for (const dtype of ['float32', 'float64'] as DType[]) {
    for (const [shape, dims] of [[[64, 32, 14, 14], [0, 2, 3]], [[300, 77], [0]], [[9, 5, 40], [0, 2]], [[2, 3, 4, 1000], [0, 1]]] as [number[], number[]][]) {
      const n = shape.reduce((a, b) => a * b, 1);
      const x = torch.tensor(values(n, n + 3, { specials: false }), { dtype }).reshape(shape);
      const xn = torch.tensor(values(n, n + 4), { dtype }).reshape(shape);
      for (const op of ['sum', 'amax', 'amin'] as const) {
        const f = (v: Tensor) => (v as any)[op](dims) as Tensor;
        const at = op === 'sum' ? (dtype === 'float32' ? 4e-7 : 1e-14) * (x.abs().sum(dims).max().item() as number) : 0;
        compare(t, `${op}(${dims}) ${dtype} [${shape}]`, withNative(true, () => f(x)), withNative(false, () => f(x)), op === 'sum' ? 1e-12 : 0, at);
        if (op !== 'sum') compare(t, `${op}(${dims}) ${dtype} [${shape}] with NaN`, withNative(true, () => f(xn)), withNative(false, () => f(xn)), 0, 0);
      }
    }
  }
});

t.test('strided unary ops (column blocks, transposes)', async (t) => {
  if (!haveNative) return t.pass('no native library');
  for (const dtype of ['float32', 'float64'] as DType[]) {
    const x = torch.tensor(values(64 * 520, 9), { dtype }).reshape(64, 520);
    for (const op of ['exp', 'tanh', 'sigmoid', 'gelu', 'relu', 'sqrt', 'neg'] as const) {
      for (const [name, v] of [['column block', x.narrow(1, 130, 130)], ['transpose', x.t()]] as [string, Tensor][]) {
        const f = () => (v as any)[op]() as Tensor;
        const exact = dtype === 'float64' || op === 'relu' || op === 'neg' || op === 'sqrt';
        compare(t, `${op} ${dtype} ${name}`, withNative(true, f), withNative(false, f), exact ? 0 : 6e-7, exact ? 0 : 1e-14);
      }
    }
  }
});

t.test('softmax and logSoftmax rows', async (t) => {
  if (!haveNative) return t.pass('no native library');
  for (const dtype of ['float32', 'float64'] as DType[]) {
    for (const shape of [[63, 1031], [4, 5, 67], [2, 9]]) {
      const n = shape.reduce((a, b) => a * b, 1);
      const vals = values(n, 11, { specials: false });
      vals[5] = -Infinity; // a row with a -inf entry
      if (n > 2000) { for (let i = 1031; i < 2062; i++) vals[i] = -Infinity; vals[3000] = NaN; } // an all -inf row, a NaN row
      const x = torch.tensor(vals, { dtype }).reshape(shape);
      for (const op of ['softmax', 'logSoftmax'] as const) {
        const f = (v: Tensor) => (v as any)[op](-1) as Tensor;
        const [rt, at] = dtype === 'float32' ? [2e-6, 1e-7] : [1e-12, 1e-13]; // sums in another order
        compare(t, `${op} ${dtype} [${shape}]`, withNative(true, () => f(x)), withNative(false, () => f(x)), rt, at);
      }
    }
  }
});

t.test('batch normalization with batch statistics (training mode, no grad)', async (t) => {
  if (!haveNative) return t.pass('no native library');
  const F = nn.functional;
  for (const dtype of ['float32', 'float64'] as DType[]) {
    for (const shape of [[64, 32, 14, 14], [5, 3, 7, 9], [3, 4, 2000], [2, 5, 33]]) {
      const C = shape[1], n = shape.reduce((a, b) => a * b, 1);
      const vals = values(n, n + 5, { specials: false }).map((v, i) => v * (1 + (i % 7)) + (i % C) * 3);
      const x = torch.tensor(vals, { dtype }).reshape(shape);
      const w = torch.tensor(values(C, 3, { specials: false }), { dtype }), b = torch.tensor(values(C, 4, { specials: false }), { dtype });
      for (const affine of [true, false]) {
        const run = () => {
          const rm = torch.zeros([C], { dtype }), rv = torch.ones([C], { dtype });
          const y = torch.noGrad(() => F.batchNorm(x, rm, rv, affine ? w : null, affine ? b : null, { training: true, momentum: 0.3 }));
          return [y, rm, rv];
        };
        const a = withNative(true, run), c = withNative(false, run);
        // the native kernel keeps the statistics in double precision, the composite rounds them to
        // float32 between ops: a few roundings of the terms added last, (x - mean) w / std and the
        // bias, whose sum may cancel
        // (float64: sums of 10^4 squares in another order)
        const tol = dtype === 'float32' ? 5e-7 : 1e-13;
        for (let i = 0; i < 3; i++) {
          const scale = (c[i].abs().max().item() as number) + (i === 0 && affine ? (b.abs().max().item() as number) : 0);
          compare(t, `batchNorm ${dtype} [${shape}] ${affine ? 'affine' : 'plain'} ${['output', 'running mean', 'running var'][i]}`, a[i], c[i], tol, tol * scale);
        }
      }
    }
    // NaN in one channel makes that channel NaN, as the composite
    const xn = torch.randn([4, 3, 40], { dtype });
    xn.narrow(1, 1, 1).narrow(2, 7, 1).fill_(NaN);
    const f = () => torch.noGrad(() => F.batchNorm(xn, null, null, null, null, { training: true }));
    compare(t, `batchNorm ${dtype} with NaN`, withNative(true, f), withNative(false, f), 1e-5, 1e-5);
  }
});

t.test('strided copies (transposes) of every element size', async (t) => {
  if (!haveNative) return t.pass('no native library');
  for (const dtype of ['float32', 'float64', 'int32', 'int64', 'uint8', 'float16', 'bool'] as DType[]) {
    for (const [r, c] of [[1027, 515], [64, 4099], [256, 256]]) {
      const x = torch.arange(0, r * c).remainder(251).to(dtype).reshape(r, c);
      const f = () => x.t().contiguous();
      compare(t, `transpose ${dtype} [${r}, ${c}]`, withNative(true, f), withNative(false, f), 0, 0);
      const g = () => x.narrow(1, 3, c - 5).t().contiguous(); // offset, row stride != cols
      compare(t, `transpose of a slice ${dtype} [${r}, ${c}]`, withNative(true, g), withNative(false, g), 0, 0);
    }
    const b = torch.arange(0, 6 * 70 * 90).remainder(127).to(dtype).reshape(6, 70, 90);
    const h = () => b.permute(0, 2, 1).contiguous();
    compare(t, `batched transpose ${dtype}`, withNative(true, h), withNative(false, h), 0, 0);
  }
});

t.test('im2col / col2im (conv2d forward and backward) and max pooling', async (t) => {
  if (!haveNative) return t.pass('no native library');
  const F = nn.functional;
  for (const dtype of ['float32', 'float64'] as DType[]) {
    for (const o of [{ padding: 1 }, { stride: 2, padding: 2, dilation: 2 }, { stride: [1, 3] as [number, number], padding: [0, 1] as [number, number] }]) {
      const run = () => {
        torch.manualSeed(3);
        const x = torch.randn([5, 6, 23, 19], { dtype, requiresGrad: true });
        const w = torch.randn([7, 6, 3, 3], { dtype, requiresGrad: true });
        const y = F.conv2d(x, w, null, o);
        y.backward(torch.ones(y.shape, { dtype }).mul(0.5));
        return [y, x.grad!, w.grad!];
      };
      // the composite path (native im2col/col2im vs the JS loops: exact); the fused kernels have their own test (conv-fused)
      _setFusedConv(false);
      const a = withNative(true, run), b = withNative(false, run);
      _setFusedConv(true);
      for (let i = 0; i < 3; i++) compare(t, `conv2d ${JSON.stringify(o)} ${dtype} ${['output', 'input grad', 'weight grad'][i]}`, a[i], b[i], 0, 0);
    }
    // the last two shapes give the 2x2 pooling rows of 7 and 2 windows (the short-row path)
    for (const [k, st, pad, shape] of [[2, 2, 0, [4, 9, 31, 27]], [3, 2, 1, [4, 9, 31, 27]], [3, 1, 1, [4, 9, 31, 27]], [2, 2, 0, [3, 5, 15, 14]], [2, 2, 0, [2, 3, 6, 5]]] as const) {
      const run = () => {
        torch.manualSeed(4);
        const v = torch.randn([...shape], { dtype });
        v.narrow(3, shape[3] - 2, 1).fill_(NaN); // NaN wins its windows, as PyTorch's kernel
        const x = v.requiresGrad_(true);
        const [values, indices] = F.maxPool2d(x, k, { stride: st, padding: pad, returnIndices: true });
        values.backward(torch.linspace(-1, 1, values.numel(), { dtype }).reshape(values.shape));
        return [values, indices, x.grad!];
      };
      const a = withNative(true, run), b = withNative(false, run);
      for (let i = 0; i < 3; i++) compare(t, `maxPool2d k=${k} s=${st} p=${pad} [${shape}] ${dtype} ${['values', 'indices', 'input grad'][i]}`, a[i], b[i], 0, 0);
    }
  }
});

t.test('fused Adam / AdamW steps', async (t) => {
  if (!haveNative) return t.pass('no native library');
  for (const dtype of ['float32', 'float64'] as DType[]) {
    for (const [name, make] of [
      ['Adam', (p: Tensor[]) => new optim.Adam(p, { lr: 1e-2 })],
      ['Adam wd amsgrad maximize', (p: Tensor[]) => new optim.Adam(p, { lr: 1e-2, weightDecay: 0.1, amsgrad: true, maximize: true })],
      ['AdamW', (p: Tensor[]) => new optim.AdamW(p, { lr: 1e-2, weightDecay: 0.05 })],
    ] as [string, (p: Tensor[]) => optim.Optimizer][]) {
      const run = () => {
        torch.manualSeed(5);
        const w = torch.randn([3001], { dtype, requiresGrad: true });
        const opt = make([w]);
        for (let i = 0; i < 4; i++) {
          opt.zeroGrad();
          w.mul(w).mul(torch.linspace(-2, 2, 3001, { dtype })).sum().backward();
          opt.step();
        }
        return w.detach();
      };
      // float64 bit for bit; float32 state is updated in float32 arithmetic natively (as PyTorch),
      // in double precision rounded on store by the JS kernel
      compare(t, `${name} ${dtype}`, withNative(true, run), withNative(false, run), dtype === 'float64' ? 0 : 1e-6, dtype === 'float64' ? 0 : 1e-7);
    }
  }
});

t.test('vector math: the AVX-512 instantiation and the AVX2 one agree bit for bit', async (t) => {
  if (!haveNative) return t.pass('no native library');
  // every vectorised float32 op, on a dense sweep that crosses each function's range splits,
  // plus the special values; softplus and exp also beyond their overflow points
  const script = `
    import torch from './src/index.ts';
    const x = torch.linspace(-7, 7, 20011).mul(torch.linspace(0.5, 1.5, 20011));
    const wide = torch.linspace(-120, 120, 40013);
    for (const t of [x, wide]) {
      t.narrow(0, 5, 1).fill_(NaN); t.narrow(0, 77, 1).fill_(-Infinity); t.narrow(0, 78, 1).fill_(-0); t.narrow(0, 79, 1).fill_(Infinity);
    }
    const out = {};
    for (const op of ['exp', 'log', 'tanh', 'sigmoid', 'silu', 'gelu', 'erf', 'softplus']) {
      const f = (t) => op === 'silu' || op === 'gelu' || op === 'softplus' ? torch.nn.functional[op](t) : t[op]();
      // the result bits (so -0 and NaN payloads count too), base64
      out[op] = Buffer.concat([x, wide, x.abs()].map((t) => { const r = f(t).dataSync(); return Buffer.from(r.buffer, r.byteOffset, r.byteLength); })).toString('base64');
    }
    torch.manualSeed(3);
    const rows = torch.randn(64, 1013).mul(4);
    rows.narrow(0, 1, 1).narrow(1, 7, 1).fill_(NaN); rows.narrow(0, 2, 1).narrow(1, 9, 3).fill_(-Infinity);
    for (const op of ['softmax', 'logSoftmax']) {
      const r = rows[op](-1).dataSync();
      out[op] = Buffer.from(r.buffer, r.byteOffset, r.byteLength).toString('base64');
    }
    console.log(JSON.stringify(out));`;
  const run = (env: Record<string, string>) => {
    const p = spawnSync(process.execPath, ['--import=tsx', '--input-type=module', '-e', script],
      { encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 64 * 2 ** 20 });
    if (p.status !== 0) throw new Error(p.stderr || String(p.error));
    return JSON.parse(p.stdout.trim().split('\n').pop()!) as Record<string, string>;
  };
  const on = run({ TORCHLET_NATIVE_AVX512: '' }), off = run({ TORCHLET_NATIVE_AVX512: '0' });
  t.equal(Object.keys(off).length, 10);
  for (const op of Object.keys(off)) {
    const a = Buffer.from(on[op], 'base64'), b = Buffer.from(off[op], 'base64');
    t.equal(a.length, b.length);
    let diff = 0;
    for (let i = 0; i < b.length; i += 4) if (a.readUInt32LE(i) !== b.readUInt32LE(i)) diff++;
    t.equal(diff, 0, `${op}: same results with TORCHLET_NATIVE_AVX512=0 (${b.length / 4} values)`);
  }
});

t.test('TORCHLET_NO_NATIVE=1 falls back to the JS kernels', async (t) => {
  const script = `
    import torch from './src/index.ts';
    import { nativeInfo } from './src/device/cpu/native.ts';
    const x = torch.linspace(-5, 5, 10010);
    const r = [x.exp().sum().item(), x.gelu().sum().item(), x.reshape(1, -1).softmax(-1).max().item(), x.reshape(7, -1).t().contiguous().sum().item()];
    console.log(JSON.stringify({ info: nativeInfo(), r }));`;
  const run = (env: Record<string, string>) => {
    const p = spawnSync(process.execPath, ['--import=tsx', '--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, ...env } });
    if (p.status !== 0) throw new Error(p.stderr);
    return JSON.parse(p.stdout.trim().split('\n').pop()!);
  };
  const off = run({ TORCHLET_NO_NATIVE: '1' });
  t.notOk(off.info.loaded, 'not loaded');
  t.match(off.info.reason, /TORCHLET_NO_NATIVE/);
  const on = run({ TORCHLET_NO_NATIVE: '' });
  // float32 sums of ~10^4 terms: a few roundings of the sum of magnitudes (up to ~5e4 here)
  for (let i = 0; i < on.r.length; i++) t.ok(Math.abs(on.r[i] - off.r[i]) <= 1e-5 * Math.abs(off.r[i]) + 2e-2, `result ${i}: ${on.r[i]} vs ${off.r[i]}`);
});
