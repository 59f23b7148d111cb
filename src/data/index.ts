/** torch.utils.data: datasets, DataLoader, randomSplit, and a progress bar for training loops. */
export { Dataset, TensorDataset, Subset, ConcatDataset, randomSplit, SeededRandom, permutation } from './dataset.js';
export type { DatasetLike, RandomSource, GeneratorArg } from './dataset.js';
export { DataLoader, defaultCollate } from './dataloader.js';
export type { DataLoaderOptions, Collated } from './dataloader.js';
export { ProgressBar, progress, countSamples } from './progress.js';
export type { ProgressOptions, ProgressStream, Postfix } from './progress.js';
export { FashionMNIST, MNIST } from './datasets.js';
export type { MNISTOptions } from './datasets.js';
