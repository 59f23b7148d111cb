/**
 * Device memory stays flat over a long training run on webgpu written as in PyTorch: the
 * Fashion-MNIST MLP (784-256-128-10, Adam, cross entropy), 2,000 steps, batches from a
 * DataLoader moved to the device each step, loss.item() every step, no dispose calls and no
 * awaits. torch.memory('webgpu').bytes must stay within 10% of its value after step 100.
 * The data are random images (the leak does not depend on them; the accuracy test uses the
 * real ones). WEBGPU_LEAK_STEPS and WEBGPU_LEAK_BATCH change the run (defaults 2000 and 16).
 */
import t from 'tap';
import torch, { nn, optim, DataLoader, TensorDataset } from '../src/index.js';
import { unavailableReason } from '../src/device/registry.js';
import { webgpuMemoryStats } from '../src/device/webgpu/index.js';

const reason = unavailableReason('webgpu');
if (reason !== null) t.comment(`webgpu leak test skipped: ${reason}`);

const STEPS = Number(process.env.WEBGPU_LEAK_STEPS ?? 2000);
const BATCH = Number(process.env.WEBGPU_LEAK_BATCH ?? 16);
const BASE_STEP = 100;

t.test(`MLP training on webgpu: ${STEPS} steps without dispose keep device memory flat`, { skip: reason ?? false }, (t) => {
  const device = 'webgpu';
  torch.manualSeed(0);
  const images = torch.rand([1024, 1, 28, 28]);
  const labels = torch.randint(0, 10, [1024]);
  const loader = new DataLoader(new TensorDataset(images, labels), { batchSize: BATCH, shuffle: true, dropLast: true });
  const model = new nn.Sequential(
    new nn.Flatten(), new nn.Linear(784, 256), new nn.ReLU(), new nn.Linear(256, 128), new nn.ReLU(), new nn.Linear(128, 10),
  ).to(device);
  const optimizer = new optim.Adam(model.parameters(), { lr: 1e-3 });
  const lossFn = new nn.CrossEntropyLoss();

  const samples: { step: number; bytes: number; tensors: number }[] = [];
  const start = torch.memory(device);
  const t0 = performance.now();
  let step = 0, firstLoss = NaN, lastLoss = NaN;
  while (step < STEPS) {
    for (const [xb, yb] of loader) {
      const x = xb.to(device), y = yb.to(device);
      const loss = lossFn.forward(model.forward(x), y);
      optimizer.zeroGrad();
      loss.backward();
      optimizer.step();
      lastLoss = loss.item();
      if (step === 0) firstLoss = lastLoss;
      step++;
      if (step >= BASE_STEP && step % 100 === 0) samples.push({ step, ...torch.memory(device) });
      if (step >= STEPS) break;
    }
  }
  const ms = (performance.now() - t0) / STEPS;

  const base = samples[0];
  const worst = samples.reduce((w, s) => (Math.abs(s.bytes - base.bytes) > Math.abs(w.bytes - base.bytes) ? s : w), base);
  const dev = webgpuMemoryStats();
  t.comment(`${STEPS} steps of batch ${BATCH}: ${ms.toFixed(1)} ms/step, loss ${firstLoss.toFixed(3)} -> ${lastLoss.toFixed(3)}`);
  t.comment(`torch.memory('webgpu') before training: ${start.tensors} tensors, ${start.bytes} bytes`);
  t.comment(`  step  tensors      bytes  vs step ${BASE_STEP}`);
  for (const s of samples)
    t.comment(`  ${String(s.step).padStart(4)}  ${String(s.tensors).padStart(7)}  ${String(s.bytes).padStart(9)}  ${(100 * (s.bytes - base.bytes) / base.bytes).toFixed(2).padStart(6)}%`);
  t.comment(`device pool: ${dev.allocatedBytes} bytes in live buffers, ${dev.pooledBytes} pooled, ${dev.buffers} buffers, ${dev.pipelines} pipelines`);

  t.ok(Math.abs(worst.bytes - base.bytes) <= 0.1 * base.bytes,
    `bytes stay within 10% of step ${BASE_STEP}'s ${base.bytes} (farthest: ${worst.bytes} at step ${worst.step})`);
  t.ok(Math.abs(worst.tensors - base.tensors) <= 0.1 * base.tensors, `live tensors stay within 10% of step ${BASE_STEP}'s ${base.tensors}`);
  // the device side: buffers owned by live tensors are about what torch.memory counts (pool buckets round up)
  t.ok(dev.allocatedBytes <= 2 * torch.memory(device).bytes + (1 << 20), `device buffers in use (${dev.allocatedBytes} bytes) track the live tensors`);
  t.ok(lastLoss < firstLoss, 'the loss went down (the steps really trained)');
  t.end();
});
