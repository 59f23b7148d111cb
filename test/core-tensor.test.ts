// The Tensor and creation API outside the op table: creation functions, dtypes and type
// promotion (all pairs, vs torch.result_type), printing (vs PyTorch's repr), properties, data
// access, memory, conversion, random generation, errors, and the cpu fallback without OpenBLAS.
import t from 'tap';
import * as util from 'node:util';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import torch, { Tensor, TorchError, ShapeError, DTypeError, DeviceError, IndexError, type DType } from '../src/index.js';
import { readFixture, num, type Num } from './optable/fixtures.js';
import { leaked, liveTensors } from './optable/leak.js';
import { getBackend } from '../src/device/registry.js';
import { throwsLike } from './helpers/assert.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const DTYPES: DType[] = ['float32', 'float64', 'float16', 'bfloat16', 'int32', 'int64', 'uint8', 'bool'];

// ---------------------------------------------------------------- entry points, dtypes, devices

t.test('namespace: default export and named exports agree', async (t) => {
  const named = await import('../src/index.js');
  for (const k of ['tensor', 'zeros', 'ones', 'full', 'empty', 'zerosLike', 'onesLike', 'fullLike', 'randLike', 'randnLike', 'arange',
    'linspace', 'eye', 'rand', 'randn', 'randint', 'randperm', 'fromBuffer', 'noGrad', 'enableGrad', 'isGradEnabled',
    'setGradEnabled', 'autograd', 'availableDevices', 'setDefaultDevice', 'setDefaultDtype', 'setNumThreads', 'manualSeed',
    'memory', 'cuda', 'where', 'cat', 'stack', 'matmul', 'Tensor']) {
    t.ok(k in torch, `torch.${k}`);
    t.equal((named as any)[k], (torch as any)[k], `named export ${k} is the namespace member`);
  }
  for (const d of DTYPES) t.ok(Object.values(torch).includes(d), `a dtype constant for ${d}`);
  t.equal(torch.float32, 'float32');
  t.equal(torch.float64, 'float64');
  t.equal(torch.int32, 'int32');
  t.equal(torch.int64, 'int64');
  t.equal(torch.bool, 'bool');
  t.equal(torch.float16, 'float16');
  t.equal(torch.bfloat16, 'bfloat16');
  t.equal(torch.uint8, 'uint8');
});

t.test('devices: availableDevices, cuda, defaults, threads', async (t) => {
  const devs = torch.availableDevices();
  t.ok(Array.isArray(devs) && devs.includes('cpu'), `availableDevices() includes cpu: ${JSON.stringify(devs)}`);
  t.type(torch.cuda.isAvailable(), 'boolean');
  t.type(torch.cuda.deviceCount(), 'number');
  t.equal(torch.cuda.isAvailable(), torch.cuda.deviceCount() > 0);
  if (!torch.cuda.isAvailable()) {
    throwsLike(t, () => torch.ones([2]).cuda(), DeviceError, /^to: .*cuda/, 'cuda() without a GPU');
    throwsLike(t, () => torch.zeros([2], { device: 'cuda:0' }), DeviceError, /^zeros: .*cuda/);
  }
  throwsLike(t, () => torch.setDefaultDevice('tpu'), DeviceError, /unknown device 'tpu'/);
  torch.setDefaultDevice('cpu');
  t.equal(torch.zeros(1).device, 'cpu');
  torch.setNumThreads(2);
  t.pass('setNumThreads(2)');
  t.throws(() => torch.setNumThreads(0));
});

t.test('setDefaultDtype changes float creation and promotion', async (t) => {
  torch.setDefaultDtype('float64');
  try {
    t.equal(torch.tensor([1.5]).dtype, 'float64');
    t.equal(torch.zeros(2).dtype, 'float64');
    t.equal(torch.arange(0, 1, 0.5).dtype, 'float64');
    t.equal(torch.tensor([1, 2]).div(2).dtype, 'float64', 'int / int gives the default dtype');
    t.equal(torch.tensor([1, 2]).mul(0.5).dtype, 'float64', 'int tensor * float scalar gives the default dtype');
    t.equal(torch.ones([2], { dtype: 'float32' }).mul(0.5).dtype, 'float32', 'a float32 tensor stays float32');
    t.equal(torch.getDefaultDtype(), 'float64');
  } finally {
    torch.setDefaultDtype('float32');
  }
  t.equal(torch.tensor([1.5]).dtype, 'float32');
  throwsLike(t, () => torch.setDefaultDtype('int32'), TorchError, /^setDefaultDtype: only floating dtypes/);
});

t.test('type promotion: every dtype pair vs torch.result_type', async (t) => {
  const fx = readFixture('promotion.json');
  const mk = (d: DType, shape: number[]) => torch.zeros(shape, { dtype: d });
  let n = 0;
  for (const a of DTYPES) {
    for (const b of DTYPES) {
      const want = fx.tensor_tensor[`${a},${b}`];
      t.equal(torch.promoteTypes(a, b), want, `promoteTypes(${a}, ${b})`);
      t.equal(torch.resultType([{ dtype: a, ndim: 1 }, { dtype: b, ndim: 1 }]), want, `resultType(tensor ${a}, tensor ${b})`);
      t.equal(torch.where(torch.ones([2], { dtype: 'bool' }), mk(a, [2]), mk(b, [2])).dtype, want, `where(c, ${a}, ${b}).dtype`);
      const w0 = fx.tensor_0d[`${a},${b}`];
      t.equal(torch.resultType([{ dtype: a, ndim: 1 }, { dtype: b, ndim: 0 }]), w0, `resultType(tensor ${a}, 0-d ${b})`);
      t.equal(torch.where(torch.ones([2], { dtype: 'bool' }), mk(a, [2]), mk(b, [])).dtype, w0, `where(c, ${a}, 0-d ${b}).dtype`);
      if (a !== 'bool' || b !== 'bool') t.equal(mk(a, [2]).add(mk(b, [])).dtype, w0, `add(${a}, 0-d ${b}).dtype`);
      n += 3;
    }
    for (const [kind, s] of [['int', 2], ['float', 2.5], ['bool', true]] as const) {
      t.equal(torch.resultType([{ dtype: a, ndim: 1 }, s]), fx.tensor_scalar[`${a},${kind}`], `resultType(tensor ${a}, ${kind} scalar)`);
      t.equal(torch.resultType([{ dtype: a, ndim: 0 }, s]), fx.zero_d_scalar[`${a},${kind}`], `resultType(0-d ${a}, ${kind} scalar)`);
      t.equal(torch.where(torch.ones([2], { dtype: 'bool' }), mk(a, [2]), s).dtype, fx.tensor_scalar[`${a},${kind}`], `where(c, ${a}, ${kind} scalar).dtype`);
      n += 2;
    }
  }
  t.comment(`${n} promotion cases`);
});

// ---------------------------------------------------------------- creation

t.test('creation: shapes as varargs or an array, options last', async (t) => {
  for (const f of ['zeros', 'ones', 'empty', 'rand', 'randn'] as const) {
    const a = (torch as any)[f](2, 3), b = (torch as any)[f]([2, 3], { dtype: 'float64' });
    t.same(a.shape, [2, 3], `${f}(2, 3)`);
    t.same(b.shape, [2, 3], `${f}([2, 3], opts)`);
    t.equal(a.dtype, 'float32');
    t.equal(b.dtype, 'float64');
    t.same((torch as any)[f]().shape, [], `${f}() is 0-d`);
    t.ok((torch as any)[f]([2], { requiresGrad: true }).requiresGrad, `${f} with requiresGrad`);
  }
  t.same(torch.zeros(2, 3).tolist(), [[0, 0, 0], [0, 0, 0]]);
  t.same(torch.empty([2, 0]).shape, [2, 0]);
  t.same(torch.ones([2], { dtype: 'int32' }).tolist(), [1, 1]);
  t.same(torch.full([2], 7).dtype, 'int64');
  t.same(torch.full([2], 0.5, { dtype: 'float64' }).tolist(), [0.5, 0.5]);
  const x = torch.ones([2, 3], { dtype: 'int32' });
  t.equal(torch.zerosLike(x).dtype, 'int32');
  t.same(torch.onesLike(x, { dtype: 'float64' }).tolist(), [[1, 1, 1], [1, 1, 1]]);
  t.same(torch.fullLike(x, 4).tolist(), [[4, 4, 4], [4, 4, 4]]);
  t.equal(torch.eye(3).tolist()[1][1], 1);
  t.same(torch.eye(2, 3).shape, [2, 3]);
  throwsLike(t, () => torch.zeros([2.5]), ShapeError, /^zeros: sizes must be non-negative integers/);
  throwsLike(t, () => torch.eye(-1), ShapeError, /^eye: /);
  throwsLike(t, () => torch.linspace(0, 1, -2), TorchError, /^linspace: /);
  throwsLike(t, () => torch.arange(0, 1, 0), TorchError, /^arange: step must be nonzero/);
});

t.test('tensor(): nested arrays, numbers, TypedArrays, dtype inference', async (t) => {
  t.equal(torch.tensor([1, 2]).dtype, 'int64');
  t.equal(torch.tensor([1.5, 2]).dtype, 'float32');
  t.equal(torch.tensor([true, false]).dtype, 'bool');
  t.equal(torch.tensor(3).dtype, 'int64');
  t.same(torch.tensor(3.5).shape, []);
  t.same(torch.tensor([[1, 2], [3, 4]]).shape, [2, 2]);
  t.same(torch.tensor([]).shape, [0]);
  t.equal(torch.tensor(new Float32Array([1, 2])).dtype, 'float32');
  t.equal(torch.tensor(new Float64Array([1, 2])).dtype, 'float64');
  t.equal(torch.tensor(new Int32Array([1, 2])).dtype, 'int32');
  t.equal(torch.tensor(new Uint8Array([1, 2])).dtype, 'uint8');
  t.equal(torch.tensor(new BigInt64Array([1n, 2n])).dtype, 'int64');
  t.same(torch.tensor(new BigInt64Array([1n, -2n])).tolist(), [1, -2]);
  t.same(torch.tensor([1.7, -1.7], { dtype: 'int32' }).tolist(), [1, -1], 'float data into int32 truncates');
  t.same(torch.tensor([[1, 2]], { dtype: 'float64', requiresGrad: true }).requiresGrad, true);
  throwsLike(t, () => torch.tensor([[1, 2], [3]] as any), ShapeError, /^tensor: .*rectangular/);
  throwsLike(t, () => torch.tensor([1, 2], { dtype: 'float128' as DType }), DTypeError, /^tensor: unknown dtype 'float128'/);
  throwsLike(t, () => torch.tensor([1, 2], { requiresGrad: true }), TorchError, /only floating point tensors can require gradients/);
});

t.test('fromBuffer shares the buffer on cpu', async (t) => {
  const buf = new Float32Array([1, 2, 3, 4, 5, 6]);
  const x = torch.fromBuffer(buf, [2, 3]);
  t.same(x.shape, [2, 3]);
  t.equal(x.dtype, 'float32');
  buf[0] = 42;
  t.equal(x.index(0, 0).item(), 42, 'a write to the buffer is seen by the tensor (no copy)');
  const y = torch.fromBuffer(new Float64Array([1.5, 2.5]), [2], { dtype: 'float32' });
  t.same(y.tolist(), [1.5, 2.5], 'converted when the buffer type differs from the dtype');
  t.equal(torch.fromBuffer(new Int32Array([1]), [1]).dtype, 'int32');
  throwsLike(t, () => torch.fromBuffer(new Float32Array(5), [2, 3]), ShapeError, /^fromBuffer: the buffer has 5 elements but shape \[2, 3\] needs 6/);
});

t.test('random creation: ranges, statistics, dtypes, manualSeed', async (t) => {
  torch.manualSeed(123);
  const a = torch.rand(5).tolist();
  torch.manualSeed(123);
  t.same(torch.rand(5).tolist(), a, 'manualSeed makes rand reproducible');
  torch.manualSeed(7);
  const n = torch.randn([20000], { dtype: 'float64' }).tolist() as number[];
  const mean = n.reduce((s, v) => s + v, 0) / n.length;
  const sd = Math.sqrt(n.reduce((s, v) => s + (v - mean) ** 2, 0) / n.length);
  t.ok(Math.abs(mean) < 0.03 && Math.abs(sd - 1) < 0.03, `randn mean ${mean.toFixed(4)} std ${sd.toFixed(4)}`);
  const u = torch.rand([20000]).tolist() as number[];
  t.ok(u.every((v) => v >= 0 && v < 1), 'rand in [0, 1)');
  t.ok(Math.abs(u.reduce((s, v) => s + v, 0) / u.length - 0.5) < 0.01, 'rand mean near 0.5');
  const ri = torch.randint(-3, 4, [5000]);
  t.equal(ri.dtype, 'int64');
  const rv = ri.tolist() as number[];
  t.ok(rv.every((v) => Number.isInteger(v) && v >= -3 && v < 4), 'randint in [low, high)');
  t.equal(new Set(rv).size, 7, 'randint hits every value');
  t.equal(torch.randint(0, 5, [3], { dtype: 'int32' }).dtype, 'int32');
  const p = torch.randperm(50).tolist() as number[];
  t.same([...p].sort((x, y) => x - y), Array.from({ length: 50 }, (_, i) => i), 'randperm is a permutation');
  t.equal(torch.randperm(4).dtype, 'int64');
  const base = torch.zeros([3, 4], { dtype: 'float64' });
  t.same(torch.randLike(base).shape, [3, 4]);
  t.equal(torch.randnLike(base).dtype, 'float64');
  const w = torch.empty([10000]).uniform_(-2, 3);
  const wv = w.tolist() as number[];
  t.ok(wv.every((v) => v >= -2 && v < 3), 'uniform_ within [low, high)');
  const nv = torch.empty([20000], { dtype: 'float64' }).normal_(5, 2).tolist() as number[];
  const nm = nv.reduce((s, v) => s + v, 0) / nv.length;
  const ns = Math.sqrt(nv.reduce((s, v) => s + (v - nm) ** 2, 0) / nv.length);
  t.ok(Math.abs(nm - 5) < 0.06 && Math.abs(ns - 2) < 0.06, `normal_(5, 2): mean ${nm.toFixed(3)} std ${ns.toFixed(3)}`);
  const view = torch.zeros([4, 4]).t();
  view.uniform_(1, 2);
  t.ok((view.tolist() as number[][]).flat().every((v) => v >= 1 && v < 2), 'uniform_ on a non-contiguous view fills every element');
  throwsLike(t, () => torch.randint(5, 5, [2]), TorchError, /^randint: /);
  throwsLike(t, () => torch.randperm(-1), TorchError, /^randperm: /);
  throwsLike(t, () => torch.rand([2], { dtype: 'int64' }), DTypeError, /^rand: .*floating point/);
  throwsLike(t, () => torch.ones([2], { requiresGrad: true }).uniform_(), TorchError, /^uniform_: a leaf tensor that requires grad/);
});

// ---------------------------------------------------------------- tensor properties and methods

t.test('properties: shape, dtype, device, ndim, size, numel, stride, contiguity', async (t) => {
  const x = torch.zeros([2, 3, 4]);
  t.same(x.shape, [2, 3, 4]);
  t.equal(x.dtype, 'float32');
  t.equal(x.device, 'cpu');
  t.equal(x.ndim, 3);
  t.same(x.size(), [2, 3, 4]);
  t.equal(x.size(1), 3);
  t.equal(x.size(-1), 4);
  throwsLike(t, () => x.size(3), IndexError, /^size: dimension 3 is out of range/);
  t.equal(x.numel(), 24);
  t.same(x.stride(), [12, 4, 1]);
  t.ok(x.isContiguous());
  const tr = x.transpose(0, 2);
  t.same(tr.stride(), [1, 4, 12]);
  t.notOk(tr.isContiguous());
  const c = tr.contiguous();
  t.ok(c.isContiguous());
  t.not(c._storage, tr._storage, 'contiguous() of a non-contiguous view copies');
  t.equal(x.contiguous(), x, 'contiguous() of a contiguous tensor is itself');
  const cl = x.clone();
  t.not(cl._storage, x._storage, 'clone copies');
  t.equal(torch.zeros([]).ndim, 0);
  t.equal(torch.zeros([]).numel(), 1);
  t.equal(torch.zeros([0, 5]).numel(), 0);
  const g = torch.ones([2], { requiresGrad: true });
  t.ok(g.requiresGrad);
  t.ok(g.isLeaf);
  t.equal(g.grad, null);
  t.equal(g.gradFn, null);
  g.requiresGrad_(false);
  t.notOk(g.requiresGrad);
  g.requiresGrad = true;
  t.ok(g.requiresGrad, 'requiresGrad setter');
  const h = g.mul(2);
  t.notOk(h.isLeaf);
  t.equal(h.gradFn!.displayName, 'MulBackward0');
  t.equal(g.add(1).gradFn!.displayName, 'AddBackward0');
});

t.test('data: item, tolist, dataSync, data, array', async (t) => {
  t.equal(torch.tensor(2.5).item(), 2.5);
  t.equal(torch.tensor([[7]]).item(), 7);
  throwsLike(t, () => torch.tensor([1, 2]).item(), ShapeError, /^item: a Tensor with 2 elements/);
  t.same(torch.tensor([[1, 2], [3, 4]]).tolist(), [[1, 2], [3, 4]]);
  t.same(torch.tensor([true, false]).tolist(), [true, false], 'bool tolist gives booleans');
  t.equal(torch.tensor(3).tolist(), 3, '0-d tolist gives a number');
  t.same(torch.tensor([[1, 2], [3, 4]]).t().tolist(), [[1, 3], [2, 4]], 'tolist of a view');
  const x = torch.tensor([1.5, 2.5]);
  const d = x.dataSync();
  t.ok(d instanceof Float32Array);
  d[0] = 99;
  t.equal(x.index(0).item(), 1.5, 'dataSync returns a copy');
  t.ok(torch.tensor([1, 2]).dataSync() instanceof Float64Array, 'int64 reads back as Float64Array');
  t.ok(torch.tensor([1, 2], { dtype: 'float16' }).dataSync() instanceof Float32Array, 'float16 reads back as Float32Array');
  t.ok(torch.tensor([1, 2], { dtype: 'int32' }).dataSync() instanceof Int32Array);
  t.same(Array.from(await x.data()), [1.5, 2.5]);
  t.same(await torch.tensor([[1, 2]]).array(), [[1, 2]]);
  t.same(await torch.tensor([[1, 2], [3, 4]]).t().array(), [[1, 3], [2, 4]]);
  t.same(Array.from(torch.zeros([0]).dataSync()), []);
});

t.test('conversion: to, cpu, float, double, int, long, bool, type', async (t) => {
  const x = torch.tensor([1.7, -2.5, 0]);
  t.equal(x.to('float64').dtype, 'float64');
  t.equal(x.to({ dtype: 'int32' }).dtype, 'int32');
  t.same(x.int().tolist(), [1, -2, 0]);
  t.same(x.long().tolist(), [1, -2, 0]);
  t.same(x.bool().tolist(), [true, true, false]);
  t.equal(x.double().dtype, 'float64');
  t.equal(x.int().float().dtype, 'float32');
  t.equal(x.type('int64').dtype, 'int64');
  t.equal(x.cpu(), x, 'cpu() on cpu is the same tensor');
  t.equal(x.to('cpu'), x, "to('cpu') on cpu is the same tensor");
  t.equal(x.to('float32'), x, 'to(own dtype) is the same tensor');
  const g = torch.tensor([1.5, 2.5], { requiresGrad: true });
  const gd = g.double();
  t.ok(gd.requiresGrad, 'float conversion keeps the graph');
  gd.mul(2).sum().backward();
  t.equal(g.grad!.dtype, 'float32', 'the gradient comes back in the input dtype');
  t.same(g.grad!.tolist(), [2, 2]);
  t.notOk(g.long().requiresGrad, 'integer results do not require grad');
  throwsLike(t, () => x.to('vulkan'), DeviceError, /^to: unknown device 'vulkan'/);
});

t.test('memory: dispose, Symbol.dispose, torch.memory', async (t) => {
  const before = await liveTensors('cpu');
  const x = torch.zeros([1000]);
  const m = torch.memory('cpu');
  t.equal(m.tensors, before + 1);
  t.ok(m.bytes >= 4000);
  x.dispose();
  t.equal(torch.memory('cpu').tensors, before, 'dispose frees now');
  x.dispose();
  t.equal(torch.memory('cpu').tensors, before, 'dispose is idempotent');
  t.ok(x.isDisposed);
  t.equal(x.toString(), 'tensor(<disposed>)');
  throwsLike(t, () => x.add(1), TorchError, /^add: this tensor was disposed/);
  throwsLike(t, () => x.dataSync(), TorchError, /^dataSync: this tensor was disposed/);
  throwsLike(t, () => x.tolist(), TorchError, /this tensor was disposed/);
  {
    const y = torch.ones([10]);
    y[Symbol.dispose]();
    t.ok(y.isDisposed, '[Symbol.dispose]() frees');
  }
  t.equal(await liveTensors('cpu', before), before, 'back to the starting count');
  t.type(torch.memory().tensors, 'number', 'memory() without a device sums all devices');
});

t.test('a training loop written as in PyTorch (no dispose) keeps memory flat', async (t) => {
  torch.manualSeed(0);
  const w = torch.randn([16, 8], { requiresGrad: true });
  const b = torch.zeros([8], { requiresGrad: true });
  const xs = torch.randn([32, 16]), ys = torch.randn([32, 8]);
  const step = () => {
    const loss = xs.matmul(w).add(b).tanh().sub(ys).square().mean();
    loss.backward();
    torch.noGrad(() => { w.sub_(w.grad!.mul(0.1)); b.sub_(b.grad!.mul(0.1)); });
    w.grad = null; b.grad = null;
    return loss.item();
  };
  const first = step();
  for (let i = 0; i < 20; i++) step();
  const n1 = await liveTensors('cpu');
  for (let i = 0; i < 200; i++) step();
  const n2 = await liveTensors('cpu', n1);
  const last = step();
  t.ok(last < first, `the loss decreases (${first.toFixed(4)} -> ${last.toFixed(4)})`);
  t.ok(n2 <= n1, `live tensors stay flat over 200 steps (${n1} -> ${n2})`);
});

t.test('the leak check detects a leak', async (t) => {
  const kept: Tensor[] = [];
  const r = await leaked('cpu', () => { kept.push(torch.ones([3]).mul(2)); });
  t.equal(r.leaked, 1, 'one tensor kept alive is reported');
  const r2 = await leaked('cpu', () => { torch.ones([3]).mul(2).sum(); });
  t.equal(r2.leaked, 0, 'unreachable tensors are not');
  kept.length = 0;
});

// ---------------------------------------------------------------- printing

t.test('printing matches PyTorch repr', async (t) => {
  const cases = readFixture('printing.json').cases as { id: string; repr: string; build: { values: Num[]; shape: number[]; dtype: DType; grad: boolean; then?: string } }[];
  for (const c of cases) {
    const b = c.build;
    let x: Tensor = torch.tensor(b.values.map(num), { dtype: b.dtype }).reshape(b.shape);
    x = x.clone().detach();
    if (b.grad) x.requiresGrad_(true);
    if (b.then === 'mul2.5') x = x.mul(2.5);
    else if (b.then === 'add1.5') x = x.add(1.5);
    else if (b.then === 'sum') x = x.sum();
    const want = c.repr.replace(/requires_grad=True/g, 'requiresGrad=true').replace(/grad_fn=</g, 'gradFn=<').replace(/dtype=torch\./g, 'dtype=');
    t.equal(x.toString(), want, `${c.id}`);
  }
  const y = torch.tensor([1.5, 2]);
  t.equal(util.inspect(y), y.toString(), 'util.inspect prints as toString');
  t.equal(`${y}`, 'tensor([1.5000, 2.0000])');
});

// ---------------------------------------------------------------- errors

t.test('errors are TorchError subclasses whose message names the op', async (t) => {
  const cases: [string, typeof TorchError, () => unknown][] = [
    ['add', ShapeError, () => torch.ones([2]).add(torch.ones([3]))],
    ['matmul', ShapeError, () => torch.ones([2, 3]).matmul(torch.ones([2, 3]))],
    ['sum', IndexError, () => torch.ones([2]).sum(1)],
    ['view', ShapeError, () => torch.ones([2, 3]).t().view(6)],
    ['mean', DTypeError, () => torch.ones([2], { dtype: 'int64' }).mean()],
    ['to', DeviceError, () => torch.ones([2]).to('cuda:3')],
    ['index', IndexError, () => torch.ones([2]).index(5)],
    ['gather', DTypeError, () => torch.ones([2]).gather(0, torch.ones([2]))],
    ['item', ShapeError, () => torch.ones([2]).item()],
    ['cat', ShapeError, () => torch.cat([torch.ones([2, 2]), torch.ones([3, 3])])],
    ['expand', ShapeError, () => torch.ones([2]).expand(3)],
    ['softmax', TorchError, () => (torch.ones([2]) as any).softmax()],
    ['zeros', ShapeError, () => torch.zeros([-1])],
    ['fill_', ShapeError, () => torch.ones([2]).fill_(torch.ones([2]))],
    ['where', TorchError, () => torch.where(null as any, 1, 2)],
    ['reshape', ShapeError, () => torch.ones([6]).reshape(4, -1)],
    ['select', IndexError, () => torch.ones([2]).select(0, 2)],
    ['scatter', DTypeError, () => torch.ones([2]).scatter(0, torch.tensor([0]), torch.ones([1], { dtype: 'float64' }))],
    ['unsqueeze', IndexError, () => torch.ones([2]).unsqueeze(5)],
    ['arange', TorchError, () => torch.arange(1, 0, 1)],
  ];
  for (const [op, cls, fn] of cases) {
    let err: unknown = null;
    try { fn(); } catch (e) { err = e; }
    const ok = err instanceof cls && err instanceof TorchError && (err as TorchError).op === op && (err as Error).message.startsWith(`${op}: `);
    t.ok(ok, `${op}: ${cls.name}, got ${err instanceof Error ? `${err.name}: ${err.message}` : 'no error'}`);
  }
});

// ---------------------------------------------------------------- cpu without OpenBLAS

t.test('the cpu device without OpenBLAS: fallback notice and correct matmuls', async (t) => {
  const child = path.join(HERE, 'optable', 'blas_child.ts');
  const run = (env: Record<string, string>) => spawnSync(process.execPath, ['--import=tsx', child], {
    env: { ...process.env, ...env }, encoding: 'utf8', timeout: 300_000,
  });
  // OpenBLAS hidden: every library name the loader tries resolves to a file that is not a library
  const fake = path.join((await import('node:os')).tmpdir(), `torchlet-noblas-${process.pid}`);
  const fs = await import('node:fs');
  fs.mkdirSync(fake, { recursive: true });
  for (const n of ['libopenblas.so.0', 'libopenblas.so', 'libblas.so.3']) fs.writeFileSync(path.join(fake, n), 'not a library\n');
  t.teardown(() => fs.rmSync(fake, { recursive: true, force: true }));
  for (const [what, env, notice] of [
    ['OpenBLAS hidden', { LD_LIBRARY_PATH: fake }, true],
    ['TORCHLET_NO_BLAS=1', { TORCHLET_NO_BLAS: '1' }, false],
  ] as const) {
    const r = run(env);
    t.equal(r.status, 0, `${what}: child exits 0${r.status ? `\n${r.stderr}\n${r.stdout}` : ''}`);
    const lines = (r.stderr ?? '').split('\n').filter((l) => /OpenBLAS/.test(l));
    if (notice) {
      t.equal(lines.length, 1, `${what}: prints the fallback notice once: ${JSON.stringify(lines)}`);
      t.match(lines[0] ?? '', /^torchlet: OpenBLAS not found .*JS matmul$/, `${what}: the notice is one line`);
    } else t.equal(lines.length, 0, `${what}: forced fallback prints no notice (by design, src/device/cpu/matmul.ts)`);
    let res: any = {};
    try { res = JSON.parse((r.stdout ?? '').trim().split('\n').pop() ?? '{}'); } catch { res = {}; }
    t.equal(res.blas, 'js', `${what}: the JS GEMM is in use`);
    t.ok(res.pass > 0 && res.fail === 0, `${what}: matmul-heavy op-table subset passes (${res.pass} ok, ${res.fail} failed${res.failures?.length ? `: ${res.failures.slice(0, 5).join(' | ')}` : ''})`);
  }
});

// ---------------------------------------------------------------- every available device

for (const dev of torch.availableDevices()) {
  t.test(`device ${dev}: creation, data, printing, transfers, memory`, async (t) => {
    const x = torch.tensor([[1.5, 2], [3, -4]], { device: dev });
    t.equal(x.device, dev === 'cuda' ? 'cuda:0' : dev);
    t.same(await x.array(), [[1.5, 2], [3, -4]], 'await array()');
    t.same(Array.from(await x.data()), [1.5, 2, 3, -4], 'await data()');
    t.same(await x.t().array(), [[1.5, 3], [2, -4]], 'array() of a view');
    const cpu = x.to('cpu');
    t.equal(cpu.device, 'cpu');
    t.same(cpu.tolist(), [[1.5, 2], [3, -4]], 'to(cpu) round trip');
    const back = cpu.to(dev);
    t.equal(back.device, x.device);
    t.same(await back.array(), [[1.5, 2], [3, -4]]);
    const want = `tensor([[ 1.5000,  2.0000],\n        [ 3.0000, -4.0000]]${dev === 'cpu' ? '' : `, device='${x.device}'`})`;
    const s = x.toString();
    t.ok(s === want || /use 'await t.array\(\)'/.test(s), `toString: ${JSON.stringify(s)}`);
    for (const f of ['zeros', 'ones', 'rand', 'randn'] as const) t.equal((torch as any)[f]([2], { device: dev }).device, x.device, `${f} on ${dev}`);
    t.equal(torch.arange(3, { device: dev }).device, x.device);
    t.equal(torch.zerosLike(x).device, x.device, 'zerosLike keeps the device');
    // dtypes the device cannot hold: a clear error naming both
    const be = getBackend(dev);
    for (const dt of DTYPES) {
      if (be.supportsDtype(dt)) t.equal(torch.zeros([2], { device: dev, dtype: dt }).dtype, dt, `${dt} on ${dev}`);
      else throwsLike(t, () => torch.zeros([2], { device: dev, dtype: dt }), DTypeError, new RegExp(`${dt}.*${dev}|${dev}.*${dt}`), `${dt} unsupported on ${dev}`);
    }
    torch.setDefaultDevice(dev);
    try {
      t.equal(torch.zeros(2).device, x.device, 'setDefaultDevice: creation defaults to it');
      t.equal(torch.tensor([1, 2]).device, x.device);
    } finally {
      torch.setDefaultDevice('cpu');
    }
    // a cpu 0-d tensor joins another device's op, as PyTorch
    t.same(await x.mul(torch.tensor(2)).array(), [[3, 4], [6, -8]], 'cpu 0-d tensor operand');
    // gradients flow back across a device transfer
    const w = torch.tensor([1.5, -2], { requiresGrad: true });
    w.to(dev).mul(3).sum().backward();
    t.equal(w.grad!.device, 'cpu');
    t.same(w.grad!.tolist(), [3, 3], 'gradient through to(device)');
    const before = await liveTensors(dev);
    const y = torch.zeros([100], { device: dev });
    t.equal(torch.memory(dev).tensors, before + 1, `memory('${dev}') counts a new tensor`);
    y.dispose();
    t.equal(torch.memory(dev).tensors, before, 'dispose frees it');
    // a training loop without dispose keeps device memory flat
    const p = torch.randn([8, 4], { device: dev, requiresGrad: true });
    const data = torch.randn([16, 8], { device: dev });
    const step = () => {
      const loss = data.matmul(p).relu().mean();
      loss.backward();
      torch.noGrad(() => p.sub_(p.grad!.mul(0.01)));
      p.grad = null;
    };
    for (let i = 0; i < 10; i++) step();
    const n1 = await liveTensors(dev);
    for (let i = 0; i < 100; i++) step();
    const n2 = await liveTensors(dev, n1);
    t.ok(n2 <= n1, `live tensors on ${dev} stay flat over 100 steps (${n1} -> ${n2})`);
  });
}
