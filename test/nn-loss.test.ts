// Losses and scaled dot-product attention: PyTorch fixtures (values and gradients), gradcheck,
// the loss modules, and error inputs.
import t from 'tap';
import * as torch from '../src/index.js';
import { Tensor } from '../src/index.js';
import * as F from '../src/nn/functional/loss.js';
import { scaledDotProductAttention } from '../src/nn/functional/attention.js';
import * as nn from '../src/nn/loss.js';
import { getBackend } from '../src/device/registry.js';
import { fixtureLoader } from './helpers/fixtures.js';
import { WEBGPU_REASON, DEVICES, on, dec, decOpts, close, weighted } from './helpers/tensors.js';

const load = fixtureLoader('nn_rnn');

// The fixture tests run on the cpu and, where an adapter exists, on webgpu: the float64 fixtures
// become float32 there and are compared at float32 tolerances. gradcheck stays on the cpu.
if (WEBGPU_REASON !== null) t.comment(`loss tests on webgpu skipped: ${WEBGPU_REASON}`);
/** Tolerances (atol, rtol) for comparing with the float64 fixtures on a device. */
const TOL: Record<string, [number, number]> = { cpu: [1e-9, 1e-7], webgpu: [2e-6, 2e-5] };

const FNS: Record<string, (x: Tensor, y: Tensor, o: any) => Tensor> = {
  crossEntropy: F.crossEntropy, nllLoss: F.nllLoss, mseLoss: F.mseLoss, l1Loss: F.l1Loss, smoothL1Loss: F.smoothL1Loss,
  huberLoss: F.huberLoss, binaryCrossEntropy: F.binaryCrossEntropy, binaryCrossEntropyWithLogits: F.binaryCrossEntropyWithLogits,
  klDiv: F.klDiv,
};

for (const device of DEVICES) t.test(`functional losses match PyTorch (values and gradients) on ${device}`, on(device), (tt) => {
  const { cases } = load('losses.json');
  const [atol, rtol] = TOL[device];
  for (const c of cases) {
    const wantGrad = Object.keys(c.grads);
    const input = dec(c.inputs.input, wantGrad.includes('input'), device);
    const target = dec(c.inputs.target, wantGrad.includes('target'), device);
    const out = FNS[c.fn](input, target, decOpts(c.options, device));
    tt.equal(out.device, device, `${c.name} runs on ${device}`);
    close(tt, out, c.out, `${c.name} output`, atol, rtol);
    if (wantGrad.length) {
      weighted([[out, c.gradWeight]]).backward();
      if (wantGrad.includes('input')) close(tt, input.grad, c.grads.input, `${c.name} input grad`, atol, rtol);
      if (wantGrad.includes('target')) close(tt, target.grad, c.grads.target, `${c.name} target grad`, atol, rtol);
    }
  }
  tt.end();
});

for (const device of DEVICES) t.test(`scaledDotProductAttention matches PyTorch 2.x semantics on ${device}`, on(device), (tt) => {
  const { cases } = load('sdpa.json');
  const [atol, rtol] = TOL[device];
  for (const c of cases) {
    const q = dec(c.q, true, device), k = dec(c.k, true, device), v = dec(c.v, true, device);
    const out = scaledDotProductAttention(q, k, v, decOpts(c.options, device));
    close(tt, out, c.out, `${c.name} output`, atol, rtol);
    weighted([[out, c.gradWeight]]).backward();
    close(tt, q.grad, c.grads.q, `${c.name} q grad`, atol, rtol);
    close(tt, k.grad, c.grads.k, `${c.name} k grad`, atol, rtol);
    close(tt, v.grad, c.grads.v, `${c.name} v grad`, atol, rtol);
  }
  tt.end();
});

t.test('float32 losses agree with float64', (tt) => {
  const x = torch.randn([6, 4], { dtype: 'float64' });
  const y = torch.tensor([0, 3, 1, 2, -100, 1]);
  const a = F.crossEntropy(x, y, { labelSmoothing: 0.1 }).item();
  const b = F.crossEntropy(x.float(), y, { labelSmoothing: 0.1 });
  tt.equal(b.dtype, 'float32');
  tt.ok(Math.abs(a - b.item()) < 1e-5);
  tt.end();
});

if (WEBGPU_REASON === null) t.comment('gradcheck runs on the cpu only: it needs float64, which webgpu does not hold');
t.test('gradcheck (float64)', (tt) => {
  const g = torch.autograd.gradcheck;
  const opts = { dtype: 'float64' as const, requiresGrad: true };
  const logits = torch.randn([3, 4], opts), logitsK = torch.randn([2, 3, 2], opts);
  const idx = torch.tensor([1, -100, 3]), idxK = torch.tensor([[0, 2], [1, -100]]);
  const w = torch.rand([4], { dtype: 'float64' }).add(0.3);
  const probs = torch.softmax(torch.randn([3, 4], { dtype: 'float64' }), 1).requiresGrad_(true);
  tt.ok(g((x) => F.crossEntropy(x, idx, { weight: w, labelSmoothing: 0.2 }), [logits]), 'crossEntropy indices');
  tt.ok(g((x) => F.crossEntropy(x, idxK, { labelSmoothing: 0.1, reduction: 'none' }), [logitsK]), 'crossEntropy k-dim');
  tt.ok(g((x, p) => F.crossEntropy(x, p, { weight: w, labelSmoothing: 0.1 }), [logits, probs]), 'crossEntropy probabilities');
  tt.ok(g((x) => F.nllLoss(x, idx, { weight: w }), [logits]), 'nllLoss');
  const a = torch.randn([3, 4], opts), b = torch.randn([3, 4], opts);
  tt.ok(g((x, y) => F.mseLoss(x, y), [a, b]), 'mseLoss');
  tt.ok(g((x, y) => F.l1Loss(x, y, { reduction: 'sum' }), [a, b]), 'l1Loss');
  tt.ok(g((x, y) => F.smoothL1Loss(x, y, { beta: 0.7 }), [a, b]), 'smoothL1Loss');
  tt.ok(g((x, y) => F.huberLoss(x, y, { delta: 0.4, reduction: 'none' }), [a, b]), 'huberLoss');
  const p = torch.rand([3, 4], { dtype: 'float64' }).mul(0.8).add(0.1).requiresGrad_(true);
  const tgt = torch.rand([3, 4], { dtype: 'float64' }).requiresGrad_(true);
  tt.ok(g((x, y) => F.binaryCrossEntropy(x, y, { weight: w }), [p, tgt]), 'binaryCrossEntropy');
  const pw = torch.rand([4], { dtype: 'float64' }).add(0.5);
  tt.ok(g((x, y) => F.binaryCrossEntropyWithLogits(x, y, { weight: w, posWeight: pw }), [a, tgt]), 'binaryCrossEntropyWithLogits');
  const lp = torch.logSoftmax(torch.randn([3, 4], { dtype: 'float64' }), 1).requiresGrad_(true);
  tt.ok(g((x, y) => F.klDiv(x, y, { reduction: 'batchmean' }), [lp, probs]), 'klDiv');
  tt.ok(g((x, y) => F.klDiv(x, y, { logTarget: true }), [lp, lp.detach().clone().requiresGrad_(true)]), 'klDiv logTarget');
  const q = torch.randn([2, 3, 4], opts), k = torch.randn([2, 5, 4], opts), v = torch.randn([2, 5, 2], opts);
  const mask = torch.randn([3, 5], { dtype: 'float64' });
  tt.ok(g((x, y, z) => scaledDotProductAttention(x, y, z, { attnMask: mask }), [q, k, v]), 'sdpa float mask');
  tt.ok(g((x, y, z) => scaledDotProductAttention(x, y, z, { isCausal: true, scale: 0.5 }), [q, k, v]), 'sdpa causal');
  tt.end();
});

for (const device of DEVICES) t.test(`loss modules on ${device}`, on(device), (tt) => {
  const x = torch.randn([4, 3], { device }), y = torch.tensor([0, 2, 1, 2], { device });
  const w = torch.tensor([0.2, 1, 3], { device });
  const ce = new nn.CrossEntropyLoss({ labelSmoothing: 0.1, weight: w });
  tt.equal(ce.forward(x, y).item(), F.crossEntropy(x, y, { labelSmoothing: 0.1, weight: w }).item());
  tt.same(Object.keys(ce.stateDict()), ['weight'], 'weight is a buffer, as PyTorch');
  tt.same(Object.keys(new nn.CrossEntropyLoss().stateDict()), []);
  tt.equal(ce.toString(), 'CrossEntropyLoss()');
  const bce = new nn.BCEWithLogitsLoss({ posWeight: torch.tensor([1, 2, 3], { device }) });
  tt.same(Object.keys(bce.stateDict()), ['pos_weight']);
  const yt = torch.rand([4, 3], { device });
  tt.equal(bce.forward(x, yt).item(), F.binaryCrossEntropyWithLogits(x, yt, { posWeight: torch.tensor([1, 2, 3], { device }) }).item());
  tt.equal(new nn.MSELoss({ reduction: 'sum' }).forward(x, yt).item(), F.mseLoss(x, yt, { reduction: 'sum' }).item());
  tt.equal(new nn.L1Loss().forward(x, yt).item(), F.l1Loss(x, yt).item());
  tt.equal(new nn.SmoothL1Loss({ beta: 0.5 }).forward(x, yt).item(), F.smoothL1Loss(x, yt, { beta: 0.5 }).item());
  tt.equal(new nn.HuberLoss({ delta: 0.5 }).forward(x, yt).item(), F.huberLoss(x, yt, { delta: 0.5 }).item());
  const lp = torch.logSoftmax(x, 1);
  tt.equal(new nn.NLLLoss({ ignoreIndex: 2 }).forward(lp, y).item(), F.nllLoss(lp, y, { ignoreIndex: 2 }).item());
  const pr = torch.sigmoid(x);
  tt.equal(new nn.BCELoss().forward(pr, yt).item(), F.binaryCrossEntropy(pr, yt).item());
  tt.equal(new nn.KLDivLoss({ reduction: 'batchmean' }).forward(lp, yt).item(), F.klDiv(lp, yt, { reduction: 'batchmean' }).item());
  // a training step through a module loss reaches the logits
  const logits = torch.randn([4, 3], { requiresGrad: true, device });
  new nn.CrossEntropyLoss().forward(logits, y).backward();
  tt.same([...logits.grad!.shape], [4, 3]);
  tt.equal(logits.grad!.device, device);
  tt.end();
});

for (const device of DEVICES) t.test(`index errors on ${device}`, on(device), (tt) => {
  const x = torch.randn([4, 3], { device });
  const idx = (v: number[]) => torch.tensor(v, { device });
  tt.throws(() => F.crossEntropy(x, idx([0, 1, 3, 1])), /target 3 is out of bounds.*\[0, 2\]/, 'class index out of range');
  tt.throws(() => F.crossEntropy(x, idx([0, -1, 2, 1])), /target -1 is out of bounds/, 'negative class index');
  tt.throws(() => F.nllLoss(x, idx([0, 1, 5, 1])), /out of bounds/, 'nllLoss out of range');
  // a target computed on the device (its values are not known on the host)
  tt.throws(() => F.crossEntropy(x, idx([0, 1, 2, 1]).add(1)), /out of bounds/, 'a computed target out of range');
  tt.equal(F.crossEntropy(x, idx([0, 1, 2, 1]).add(-1).clamp(0)).device, device, 'a computed target in range');
  tt.end();
});

t.test('error inputs', (tt) => {
  const x = torch.randn([4, 3]);
  tt.throws(() => F.crossEntropy(x, torch.tensor([0, 1, 3, 1])), /target 3 is out of bounds.*\[0, 2\]/, 'class index out of range');
  tt.throws(() => F.crossEntropy(x, torch.tensor([0, -1, 2, 1])), /target -1 is out of bounds/, 'negative class index');
  tt.throws(() => F.nllLoss(x, torch.tensor([0, 1, 5, 1])), /out of bounds/, 'nllLoss out of range');
  tt.throws(() => F.crossEntropy(x, torch.tensor([0, 1, 2])), /expected target of shape \[4\].*got \[3\]/, 'target shape');
  tt.throws(() => F.crossEntropy(x, torch.rand([4])), /class indices \(int64\).*probabilities.*float32/, 'float target of the wrong shape');
  tt.throws(() => F.nllLoss(x, torch.rand([4, 3])), /class indices \(int64\)/, 'nllLoss takes no probabilities');
  tt.throws(() => F.crossEntropy(x, torch.tensor([0, 1, 2, 1]), { weight: torch.ones([4]) }), /weight must be a 1-D tensor with one entry per class \(3\)/);
  tt.throws(() => F.crossEntropy(x, torch.tensor([0, 1, 2, 1]), { labelSmoothing: 1.5 }), /labelSmoothing must be between/);
  tt.throws(() => F.crossEntropy(x, torch.tensor([0, 1, 2, 1]), { reduction: 'avg' as any }), /reduction must be one of 'none', 'mean', 'sum'/);
  tt.throws(() => F.crossEntropy(torch.tensor([1, 2]), torch.tensor(0)), /floating point/, 'integer logits');
  tt.throws(() => F.mseLoss(x, torch.randn([5, 3])), /cannot be broadcast/);
  tt.throws(() => F.binaryCrossEntropy(torch.rand([4]), torch.rand([4, 1])), /must be the same as the input's shape/);
  tt.throws(() => F.binaryCrossEntropy(torch.tensor([0.5, 1.5]), torch.tensor([0, 1.0])), /between 0 and 1/);
  tt.throws(() => F.binaryCrossEntropyWithLogits(x, torch.rand([3])), /target size \[3\] must be the same as the input size \[4, 3\]/);
  tt.throws(() => F.klDiv(x, x, { reduction: 'batch' as any }), /'batchmean'/);
  tt.throws(() => F.smoothL1Loss(x, x, { beta: -1 }), /beta must be non-negative/);
  tt.throws(() => F.huberLoss(x, x, { delta: 0 }), /delta must be positive/);
  const q = torch.randn([2, 3, 4]);
  tt.throws(() => scaledDotProductAttention(q, torch.randn([2, 3, 5]), q), /same embedding size/);
  tt.throws(() => scaledDotProductAttention(q, q, q, { attnMask: torch.ones([3, 3]).bool(), isCausal: true }), /cannot be combined with isCausal/);
  tt.throws(() => scaledDotProductAttention(q, q, q, { attnMask: torch.ones([4, 3]).bool() }), /cannot be broadcast/);
  tt.end();
});

for (const device of DEVICES) t.test(`edge cases on ${device}`, on(device), (tt) => {
  // an ignored row may hold -inf without poisoning the loss or its gradient
  const dtype = getBackend(device).supportsDtype('float64') ? 'float64' : 'float32';
  const x = torch.tensor([[0, -Infinity, 1], [2, 1, 0]], { dtype, requiresGrad: true, device });
  const l = F.nllLoss(x, torch.tensor([-100, 0], { device }));
  tt.equal(l.item(), -2);
  l.backward();
  tt.same(x.grad!.tolist(), [[0, 0, 0], [-1, 0, 0]]);
  // fully masked attention rows give NaN, as the reference math
  const q = torch.randn([1, 2, 4], { device });
  const out = scaledDotProductAttention(q, q, q, { attnMask: torch.tensor([[false, false], [true, true]], { device }) });
  tt.ok(Number.isNaN(out.tolist()[0][0][0]) && !Number.isNaN(out.tolist()[0][1][0]));
  // dropout in sdpa: p = 1 zeroes every weight; 0 < p < 1 keeps the expectation
  tt.same(scaledDotProductAttention(q, q, q, { dropoutP: 1 }).abs().sum().item(), 0);
  tt.end();
});

// crossEntropy over [N, C] cpu logits with class indices (no weight, no smoothing) is one op
// with its own backward (classCrossEntropy in loss.ts); the composite nllLoss(logSoftmax(x))
// is the reference for it here, the PyTorch fixtures above cover its values and gradients.
t.test('fused class-index crossEntropy', (tt) => {
  const opts = { dtype: 'float64' as const, requiresGrad: true };
  const x = torch.randn([5, 4], opts);
  const idx = torch.tensor([1, -100, 3, 0, 3]);
  for (const reduction of ['mean', 'sum', 'none'] as const) {
    tt.ok(torch.autograd.gradcheck((a) => F.crossEntropy(a, idx, { reduction }), [x]), `gradcheck ${reduction}`);
    tt.ok(torch.autograd.gradcheck((a) => F.crossEntropy(a, torch.tensor([1, 2, 3, 0, 3]), { reduction, ignoreIndex: 3 }), [x]), `gradcheck ${reduction} ignoreIndex 3`);
  }
  const l = F.crossEntropy(x, idx);
  tt.equal(l.gradFn?.displayName, 'NllLossBackward0', 'one node, named as PyTorch names it');
  // second derivatives (createGraph) agree with the composite's
  const gx = torch.autograd.grad(F.crossEntropy(x, idx, { reduction: 'sum' }), x, { createGraph: true })[0]!;
  const ref = torch.autograd.grad(F.nllLoss(torch.logSoftmax(x, 1), idx, { reduction: 'sum' }), x, { createGraph: true })[0]!;
  tt.ok(gx.sub(ref).abs().max().item() < 1e-12, 'first derivative with createGraph');
  const w = torch.randn([5, 4], { dtype: 'float64' });
  const h = torch.autograd.grad(gx.mul(w).sum(), x)[0]!, href = torch.autograd.grad(ref.mul(w).sum(), x)[0]!;
  tt.ok(h.sub(href).abs().max().item() < 1e-12, 'second derivative');
  // rows scaled by a broadcasting op past 16384 elements, and float32
  for (const dtype of ['float64', 'float32'] as const) {
    const big = torch.randn([300, 70], { dtype, requiresGrad: true });
    const tg = torch.randint(0, 70, [300]);
    const a = F.crossEntropy(big, tg), b = F.nllLoss(torch.logSoftmax(big, 1), tg);
    tt.ok(Math.abs(a.item() - b.item()) < (dtype === 'float64' ? 1e-12 : 1e-5), `${dtype} value`);
    const [ga] = torch.autograd.grad(a, big), [gb] = torch.autograd.grad(b, big);
    tt.ok(ga!.sub(gb!).abs().max().item() < (dtype === 'float64' ? 1e-15 : 1e-8), `${dtype} gradient`);
    tt.equal(a.dtype, dtype);
  }
  // a gradient reaching the loss through a view with stride 0 (reduction 'none', then sum)
  const y = torch.randn([3, 4], opts);
  F.crossEntropy(y, torch.tensor([0, 2, 1]), { reduction: 'none' }).sum().backward();
  const yr = y.detach().clone().requiresGrad_(true);
  F.nllLoss(torch.logSoftmax(yr, 1), torch.tensor([0, 2, 1]), { reduction: 'none' }).sum().backward();
  tt.ok(y.grad!.sub(yr.grad!).abs().max().item() < 1e-15, "'none' reduction gradient");
  tt.end();
});
