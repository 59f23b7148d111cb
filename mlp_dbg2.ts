import torch from './src/index.ts';
const be: any = (await import('./src/device/registry.ts')).getBackend('webgpu');
const d = 'webgpu';
function time(name: string, f: () => any, n = 5) {
  f(); be.synchronizeSync();
  const t = performance.now();
  for (let i = 0; i < n; i++) f();
  be.synchronizeSync();
  console.log(name, ((performance.now() - t) / n).toFixed(2), 'ms');
}
const x = torch.rand([64, 784], { device: d }), w = torch.rand([256, 784], { device: d }), g = torch.rand([64, 256], { device: d });
time('sync only', () => null);
time('x @ w.T (64x784x256)', () => x.matmul(w.t()));
time('g @ w (64x256x784)', () => g.matmul(w));
time('g.T @ x (256x64x784)', () => g.t().matmul(x));
time('add 200k', () => w.add(w));
time('mul 200k', () => w.mul(2));
time('sum dim0 64x256', () => g.sum(0));
time('sum all 200k', () => w.sum());
time('contig w.T', () => w.t().contiguous());
const big = torch.rand([512, 512], { device: d });
time('512^3 matmul', () => big.matmul(big));
