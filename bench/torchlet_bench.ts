// torchlet side of `npm run bench`: the same workloads as bench/pytorch_bench.py. Prints JSON medians in ms.
import torch, { nn, optim, Tensor } from '../src/index.js';
import { blasInfo } from '../src/device/cpu/index.js';
import { nativeInfo } from '../src/device/cpu/native.js';

const F = nn.functional;
const QUICK = process.env.BENCH_QUICK === '1';
const REPS = QUICK ? 3 : 7;
const WARM_MS = QUICK ? 100 : 300, REP_MS = QUICK ? 10 : 25;
/** Training steps warm up longer, in all three harnesses: a training run is thousands of steps, and
 * V8 needs ~1,000 of them (1-2 s) before the JIT has optimised every function a step runs. */
const TRAIN_WARM_MS = QUICK ? 100 : 2000;
const only = process.argv.slice(2);
const results: Record<string, number | string | null> = {};
torch.setNumThreads(Number(process.env.BENCH_THREADS ?? 2));
torch.manualSeed(0);

function timeit(name: string, fn: () => unknown, reps = REPS, inner = 1): void {
  if (only.length && !only.some((o) => name.startsWith(o))) return;
  try {
    fn();
  } catch (e) {
    results[name] = null;
    results[`_${name}_error`] = String((e as Error).message).slice(0, 160);
    return;
  }
  // same rule in all three harnesses: warm up for WARM_MS (JIT, allocator and thread pools reach
  // steady state; TRAIN_WARM_MS for training steps), then size each repetition to at least REP_MS
  // so timer and scheduler noise stay small
  const warm = name.startsWith('train_') ? TRAIN_WARM_MS : WARM_MS;
  const w0 = performance.now();
  let calls = 1;
  while (performance.now() - w0 < warm || calls < 3) { fn(); calls++; }
  const per = (performance.now() - w0) / (calls - 1);
  inner = Math.max(inner, Math.ceil(REP_MS / Math.max(per, 1e-6)));
  const times: number[] = [];
  for (let k = 0; k < reps; k++) {
    const t0 = performance.now();
    for (let i = 0; i < inner; i++) fn();
    times.push((performance.now() - t0) / inner);
  }
  times.sort((a, b) => a - b);
  results[name] = times[Math.floor(times.length / 2)];
}

function matmuls() {
  for (const n of QUICK ? [64, 256, 1024] : [64, 256, 512, 1024, 2048]) {
    for (const [dt, tag] of [['float32', 'f32'], ['float64', 'f64']] as const) {
      const a = torch.randn([n, n], { dtype: dt }), b = torch.randn([n, n], { dtype: dt });
      timeit(`matmul_${n}_${tag}`, () => a.matmul(b), REPS, Math.max(1, Math.floor(2048 / n / 4)));
    }
  }
}
function elementwise() {
  const N = 4 * 1024 * 1024;
  const x = torch.randn(N), y = torch.randn(N);
  timeit('add_4M', () => x.add(y));
  timeit('mul_4M', () => x.mul(y));
  timeit('exp_4M', () => x.exp());
  timeit('tanh_4M', () => x.tanh());
  timeit('sigmoid_4M', () => x.sigmoid());
  timeit('gelu_4M', () => x.gelu());
  timeit('sum_4M', () => x.sum());
  timeit('max_4M', () => x.max());
  const m = x.view(4096, 1024);
  timeit('softmax_4096x1024', () => m.softmax(-1));
  timeit('logsoftmax_4096x1024', () => m.logSoftmax(-1));
  const sq = torch.randn(2048, 2048);
  timeit('transpose_contiguous_2048', () => sq.t().contiguous());
}
function dispatch() {
  const a = torch.randn(4), b = torch.randn(4);
  const n = QUICK ? 2000 : 10000;
  timeit('dispatch_nograd_us', () => { for (let i = 0; i < n; i++) a.add(b); });
  if (typeof results.dispatch_nograd_us === 'number') results.dispatch_nograd_us *= 1000 / n;
  const ag = torch.randn([4], { requiresGrad: true });
  timeit('dispatch_grad_us', () => { for (let i = 0; i < n; i++) ag.add(b); });
  if (typeof results.dispatch_grad_us === 'number') results.dispatch_grad_us *= 1000 / n;
}
function convBnLstm() {
  const x = torch.randn(64, 1, 28, 28);
  const conv = new nn.Conv2d(1, 32, 3, { padding: 1 });
  timeit('conv2d_fwd', () => torch.noGrad(() => conv.forward(x)));
  timeit('conv2d_fwdbwd', () => { conv.zeroGrad(); conv.forward(x).sum().backward(); });
  const x2 = torch.randn(64, 32, 14, 14);
  const conv2 = new nn.Conv2d(32, 64, 3, { padding: 1 });
  timeit('conv2d_32to64_fwd', () => torch.noGrad(() => conv2.forward(x2)));
  const bn = new nn.BatchNorm2d(32);
  timeit('batchnorm2d_fwd', () => torch.noGrad(() => bn.forward(x2)));
  const lstm = new nn.LSTM(128, 256, { batchFirst: true });
  const xs = torch.randn(64, 1, 128);
  timeit('lstm_step', () => torch.noGrad(() => lstm.forward(xs)));
}
function trainLoops() {
  const mlp = new nn.Sequential(new nn.Linear(784, 256), new nn.ReLU(), new nn.Linear(256, 128), new nn.ReLU(), new nn.Linear(128, 10));
  const opt = new optim.Adam(mlp.parameters(), { lr: 1e-3 });
  const xb = torch.rand(64, 784), yb = torch.randint(0, 10, [64]);
  timeit('train_mlp_step', () => { opt.zeroGrad(); F.crossEntropy(mlp.forward(xb), yb).backward(); opt.step(); }, REPS, 20);
  const cnn = new nn.Sequential(
    new nn.Conv2d(1, 32, 3, { padding: 1 }), new nn.ReLU(), new nn.MaxPool2d(2),
    new nn.Conv2d(32, 64, 3, { padding: 1 }), new nn.ReLU(), new nn.MaxPool2d(2),
    new nn.Flatten(), new nn.Linear(64 * 7 * 7, 128), new nn.ReLU(), new nn.Linear(128, 10));
  const copt = new optim.Adam(cnn.parameters(), { lr: 1e-3 });
  const xi = torch.rand(64, 1, 28, 28);
  timeit('train_cnn_step', () => { copt.zeroGrad(); F.crossEntropy(cnn.forward(xi), yb).backward(); copt.step(); }, REPS, 2);
  class CharLSTM extends nn.Module {
    emb = new nn.Embedding(96, 64);
    lstm = new nn.LSTM(64, 128, { batchFirst: true });
    head = new nn.Linear(128, 96);
    forward(x: Tensor): Tensor {
      const [h] = this.lstm.forward(this.emb.forward(x)) as [Tensor, unknown];
      return this.head.forward(h);
    }
  }
  const lm = new CharLSTM();
  const lopt = new optim.Adam(lm.parameters(), { lr: 1e-3 });
  const xt = torch.randint(0, 96, [32, 32]), yt = torch.randint(0, 96, [32, 32]);
  timeit('train_lstm_step', () => { lopt.zeroGrad(); F.crossEntropy(lm.forward(xt).reshape(-1, 96), yt.reshape(-1)).backward(); lopt.step(); }, REPS, 2);
}
function peakRssMlp() {
  const mlp = new nn.Sequential(new nn.Linear(784, 256), new nn.ReLU(), new nn.Linear(256, 128), new nn.ReLU(), new nn.Linear(128, 10));
  const opt = new optim.Adam(mlp.parameters(), { lr: 1e-3 });
  const xb = torch.rand(64, 784), yb = torch.randint(0, 10, [64]);
  for (let i = 0; i < 300; i++) { opt.zeroGrad(); F.crossEntropy(mlp.forward(xb), yb).backward(); opt.step(); }
  results.rss_mlp_mb = process.resourceUsage().maxRSS / 1024;
}

if (process.env.BENCH_RSS_ONLY === '1') peakRssMlp();
else { matmuls(); elementwise(); dispatch(); convBnLstm(); trainLoops(); }
results._blas = blasInfo().library ?? blasInfo().kind;
{ const n = nativeInfo(); results._native = n.loaded ? n.library!.split('/').pop()! : `none (${n.reason})`; }
console.log(JSON.stringify(results));
