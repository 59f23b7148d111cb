// Autograd: gradcheck (full Jacobian, float64) over every differentiable op-table entry,
// second-order checks (createGraph) against PyTorch and numerically, and the engine's
// behaviour: retainGraph, accumulation, hooks, retainGrad, grad modes, detach,
// autograd.grad, autograd.Function, and the in-place version-counter errors.
import t from 'tap';
import torch, { Tensor, AutogradError, TorchError } from '../src/index.js';
import { OP_TABLE, type OpEntry } from './optable/table.js';
import { opFixtures, readFixture, tensorOf, diffTensor, resultTensors, type SampleRec, type TensorRec } from './optable/fixtures.js';
import { gradcheckCase } from './optable/runner.js';
import { leaked } from './optable/leak.js';
import { throwsLike } from './helpers/assert.js';

const dev = 'cpu';
const f64 = (v: number[] | number[][], opts: { requiresGrad?: boolean } = {}) => torch.tensor(v, { dtype: 'float64', requiresGrad: opts.requiresGrad });
/** Sum of (y * w), the scalar whose gradient is y's vector-Jacobian product with w. */
const dotW = (y: Tensor, w: Tensor) => y.mul(w).sum();

// ---------------------------------------------------------------- gradcheck over the op table

/** Which samples of an entry gradcheck runs: PyTorch could differentiate them, smooth points, small. */
function gradcheckSamples(entry: OpEntry): SampleRec[] {
  const rec = opFixtures()[entry.name];
  if (!rec || !rec.diff || !entry.diff) return [];
  return rec.samples.filter((s) => {
    if (s.error !== undefined || s.gc === false || !s.grads || entry.skip?.[s.id] || entry.skipGrad?.[s.id]) return false;
    if (!s.grads.some((g) => g !== null)) return false;
    let n = 0;
    for (const r of s.inputs) if (!('scalar' in r) && r.grad) n += r.values.length;
    if (n === 0 || n > 60) return false;
    // non-finite values have no finite differences
    return s.inputs.every((r) => ('scalar' in r ? typeof r.scalar !== 'string' : r.values.every((v) => typeof v === 'number')));
  });
}

const coverage: Record<string, number> = {};
t.test('gradcheck (float64, full Jacobian) for every differentiable op', async (t) => {
  for (const entry of OP_TABLE) {
    if (!entry.diff) continue;
    const samples = gradcheckSamples(entry);
    await t.test(entry.name, async (tt) => {
      const r = await leaked(dev, () => {
        let checked = 0;
        for (const s of samples) {
          const c = gradcheckCase(entry, s, dev);
          if (!c) continue;
          const outs = c.fn(...c.inputs);
          // conversions to float32 (to('float32'), float()) are not differentiable in float64 precision
          if (outs.length === 0 || outs.some((o) => o.dtype !== 'float64')) continue;
          let ok = false, msg = '';
          try { ok = torch.autograd.gradcheck(c.fn, c.inputs, { ...('skip' in (entry.gradcheck ?? {}) ? {} : entry.gradcheck as object) }); } catch (e) { msg = e instanceof Error ? e.message : String(e); }
          tt.ok(ok, `${entry.name}/${s.id}${msg ? `: ${msg}` : ''}`);
          checked++;
        }
        coverage[entry.name] = checked;
      });
      tt.equal(r.leaked, 0, `${entry.name}: gradcheck left no tensors alive`);
    });
  }
  // the brief's list of composites must each be gradchecked at least once
  for (const name of ['softmax', 'logSoftmax', 'logsumexp', 'norm', 'var', 'std', 'cumsum', 'prod', 'gather', 'scatter', 'scatterAdd',
    'indexSelect', 'index', 'matmul', 'cat', 'stack', 'split', 'unfold', 'expand', 'flip', 'roll', 'tril', 'triu', 'where',
    'maskedFill', 'clamp', 'maximum', 'minimum', 'pow', 'sort', 'topk', 'max', 'min', 'amax', 'indexPut_']) {
    t.ok((coverage[name] ?? 0) > 0, `${name} is gradchecked (${coverage[name] ?? 0} samples)`);
  }
  // prod with and without zeros, matmul with broadcasting, index with tensors, pow with a tensor exponent
  const has = (op: string, id: string) => gradcheckSamples(OP_TABLE.find((e) => e.name === op)!).some((s) => s.id === id);
  for (const [op, id] of [['prod', 'one_zero'], ['prod', 'two_zeros'], ['prod', 'all'], ['matmul', 'broadcast_batch'], ['index', 'int_tensor'],
    ['index', 'bool_mask'], ['pow', 'basic'], ['unfold', 'overlap'], ['expand', 'basic'], ['split', 'uneven']] as const)
    t.ok(has(op, id), `gradcheck covers ${op}/${id}`);
  const total = Object.values(coverage).reduce((a, b) => a + b, 0);
  t.comment(`gradcheck: ${Object.values(coverage).filter((n) => n > 0).length} ops, ${total} samples`);
});

t.test('gradcheck reports a wrong backward with the worst mismatch', async (t) => {
  class Wrong extends torch.Function {
    static forward(_ctx: any, x: Tensor) { return x.mul(x); }
    static backward(_ctx: any, g: Tensor) { return g.mul(3); }
  }
  const x = f64([0.5, -1.5], { requiresGrad: true });
  throwsLike(t, () => torch.autograd.gradcheck((a) => Wrong.apply(a), [x]), Error, /gradcheck: Jacobian mismatch.*numerical.*analytical/);
  t.ok(torch.autograd.gradcheck((a) => a.mul(a), [x]));
});

// ---------------------------------------------------------------- higher order

const HIGHER: Record<string, (x: Tensor) => Tensor> = {
  cube: (x) => x.pow(3),
  tanh: (x) => x.tanh(),
  sigmoid: (x) => x.sigmoid(),
  exp: (x) => x.exp(),
  log: (x) => x.mul(x).add(1).log(),
  softmax: (x) => x.softmax(-1),
  logSoftmax: (x) => x.logSoftmax(-1),
  logsumexp: (x) => x.logsumexp(-1),
  gelu: (x) => x.gelu(),
  silu: (x) => x.silu(),
  softplus: (x) => x.softplus(),
  norm: (x) => x.norm(),
  var: (x) => x.var(-1),
  matmul: (x) => x.matmul(x.t()),
  div: (x) => x.div(x.mul(x).add(1)),
  where: (x) => torch.where(x.gt(0), x.mul(x), x.mul(x).mul(x).neg()),
  prod: (x) => x.prod(-1),
  cumsum: (x) => x.mul(x).cumsum(0),
};

t.test('second derivatives with createGraph match PyTorch', async (t) => {
  const fx = readFixture('autograd.json').higher as Record<string, Record<string, TensorRec>>;
  for (const [id, f] of Object.entries(HIGHER)) {
    const c = fx[id];
    const x = tensorOf(c.x, dev).requiresGrad_();
    const y = f(x);
    t.equal(diffTensor(y, c.y), null, `${id}: value`);
    const [first] = torch.autograd.grad(y, x, { gradOutputs: tensorOf(c.w, dev), createGraph: true });
    t.equal(diffTensor(first!, c.first), null, `${id}: first derivative`);
    t.ok(first!.requiresGrad && first!.gradFn !== null, `${id}: the first derivative has a graph (createGraph)`);
    const [second] = torch.autograd.grad(first!, x, { gradOutputs: tensorOf(c.v, dev) });
    t.equal(diffTensor(second!, c.second), null, `${id}: second derivative`);
  }
});

t.test('second derivatives of x^3, tanh and sigmoid in closed form', async (t) => {
  const vals = [-1.5, -0.25, 0.5, 2];
  for (const [name, f, d2] of [
    ['x^3', (x: Tensor) => x.mul(x).mul(x), (v: number) => 6 * v],
    ['tanh', (x: Tensor) => x.tanh(), (v: number) => -2 * Math.tanh(v) * (1 - Math.tanh(v) ** 2)],
    ['sigmoid', (x: Tensor) => x.sigmoid(), (v: number) => { const s = 1 / (1 + Math.exp(-v)); return s * (1 - s) * (1 - 2 * s); }],
  ] as const) {
    const x = f64(vals, { requiresGrad: true });
    const y = f(x).sum();
    y.backward(undefined, { createGraph: true });
    const g = x.grad!;
    t.ok(g.requiresGrad, `${name}: x.grad has a graph after backward({ createGraph: true })`);
    x.grad = null;
    g.sum().backward();
    const got = x.grad!.tolist() as number[];
    t.ok(got.every((v, i) => Math.abs(v - d2(vals[i])) < 1e-12), `${name}: d2y/dx2 ${JSON.stringify(got)}`);
  }
  // third order: d3/dx3 x^3 = 6
  const x = f64([0.5, 2], { requiresGrad: true });
  const [g1] = torch.autograd.grad(x.pow(3).sum(), x, { createGraph: true });
  const [g2] = torch.autograd.grad(g1!.sum(), x, { createGraph: true });
  const [g3] = torch.autograd.grad(g2!.sum(), x);
  t.same(g3!.tolist(), [6, 6], 'third derivative of x^3');
});

t.test('gradgradcheck: numerical second derivatives of differentiable ops', async (t) => {
  // the first-order gradient as a function, checked by gradcheck: its Jacobian is the Hessian-vector product
  const ops = ['exp', 'log', 'sqrt', 'sin', 'tanh', 'sigmoid', 'gelu', 'silu', 'softplus', 'mul', 'div', 'pow', 'atan2', 'maximum',
    'softmax', 'logSoftmax', 'logsumexp', 'norm', 'var', 'std', 'prod', 'cumsum', 'matmul', 'bmm', 'gather', 'index', 'where',
    'unfold', 'flip', 'roll', 'expand', 'cat', 'clamp', 'erf', 'reciprocal', 'rsqrt', 'square', 'sort', 'amax', 'mean'];
  for (const name of ops) {
    const entry = OP_TABLE.find((e) => e.name === name)!;
    const s = gradcheckSamples(entry).find((x) => !x.inputs.some((r) => !('scalar' in r) && r.values.length > 12)) ?? gradcheckSamples(entry)[0];
    if (!s) { t.fail(`${name}: no sample`); continue; }
    const c = gradcheckCase(entry, s, dev)!;
    const diffIdx = c.inputs.map((x, i) => (x.requiresGrad ? i : -1)).filter((i) => i >= 0);
    const ws = c.fn(...c.inputs).map((o) => torch.randn([...o.shape], { dtype: 'float64' }));
    // gradcheck evaluates fn under noGrad for finite differences; the inner grad needs a graph
    const gradFn = (...xs: Tensor[]) => torch.enableGrad(() => {
      const outs = c.fn(...xs);
      const total = outs.map((o, k) => dotW(o, ws[k])).reduce((a, b) => a.add(b));
      return torch.autograd.grad(total, diffIdx.map((i) => xs[i]), { createGraph: true, allowUnused: true }).filter((g): g is Tensor => g !== null);
    });
    let ok = false, msg = '';
    try { ok = torch.autograd.gradcheck(gradFn, c.inputs, { atol: 1e-4, rtol: 1e-3 }); } catch (e) { msg = e instanceof Error ? e.message : String(e); }
    t.ok(ok, `${name}/${s.id}${msg ? `: ${msg}` : ''}`);
  }
});

// ---------------------------------------------------------------- engine behaviour

t.test('retainGraph: a second backward needs it', async (t) => {
  const x = f64([1, 2], { requiresGrad: true });
  const y = x.exp().mul(x).sum();
  y.backward();
  throwsLike(t, () => y.backward(), AutogradError, /backward: .*backward through the graph a second time.*retainGraph/, 'second backward without retainGraph throws, naming retainGraph');
  const x2 = f64([1, 2], { requiresGrad: true });
  const y2 = x2.exp().mul(x2).sum();
  y2.backward(undefined, { retainGraph: true });
  const g1 = x2.grad!.tolist() as number[];
  y2.backward();
  t.same(x2.grad!.tolist(), g1.map((v) => 2 * v), 'with retainGraph the second backward works and accumulates');
});

t.test('gradients accumulate across backward calls', async (t) => {
  const x = f64([1, -2, 3], { requiresGrad: true });
  x.mul(2).sum().backward();
  x.mul(x).sum().backward();
  t.same(x.grad!.tolist(), [2 + 2, 2 - 4, 2 + 6]);
  t.notOk(x.grad!.requiresGrad, 'accumulated .grad has no graph');
  x.grad = null;
  x.sum().backward();
  t.same(x.grad!.tolist(), [1, 1, 1], 'after resetting .grad');
  // zero_ on .grad (as optimizers do)
  torch.noGrad(() => x.grad!.zero_());
  x.sum().backward();
  t.same(x.grad!.tolist(), [1, 1, 1]);
});

t.test('backward on a non-scalar, with a gradient argument, and errors', async (t) => {
  const x = f64([1, 2], { requiresGrad: true });
  const y = x.mul(3);
  throwsLike(t, () => y.backward(), Error, /backward: grad can be implicitly created only for scalar outputs.*\[2\]/);
  y.backward(f64([1, 10]));
  t.same(x.grad!.tolist(), [3, 30]);
  throwsLike(t, () => x.mul(3).backward(f64([1, 2, 3])), Error, /backward: the gradient has shape \[3\] but the output has shape \[2\]/, '');
  throwsLike(t, () => f64([1]).sum().backward(), AutogradError, /does not require grad/, '');
  throwsLike(t, () => torch.tensor([1, 2]).requiresGrad_(), Error, /requiresGrad_: only floating point tensors can require gradients, got dtype int64/);
});

t.test('hooks alter gradients on leaves and non-leaves', async (t) => {
  const x = f64([1, 2], { requiresGrad: true });
  const h = x.registerHook((g) => g.mul(2));
  x.mul(3).sum().backward();
  t.same(x.grad!.tolist(), [6, 6], 'leaf hook doubles the gradient');
  h.remove();
  x.grad = null;
  x.mul(3).sum().backward();
  t.same(x.grad!.tolist(), [3, 3], 'removed hook no longer applies');

  const a = f64([1, 2], { requiresGrad: true });
  const b = a.mul(3);
  const seen: number[][] = [];
  b.registerHook((g) => { seen.push(g.tolist() as number[]); });
  b.registerHook((g) => g.mul(10));
  b.mul(b).sum().backward();
  t.same(seen, [[6, 12]], 'an observing hook sees dL/db');
  t.same(a.grad!.tolist(), [180, 360], 'a non-leaf hook replaces the gradient flowing on (2b * 10 * 3)');
  throwsLike(t, () => f64([1]).registerHook(() => undefined), Error, /registerHook: .*doesn't require gradient/, '');
});

t.test('retainGrad keeps a non-leaf gradient', async (t) => {
  const x = f64([1, 2], { requiresGrad: true });
  const y = x.mul(2);
  const z = y.mul(3);
  y.retainGrad();
  z.mul(z).sum().backward();
  t.same(y.grad!.tolist(), [36, 72], 'y.grad = dL/dy');
  t.equal(z.grad, null, 'non-leaves without retainGrad keep no grad');
  t.same(x.grad!.tolist(), [72, 144]);
  t.notOk(y.isLeaf);
  t.ok(x.isLeaf);
  t.equal(x.gradFn, null);
  t.equal(y.gradFn!.displayName, 'MulBackward0');
});

t.test('noGrad, enableGrad, setGradEnabled, isGradEnabled', async (t) => {
  const x = f64([1, 2], { requiresGrad: true });
  t.ok(torch.isGradEnabled());
  const y = torch.noGrad(() => { t.notOk(torch.isGradEnabled(), 'off inside noGrad'); return x.mul(2); });
  t.notOk(y.requiresGrad, 'noGrad results do not require grad');
  t.equal(y.gradFn, null);
  t.ok(torch.isGradEnabled(), 'restored after noGrad');
  const z = torch.noGrad(() => torch.enableGrad(() => x.mul(2)));
  t.ok(z.requiresGrad, 'enableGrad inside noGrad records');
  throwsLike(t, () => torch.noGrad(() => { throw new Error('boom'); }), Error, /boom/, '');
  t.ok(torch.isGradEnabled(), 'restored after a throwing noGrad');
  torch.setGradEnabled(false);
  t.notOk(x.mul(2).requiresGrad, 'setGradEnabled(false) stops recording');
  torch.setGradEnabled(true);
  t.ok(x.mul(2).requiresGrad);
  t.equal(torch.noGrad(() => 42), 42, 'noGrad returns fn result');
});

t.test('detach shares storage and cuts the graph', async (t) => {
  const x = f64([1, 2], { requiresGrad: true });
  const y = x.mul(2);
  const d = y.detach();
  t.notOk(d.requiresGrad);
  t.equal(d.gradFn, null);
  t.equal(d._storage, y._storage, 'detach shares storage');
  const z = d.mul(x).sum();
  z.backward();
  t.same(x.grad!.tolist(), [2, 4], 'no gradient flows through the detached branch');
});

t.test('autograd.grad: outputs, inputs, allowUnused, gradOutputs; .grad untouched', async (t) => {
  const x = f64([1, 2], { requiresGrad: true });
  const u = f64([3], { requiresGrad: true });
  const y = x.mul(x).sum();
  const [gx] = torch.autograd.grad(y, x, { retainGraph: true });
  t.same(gx!.tolist(), [2, 4]);
  t.equal(x.grad, null, 'autograd.grad does not fill .grad');
  throwsLike(t, () => torch.autograd.grad(y, [x, u], { retainGraph: true }), Error, /grad: .*not have been used in the graph.*allowUnused/, '');
  const [g1, g2] = torch.autograd.grad(y, [x, u], { allowUnused: true, retainGraph: true });
  t.same(g1!.tolist(), [2, 4]);
  t.equal(g2, null, 'unused input gives null with allowUnused');
  const v = x.mul(3);
  const [gv] = torch.autograd.grad([v], [x], { gradOutputs: [f64([1, -1])] });
  t.same(gv!.tolist(), [3, -3]);
  throwsLike(t, () => torch.autograd.grad(f64([1]).sum(), f64([1])), Error, /does not require grad/, '');
  // gradient w.r.t. a non-leaf
  const a = f64([1, 2], { requiresGrad: true });
  const b = a.mul(2);
  const [gb] = torch.autograd.grad(b.mul(b).sum(), b);
  t.same(gb!.tolist(), [4, 8]);
});

t.test('autograd.Function with a custom backward', async (t) => {
  class MyExp extends torch.Function {
    static forward(ctx: any, x: Tensor) { const y = x.exp(); ctx.saveForBackward(y); return y; }
    static backward(ctx: any, g: Tensor) { return g.mul(ctx.savedTensors[0]); }
  }
  const x = f64([0.5, -1], { requiresGrad: true });
  const y = MyExp.apply(x);
  t.ok(y.requiresGrad);
  t.match(y.gradFn!.displayName, /MyExp/);
  y.sum().backward();
  t.same(x.grad!.tolist(), [Math.exp(0.5), Math.exp(-1)]);
  t.ok(torch.autograd.gradcheck((a) => MyExp.apply(a), [f64([0.3, 0.7], { requiresGrad: true })]));

  // a straight-through estimator: the custom backward is used, not the forward's derivative
  class RoundSTE extends torch.Function {
    static forward(_ctx: any, x: Tensor) { return x.round(); }
    static backward(_ctx: any, g: Tensor) { return g; }
  }
  const z = f64([0.4, 1.6], { requiresGrad: true });
  RoundSTE.apply(z).mul(f64([2, 3])).sum().backward();
  t.same(z.grad!.tolist(), [2, 3]);

  // two tensor inputs, a non-tensor argument, and needsInputGrad
  class Scale extends torch.Function {
    static forward(ctx: any, a: Tensor, b: Tensor, k: number) { ctx.k = k; ctx.saveForBackward(a, b); return a.mul(b).mul(k); }
    static backward(ctx: any, g: Tensor) {
      const [a, b] = ctx.savedTensors;
      return [ctx.needsInputGrad[0] ? g.mul(b).mul(ctx.k) : null, ctx.needsInputGrad[1] ? g.mul(a).mul(ctx.k) : null];
    }
  }
  const a = f64([1, 2], { requiresGrad: true }), b = f64([3, 4]);
  Scale.apply(a, b, 2).sum().backward();
  t.same(a.grad!.tolist(), [6, 8]);
  const nr = torch.noGrad(() => Scale.apply(a, b, 2));
  t.notOk(nr.requiresGrad, 'no graph under noGrad');
});

t.test('in-place ops and autograd: version counter and leaf errors', async (t) => {
  const x = f64([1, 2], { requiresGrad: true });
  const y = x.exp(); // saves its output
  y.add_(1);
  throwsLike(t, () => y.sum().backward(), AutogradError, /modified by an in-place operation.*version 1.*expected version 0/, 'modifying a tensor saved for backward makes backward throw, as PyTorch');

  const a = x.mul(1);
  const p = a.pow(2); // saves a
  a.mul_(3);
  throwsLike(t, () => p.sum().backward(), Error, /modified by an in-place operation/);

  throwsLike(t, () => x.add_(1), AutogradError, /add_: a leaf tensor that requires grad is being used in an in-place operation/, '');
  throwsLike(t, () => x.zero_(), Error, /leaf tensor that requires grad/, '');
  torch.noGrad(() => x.add_(1));
  t.same(x.tolist(), [2, 3], 'in place on a leaf is allowed under noGrad');

  // in-place on a non-leaf keeps the graph (through clone)
  const w = f64([1, 2, 3], { requiresGrad: true });
  const c = w.clone();
  c.mul_(2).add_(1);
  t.equal(c.gradFn!.displayName, 'AddBackward0');
  c.mul(c).sum().backward();
  t.same(w.grad!.tolist(), [2 * 3 * 2, 2 * 5 * 2, 2 * 7 * 2], 'gradient through clone().mul_().add_()');

  // x.mul_(y) where backward needs x's old value (PyTorch saves original self)
  const m = f64([1.5, -2], { requiresGrad: true }), n = f64([3, 4], { requiresGrad: true });
  const mc = m.clone();
  mc.mul_(n);
  mc.sum().backward();
  t.same(n.grad!.tolist(), [1.5, -2], 'mul_ gradient w.r.t. the other operand uses the value before the write');
  t.same(m.grad!.tolist(), [3, 4]);

  // views share the version counter with their base
  const vb = f64([1, 2, 3], { requiresGrad: true }).mul(1);
  const vv = vb.narrow(0, 0, 2);
  const vp = vv.pow(2); // saves the view
  vb.add_(1);
  throwsLike(t, () => vp.sum().backward(), AutogradError, /modified by an in-place operation/, 'an in-place write to the base invalidates a saved view');

  // in-place on a view while recording: a clear error (PyTorch's CopySlices is not implemented)
  const base = f64([[1, 2], [3, 4]], { requiresGrad: true }).clone();
  throwsLike(t, () => base.t().add_(1), AutogradError, /add_: in-place modification of a view .*not supported while recording gradients/);
  torch.noGrad(() => base.t().index(0).add_(10));
  t.same(base.tolist(), [[11, 2], [13, 4]], 'under noGrad the write goes through the view into the base');

  // a value that no longer depends on the history: zero gradient
  const q = f64([1, 2], { requiresGrad: true });
  const qc = q.mul(2);
  qc.fill_(5);
  t.ok(qc.requiresGrad, 'fill_ on a non-leaf keeps requiresGrad, as PyTorch');
  qc.mul(q).sum().backward();
  t.same(q.grad!.tolist(), [5, 5], 'only the direct path contributes after fill_');
});

t.test('graphs are freed after backward (no tensors left alive)', async (t) => {
  const r = await leaked(dev, () => {
    const x = torch.randn([8, 8], { dtype: 'float64', requiresGrad: true });
    for (let i = 0; i < 5; i++) x.matmul(x).tanh().softmax(-1).logsumexp(-1).sum().backward();
    x.grad = null;
  });
  t.equal(r.leaked, 0);
});

t.test('errors from the autograd API are TorchErrors naming the op', async (t) => {
  const cases: [string, () => unknown][] = [
    ['backward', () => f64([1, 2], { requiresGrad: true }).mul(2).backward()],
    ['grad', () => torch.autograd.grad(f64([1], { requiresGrad: true }).sum(), f64([1]))],
    ['gradcheck', () => torch.autograd.gradcheck((a) => a, [f64([1])])],
    ['retainGrad', () => f64([1]).retainGrad()],
    ['requiresGrad_', () => f64([1], { requiresGrad: true }).mul(2).requiresGrad_(false)],
  ];
  for (const [op, fn] of cases) {
    let err: unknown = null;
    try { fn(); } catch (e) { err = e; }
    t.ok(err instanceof TorchError && (err as Error).message.startsWith(`${op}: `), `${op}: ${err instanceof Error ? err.message : 'no error'}`);
  }
});
