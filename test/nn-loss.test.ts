// Losses and scaled dot-product attention: PyTorch fixtures (values and gradients), gradcheck,
// the loss modules, and error inputs.
import t, { type Test } from 'tap';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as torch from '../src/index.js';
import { Tensor } from '../src/index.js';
import * as F from '../src/nn/functional/loss.js';
import { scaledDotProductAttention } from '../src/nn/functional/attention.js';
import * as nn from '../src/nn/loss.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const FIX = path.join(HERE, 'fixtures', 'nn_rnn');
const load = (name: string) => JSON.parse(fs.readFileSync(path.join(FIX, name), 'utf8'));

type Enc = { shape: number[]; dtype: string; data: (number | string | boolean)[] } | null;
const num = (v: number | string | boolean): number =>
  v === 'nan' ? NaN : v === 'inf' ? Infinity : v === '-inf' ? -Infinity : typeof v === 'boolean' ? (v ? 1 : 0) : Number(v);

/** A tensor from a fixture encoding. */
function dec(e: Enc, requiresGrad = false): Tensor {
  if (!e) throw new Error('missing fixture tensor');
  const x = e.dtype === 'bool'
    ? torch.tensor(e.data.map((v) => !!v) as boolean[]).reshape(e.shape)
    : torch.fromBuffer(Float64Array.from(e.data.map(num)), e.shape).to(e.dtype as torch.DType);
  return requiresGrad ? x.requiresGrad_(true) : x;
}
/** Options with fixture tensors decoded. */
function decOpts(o: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) out[k] = v && typeof v === 'object' && 'shape' in (v as object) ? dec(v as Enc) : v;
  return out;
}

/** Asserts close (NaN matches NaN), reporting the worst element. */
function close(tt: Test, got: Tensor | null, want: Enc, what: string, atol = 1e-9, rtol = 1e-7): void {
  if (!got) { tt.fail(`${what}: missing`); return; }
  if (!want) { tt.fail(`${what}: no expected value`); return; }
  tt.same([...got.shape], want.shape, `${what} shape`);
  const g = got.to('float64').dataSync();
  const w = want.data.map(num);
  let worst = -1, at = -1;
  for (let i = 0; i < w.length; i++) {
    const a = g[i], b = w[i];
    if (Number.isNaN(b) && Number.isNaN(a)) continue;
    if (!Number.isFinite(b) && a === b) continue;
    const err = Math.abs(a - b) - (atol + rtol * Math.abs(b));
    if (!(err <= 0) && (Number.isNaN(err) || err > worst)) { worst = Number.isNaN(err) ? Infinity : err; at = i; }
  }
  tt.ok(worst < 0, `${what} values${worst >= 0 ? ` (element ${at}: got ${g[at]}, want ${w[at]})` : ''}`);
}

const FNS: Record<string, (x: Tensor, y: Tensor, o: any) => Tensor> = {
  crossEntropy: F.crossEntropy, nllLoss: F.nllLoss, mseLoss: F.mseLoss, l1Loss: F.l1Loss, smoothL1Loss: F.smoothL1Loss,
  huberLoss: F.huberLoss, binaryCrossEntropy: F.binaryCrossEntropy, binaryCrossEntropyWithLogits: F.binaryCrossEntropyWithLogits,
  klDiv: F.klDiv,
};

t.test('functional losses match PyTorch (values and gradients)', (tt) => {
  const { cases } = load('losses.json');
  for (const c of cases) {
    const wantGrad = Object.keys(c.grads);
    const input = dec(c.inputs.input, wantGrad.includes('input'));
    const target = dec(c.inputs.target, wantGrad.includes('target'));
    const out = FNS[c.fn](input, target, decOpts(c.options));
    close(tt, out, c.out, `${c.name} output`);
    if (wantGrad.length) {
      torch.sum(torch.mul(out, dec(c.gradWeight))).backward();
      if (wantGrad.includes('input')) close(tt, input.grad, c.grads.input, `${c.name} input grad`, 1e-9, 1e-7);
      if (wantGrad.includes('target')) close(tt, target.grad, c.grads.target, `${c.name} target grad`, 1e-9, 1e-7);
    }
  }
  tt.end();
});

t.test('scaledDotProductAttention matches PyTorch 2.x semantics', (tt) => {
  const { cases } = load('sdpa.json');
  for (const c of cases) {
    const q = dec(c.q, true), k = dec(c.k, true), v = dec(c.v, true);
    const out = scaledDotProductAttention(q, k, v, decOpts(c.options));
    close(tt, out, c.out, `${c.name} output`);
    torch.sum(torch.mul(out, dec(c.gradWeight))).backward();
    close(tt, q.grad, c.grads.q, `${c.name} q grad`);
    close(tt, k.grad, c.grads.k, `${c.name} k grad`);
    close(tt, v.grad, c.grads.v, `${c.name} v grad`);
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

t.test('loss modules', (tt) => {
  const x = torch.randn([4, 3]), y = torch.tensor([0, 2, 1, 2]);
  const w = torch.tensor([0.2, 1, 3]);
  const ce = new nn.CrossEntropyLoss({ labelSmoothing: 0.1, weight: w });
  tt.equal(ce.forward(x, y).item(), F.crossEntropy(x, y, { labelSmoothing: 0.1, weight: w }).item());
  tt.same(Object.keys(ce.stateDict()), ['weight'], 'weight is a buffer, as PyTorch');
  tt.same(Object.keys(new nn.CrossEntropyLoss().stateDict()), []);
  tt.equal(ce.toString(), 'CrossEntropyLoss()');
  const bce = new nn.BCEWithLogitsLoss({ posWeight: torch.tensor([1, 2, 3]) });
  tt.same(Object.keys(bce.stateDict()), ['pos_weight']);
  const yt = torch.rand([4, 3]);
  tt.equal(bce.forward(x, yt).item(), F.binaryCrossEntropyWithLogits(x, yt, { posWeight: torch.tensor([1, 2, 3]) }).item());
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
  const logits = torch.randn([4, 3], { requiresGrad: true });
  new nn.CrossEntropyLoss().forward(logits, y).backward();
  tt.same([...logits.grad!.shape], [4, 3]);
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

t.test('edge cases', (tt) => {
  // an ignored row may hold -inf without poisoning the loss or its gradient
  const x = torch.tensor([[0, -Infinity, 1], [2, 1, 0]], { dtype: 'float64', requiresGrad: true });
  const l = F.nllLoss(x, torch.tensor([-100, 0]));
  tt.equal(l.item(), -2);
  l.backward();
  tt.same(x.grad!.tolist(), [[0, 0, 0], [-1, 0, 0]]);
  // fully masked attention rows give NaN, as the reference math
  const q = torch.randn([1, 2, 4]);
  const out = scaledDotProductAttention(q, q, q, { attnMask: torch.tensor([[false, false], [true, true]]) });
  tt.ok(Number.isNaN(out.tolist()[0][0][0]) && !Number.isNaN(out.tolist()[0][1][0]));
  // dropout in sdpa: p = 1 zeroes every weight; 0 < p < 1 keeps the expectation
  tt.same(scaledDotProductAttention(q, q, q, { dropoutP: 1 }).abs().sum().item(), 0);
  tt.end();
});
