/**
 * torchlet: PyTorch for TypeScript. `import torch from 'torchlet'` gives the namespace;
 * every member is also a named export.
 */
import './device/cpu/index.js';
import './device/webgpu/index.js';
import './device/cuda/index.js';
import { Tensor, isTensor } from './tensor.js';
import * as torchOps from './torch_ops.js';
import { noGrad, enableGrad, isGradEnabled, setGradEnabled } from './autograd/grad_mode.js';
import * as autogradApi from './autograd/api.js';
import { setDefaultDtype, getDefaultDtype, type DType, promoteTypes, resultType } from './dtype.js';
import { setDefaultDevice, getDefaultDevice } from './ops/core.js';
import { availableDevices, isDeviceAvailable, deviceCount, unavailableReason } from './device/registry.js';
import { memoryStats } from './storage.js';
import { manualSeed } from './ops/random.js';
import { setNumThreads as cpuSetNumThreads } from './device/cpu/index.js';
import * as errors from './errors.js';
import { initWebGPU, webgpuInfo, webgpuEmptyCache } from './device/webgpu/index.js';
import { cudaInfo, cudaMemoryStats, cudaEmptyCache } from './device/cuda/index.js';
import { save, load, saveAsync } from './io/index.js';
import { FashionMNIST, MNIST } from './data/datasets.js';
import * as nn from './nn/index.js';
import * as optim from './optim/index.js';
import * as data from './data/index.js';
import { Dataset, TensorDataset, Subset, ConcatDataset, DataLoader, defaultCollate, randomSplit, progress, ProgressBar } from './data/index.js';

export { Tensor, isTensor };
export type { DType };
export * from './errors.js';
export * from './torch_ops.js';

export { noGrad, enableGrad, isGradEnabled, setGradEnabled, manualSeed, setDefaultDtype, getDefaultDtype, setDefaultDevice, getDefaultDevice, availableDevices, promoteTypes, resultType };
export const float32: DType = 'float32', float64: DType = 'float64', float16: DType = 'float16', bfloat16: DType = 'bfloat16';
export const int32: DType = 'int32', int64: DType = 'int64', uint8: DType = 'uint8', bool: DType = 'bool';
export const float: DType = 'float32', double: DType = 'float64', half: DType = 'float16', long: DType = 'int64', int: DType = 'int32';

/** Sets the cpu device's threads (OpenBLAS and the native kernels). */
export function setNumThreads(n: number): void { cpuSetNumThreads(n); }
/**
 * Live tensors (storages) and bytes on a device (or all devices). cpu tensors are counted from
 * the first call on (tracking each costs about a microsecond, so it starts only when asked for;
 * TORCHLET_TRACK_MEMORY=1 tracks from the start).
 */
export function memory(device?: string): { tensors: number; bytes: number } { return memoryStats(device); }

export const autograd = {
  grad: autogradApi.grad,
  gradcheck: autogradApi.gradcheck,
  backward: (t: Tensor, gradient?: Tensor, opts?: { retainGraph?: boolean; createGraph?: boolean }) => autogradApi.backward(t, gradient, opts),
  Function: autogradApi.Function,
  FunctionCtx: autogradApi.FunctionCtx,
};
export const Function = autogradApi.Function;

export const cuda = {
  isAvailable: (): boolean => isDeviceAvailable('cuda'),
  deviceCount: (): number => deviceCount('cuda'),
  /** Why cuda is unavailable (null when it is available). */
  unavailableReason: (): string | null => unavailableReason('cuda'),
  info: cudaInfo,
  memoryStats: cudaMemoryStats,
  emptyCache: cudaEmptyCache,
};
export { save, load, saveAsync };
export { nn, optim };
/** nn.functional, also as torch.F. */
export const F = nn.functional;
export const utils = { data };
export { Dataset, TensorDataset, Subset, ConcatDataset, DataLoader, defaultCollate, randomSplit, progress, ProgressBar };
export const datasets = { FashionMNIST, MNIST };

export const webgpu = {
  isAvailable: (): boolean => isDeviceAvailable('webgpu'),
  /** Starts the device without blocking (the first synchronous use otherwise blocks while Dawn starts). */
  init: initWebGPU,
  /** Adapter details once started, else null. */
  info: webgpuInfo,
  /** Releases pooled GPU buffers that no tensor uses. */
  emptyCache: webgpuEmptyCache,
  unavailableReason: (): string | null => unavailableReason('webgpu'),
};

const torch = {
  Tensor, isTensor, ...errors, ...torchOps, var: torchOps.variance,
  noGrad, enableGrad, isGradEnabled, setGradEnabled, manualSeed, setDefaultDtype, getDefaultDtype, setDefaultDevice,
  getDefaultDevice, availableDevices, setNumThreads, memory, promoteTypes, resultType,
  float32, float64, float16, bfloat16, int32, int64, uint8, bool, float, double, half, long, int,
  autograd, Function, cuda, webgpu, save, load, saveAsync, datasets,
  nn, F, optim, utils, Dataset, TensorDataset, Subset, ConcatDataset, DataLoader, defaultCollate, randomSplit, progress, ProgressBar,
};
export default torch;
