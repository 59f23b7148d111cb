/**
 * One training step of the Fashion-MNIST MLP (784-256-128-10, Adam, cross entropy) on a device,
 * written as in PyTorch (loss.item() every step, no dispose calls). Prints JSON: wall ms/step
 * (median of rounds), process CPU ms/step (all threads: this one, the webgpu worker and the
 * driver's; the better number on a shared machine), and on webgpu the kernel dispatches,
 * submits and queue drains per step.
 *
 *   node --import=tsx bench/webgpu_mlp_step.ts            # DEVICE=webgpu B=64 STEPS=30 ROUNDS=5
 *   DEVICE=cpu B=16 node --import=tsx bench/webgpu_mlp_step.ts
 */
import torch, { nn, optim } from '../src/index.js';
import { webgpuMemoryStats } from '../src/device/webgpu/index.js';

const DEVICE = process.env.DEVICE ?? 'webgpu';
const B = Number(process.env.B ?? 64);
const STEPS = Number(process.env.STEPS ?? 30);
const ROUNDS = Number(process.env.ROUNDS ?? 5);

torch.manualSeed(0);
const model = new nn.Sequential(
  new nn.Flatten(), new nn.Linear(784, 256), new nn.ReLU(), new nn.Linear(256, 128), new nn.ReLU(), new nn.Linear(128, 10),
).to(DEVICE);
const optimizer = new optim.Adam(model.parameters(), { lr: 1e-3 });
const lossFn = new nn.CrossEntropyLoss();
// a few fixed batches from the host, moved per step as a DataLoader's would be
const batches = Array.from({ length: 4 }, () => [torch.rand([B, 1, 28, 28]), torch.randint(0, 10, [B])] as const);

let k = 0;
function step(): number {
  const [xb, yb] = batches[k++ % batches.length];
  const x = xb.to(DEVICE), y = yb.to(DEVICE);
  const loss = lossFn.forward(model.forward(x), y);
  optimizer.zeroGrad();
  loss.backward();
  optimizer.step();
  return loss.item();
}

const stats = () => (DEVICE === 'webgpu' ? webgpuMemoryStats() : null);
for (let i = 0; i < 5; i++) step();
const walls: number[] = [], cpus: number[] = [];
const s0 = stats();
for (let r = 0; r < ROUNDS; r++) {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < STEPS; i++) step();
  walls.push((performance.now() - t0) / STEPS);
  const c = process.cpuUsage(c0);
  cpus.push((c.user + c.system) / 1000 / STEPS);
}
const s1 = stats();
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
const per = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined ? null : +((b - a) / (STEPS * ROUNDS)).toFixed(1));
console.log(JSON.stringify({
  device: DEVICE, batch: B,
  msPerStep: +median(walls).toFixed(1), msPerStepMin: +Math.min(...walls).toFixed(1), cpuMsPerStep: +median(cpus).toFixed(1),
  dispatchesPerStep: per(s0?.dispatches, s1?.dispatches), submitsPerStep: per(s0?.submits, s1?.submits),
  drainsPerStep: per((s0 as any)?.drains, (s1 as any)?.drains),
  liveTensors: torch.memory(DEVICE).tensors,
}));

// Per-thread CPU time (Linux): which threads did the work (main, webgpu worker, driver threads).
if (process.env.THREADS === '1') {
  const fs = await import('node:fs');
  const rows: [string, number][] = [];
  for (const tid of fs.readdirSync('/proc/self/task')) {
    try {
      const stat = fs.readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      rows.push([`${tid} ${name}`, (Number(f[11]) + Number(f[12])) * 10]);
    } catch { /* thread ended */ }
  }
  rows.sort((a, b) => b[1] - a[1]);
  console.log(rows.filter((r) => r[1] > 0).map(([n, ms]) => `${String(ms).padStart(7)} ms  ${n}`).join('\n'));
}
