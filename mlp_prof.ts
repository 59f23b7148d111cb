import torch, { nn, optim } from './src/index.ts';
const be: any = (await import('./src/device/registry.ts')).getBackend('webgpu');
const device = 'webgpu';
const B = Number(process.env.B ?? 64);
torch.manualSeed(0);
const model = new nn.Sequential(new nn.Linear(784, 256), new nn.ReLU(), new nn.Linear(256, 128), new nn.ReLU(), new nn.Linear(128, 10)).to(device);
const opt = new optim.Adam(model.parameters(), { lr: 1e-3 });
const lossFn = new nn.CrossEntropyLoss();
const xs = torch.rand([B, 784]).to(device), ys = torch.randint(0, 10, [B]).to(device);
function step() { const loss = lossFn.forward(model.forward(xs), ys); opt.zeroGrad(); loss.backward(); opt.step(); return loss; }
for (let i = 0; i < 3; i++) step().item();
const prof = new Map<string, { n: number; ms: number }>();
let on = false;
for (const m of ['copy', 'fill', 'unary', 'binary', 'ternary', 'reduce', 'cumsum', 'matmul', 'gather', 'scatter', 'sort', 'alloc', 'write', 'readSync']) {
  const orig = be[m].bind(be);
  be[m] = (...a: any[]) => {
    if (!on) return orig(...a);
    be.synchronizeSync();
    const t = performance.now();
    const r = orig(...a);
    be.synchronizeSync();
    const dt = performance.now() - t;
    const v = a.find((q: any) => q && q.shape);
    const key = `${m}${typeof a[0] === 'string' ? ':' + a[0] : ''} ${v ? JSON.stringify(v.shape) : ''}`;
    const e = prof.get(key) ?? { n: 0, ms: 0 };
    e.n++; e.ms += dt; prof.set(key, e);
    return r;
  };
}
on = true;
const N = 3;
for (let i = 0; i < N; i++) step().item();
on = false;
let tot = 0, cnt = 0;
const rows = [...prof].sort((a, b) => b[1].ms - a[1].ms);
for (const [k, v] of rows) { tot += v.ms; cnt += v.n; }
for (const [k, v] of rows.slice(0, 40)) console.log((v.ms / N).toFixed(2).padStart(8), (v.n / N).toFixed(0).padStart(4), k);
console.log('total ms/step (synced):', (tot / N).toFixed(1), 'calls/step', cnt / N);
