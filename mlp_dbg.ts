import torch, { nn, optim } from './src/index.ts';
const device = 'webgpu';
const B = 64;
torch.manualSeed(0);
let t = performance.now();
const lap = (s: string) => { const n = performance.now(); console.log(s, (n - t).toFixed(1)); t = n; };
const model = new nn.Sequential(new nn.Linear(784, 256), new nn.ReLU(), new nn.Linear(256, 128), new nn.ReLU(), new nn.Linear(128, 10)).to(device);
lap('model');
const opt = new optim.Adam(model.parameters(), { lr: 1e-3 });
const lossFn = new nn.CrossEntropyLoss();
const xs = torch.rand([B, 784]).to(device), ys = torch.randint(0, 10, [B]).to(device);
lap('data');
for (let i = 0; i < 5; i++) {
  const out = model.forward(xs); lap('fwd');
  const loss = lossFn.forward(out, ys); lap('loss');
  opt.zeroGrad(); loss.backward(); lap('bwd');
  opt.step(); lap('step');
  console.log(loss.item()); lap('item');
}
