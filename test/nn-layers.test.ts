// nn.Module, the containers, the layers, nn.functional (layer part), nn.init and nn.utils.
// Layers load PyTorch's state dicts and give PyTorch's outputs and gradients (fixtures from
// scripts/gen_nn_layer_fixtures.py); the functional forms pass gradcheck in float64.
import t from 'tap';
import * as torch from '../src/index.js';
import { Tensor } from '../src/index.js';
import * as nn from '../src/nn/index.js';
import * as F from '../src/nn/functional/layers.js';
import { pyFloat } from '../src/nn/repr.js';
import { fixtureLoader } from './helpers/fixtures.js';
import { WEBGPU_REASON, DEVICES, on, dec, decSD, close, weighted, type Enc } from './helpers/tensors.js';

const load = fixtureLoader('nn_layers');

// The fixture tests run on the cpu and, where an adapter exists, on webgpu (modules and inputs
// moved there; float32 tolerances). Float64-only checks (gradcheck) stay on the cpu.
if (WEBGPU_REASON !== null) t.comment(`nn layer tests on webgpu skipped: ${WEBGPU_REASON}`);

/** new nn[cls](...args, opts) from a fixture's "ts" spec. */
function build(spec: { cls: string; args: unknown[]; opts: Record<string, unknown> }): nn.Module {
  const Cls = (nn as unknown as Record<string, new (...a: unknown[]) => nn.Module>)[spec.cls];
  if (!Cls) throw new Error(`no nn.${spec.cls}`);
  const args = Object.keys(spec.opts).length ? [...spec.args, spec.opts] : spec.args;
  return new Cls(...args);
}

// ---------------------------------------------------------------- layers vs PyTorch

for (const device of DEVICES) t.test(`every layer matches PyTorch on ${device}: state dict, forward, backward, repr`, on(device), (tt) => {
  const { cases } = load('layers.json');
  for (const c of cases) {
    const m = build(c.ts);
    tt.same(Object.keys(m.stateDict()), Object.keys(c.state), `${c.name}: stateDict keys as PyTorch`);
    tt.equal(m.numParameters(), c.numParameters, `${c.name}: parameter count`);
    tt.equal(m.toString(), c.repr, `${c.name}: printed as PyTorch`);
    const res = m.loadStateDict(decSD(c.state));
    tt.same(res, { missingKeys: [], unexpectedKeys: [] }, `${c.name}: state dict loads`);
    m.to(device);
    m.train(c.train);
    const inputs = c.inputs.map((e: Enc) => dec(e, e!.dtype.startsWith('float'), device));
    let out = m.forward(...inputs);
    if (c.indices) {
      const [values, indices] = out as [Tensor, Tensor];
      tt.same([...indices.shape], c.indices.shape, `${c.name}: indices shape`);
      tt.same(Array.from(indices.dataSync()), c.indices.data, `${c.name}: indices as PyTorch`);
      tt.equal(indices.dtype, 'int64', `${c.name}: indices are int64`);
      out = values;
    }
    close(tt, out, c.output, `${c.name}: output`);
    weighted([[out, c.gout]]).backward();
    c.gradInputs.forEach((g: Enc, i: number) => { if (g) close(tt, inputs[i].grad, g, `${c.name}: input ${i} grad`); });
    const params = Object.fromEntries(m.namedParameters());
    tt.same(Object.keys(params), Object.keys(c.gradParams), `${c.name}: parameter names`);
    for (const [k, g] of Object.entries(c.gradParams)) close(tt, params[k]?.grad, g as Enc, `${c.name}: grad ${k}`);
    const after = m.stateDict();
    for (const [k, v] of Object.entries(c.stateAfter)) close(tt, after[k], v as Enc, `${c.name}: ${k} after the step`);
  }
  tt.end();
});

t.test('models: stateDict keys, parameter counts and repr equal PyTorch', (tt) => {
  const fx = load('models.json');
  const cnn = new nn.Sequential(
    new nn.Conv2d(1, 8, 3, { padding: 1 }), new nn.BatchNorm2d(8), new nn.ReLU(), new nn.MaxPool2d(2),
    new nn.Conv2d(8, 16, 3, { padding: 1 }), new nn.ReLU(), new nn.AdaptiveAvgPool2d([1, 1]), new nn.Flatten(), new nn.Linear(16, 10));
  const mlp = new nn.Sequential(new nn.Flatten(), new nn.Linear(784, 256), new nn.ReLU(), new nn.Linear(256, 128), new nn.ReLU(), new nn.Linear(128, 10));
  const named = new nn.Sequential({
    features: new nn.Sequential(new nn.Conv2d(3, 4, 3), new nn.BatchNorm2d(4), new nn.ReLU()),
    pool: new nn.AdaptiveAvgPool2d(1),
    head: new nn.Sequential(new nn.Flatten(), new nn.Dropout(0.5), new nn.Linear(4, 2)),
  });
  for (const [name, m] of [['cnn', cnn], ['mlp', mlp], ['named', named]] as const) {
    const f = fx[name];
    const sd = m.stateDict();
    tt.same(Object.keys(sd), f.keys, `${name}: stateDict keys`);
    tt.same(Object.fromEntries(Object.entries(sd).map(([k, v]) => [k, [...v.shape]])), f.shapes, `${name}: stateDict shapes`);
    tt.equal(m.numParameters(), f.numParameters, `${name}: parameter count`);
    tt.same(m.namedParameters().map(([k]) => k), f.parameterNames, `${name}: namedParameters`);
    tt.same(m.namedBuffers().map(([k]) => k), f.bufferNames, `${name}: namedBuffers`);
    tt.same(m.namedModules().map(([k]) => k), f.moduleNames, `${name}: namedModules`);
    tt.equal(m.toString(), f.repr, `${name}: toString`);
  }
  tt.equal(mlp.numParameters(), 235146, 'the MLP has 235146 parameters');
  tt.equal(sdBytes(cnn.stateDict()) > 0, true);

  tt.end();
});

for (const device of DEVICES) t.test(`the CNN with PyTorch's weights on ${device}: forward, backward, BatchNorm running stats`, on(device), (tt) => {
  const c = load('models.json').cnn;
  const cnn = new nn.Sequential(
    new nn.Conv2d(1, 8, 3, { padding: 1 }), new nn.BatchNorm2d(8), new nn.ReLU(), new nn.MaxPool2d(2),
    new nn.Conv2d(8, 16, 3, { padding: 1 }), new nn.ReLU(), new nn.AdaptiveAvgPool2d([1, 1]), new nn.Flatten(), new nn.Linear(16, 10));
  cnn.loadStateDict(decSD(c.state));
  cnn.to(device);
  cnn.train();
  const x = dec(c.input, true, device);
  const out = cnn.forward(x);
  tt.equal(out.device, device, 'runs on the device');
  close(tt, out, c.output, 'cnn output');
  weighted([[out, c.gout]]).backward();
  close(tt, x.grad, c.gradInput, 'cnn input grad');
  const params = Object.fromEntries(cnn.namedParameters());
  for (const [k, g] of Object.entries(c.gradParams)) close(tt, params[k].grad, g as Enc, `cnn grad ${k}`);
  const after = cnn.stateDict();
  for (const [k, v] of Object.entries(c.stateAfter)) close(tt, after[k], v as Enc, `cnn ${k} after the step`);
  tt.end();
});
function sdBytes(sd: Record<string, Tensor>): number { return Object.values(sd).reduce((a, v) => a + v.numel(), 0); }

// ---------------------------------------------------------------- gradcheck (float64)

if (WEBGPU_REASON === null) t.comment('gradcheck and double backward run on the cpu only: they need float64, which webgpu does not hold');
t.test('gradcheck of the functional forms in float64', (tt) => {
  torch.manualSeed(7);
  const d = (...s: number[]) => torch.randn(s, { dtype: 'float64', requiresGrad: true });
  const gc = (name: string, fn: (...xs: Tensor[]) => Tensor, inputs: Tensor[]) => {
    let ok = false;
    try { ok = torch.autograd.gradcheck(fn, inputs); } catch (e) { tt.fail(`${name}: ${String(e)}`); return; }
    tt.ok(ok, name);
  };
  gc('linear', (x, w, b) => F.linear(x, w, b), [d(3, 4), d(2, 4), d(2)]);
  gc('bilinear', (a, b, w, bias) => F.bilinear(a, b, w, bias), [d(2, 3), d(2, 2), d(2, 3, 2), d(2)]);
  gc('conv1d stride padding dilation groups', (x, w, b) => F.conv1d(x, w, b, { stride: 2, padding: 2, dilation: 2, groups: 2 }), [d(2, 4, 7), d(4, 2, 3), d(4)]);
  gc('conv1d same', (x, w) => F.conv1d(x, w, null, { padding: 'same' }), [d(1, 2, 5), d(3, 2, 4)]);
  gc('conv2d', (x, w, b) => F.conv2d(x, w, b), [d(2, 2, 4, 4), d(3, 2, 3, 3), d(3)]);
  gc('conv2d stride padding dilation groups', (x, w, b) => F.conv2d(x, w, b, { stride: [2, 1], padding: [1, 2], dilation: [1, 2], groups: 2 }), [d(1, 4, 5, 5), d(4, 2, 3, 2), d(4)]);
  gc('conv2d same (asymmetric)', (x, w) => F.conv2d(x, w, null, { padding: 'same' }), [d(1, 1, 4, 4), d(2, 1, 2, 3)]);
  gc('convTranspose2d', (x, w, b) => F.convTranspose2d(x, w, b, { stride: 2, padding: 1, outputPadding: 1 }), [d(1, 2, 3, 3), d(2, 3, 3, 3), d(3)]);
  gc('convTranspose2d groups dilation', (x, w) => F.convTranspose2d(x, w, null, { stride: [1, 2], dilation: [2, 1], groups: 2 }), [d(1, 4, 2, 3), d(4, 1, 2, 2)]);
  gc('maxPool1d', (x) => F.maxPool1d(x, 3, { stride: 2, padding: 1 }), [d(2, 2, 7)]);
  gc('maxPool2d', (x) => F.maxPool2d(x, 2), [d(1, 2, 4, 6)]);
  gc('maxPool2d stride padding dilation ceil', (x) => F.maxPool2d(x, 3, { stride: 2, padding: 1, dilation: [1, 2], ceilMode: true }), [d(1, 2, 6, 7)]);
  gc('avgPool2d', (x) => F.avgPool2d(x, 3, { stride: 2, padding: 1, ceilMode: true, countIncludePad: false }), [d(1, 2, 6, 5)]);
  gc('adaptiveAvgPool2d', (x) => F.adaptiveAvgPool2d(x, [3, 2]), [d(1, 2, 5, 5)]);
  gc('batchNorm train', (x, w, b) => F.batchNorm(x, null, null, w, b, { training: true }), [d(4, 3, 2), d(3), d(3)]);
  gc('batchNorm train with running stats', (x, w, b) => F.batchNorm(x, torch.zeros(3, { dtype: 'float64' }), torch.ones(3, { dtype: 'float64' }), w, b, { training: true }), [d(3, 3, 2, 2), d(3), d(3)]);
  const rm = torch.randn(3, { dtype: 'float64' }), rv = torch.rand(3, { dtype: 'float64' }).add(0.5);
  gc('batchNorm eval', (x, w, b) => F.batchNorm(x, rm, rv, w, b), [d(2, 3, 2), d(3), d(3)]);
  gc('layerNorm', (x, w, b) => F.layerNorm(x, [3, 2], w, b), [d(2, 3, 2), d(3, 2), d(3, 2)]);
  gc('groupNorm', (x, w, b) => F.groupNorm(x, 2, w, b), [d(2, 4, 3), d(4), d(4)]);
  const idx = torch.tensor([[0, 2], [3, 2]]);
  gc('embedding', (w) => F.embedding(idx, w), [d(4, 3)]);
  gc('pad reflect', (x) => F.pad(x, [2, 1, 1, 0], 'reflect'), [d(1, 3, 4)]);
  gc('pad replicate + circular', (x) => F.pad(F.pad(x, [1, 2], 'replicate'), [2, 2], { mode: 'circular' }), [d(2, 3)]);
  gc('pad constant with crop', (x) => F.pad(x, [1, -1, -1, 2], { value: 0.5 }), [d(3, 4)]);
  gc('leakyRelu, gelu, silu, softplus', (x) => F.softplus(F.silu(F.gelu(F.leakyRelu(x, 0.1))), { beta: 2 }), [d(2, 5)]);
  gc('softmax / logSoftmax', (x) => torch.add(F.softmax(x, 1), F.logSoftmax(x, 0)), [d(3, 4)]);
  tt.end();
});

t.test('double backward through conv2d (createGraph)', (tt) => {
  torch.manualSeed(3);
  const x = torch.randn([1, 2, 4, 4], { dtype: 'float64', requiresGrad: true });
  const w = torch.randn([3, 2, 3, 3], { dtype: 'float64', requiresGrad: true });
  const ok = torch.autograd.gradcheck((xx, ww) => {
    // gradcheck evaluates fn without grad mode too: the inner gradient needs it on
    return torch.enableGrad(() => {
      const y = F.conv2d(xx, ww, null, { padding: 1 });
      const [gx] = torch.autograd.grad(y.square().sum(), [xx], { createGraph: true });
      return gx!;
    });
  }, [x, w]);
  tt.ok(ok, 'second derivatives of conv2d (im2col/col2im are each other\'s backward)');
  tt.end();
});

// ---------------------------------------------------------------- errors

t.test('clear errors naming the layer and the shapes', (tt) => {
  const conv = new nn.Conv2d(1, 32, 3);
  tt.throws(() => conv.forward(torch.randn(2, 3, 28, 28)), /Conv2d: .*weight of shape \[32, 1, 3, 3\], expected input \[2, 3, 28, 28\] to have 1 channels, but got 3/, 'wrong channel count');
  tt.throws(() => conv.forward(torch.randn(28, 28)), /Conv2d: expected 3D \(unbatched\) or 4D \(batched\) input, but got input of shape \[28, 28\]/, 'wrong rank');
  tt.throws(() => conv.forward(torch.randn(1, 1, 2, 2)), /Conv2d: .*Kernel size can't be greater than actual input size/, 'input smaller than the kernel');
  tt.throws(() => new nn.Conv1d(3, 4, 3).forward(torch.randn(2, 5, 9)), /Conv1d: .*to have 3 channels, but got 5/);
  tt.throws(() => new nn.Conv1d(3, 4, 3).forward(torch.randn(2, 3, 4, 4)), /Conv1d: expected 2D \(unbatched\) or 3D \(batched\) input/);
  tt.throws(() => new nn.ConvTranspose2d(3, 4, 3).forward(torch.randn(1, 2, 5, 5)), /ConvTranspose2d: .*to have 3 channels, but got 2/);
  tt.throws(() => new nn.Linear(784, 10).forward(torch.randn(2, 100)), /Linear: expected input with last dimension 784 \(in_features\), but got input of shape \[2, 100\]/);
  tt.throws(() => new nn.BatchNorm2d(16).forward(torch.randn(2, 8, 4, 4)), /BatchNorm2d: expected input with 16 channels .* \[2, 8, 4, 4\]/);
  tt.throws(() => new nn.BatchNorm2d(16).forward(torch.randn(2, 16)), /BatchNorm2d: expected 4D input \(got 2D input/);
  tt.throws(() => new nn.BatchNorm1d(4).forward(torch.randn(1, 4)), /BatchNorm1d: expected more than 1 value per channel when training/);
  tt.throws(() => new nn.LayerNorm(10).forward(torch.randn(2, 5)), /LayerNorm: given normalized_shape=\[10\], expected input with shape \[\*, 10\], but got input of shape \[2, 5\]/);
  tt.throws(() => new nn.GroupNorm(2, 6).forward(torch.randn(2, 4, 3)), /GroupNorm: expected input of shape \[N, 6, \*\]/);
  tt.throws(() => new nn.GroupNorm(4, 6), /GroupNorm: num_channels \(6\) must be divisible by num_groups \(4\)/);
  tt.throws(() => new nn.MaxPool2d(2).forward(torch.randn(4, 4)), /MaxPool2d: expected 3D \(unbatched\) or 4D \(batched\) input/);
  tt.throws(() => new nn.MaxPool2d(2, { padding: 2 }).forward(torch.randn(1, 1, 4, 4)), /MaxPool2d: pad should be at most half of effective kernel size/);
  tt.throws(() => new nn.AvgPool2d(5).forward(torch.randn(1, 1, 3, 3)), /AvgPool2d: .*output size .* is too small/);
  tt.throws(() => new nn.Embedding(5, 2).forward(torch.tensor([1, 7])), /Embedding: index 7 is out of range for an embedding with 5 rows/);
  tt.throws(() => new nn.Embedding(5, 2).forward(torch.tensor([1.5, 2])), /Embedding: expected integer indices/);
  tt.throws(() => new nn.Conv2d(3, 4, 3, { groups: 2 }), /in_channels \(3\) must be divisible by groups \(2\)/);
  tt.throws(() => new nn.Conv2d(3, 4, 3, { padding: 'same', stride: 2 }), /padding='same' is not supported for strided convolutions/);
  tt.throws(() => new nn.Dropout(1.5), /dropout probability has to be between 0 and 1/);
  tt.throws(() => conv.forward(torch.randn([1, 1, 5, 5], { dtype: 'float64' })), /Conv2d: input dtype float64 differs from weight dtype float32/);
  tt.throws(() => F.pad(torch.randn(2, 3), [3, 0], 'reflect'), /pad: padding size should be less than the corresponding input dimension/);
  tt.throws(() => F.oneHot(torch.tensor([0, 3]), 3), /class values must be smaller than num_classes/);
  tt.end();
});

// ---------------------------------------------------------------- Module API

class Net extends nn.Module {
  conv = new nn.Conv2d(1, 2, 3);
  bn: nn.BatchNorm2d;
  head: nn.Linear;
  scale: nn.Parameter;
  constructor() {
    super();
    this.bn = new nn.BatchNorm2d(2);
    this.scale = new nn.Parameter(torch.ones(1));
    this.head = new nn.Linear(2, 3);
    this.registerBuffer('steps', torch.zeros(1));
    this.registerBuffer('cache', torch.zeros(2), false);
  }
  override forward(x: Tensor): Tensor {
    const y = torch.relu(this.bn.forward(this.conv.forward(x))).mean([2, 3]);
    return this.head.forward(y).mul(this.scale);
  }
}

t.test('Module: registration order, traversal, stateDict, printing', (tt) => {
  const net = new Net();
  tt.same(Object.keys(net.stateDict()), [
    'scale', 'steps', 'conv.weight', 'conv.bias', 'bn.weight', 'bn.bias', 'bn.running_mean', 'bn.running_var', 'bn.num_batches_tracked',
    'head.weight', 'head.bias',
  ], 'own parameters, own persistent buffers, then children in assignment order (non-persistent buffers left out)');
  tt.same(net.namedBuffers().map(([k]) => k), ['steps', 'cache', 'bn.running_mean', 'bn.running_var', 'bn.num_batches_tracked']);
  tt.same(net.namedChildren().map(([k]) => k), ['conv', 'bn', 'head']);
  tt.same(net.namedModules().map(([k]) => k), ['', 'conv', 'bn', 'head']);
  tt.equal(net.parameters().length, 7);
  tt.ok(net.parameters().every((p) => p instanceof nn.Parameter && p instanceof Tensor && p.requiresGrad && p.isLeaf));
  tt.equal(net.toString(), [
    'Net(',
    '  (conv): Conv2d(1, 2, kernel_size=(3, 3), stride=(1, 1))',
    '  (bn): BatchNorm2d(2, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)',
    '  (head): Linear(in_features=2, out_features=3, bias=True)',
    ')',
  ].join('\n'));
  tt.equal(String(new nn.Parameter(torch.tensor([1.5, 2]))), 'Parameter containing:\ntensor([1.5000, 2.0000], requiresGrad=true)');
  tt.equal(new nn.Parameter(torch.ones(2), false).requiresGrad, false);
  tt.equal(new nn.Identity(54, { unused: true }).toString(), 'Identity()');

  // shared parameters are listed once; reassigning replaces in place in the order
  const shared = new nn.Linear(2, 2);
  const seq = new nn.Sequential(shared, new nn.ReLU(), shared);
  tt.equal(seq.parameters().length, 2, 'shared modules counted once');
  tt.same(Object.keys(seq.stateDict()), ['0.weight', '0.bias', '2.weight', '2.bias'], 'stateDict keeps both names, as PyTorch');
  tt.throws(() => { (net as any).head.weight = torch.zeros(3, 2); }, /cannot assign a Tensor as parameter 'weight'/);
  net.head.bias = null;
  tt.same(net.head.namedParameters().map(([k]) => k), ['weight'], 'a null parameter is skipped');
  tt.equal(net.head.toString(), 'Linear(in_features=2, out_features=3, bias=False)');
  delete (net as any).head;
  tt.same(net.namedChildren().map(([k]) => k), ['conv', 'bn'], 'delete unregisters');
  tt.end();
});

t.test('Module: train/eval, zeroGrad, to, apply, loadStateDict errors', (tt) => {
  const net = new Net();
  tt.equal(net.training, true);
  net.eval();
  tt.ok(net.modules().every((m) => !m.training), 'eval() reaches every descendant');
  net.train();
  tt.ok(net.modules().every((m) => m.training));

  const y = net.forward(torch.randn(2, 1, 5, 5));
  y.sum().backward();
  tt.ok(net.parameters().every((p) => p.grad !== null), 'every parameter got a gradient');
  net.zeroGrad();
  tt.ok(net.parameters().every((p) => p.grad === null), 'zeroGrad sets grads to null');
  tt.same(net.bn.num_batches_tracked!.item(), 1, 'num_batches_tracked counts training steps');

  const w = net.conv.weight;
  const before = w.detach().clone();
  net.to('float64');
  tt.equal(net.conv.weight, w, 'to() keeps the Parameter objects (optimizers hold them)');
  tt.equal(w.dtype, 'float64');
  tt.equal(net.bn.running_mean!.dtype, 'float64');
  tt.equal(net.bn.num_batches_tracked!.dtype, 'int64', 'integer buffers keep their dtype');
  tt.same(Array.from(w.float().dataSync()), Array.from(before.dataSync()), 'values kept');
  const y64 = net.forward(torch.randn([1, 1, 4, 4], { dtype: 'float64' }));
  tt.equal(y64.dtype, 'float64', 'runs in float64 after to()');
  net.float();

  const names: string[] = [];
  net.apply((m) => { names.push(m._getName()); });
  tt.same(names, ['Conv2d', 'BatchNorm2d', 'Linear', 'Net'], 'apply visits children first, then the module');

  const sd = net.stateDict();
  const other = new Net();
  other.loadStateDict(sd);
  tt.same(Array.from(other.conv.weight.dataSync()), Array.from(net.conv.weight.dataSync()), 'weights copied');
  tt.throws(() => other.loadStateDict({ ...sd, 'conv.weight': torch.zeros(3, 3) }),
    /size mismatch for conv\.weight: copying a param with shape \[3, 3\] from checkpoint, the shape in current model is \[2, 1, 3, 3\]/);
  const partial = { ...sd };
  delete partial['head.bias'];
  tt.throws(() => other.loadStateDict({ ...partial, extra: torch.zeros(1) }), /Missing key\(s\) in state_dict: "head\.bias"\.\n\tUnexpected key\(s\) in state_dict: "extra"\./);
  tt.same(other.loadStateDict({ ...partial, extra: torch.zeros(1) }, { strict: false }), { missingKeys: ['head.bias'], unexpectedKeys: ['extra'] });
  other.loadStateDict(new Map(Object.entries(sd)));
  tt.pass('a Map state dict loads');
  const old = { ...sd };
  delete old['bn.num_batches_tracked'];
  tt.same(other.loadStateDict(old), { missingKeys: [], unexpectedKeys: [] }, 'BatchNorm checkpoints without num_batches_tracked load, as PyTorch');
  tt.end();
});

t.test('containers: Sequential, ModuleList, ModuleDict', (tt) => {
  const seq = new nn.Sequential(new nn.Linear(4, 3), new nn.ReLU());
  seq.append(new nn.Linear(3, 1));
  tt.equal(seq.length, 3);
  tt.ok(seq.at(-1) instanceof nn.Linear);
  tt.same([...seq.forward(torch.randn(2, 4)).shape], [2, 1]);
  tt.same([...seq].map((m) => m._getName()), ['Linear', 'ReLU', 'Linear']);

  const list = new nn.ModuleList([new nn.Linear(2, 2), new nn.Linear(2, 2), new nn.Linear(2, 3)]);
  tt.equal(list.length, 3);
  tt.same(Object.keys(list.stateDict()), ['0.weight', '0.bias', '1.weight', '1.bias', '2.weight', '2.bias']);
  tt.equal(list.toString(), [
    'ModuleList(',
    '  (0-1): 2 x Linear(in_features=2, out_features=2, bias=True)',
    '  (2): Linear(in_features=2, out_features=3, bias=True)',
    ')',
  ].join('\n'), 'repeated modules compacted as PyTorch 2.x');
  tt.throws(() => list.forward(), /ModuleList has no forward/);

  const dict = new nn.ModuleDict([['b', new nn.ReLU()], ['1', new nn.Tanh()], ['a', new nn.Linear(1, 1)]]);
  tt.same(dict.keys(), ['b', '1', 'a'], 'insertion order, numeric-looking names included');
  tt.equal(dict.toString(), 'ModuleDict(\n  (b): ReLU()\n  (1): Tanh()\n  (a): Linear(in_features=1, out_features=1, bias=True)\n)');
  tt.same(Object.keys(dict.stateDict()), ['a.weight', 'a.bias']);
  dict.delete('b');
  tt.same(dict.keys(), ['1', 'a']);
  tt.end();
});

// ---------------------------------------------------------------- behaviour beyond the fixtures

for (const device of DEVICES) t.test(`Dropout on ${device}: train vs eval, scaling`, on(device), (tt) => {
  torch.manualSeed(1);
  const d = new nn.Dropout(0.25);
  const x = torch.ones([200, 100], { device });
  const y = d.forward(x);
  const v = y.dataSync();
  let zeros = 0;
  for (const e of v) { if (e === 0) zeros++; else if (Math.abs(e - 1 / 0.75) > 1e-6) { tt.fail(`kept value ${e}`); break; } }
  tt.ok(Math.abs(zeros / v.length - 0.25) < 0.02, `about a quarter zeroed (${zeros / v.length})`);
  d.eval();
  tt.equal(d.forward(x), x, 'identity in eval mode');
  tt.equal(F.dropout(x, 0.5, false), x);
  tt.equal(F.dropout(x, 1).sum().item(), 0);
  tt.end();
});

for (const device of DEVICES) t.test(`BatchNorm on ${device}: cumulative average, eval uses running stats`, on(device), (tt) => {
  const bn = new nn.BatchNorm1d(2, { momentum: null }).to(device);
  const a = torch.tensor([[1, 2], [3, 6]], { device }).float(), b = torch.tensor([[5, 0], [7, 2]], { device }).float();
  bn.forward(a); bn.forward(b);
  tt.same(Array.from(bn.running_mean!.dataSync()), [4, 2.5], 'mean of the batch means');
  tt.same(Array.from(bn.running_var!.dataSync()), [2, 5], 'mean of the unbiased batch variances');
  bn.eval();
  const y = bn.forward(torch.tensor([[4, 2.5], [4, 2.5]], { device }));
  tt.ok(Math.abs(y.abs().sum().item()) < 1e-6, 'eval normalizes with the running statistics');
  tt.end();
});

for (const device of DEVICES) t.test(`functional extras on ${device}: pad, oneHot, maxPool indices, embedding`, on(device), (tt) => {
  const x = torch.arange(6, { device }).view(2, 3).float();
  tt.same(F.pad(x, [1, 1]).tolist(), [[0, 0, 1, 2, 0], [0, 3, 4, 5, 0]]);
  tt.same(F.pad(x, [2, 0], 'reflect').tolist(), [[2, 1, 0, 1, 2], [5, 4, 3, 4, 5]]);
  tt.same(F.pad(x, [1, 2], 'replicate').tolist(), [[0, 0, 1, 2, 2, 2], [3, 3, 4, 5, 5, 5]]);
  tt.same(F.pad(x, [1, 1], 'circular').tolist(), [[2, 0, 1, 2, 0], [5, 3, 4, 5, 3]]);
  tt.same(F.pad(x, [0, 0, 1, 0], { value: -1 }).tolist(), [[-1, -1, -1], [0, 1, 2], [3, 4, 5]]);
  tt.same(F.pad(x, [-1, 0]).tolist(), [[1, 2], [4, 5]], 'negative padding crops');
  const oh = F.oneHot(torch.tensor([0, 2, 1], { device }));
  tt.equal(oh.dtype, 'int64');
  tt.equal(oh.device, device);
  tt.same(oh.tolist(), [[1, 0, 0], [0, 0, 1], [0, 1, 0]]);
  tt.same([...F.oneHot(torch.tensor([[1], [0]], { device }), 4).shape], [2, 1, 4]);
  const [v, i] = F.maxPool2d(torch.tensor([[[[1, 5, 2, 0], [3, 4, 8, 7]]]], { device }), 2, { returnIndices: true });
  tt.same(v.tolist(), [[[[5, 8]]]]);
  tt.same(i.tolist(), [[[[1, 6]]]]);
  const w = torch.randn([5, 3], { device });
  tt.same(F.embedding(torch.tensor([[4, 0]], { device }), w).tolist(), [[w.index(4).tolist(), w.index(0).tolist()]]);
  const emb = nn.Embedding.fromPretrained(w);
  tt.equal(emb.weight.requiresGrad, false, 'fromPretrained freezes by default');
  tt.end();
});

t.test('pyFloat prints as Python', (tt) => {
  tt.same([0.1, 1e-5, 1, 0.001, 1e-4, 1e16, 2.5e-7, 100, 0].map(pyFloat), ['0.1', '1e-05', '1.0', '0.001', '0.0001', '1e+16', '2.5e-07', '100.0', '0.0']);
  tt.equal(pyFloat(null), 'None');
  tt.end();
});

// ---------------------------------------------------------------- init and utils

t.test('nn.init', (tt) => {
  torch.manualSeed(11);
  const init = nn.init;
  tt.equal(init.calculateGain('relu'), Math.SQRT2);
  tt.equal(init.calculateGain('tanh'), 5 / 3);
  tt.equal(init.calculateGain('leaky_relu', Math.sqrt(5)), Math.sqrt(2 / 6));
  tt.same(init.calculateFanInAndFanOut(torch.empty(32, 16, 3, 3)), [144, 288]);
  tt.throws(() => init.calculateFanInAndFanOut(torch.empty(5)), /fewer than 2 dimensions/);

  const w = torch.empty(256, 128);
  init.kaimingUniform_(w, { a: Math.sqrt(5) });
  const bound = 1 / Math.sqrt(128);
  tt.ok(w.abs().max().item() <= bound && w.abs().max().item() > 0.95 * bound, 'kaiming_uniform(a=sqrt(5)) bound 1/sqrt(fan_in)');
  init.kaimingNormal_(w, { mode: 'fan_out', nonlinearity: 'relu' });
  tt.ok(Math.abs(w.std().item() - Math.sqrt(2 / 256)) < 0.005, 'kaiming_normal std');
  init.xavierUniform_(w, 2);
  const xb = 2 * Math.sqrt(6 / (256 + 128));
  tt.ok(w.abs().max().item() <= xb && w.abs().max().item() > 0.95 * xb, 'xavier_uniform bound');
  init.xavierNormal_(w);
  tt.ok(Math.abs(w.std().item() - Math.sqrt(2 / 384)) < 0.005, 'xavier_normal std');
  init.constant_(w, 0.5);
  tt.equal(w.mean().item(), 0.5);
  init.zeros_(w); tt.equal(w.abs().sum().item(), 0);
  init.ones_(w); tt.equal(w.sum().item(), 256 * 128);
  init.uniform_(w, 2, 3); tt.ok(w.min().item() >= 2 && w.max().item() < 3);
  init.normal_(w, 1, 0.1); tt.ok(Math.abs(w.mean().item() - 1) < 0.01);
  init.truncNormal_(w, 0, 1, -1, 1); tt.ok(w.abs().max().item() <= 1);
  for (const shape of [[6, 4], [3, 8], [4, 2, 3]]) {
    const q = torch.empty(shape);
    init.orthogonal_(q, 1);
    const m = q.reshape(shape[0], -1);
    const prod = m.shape[0] >= m.shape[1] ? m.t().matmul(m) : m.matmul(m.t());
    const eye = torch.eye(prod.shape[0]);
    tt.ok(prod.sub(eye).abs().max().item() < 1e-5, `orthogonal_ ${JSON.stringify(shape)} is (semi-)orthogonal`);
  }
  const p = new nn.Parameter(torch.empty(3, 3));
  init.normal_(p);
  tt.ok(p.isLeaf && p.requiresGrad && p.gradFn === null, 'init leaves parameters as leaves');
  tt.end();
});

for (const device of DEVICES) t.test(`nn.utils on ${device}: clipGradNorm_, clipGradValue_, parametersToVector`, on(device), (tt) => {
  const a = new nn.Parameter(torch.zeros([2], { device })), b = new nn.Parameter(torch.zeros([2], { device }));
  a.grad = torch.tensor([3, 0], { device }).float();
  b.grad = torch.tensor([0, 4], { device }).float();
  const total = nn.utils.clipGradNorm_([a, b], 1);
  tt.ok(Math.abs(total.item() - 5) < 1e-6, 'returns the total norm');
  tt.ok(Math.abs(a.grad!.index(0).item() - 3 / 5) < 1e-5 && Math.abs(b.grad!.index(1).item() - 4 / 5) < 1e-5, 'scaled to norm 1');
  const t2 = nn.utils.clipGradNorm_([a, b], 10);
  tt.ok(Math.abs(t2.item() - 1) < 1e-5);
  tt.ok(Math.abs(a.grad!.index(0).item() - 0.6) < 1e-5, 'no scaling below maxNorm');
  const tinf = nn.utils.clipGradNorm_([a, b], 0.4, Infinity);
  tt.ok(Math.abs(tinf.item() - 0.8) < 1e-5, 'inf norm');
  tt.ok(Math.abs(b.grad!.index(1).item() - 0.4) < 1e-4);
  a.grad = torch.tensor([-3, 0.5], { device });
  nn.utils.clipGradValue_([a], 1);
  tt.same(a.grad!.tolist(), [-1, 0.5]);
  const lin = new nn.Linear(3, 2).to(device);
  const vec = nn.utils.parametersToVector(lin.parameters());
  tt.same([...vec.shape], [8]);
  tt.equal(vec.device, device);
  nn.utils.vectorToParameters(torch.arange(8, { device }).float(), lin.parameters());
  tt.same(lin.bias!.tolist(), [6, 7]);
  tt.end();
});

t.test('the primitive-only windows path (other devices) equals the cpu loops', async (tt) => {
  const { _setCpuFastPaths } = await import('../src/nn/functional/windows.js');
  torch.manualSeed(5);
  const cases: [string, (x: Tensor, w: Tensor) => Tensor, number[], number[]][] = [
    ['conv2d bias', (x, w) => F.conv2d(x, w, w.sum([1, 2, 3])), [2, 3, 7, 6], [4, 3, 3, 3]],
    ['conv2d stride padding dilation groups', (x, w) => F.conv2d(x, w, null, { stride: [2, 1], padding: [2, 1], dilation: [1, 2], groups: 3 }), [2, 3, 7, 6], [6, 1, 3, 2]],
    ['convTranspose2d', (x, w) => F.convTranspose2d(x, w, null, { stride: 2, padding: 1, outputPadding: 1 }), [2, 3, 4, 5], [3, 2, 3, 3]],
    ['maxPool2d + avgPool2d', (x) => torch.add(F.maxPool2d(x, 3, { stride: 2, padding: 1, ceilMode: true }), F.avgPool2d(x, 3, { stride: 2, padding: 1, ceilMode: true, countIncludePad: false })), [2, 3, 7, 6], [1]],
  ];
  for (const dtype of ['float32', 'float64'] as const) {
    for (const [name, fn, xs, ws] of cases) {
      const x0 = torch.randn(xs, { dtype }), w0 = torch.randn(ws, { dtype });
      const runOnce = () => {
        const x = x0.clone().requiresGrad_(), w = w0.clone().requiresGrad_();
        const y = fn(x, w);
        y.mul(torch.arange(y.numel()).view(...y.shape).to(dtype).sin()).sum().backward();
        return [y, x.grad!, w.grad ?? torch.zeros(1)];
      };
      const fast = runOnce();
      _setCpuFastPaths(false);
      let slow: Tensor[];
      try { slow = runOnce(); } finally { _setCpuFastPaths(true); }
      const tol = dtype === 'float32' ? 1e-4 : 1e-10;
      ['output', 'input grad', 'weight grad'].forEach((what, i) => {
        const diff = fast[i].sub(slow[i]).abs().max().item();
        tt.ok(diff < tol, `${name} ${dtype}: ${what} equal (max diff ${diff})`);
      });
    }
  }
});

t.test('ConvTranspose2d outputSize picks outputPadding', (tt) => {
  const up = new nn.ConvTranspose2d(2, 3, 3, { stride: 2, padding: 1 });
  const x = torch.randn(1, 2, 4, 4);
  tt.same([...up.forward(x).shape], [1, 3, 7, 7]);
  tt.same([...up.forward(x, [8, 8]).shape], [1, 3, 8, 8], 'outputSize [8, 8] = outputPadding 1');
  tt.throws(() => up.forward(x, [10, 10]), /ConvTranspose2d: requested an output size of \[10, 10\], but valid sizes range from \[7, 7\] to \[8, 8\]/);
  tt.end();
});
