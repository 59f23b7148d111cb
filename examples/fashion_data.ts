/**
 * Fashion-MNIST for the examples (not an example itself): each split as a dataset of
 * [image 1x28x28 float32 in [0, 1], label int64] items, as torchvision's FashionMNIST with
 * transforms.ToTensor(), then the example's own transform if it gives one.
 *
 * Environment: LIMIT keeps only the first LIMIT images of each split, for quick runs.
 */
import torch, { Subset, type Tensor } from '../src/index.js';

const LIMIT = process.env.LIMIT ? Number(process.env.LIMIT) : null;

/** 0, 1, ..., n - 1 (Python's range(n)). */
const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

/** The training split (`train` true) or the test split, cut to LIMIT images when it is set. */
export function fashionMNIST(train: boolean, transform?: (image: Tensor) => Tensor) {
  const full = new torch.datasets.FashionMNIST({ train, transform });
  return LIMIT ? new Subset(full, range(Math.min(LIMIT, full.length))) : full;
}
