/**
 * Fashion-MNIST with a multi-layer perceptron (784-256-128-10), trained with Adam.
 *
 *   node --import=tsx examples/mnist_mlp.ts
 *
 * Environment (for quick runs): EPOCHS (default 2), BATCH_SIZE (64), LR (1e-3),
 * LIMIT (use only the first LIMIT training and test images), SEED (0).
 */
import torch, { nn, optim, DataLoader, progress, type Tensor } from '../src/index.js';
import { fashionMNIST } from './fashion_data.js';

const EPOCHS = Number(process.env.EPOCHS ?? 2);
const BATCH_SIZE = Number(process.env.BATCH_SIZE ?? 64);
const LR = Number(process.env.LR ?? 1e-3);

torch.manualSeed(Number(process.env.SEED ?? 0));

// ---- data --------------------------------------------------------------------------------
// Items are [image 1x28x28 float32 in [0, 1], label int64], as torchvision's FashionMNIST
// with transforms.ToTensor() (LIMIT: a quick run on the first LIMIT images of each split).
const trainSet = fashionMNIST(true);
const testSet = fashionMNIST(false);
const trainLoader = new DataLoader(trainSet, { batchSize: BATCH_SIZE, shuffle: true });
const testLoader = new DataLoader(testSet, { batchSize: 1000 });
console.log(`train: ${trainSet.length} images, test: ${testSet.length} images`);

// ---- model -------------------------------------------------------------------------------
class MLP extends nn.Module {
  flatten = new nn.Flatten();
  layers = new nn.Sequential(
    new nn.Linear(28 * 28, 256),
    new nn.ReLU(),
    new nn.Linear(256, 128),
    new nn.ReLU(),
    new nn.Linear(128, 10),
  );

  override forward(x: Tensor): Tensor {
    return this.layers.forward(this.flatten.forward(x));
  }
}

const model = new MLP();
console.log(model.toString());
const lossFn = new nn.CrossEntropyLoss();
const optimizer = new optim.Adam(model.parameters(), { lr: LR });

// ---- training and evaluation ---------------------------------------------------------------
function trainEpoch(epoch: number): { loss: number; samplesPerSec: number } {
  model.train();
  let total = 0, count = 0;
  const bar = progress(trainLoader, { desc: `epoch ${epoch}` });
  const t0 = performance.now();
  for (const [x, y] of bar) {
    const logits = model.forward(x);
    const loss = lossFn.forward(logits, y);
    optimizer.zeroGrad();
    loss.backward();
    optimizer.step();
    const l = loss.item();
    total += l * x.shape[0];
    count += x.shape[0];
    bar.setPostfix({ loss: l });
  }
  const sec = (performance.now() - t0) / 1000;
  return { loss: total / count, samplesPerSec: count / sec };
}

function evaluate(): { loss: number; accuracy: number } {
  model.eval();
  return torch.noGrad(() => {
    let total = 0, correct = 0, count = 0;
    for (const [x, y] of testLoader) {
      const logits = model.forward(x);
      total += lossFn.forward(logits, y).item() * x.shape[0];
      correct += logits.argmax(1).eq(y).sum().item();
      count += x.shape[0];
    }
    return { loss: total / count, accuracy: correct / count };
  });
}

const start = performance.now();
let samples = 0;
let trainSeconds = 0;
for (let epoch = 1; epoch <= EPOCHS; epoch++) {
  const t0 = performance.now();
  const { loss, samplesPerSec } = trainEpoch(epoch);
  trainSeconds += (performance.now() - t0) / 1000;
  samples += trainSet.length;
  const test = evaluate();
  console.log(
    `epoch ${epoch}: train loss ${loss.toFixed(4)}, test loss ${test.loss.toFixed(4)}, ` +
    `test accuracy ${(100 * test.accuracy).toFixed(2)}%, ${samplesPerSec.toFixed(0)} samples/s`,
  );
}
const final = evaluate();
console.log(`test accuracy: ${(100 * final.accuracy).toFixed(2)}%`);
console.log(`training: ${samples} samples in ${trainSeconds.toFixed(1)} s, ${(samples / trainSeconds).toFixed(0)} samples/s ` +
  `(total ${((performance.now() - start) / 1000).toFixed(1)} s)`);
