/**
 * A small generative adversarial network on Fashion-MNIST: an MLP generator maps noise to
 * 28x28 images, an MLP discriminator tells them from real ones; both trained with Adam
 * (betas 0.5, 0.999) on BCEWithLogitsLoss, as in the DCGAN paper's recipe. At the end a grid of
 * generated images is written as a .pgm file (any image viewer opens it) and a few are printed
 * as ASCII art.
 *
 *   node --import=tsx examples/gan.ts
 *
 * Environment (for quick runs): STEPS (default 600), BATCH_SIZE (64), LR (2e-4),
 * LIMIT (use only the first LIMIT training images), OUT (the .pgm path), SEED (0).
 */
import * as os from 'node:os';
import * as path from 'node:path';
import * as fs from 'node:fs';
import torch, { nn, optim, DataLoader, type Tensor } from '../src/index.js';
import { fashionMNIST } from './fashion_data.js';

const STEPS = Number(process.env.STEPS ?? 600);
const BATCH_SIZE = Number(process.env.BATCH_SIZE ?? 64);
const LR = Number(process.env.LR ?? 2e-4);
const OUT = process.env.OUT ?? path.join(os.tmpdir(), 'torchlet-gan-samples.pgm');
const LOG_EVERY = Number(process.env.LOG_EVERY ?? Math.max(1, Math.floor(STEPS / 10)));
const LATENT = 64;

torch.manualSeed(Number(process.env.SEED ?? 0));

// ---- data: images scaled from [0, 1] to [-1, 1] to match the generator's tanh --------------
// (LIMIT: a quick run on the first LIMIT images)
const trainSet = fashionMNIST(true, (img) => img.mul(2).sub(1));
const loader = new DataLoader(trainSet, { batchSize: BATCH_SIZE, shuffle: true, dropLast: true });

/** Batches of real images forever, one epoch after another. */
function* realBatches(): Generator<Tensor> {
  for (;;) for (const [x] of loader) yield x;
}

// ---- models ------------------------------------------------------------------------------
const generator = new nn.Sequential(
  new nn.Linear(LATENT, 256),
  new nn.LeakyReLU(0.2),
  new nn.Linear(256, 512),
  new nn.LeakyReLU(0.2),
  new nn.Linear(512, 28 * 28),
  new nn.Tanh(),
  new nn.Unflatten(1, [1, 28, 28]),
);
const discriminator = new nn.Sequential(
  new nn.Flatten(),
  new nn.Linear(28 * 28, 512),
  new nn.LeakyReLU(0.2),
  new nn.Dropout(0.3),
  new nn.Linear(512, 256),
  new nn.LeakyReLU(0.2),
  new nn.Dropout(0.3),
  new nn.Linear(256, 1),      // a logit: BCEWithLogitsLoss applies the sigmoid
);
console.log(`generator:\n${generator}\ndiscriminator:\n${discriminator}`);

const criterion = new nn.BCEWithLogitsLoss();
const optG = new optim.Adam(generator.parameters(), { lr: LR, betas: [0.5, 0.999] });
const optD = new optim.Adam(discriminator.parameters(), { lr: LR, betas: [0.5, 0.999] });
const realLabel = torch.ones(BATCH_SIZE, 1);
const fakeLabel = torch.zeros(BATCH_SIZE, 1);
const fixedNoise = torch.randn(64, LATENT);   // the same noise for the final grid

// ---- training ----------------------------------------------------------------------------
generator.train();
discriminator.train();
const batches = realBatches();
let sumD = 0, sumG = 0, sumDx = 0, sumDgz = 0, n = 0;
const t0 = performance.now();
for (let step = 1; step <= STEPS; step++) {
  const real = batches.next().value as Tensor;

  // (1) discriminator: maximise log D(x) + log(1 - D(G(z)))
  const fake = generator.forward(torch.randn(BATCH_SIZE, LATENT));
  const outReal = discriminator.forward(real);
  const outFake = discriminator.forward(fake.detach());       // no gradient into G here
  const lossD = criterion.forward(outReal, realLabel).add(criterion.forward(outFake, fakeLabel));
  optD.zeroGrad();
  lossD.backward();
  optD.step();

  // (2) generator: maximise log D(G(z)) (the non-saturating loss)
  const outG = discriminator.forward(fake);
  const lossG = criterion.forward(outG, realLabel);
  optG.zeroGrad();
  lossG.backward();
  optG.step();

  sumD += lossD.item();
  sumG += lossG.item();
  sumDx += outReal.sigmoid().mean().item();
  sumDgz += outFake.sigmoid().mean().item();
  n += 1;
  if (step % LOG_EVERY === 0 || step === STEPS) {
    const sec = (performance.now() - t0) / 1000;
    console.log(`step ${String(step).padStart(4)}: loss D ${(sumD / n).toFixed(4)}, loss G ${(sumG / n).toFixed(4)}, ` +
      `D(x) ${(sumDx / n).toFixed(3)}, D(G(z)) ${(sumDgz / n).toFixed(3)}, ${(step / sec).toFixed(1)} steps/s`);
    sumD = sumG = sumDx = sumDgz = n = 0;
  }
}

// ---- samples -------------------------------------------------------------------------------
generator.eval();
const samples = torch.noGrad(() => generator.forward(fixedNoise)).add(1).div(2).clamp(0, 1); // [64, 1, 28, 28] in [0, 1]

/** An 8x8 grid of 28x28 images with a 2-pixel border, as a binary PGM (P5). */
function writePgm(images: Tensor, file: string, cols = 8, pad = 2): void {
  const [count, , h, w] = images.shape;
  const rows = Math.ceil(count / cols);
  const W = cols * (w + pad) + pad, H = rows * (h + pad) + pad;
  const pixels = new Uint8Array(W * H);
  const values = images.dataSync();
  for (let k = 0; k < count; k++) {
    const ox = pad + (k % cols) * (w + pad), oy = pad + Math.floor(k / cols) * (h + pad);
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) pixels[(oy + y) * W + ox + x] = Math.round(255 * Number(values[k * h * w + y * w + x]));
  }
  fs.writeFileSync(file, Buffer.concat([Buffer.from(`P5\n${W} ${H}\n255\n`), pixels]));
}

/** A few images side by side as ASCII art (two pixels per character row). */
function ascii(images: Tensor, count = 4): string {
  const ramp = ' .:-=+*#%@';
  const lines: string[] = [];
  const imgs = images.narrow(0, 0, count).squeeze(1).tolist() as number[][][];
  for (let y = 0; y < 28; y += 2) {
    lines.push(imgs.map((img) => img[y].map((v, x) => ramp[Math.min(ramp.length - 1, Math.floor(((v + img[y + 1][x]) / 2) * ramp.length))]).join('')).join('  '));
  }
  return lines.join('\n');
}

writePgm(samples, OUT);
console.log(`\nwrote a grid of ${samples.shape[0]} generated images to ${OUT}`);
console.log(ascii(samples));
