/**
 * The Fashion-MNIST MLP (784-256-128-10, Adam, cross entropy) trains on webgpu as on the cpu:
 * the same initial weights, the same batches in the same order (same seed), a short run on a
 * slice of the real data, then test accuracy on both devices must agree within 1.5 points, and
 * the loss curves must follow each other. Only float rounding differs between the two runs.
 * WEBGPU_MLP_TRAIN / WEBGPU_MLP_TEST / WEBGPU_MLP_EPOCHS change the run (defaults 8000, 2000, 2).
 */
import t from 'tap';
import * as fs from 'node:fs';
import * as path from 'node:path';
import torch, { nn, optim, DataLoader, Subset, type Tensor } from '../src/index.js';
import { unavailableReason } from '../src/device/registry.js';

const TRAIN = Number(process.env.WEBGPU_MLP_TRAIN ?? 8000);
const TEST = Number(process.env.WEBGPU_MLP_TEST ?? 2000);
const EPOCHS = Number(process.env.WEBGPU_MLP_EPOCHS ?? 2);
const BATCH = 64;

const root = process.env.TORCHLET_DATA ?? '/usr/share/datasets/fashion-mnist';
const haveData = ['train-images-idx3-ubyte', 't10k-images-idx3-ubyte'].every((f) => fs.existsSync(path.join(root, f)) || fs.existsSync(path.join(root, `${f}.gz`)));
const reason = unavailableReason('webgpu') ?? (haveData ? null : `Fashion-MNIST not found in ${root} (install Debian's dataset-fashion-mnist or set TORCHLET_DATA)`);
if (reason !== null) t.comment(`webgpu MLP accuracy test skipped: ${reason}`);

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

interface Run { accuracy: number; losses: number[]; msPerStep: number }

function train(device: string): Run {
  torch.manualSeed(0);
  const trainSet = new Subset(new torch.datasets.FashionMNIST({ root, train: true }), range(TRAIN));
  const testSet = new Subset(new torch.datasets.FashionMNIST({ root, train: false }), range(TEST));
  const model = new nn.Sequential(
    new nn.Flatten(), new nn.Linear(784, 256), new nn.ReLU(), new nn.Linear(256, 128), new nn.ReLU(), new nn.Linear(128, 10),
  ).to(device);
  const optimizer = new optim.Adam(model.parameters(), { lr: 1e-3 });
  const lossFn = new nn.CrossEntropyLoss();
  const loader = new DataLoader(trainSet, { batchSize: BATCH, shuffle: true, generator: 1234 });
  const losses: number[] = [];
  let steps = 0;
  const t0 = performance.now();
  for (let epoch = 0; epoch < EPOCHS; epoch++) {
    model.train();
    for (const [x, y] of loader as Iterable<[Tensor, Tensor]>) {
      const loss = lossFn.forward(model.forward(x.to(device)), y.to(device));
      optimizer.zeroGrad();
      loss.backward();
      optimizer.step();
      losses.push(loss.item());
      steps++;
    }
  }
  const msPerStep = (performance.now() - t0) / steps;
  model.eval();
  const correct = torch.noGrad(() => {
    let c = 0;
    for (const [x, y] of new DataLoader(testSet, { batchSize: 500 }) as Iterable<[Tensor, Tensor]>)
      c += model.forward(x.to(device)).argmax(1).eq(y.to(device)).sum().item();
    return c;
  });
  return { accuracy: correct / TEST, losses, msPerStep };
}

t.test('the Fashion-MNIST MLP reaches the same accuracy on webgpu as on the cpu', { skip: reason ?? false }, (t) => {
  const cpu = train('cpu');
  const gpu = train('webgpu');
  const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
  const last = (v: number[]) => mean(v.slice(-20));
  t.comment(`${EPOCHS} epochs over ${TRAIN} training images (batch ${BATCH}, ${cpu.losses.length} steps), accuracy on ${TEST} test images:`);
  t.comment(`  cpu:    accuracy ${(100 * cpu.accuracy).toFixed(2)}%, final loss ${last(cpu.losses).toFixed(4)}, ${cpu.msPerStep.toFixed(1)} ms/step`);
  t.comment(`  webgpu: accuracy ${(100 * gpu.accuracy).toFixed(2)}%, final loss ${last(gpu.losses).toFixed(4)}, ${gpu.msPerStep.toFixed(1)} ms/step`);
  t.equal(gpu.losses.length, cpu.losses.length, 'the same number of steps');
  t.ok(Math.abs(gpu.losses[0] - cpu.losses[0]) < 1e-4, `the same first loss (${gpu.losses[0]} vs ${cpu.losses[0]}): same weights and batches`);
  t.ok(Math.abs(last(gpu.losses) - last(cpu.losses)) < 0.05, 'the loss curves end at the same level');
  t.ok(cpu.accuracy > 0.7, `the cpu run learned (${(100 * cpu.accuracy).toFixed(2)}%)`);
  t.ok(Math.abs(gpu.accuracy - cpu.accuracy) <= 0.015, `webgpu accuracy within 1.5 points of the cpu's (${(100 * Math.abs(gpu.accuracy - cpu.accuracy)).toFixed(2)} points apart)`);
  t.end();
});
