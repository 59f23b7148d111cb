// Recurrent layers, MultiheadAttention and the Transformer encoder against PyTorch fixtures:
// PyTorch's state dicts load as is and give the same outputs, final states and gradients.
import t, { type Test } from 'tap';
import * as torch from '../src/index.js';
import { Tensor } from '../src/index.js';
import { RNN, LSTM, GRU, RNNCell, LSTMCell, GRUCell } from '../src/nn/rnn.js';
import { MultiheadAttention, TransformerEncoderLayer, TransformerEncoder } from '../src/nn/transformer.js';
import { LayerNorm } from '../src/nn/norm.js';
import type { Module } from '../src/nn/module.js';
import { setFusedLSTM, fusedLSTMCounts } from '../src/nn/rnn.js';
import { setNativeEnabled } from '../src/device/cpu/native.js';
import { fixtureLoader } from './helpers/fixtures.js';
import { type Enc, DEVICES, WEBGPU_REASON, on, dec, decOpts, decSD, closeWithin, weighted } from './helpers/tensors.js';

const load = fixtureLoader('nn_rnn');
const close = closeWithin(2e-5, 1e-4);
if (WEBGPU_REASON !== null) t.comment(`recurrent and attention tests on webgpu skipped: ${WEBGPU_REASON}`);

function checkParamGrads(tt: Test, m: Module, want: Record<string, Enc>, what: string, atol?: number, rtol?: number): void {
  const params = Object.fromEntries(m.namedParameters());
  tt.same(Object.keys(params).sort(), Object.keys(want).sort(), `${what} parameter names`);
  for (const [k, g] of Object.entries(want)) close(tt, params[k]?.grad, g, `${what} grad ${k}`, atol, rtol);
}

// ---------------------------------------------------------------- recurrent layers

for (const device of DEVICES) t.test(`RNN / LSTM / GRU match PyTorch on ${device}`, on(device), (tt) => {
  const { cases } = load('rnn.json');
  for (const c of cases) {
    const Cls = c.kind === 'LSTM' ? LSTM : c.kind === 'GRU' ? GRU : RNN;
    const m = new Cls(c.inputSize, c.hiddenSize, c.options);
    tt.same(Object.keys(m.stateDict()), c.stateDictKeys, `${c.name}: stateDict keys as PyTorch`);
    tt.equal(m.toString(), c.repr, `${c.name}: printed as PyTorch`);
    m.loadStateDict(decSD(c.stateDict));
    m.to(device);
    const x = dec(c.x, true, device);
    const hx = c.hx ? c.hx.map((h: Enc) => dec(h, true, device)) : null;
    let out: Tensor, finals: Tensor[];
    if (c.kind === 'LSTM') {
      const [o, [h, cc]] = (m as LSTM).forward(x, hx ? [hx[0], hx[1]] : null);
      out = o; finals = [h, cc];
    } else {
      const [o, h] = (m as RNN).forward(x, hx ? hx[0] : null);
      out = o; finals = [h];
    }
    close(tt, out, c.out, `${c.name} output`);
    finals.forEach((f, i) => close(tt, f, c.finals[i], `${c.name} final state ${i}`));
    weighted([[out, c.gradWeights[0]], ...finals.map((f, i): [Tensor, Enc] => [f, c.gradWeights[i + 1]])]).backward();
    close(tt, x.grad, c.grads.x, `${c.name} input grad`);
    if (hx) hx.forEach((h: Tensor, i: number) => close(tt, h.grad, c.grads.hx[i], `${c.name} initial state grad ${i}`));
    checkParamGrads(tt, m, c.grads.params, c.name);
  }
  tt.end();
});

for (const device of DEVICES) t.test(`RNN cells match PyTorch on ${device}`, on(device), (tt) => {
  const { cells } = load('rnn.json');
  for (const c of cells) {
    const m = c.kind === 'LSTMCell' ? new LSTMCell(3, 4) : c.kind === 'GRUCell' ? new GRUCell(3, 4) : new RNNCell(3, 4);
    tt.same(Object.keys(m.stateDict()), Object.keys(c.stateDict), `${c.name} stateDict keys`);
    tt.equal(m.toString(), c.repr, `${c.name}: printed as PyTorch`);
    m.loadStateDict(decSD(c.stateDict));
    m.to(device);
    const x = dec(c.x, true, device);
    const hx = c.hx.map((h: Enc) => dec(h, true, device));
    const outs: Tensor[] = c.kind === 'LSTMCell' ? (m as LSTMCell).forward(x, [hx[0], hx[1]]) : [(m as GRUCell).forward(x, hx[0])];
    outs.forEach((o, i) => close(tt, o, c.outs[i], `${c.name} output ${i}`));
    weighted(outs.map((o, i): [Tensor, Enc] => [o, c.gradWeights[i]])).backward();
    close(tt, x.grad, c.grads.x, `${c.name} input grad`);
    hx.forEach((h: Tensor, i: number) => close(tt, h.grad, c.grads.hx[i], `${c.name} state grad ${i}`));
    checkParamGrads(tt, m, c.grads.params, c.name);
  }
  tt.end();
});

t.test('RNN shapes, defaults, init and errors', (tt) => {
  const lstm = new LSTM(3, 5, { numLayers: 2, bidirectional: true, batchFirst: true });
  const [out, [h, c]] = lstm.forward(torch.randn([2, 7, 3]));
  tt.same(out.shape, [2, 7, 10]);
  tt.same(h.shape, [4, 2, 5]);
  tt.same(c.shape, [4, 2, 5]);
  tt.equal(lstm.toString(), 'LSTM(3, 5, num_layers=2, batch_first=True, bidirectional=True)');
  tt.equal(new GRU(3, 4, { bias: false, dropout: 0.5, numLayers: 2 }).toString(), 'GRU(3, 4, num_layers=2, bias=False, dropout=0.5)');
  tt.equal(new RNNCell(3, 4, { nonlinearity: 'relu' }).toString(), 'RNNCell(3, 4, nonlinearity=relu)');
  // PyTorch's init: every parameter uniform in [-1/sqrt(hidden), 1/sqrt(hidden)]
  const bound = 1 / Math.sqrt(5);
  for (const p of lstm.parameters()) tt.ok(p.abs().max().item() <= bound, 'parameters within the init bound');
  // projection
  const proj = new LSTM(3, 6, { projSize: 2, numLayers: 2 });
  tt.same(Object.keys(proj.stateDict()), ['weight_ih_l0', 'weight_hh_l0', 'bias_ih_l0', 'bias_hh_l0', 'weight_hr_l0',
    'weight_ih_l1', 'weight_hh_l1', 'bias_ih_l1', 'bias_hh_l1', 'weight_hr_l1']);
  const [po, [ph, pc]] = proj.forward(torch.randn([4, 2, 3]));
  tt.same([po.shape, ph.shape, pc.shape], [[4, 2, 2], [2, 2, 2], [2, 2, 6]]);
  // dropout between layers only in training mode
  const drop = new GRU(3, 4, { numLayers: 2, dropout: 0.5 }).eval();
  const xin = torch.randn([5, 2, 3]);
  tt.same(drop.forward(xin)[0].tolist(), drop.forward(xin)[0].tolist(), 'eval mode is deterministic');
  // a float64 model
  const rnn64 = new RNN(2, 3, { dtype: 'float64' });
  tt.equal(rnn64.forward(torch.randn([4, 2], { dtype: 'float64' }))[0].dtype, 'float64');
  // an empty sequence
  tt.same(new GRU(2, 3).forward(torch.randn([0, 4, 2]))[0].shape, [0, 4, 3]);
  // errors
  tt.throws(() => lstm.forward(torch.randn([2, 7, 4])), /input.size\(-1\) must be equal to inputSize. Expected 3, got 4/);
  tt.throws(() => lstm.forward(torch.randn([7])), /2-D \(unbatched \[seq, feature\]\) or 3-D/);
  tt.throws(() => new GRU(3, 4).forward(torch.randn([5, 2, 3]), torch.randn([2, 2, 4])), /expected hidden state hx size \[1, 2, 4\], got \[2, 2, 4\]/);
  tt.throws(() => new GRU(3, 4).forward(torch.randn([5, 3]), torch.randn([1, 1, 4])), /unbatched 2-D input, hidden state hx should also be 2-D/);
  tt.throws(() => new RNN(3, 4, { nonlinearity: 'sigmoid' as any }), /unknown nonlinearity/);
  tt.throws(() => new LSTM(3, 4, { dropout: 2 }), /dropout should be a number in the range \[0, 1\]/);
  tt.throws(() => new LSTMCell(3, 4).forward(torch.randn([2, 5])), /inconsistent input size: got 5, expected 3/);
  tt.end();
});

if (WEBGPU_REASON === null) t.comment('gradcheck runs on the cpu only: it needs float64, which webgpu does not hold');
t.test('gradcheck through LSTM and GRU (float64)', (tt) => {
  const lstm = new LSTM(2, 3, { bidirectional: true, dtype: 'float64' });
  const gru = new GRU(2, 3, { numLayers: 2, dtype: 'float64' });
  const x = torch.randn([3, 2, 2], { dtype: 'float64', requiresGrad: true });
  const h0 = torch.randn([2, 2, 3], { dtype: 'float64', requiresGrad: true });
  tt.ok(torch.autograd.gradcheck((xx, hh) => { const [o, [h]] = lstm.forward(xx, [hh, torch.zerosLike(hh)]); return [o, h]; }, [x, h0]), 'LSTM');
  tt.ok(torch.autograd.gradcheck((xx, hh) => gru.forward(xx, hh)[0], [x, h0]), 'GRU');
  // second order: the gradient computed with createGraph is itself differentiable
  const rnn = new RNN(2, 3, { dtype: 'float64', bidirectional: true });
  const xs = torch.randn([3, 1, 2], { dtype: 'float64', requiresGrad: true });
  tt.ok(torch.autograd.gradcheck((xx) => torch.enableGrad(() => {
    const [o] = rnn.forward(xx);
    return torch.autograd.grad([torch.sum(torch.mul(o, o))], [xx], { createGraph: true })[0]!;
  }), [xs]), 'RNN double backward');
  // retainGraph: a second backward through the same recurrence
  const [o2] = lstm.forward(x);
  torch.sum(o2).backward(null, { retainGraph: true });
  const g1 = x.grad!.clone();
  torch.sum(o2).backward();
  tt.ok(torch.sub(x.grad!, torch.mul(g1, 2)).abs().max().item() < 1e-9, 'backward twice with retainGraph accumulates');
  tt.end();
});

// ---------------------------------------------------------------- fused cpu LSTM vs the composite loop

/** Output, final states and every gradient of one LSTM run (grads of x, h0, c0 and the parameters). */
function lstmRun(m: LSTM, x: Tensor, hx: [Tensor, Tensor] | null, weights: Tensor[]): Record<string, Tensor> {
  m.zeroGrad();
  const xl = x.detach().requiresGrad_(true);
  const hl = hx ? [hx[0].detach().requiresGrad_(true), hx[1].detach().requiresGrad_(true)] as [Tensor, Tensor] : null;
  const [o, [h, c]] = m.forward(xl, hl);
  torch.add(torch.add(torch.sum(torch.mul(o, weights[0])), torch.sum(torch.mul(h, weights[1]))), torch.sum(torch.mul(c, weights[2]))).backward();
  const r: Record<string, Tensor> = { out: o.detach(), h: h.detach(), c: c.detach(), 'x.grad': xl.grad! };
  if (hl) { r['h0.grad'] = hl[0].grad!; r['c0.grad'] = hl[1].grad!; }
  for (const [k, p] of m.namedParameters()) r[`${k}.grad`] = p.grad!;
  return r;
}
function maxRelDiff(a: Tensor, b: Tensor): number {
  const x = a.to('float64').dataSync(), y = b.to('float64').dataSync();
  let worst = 0;
  for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i] - y[i]) / (1e-3 + Math.abs(y[i])));
  return x.length === y.length ? worst : Infinity;
}

t.test('fused cpu LSTM matches the composite loop (outputs, states, all gradients)', (tt) => {
  torch.manualSeed(7);
  const cases: { L: number; N: number; I: number; H: number; opts: Record<string, unknown>; hx: boolean; unbatched?: boolean }[] = [
    { L: 5, N: 3, I: 4, H: 6, opts: {}, hx: false },
    { L: 1, N: 2, I: 3, H: 5, opts: {}, hx: true },
    { L: 4, N: 1, I: 3, H: 2, opts: { batchFirst: true }, hx: true },
    { L: 1, N: 1, I: 2, H: 3, opts: { batchFirst: true }, hx: false },
    { L: 6, N: 3, I: 5, H: 4, opts: { bidirectional: true }, hx: true },
    { L: 5, N: 4, I: 3, H: 7, opts: { numLayers: 2, batchFirst: true }, hx: false },
    { L: 4, N: 2, I: 3, H: 9, opts: { numLayers: 2, bidirectional: true, batchFirst: true }, hx: true },
    { L: 3, N: 2, I: 3, H: 4, opts: { bias: false, numLayers: 2 }, hx: true },
    { L: 7, N: 1, I: 3, H: 5, opts: { bidirectional: true }, hx: false, unbatched: true },
    { L: 9, N: 5, I: 8, H: 17, opts: { batchFirst: true, bidirectional: true }, hx: true },
  ];
  const dirsOf = (o: Record<string, unknown>) => (o.bidirectional ? 2 : 1) * ((o.numLayers as number) ?? 1);
  for (const dtype of ['float32', 'float64'] as const) {
    // float32: the native kernels' sigmoid/tanh are a few ulp off Math's, and errors grow along the sequence
    const tol = dtype === 'float64' ? 1e-10 : 2e-4;
    for (const c of cases) {
      const m = new LSTM(c.I, c.H, { ...c.opts, dtype });
      const bf = c.opts.batchFirst === true;
      const xShape = c.unbatched ? [c.L, c.I] : bf ? [c.N, c.L, c.I] : [c.L, c.N, c.I];
      const x = torch.randn(xShape, { dtype });
      const sShape = c.unbatched ? [dirsOf(c.opts), c.H] : [dirsOf(c.opts), c.N, c.H];
      const hx: [Tensor, Tensor] | null = c.hx ? [torch.randn(sShape, { dtype }), torch.randn(sShape, { dtype })] : null;
      const outShape = c.unbatched ? [c.L, c.H * (c.opts.bidirectional ? 2 : 1)] : bf ? [c.N, c.L, c.H * (c.opts.bidirectional ? 2 : 1)] : [c.L, c.N, c.H * (c.opts.bidirectional ? 2 : 1)];
      const weights = [torch.randn(outShape, { dtype }), torch.randn(sShape, { dtype }), torch.randn(sShape, { dtype })];
      const name = `${dtype} L=${c.L} N=${c.N} H=${c.H} ${JSON.stringify(c.opts)}${c.hx ? ' hx' : ''}${c.unbatched ? ' unbatched' : ''}`;
      const before = { ...fusedLSTMCounts };
      const fused = lstmRun(m, x, hx, weights);
      const layers = dirsOf(c.opts);
      tt.same([fusedLSTMCounts.forward - before.forward, fusedLSTMCounts.backward - before.backward], [layers, layers], `${name}: the fused path ran`);
      const js = (() => { setNativeEnabled(false); try { return lstmRun(m, x, hx, weights); } finally { setNativeEnabled(true); } })();
      setFusedLSTM(false);
      let ref: Record<string, Tensor>;
      const mid = fusedLSTMCounts.forward;
      try { ref = lstmRun(m, x, hx, weights); } finally { setFusedLSTM(true); }
      tt.equal(fusedLSTMCounts.forward, mid, `${name}: the reference ran the composite loop`);
      tt.same(Object.keys(fused).sort(), Object.keys(ref).sort(), `${name}: same results`);
      for (const k of Object.keys(ref)) {
        tt.same(fused[k].shape, ref[k].shape, `${name} ${k} shape`);
        const d = maxRelDiff(fused[k], ref[k]), dj = maxRelDiff(js[k], ref[k]);
        tt.ok(d < tol, `${name} ${k}: fused (native) vs composite ${d.toExponential(2)}`);
        tt.ok(dj < tol, `${name} ${k}: fused (JS kernels) vs composite ${dj.toExponential(2)}`);
      }
    }
  }
  tt.end();
});

t.test('fused cpu LSTM: gradcheck, double backward, no-grad forward, retainGraph', (tt) => {
  torch.manualSeed(3);
  const lstm = new LSTM(3, 4, { numLayers: 2, bidirectional: true, batchFirst: true, dtype: 'float64' });
  const x = torch.randn([2, 3, 3], { dtype: 'float64', requiresGrad: true });
  const h0 = torch.randn([4, 2, 4], { dtype: 'float64', requiresGrad: true });
  const c0 = torch.randn([4, 2, 4], { dtype: 'float64', requiresGrad: true });
  const w = lstm.weight_hh_l0 as Tensor;
  tt.ok(torch.autograd.gradcheck((xx, hh, cc) => { const [o, [h, c]] = lstm.forward(xx, [hh, cc]); return [o, h, c]; }, [x, h0, c0]), 'gradcheck through x, h0, c0');
  const mw = new LSTM(2, 3, { dtype: 'float64', bidirectional: true });
  const xw = torch.randn([4, 2, 2], { dtype: 'float64' });
  // gradcheck perturbs its inputs in place: here the module's own recurrent weights
  tt.ok(torch.autograd.gradcheck(() => { const [o, [h, c]] = mw.forward(xw); return [o, h, c]; },
    [mw.weight_hh_l0 as Tensor, mw.weight_hh_l0_reverse as Tensor]), 'gradcheck through W_hh');
  // createGraph: the fused forward's backward falls back to the differentiable composite one
  const single = new LSTM(2, 3, { dtype: 'float64' });
  tt.ok(torch.autograd.gradcheck((xx) => torch.enableGrad(() => {
    const [o] = single.forward(xx);
    return torch.autograd.grad([torch.sum(torch.mul(o, o))], [xx], { createGraph: true })[0]!;
  }), [torch.randn([3, 2, 2], { dtype: 'float64', requiresGrad: true })]), 'LSTM double backward');
  // no-grad forward equals the recording one
  const [o1, [h1, c1]] = lstm.forward(x, [h0, c0]);
  const [o2, [h2, c2]] = torch.noGrad(() => lstm.forward(x, [h0, c0]));
  tt.ok(maxRelDiff(o1, o2) === 0 && maxRelDiff(h1, h2) === 0 && maxRelDiff(c1, c2) === 0, 'no-grad forward = recording forward');
  // retainGraph: backward twice through the same fused recurrence
  torch.sum(o1).backward(null, { retainGraph: true });
  const g1 = x.grad!.clone(), gw = w.grad!.clone();
  torch.sum(o1).backward();
  tt.ok(torch.sub(x.grad!, torch.mul(g1, 2)).abs().max().item() < 1e-12, 'retainGraph: input grad accumulates');
  tt.ok(torch.sub(w.grad!, torch.mul(gw, 2)).abs().max().item() < 1e-12, 'retainGraph: W_hh grad accumulates');
  // an in-place change of a saved input is caught
  const m2 = new LSTM(2, 3);
  const xi = torch.randn([3, 1, 2], { requiresGrad: true });
  const [oi] = m2.forward(xi);
  torch.noGrad(() => (m2.weight_hh_l0 as Tensor).mul_(2));
  tt.throws(() => torch.sum(oi).backward(), /modified by an inplace operation|in-place|inplace/i, 'modifying W_hh before backward throws');
  tt.end();
});

// ---------------------------------------------------------------- attention and transformer

for (const device of DEVICES) t.test(`MultiheadAttention matches PyTorch on ${device}`, on(device), (tt) => {
  const { mha } = load('transformer.json');
  for (const c of mha) {
    const m = new MultiheadAttention(c.embedDim, c.numHeads, c.options).eval();
    tt.same(Object.keys(m.stateDict()), c.stateDictKeys, `${c.name}: stateDict keys as PyTorch`);
    tt.equal(m.toString(), c.repr, `${c.name}: printed as PyTorch`);
    m.loadStateDict(decSD(c.stateDict));
    m.to(device);
    const q = dec(c.q, true, device), k = dec(c.k, true, device), v = dec(c.v, true, device);
    const [out, w] = m.forward(q, k, v, decOpts(c.forward, device));
    close(tt, out, c.out, `${c.name} output`);
    if (c.weights) close(tt, w, c.weights, `${c.name} weights`);
    else tt.equal(w, null, `${c.name} no weights`);
    const pairs: [Tensor, Enc][] = [[out, c.gradWeights[0]]];
    if (w && c.gradWeights[1]) pairs.push([w, c.gradWeights[1]]);
    weighted(pairs).backward();
    close(tt, q.grad, c.grads.q, `${c.name} query grad`);
    close(tt, k.grad, c.grads.k, `${c.name} key grad`);
    close(tt, v.grad, c.grads.v, `${c.name} value grad`);
    checkParamGrads(tt, m, c.grads.params, c.name);
  }
  tt.end();
});

for (const device of DEVICES) t.test(`TransformerEncoderLayer and TransformerEncoder match PyTorch on ${device}`, on(device), (tt) => {
  const { encoder } = load('transformer.json');
  for (const c of encoder) {
    const L = c.ctor.layer;
    const layer = new TransformerEncoderLayer(L.dModel, L.nhead, L);
    const m: Module = c.ctor.numLayers ? new TransformerEncoder(layer, c.ctor.numLayers, { norm: c.ctor.norm ? new LayerNorm(c.ctor.norm) : null }) : layer;
    m.eval();
    tt.same(Object.keys(m.stateDict()), c.stateDictKeys, `${c.name}: stateDict keys as PyTorch`);
    // PyTorch 2.x prints identical ModuleList entries once, as "(0-1): 2 x ..." (the fixtures come from 1.13)
    if (c.ctor.numLayers) tt.match(m.toString(), /^TransformerEncoder\(\n {2}\(layers\): ModuleList\(\n {4}\(0-1\): 2 x TransformerEncoderLayer\(\n {6}\(self_attn\): MultiheadAttention\(/, `${c.name}: printed as PyTorch 2.x`);
    else tt.equal(m.toString(), c.repr, `${c.name}: printed as PyTorch`);
    m.loadStateDict(decSD(c.stateDict));
    m.to(device);
    const src = dec(c.src, true, device);
    const out: Tensor = m.forward(src, decOpts(c.forward, device));
    close(tt, out, c.out, `${c.name} output`);
    weighted([[out, c.gradWeight]]).backward();
    close(tt, src.grad, c.grads.src, `${c.name} input grad`);
    checkParamGrads(tt, m, c.grads.params, c.name);
  }
  tt.end();
});

t.test('attention and encoder behaviour, init and errors', (tt) => {
  const mha = new MultiheadAttention(8, 2);
  tt.same(Object.keys(mha.stateDict()), ['in_proj_weight', 'in_proj_bias', 'out_proj.weight', 'out_proj.bias']);
  tt.equal(mha.in_proj_bias!.abs().sum().item(), 0, 'in_proj_bias starts at 0');
  tt.equal(mha.out_proj.bias!.abs().sum().item(), 0, 'out_proj.bias starts at 0');
  tt.ok(mha.in_proj_weight!.abs().max().item() <= Math.sqrt(6 / 32), 'xavier bound of in_proj_weight');
  tt.same(Object.keys(new MultiheadAttention(8, 2, { kdim: 3, vdim: 5, bias: false }).stateDict()),
    ['q_proj_weight', 'k_proj_weight', 'v_proj_weight', 'out_proj.weight']);
  // isCausal without a mask builds the causal mask
  const x = torch.randn([4, 2, 8]);
  mha.eval();
  const causal = torch.triu(torch.full([4, 4], -Infinity), 1);
  const [a] = mha.forward(x, x, x, { attnMask: causal });
  const [b, w] = mha.forward(x, x, x, { isCausal: true });
  tt.ok(torch.sub(a, b).abs().max().item() < 1e-6, 'isCausal = explicit causal mask');
  tt.equal(w!.index(0, 0, '1:').abs().sum().item(), 0, 'no weight on future keys');
  tt.same(w!.sum(-1).tolist().flat().map((v: number) => Math.round(v * 1e5) / 1e5), Array(8).fill(1), 'weights sum to 1');
  // bool and float key padding masks agree
  const pad = torch.tensor([[false, false, true, true], [false, false, false, true]]);
  const [p1] = mha.forward(x, x, x, { keyPaddingMask: pad });
  const [p2] = mha.forward(x, x, x, { keyPaddingMask: torch.where(pad, -Infinity, 0) });
  tt.ok(torch.sub(p1, p2).abs().max().item() < 1e-6, 'bool and float keyPaddingMask agree');
  // dropout acts in training mode only
  const drop = new MultiheadAttention(8, 2, { dropout: 0.5 });
  const [d1] = drop.forward(x, x, x);
  const [d2] = drop.forward(x, x, x);
  tt.ok(torch.sub(d1, d2).abs().max().item() > 1e-4, 'training mode drops attention weights');
  drop.eval();
  tt.same(drop.forward(x, x, x)[0].tolist(), drop.forward(x, x, x)[0].tolist(), 'eval mode is deterministic');
  // float64 gradcheck through the whole block
  const m64 = new MultiheadAttention(4, 2, { dtype: 'float64' });
  const q = torch.randn([3, 2, 4], { dtype: 'float64', requiresGrad: true });
  const kv = torch.randn([5, 2, 4], { dtype: 'float64', requiresGrad: true });
  tt.ok(torch.autograd.gradcheck((qq, kk) => m64.forward(qq, kk, kk, { keyPaddingMask: torch.tensor([[false, false, false, false, true], [false, true, false, false, false]]) })[0], [q, kv]), 'gradcheck MHA');

  // encoder: clones are independent copies of the layer
  const layer = new TransformerEncoderLayer(8, 2, { dimFeedforward: 16, batchFirst: true });
  const enc = new TransformerEncoder(layer, 3);
  tt.equal(enc.layers.length, 3);
  const w0 = (enc.layers.at(0) as TransformerEncoderLayer).linear1.weight, w1 = (enc.layers.at(1) as TransformerEncoderLayer).linear1.weight;
  tt.not(w0, w1, 'each layer has its own parameters');
  tt.same(w0.tolist(), w1.tolist(), 'copied from the given layer');
  tt.same(w0.tolist(), layer.linear1.weight.tolist());
  tt.equal(enc.parameters().length, 3 * layer.parameters().length);
  const src = torch.randn([2, 5, 8]);
  tt.same(enc.forward(src, { isCausal: true }).shape, [2, 5, 8]);
  enc.eval();
  const full = enc.forward(src, { isCausal: true });
  const prefix = enc.forward(src.index(':', ':3'), { isCausal: true });
  tt.ok(torch.sub(full.index(':', ':3'), prefix).abs().max().item() < 1e-5, 'causal: a prefix does not see later positions');
  // unbatched input
  tt.same(new TransformerEncoderLayer(8, 2, { dimFeedforward: 16 }).eval().forward(torch.randn([5, 8])).shape, [5, 8]);
  tt.equal(new TransformerEncoderLayer(8, 2, { activation: (t: Tensor) => t.tanh() }).forward(torch.randn([3, 1, 8])).shape.length, 3);

  // errors
  tt.throws(() => new MultiheadAttention(10, 3), /embedDim \(10\) must be divisible by numHeads \(3\)/);
  tt.throws(() => mha.forward(x, x, x, { attnMask: torch.zeros([3, 4]) }), /2-D attnMask is \[3, 4\], but should be \[4, 4\]/);
  tt.throws(() => mha.forward(x, x, x, { keyPaddingMask: torch.zeros([2, 5]).bool() }), /expected keyPaddingMask of shape \[2, 4\]/);
  tt.throws(() => mha.forward(x, x, x, { attnMask: torch.zeros([4, 4], { dtype: 'int64' }) }), /only bool and floating types of attnMask/);
  tt.throws(() => mha.forward(torch.randn([4, 2, 6]), x, x), /expecting embedding dimension of 8 in query, but got 6/);
  tt.throws(() => mha.forward(x, torch.randn([4, 8]), x), /should also be 3-D/);
  tt.throws(() => new TransformerEncoderLayer(8, 2, { activation: 'swish' as any }), /activation should be 'relu', 'gelu' or a function/);
  tt.throws(() => new TransformerEncoder(new LayerNorm(8), 2), /clone\(\) method/);
  tt.end();
});
