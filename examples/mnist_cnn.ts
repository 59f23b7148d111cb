/**
 * Fashion-MNIST with a small convolutional network, trained with Adam; then the trained
 * weights are saved with torch.save (safetensors) and loaded back into a fresh model.
 *
 *   node --import=tsx examples/mnist_cnn.ts
 *
 * Environment (for quick runs): EPOCHS (default 2), BATCH_SIZE (64), LR (1e-3),
 * LIMIT (use only the first LIMIT training and test images), SEED (0), THREADS (BLAS threads).
 */
import * as os from 'node:os';
import * as path from 'node:path';
import * as fs from 'node:fs';
import torch, { nn, optim, DataLoader, progress, type Tensor } from '../src/index.js';
import { fashionMNIST } from './fashion_data.js';

const EPOCHS = Number(process.env.EPOCHS ?? 2);
const BATCH_SIZE = Number(process.env.BATCH_SIZE ?? 64);
const LR = Number(process.env.LR ?? 1e-3);

torch.manualSeed(Number(process.env.SEED ?? 0));
if (process.env.THREADS) torch.setNumThreads(Number(process.env.THREADS));

// ---- data --------------------------------------------------------------------------------
// Images come as 1x28x28 float32 in [0, 1]; normalise them with the training set's mean and
// standard deviation (torchvision's transforms.Normalize((0.2860,), (0.3530,))). LIMIT: a
// quick run on the first LIMIT images of each split.
const normalize = (img: Tensor): Tensor => img.sub(0.2860).div(0.3530);
const trainSet = fashionMNIST(true, normalize);
const testSet = fashionMNIST(false, normalize);
const trainLoader = new DataLoader(trainSet, { batchSize: BATCH_SIZE, shuffle: true });
const testLoader = new DataLoader(testSet, { batchSize: 500 });
console.log(`train: ${trainSet.length} images, test: ${testSet.length} images`);

// ---- model -------------------------------------------------------------------------------
class ConvNet extends nn.Module {
  features = new nn.Sequential(
    new nn.Conv2d(1, 32, 3, { padding: 1 }),   // 32 x 28 x 28
    new nn.ReLU(),
    new nn.MaxPool2d(2),                       // 32 x 14 x 14
    new nn.Conv2d(32, 64, 3, { padding: 1 }),  // 64 x 14 x 14
    new nn.ReLU(),
    new nn.MaxPool2d(2),                       // 64 x 7 x 7
  );
  classifier = new nn.Sequential(
    new nn.Flatten(),
    new nn.Linear(64 * 7 * 7, 128),
    new nn.ReLU(),
    new nn.Dropout(0.25),
    new nn.Linear(128, 10),
  );

  override forward(x: Tensor): Tensor {
    return this.classifier.forward(this.features.forward(x));
  }
}

const model = new ConvNet();
console.log(model.toString());
console.log(`${model.parameters().reduce((n, p) => n + p.numel(), 0)} parameters`);
const lossFn = new nn.CrossEntropyLoss();
const optimizer = new optim.Adam(model.parameters(), { lr: LR });

// ---- training and evaluation ---------------------------------------------------------------
function trainEpoch(epoch: number): { loss: number; samples: number; seconds: number } {
  model.train();
  let total = 0, count = 0;
  const bar = progress(trainLoader, { desc: `epoch ${epoch}` });
  const t0 = performance.now();
  for (const [x, y] of bar) {
    const loss = lossFn.forward(model.forward(x), y);
    optimizer.zeroGrad();
    loss.backward();
    optimizer.step();
    const l = loss.item();
    total += l * x.shape[0];
    count += x.shape[0];
    bar.setPostfix({ loss: l });
  }
  return { loss: total / count, samples: count, seconds: (performance.now() - t0) / 1000 };
}

function evaluate(net: nn.Module): number {
  net.eval();
  return torch.noGrad(() => {
    let correct = 0, count = 0;
    for (const [x, y] of testLoader) {
      correct += net.forward(x).argmax(1).eq(y).sum().item();
      count += x.shape[0];
    }
    return correct / count;
  });
}

let samples = 0, seconds = 0, accuracy = 0;
for (let epoch = 1; epoch <= EPOCHS; epoch++) {
  const r = trainEpoch(epoch);
  samples += r.samples;
  seconds += r.seconds;
  accuracy = evaluate(model);
  console.log(`epoch ${epoch}: train loss ${r.loss.toFixed(4)}, test accuracy ${(100 * accuracy).toFixed(2)}%, ` +
    `${(r.samples / r.seconds).toFixed(0)} samples/s, ${(1000 * r.seconds / Math.ceil(r.samples / BATCH_SIZE)).toFixed(0)} ms/batch`);
}
console.log(`test accuracy: ${(100 * accuracy).toFixed(2)}%`);
console.log(`training: ${samples} samples in ${seconds.toFixed(1)} s, ${(samples / seconds).toFixed(0)} samples/s`);

// ---- save and load the weights -------------------------------------------------------------
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'torchlet-cnn-'));
const file = path.join(dir, 'fashion_cnn.safetensors');
torch.save(model.stateDict(), file);
console.log(`saved ${Object.keys(model.stateDict()).length} tensors to ${file} (${fs.statSync(file).size} bytes)`);

const restored = new ConvNet();
restored.loadStateDict(torch.load(file));
const restoredAccuracy = evaluate(restored);
console.log(`reloaded model test accuracy: ${(100 * restoredAccuracy).toFixed(2)}%` +
  (restoredAccuracy === accuracy ? ' (identical)' : ' (MISMATCH)'));
fs.rmSync(dir, { recursive: true, force: true });
if (restoredAccuracy !== accuracy) process.exitCode = 1;
