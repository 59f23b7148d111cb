/**
 * The cuda device: registers a factory whose probe loads the NVIDIA driver (libcuda.so.1) and
 * NVRTC on first use (cuBLAS and cuDNN when a device is created). Importing this module loads
 * nothing native, not even koffi.
 *
 * Environment:
 * - TORCHLET_CUDA_LIB_DIRS (colon list), LD_LIBRARY_PATH, CUDA_HOME / CUDA_PATH, CONDA_PREFIX,
 *   VIRTUAL_ENV: where libraries are looked for (see loader.ts for the full order);
 * - TORCHLET_CUDA_CACHE_DIR (default ~/.cache/torchlet/cuda-kernels), TORCHLET_CUDA_CACHE=0:
 *   the on-disk cache of compiled kernel modules;
 * - TORCHLET_CUDA_LAUNCH_BLOCKING=1 (or CUDA_LAUNCH_BLOCKING=1): synchronize after every launch,
 *   so out-of-range gather/scatter indices raise at the call instead of at the next read;
 * - TORCHLET_CUDA_DISABLE_CUBLAS=1 / TORCHLET_CUDA_DISABLE_CUDNN=1: use torchlet's own matmul
 *   kernel / no conv2d fast path.
 */
import { registerBackend } from '../registry.js';
import { DeviceError } from '../../errors.js';
import type { BackendFactory } from '../backend.js';
import type { SearchOptions } from './loader.js';
import { probeCuda, type Probe } from './runtime.js';
import { CudaBackend } from './backend.js';

export interface CudaFactory extends BackendFactory {
  /** The probe result (runs the probe on first call). */
  probe(): Probe;
  /** Forgets the probe so the next call searches again (tests; after installing a library). */
  reset(): void;
  /** Backends created so far, by device index. */
  created(): ReadonlyMap<number, CudaBackend>;
}

/**
 * A factory over a search environment. `opts.env` defaults to process.env read at probe time.
 * The process-wide one (cudaFactory) is registered with the device registry.
 */
export function createCudaFactory(opts: SearchOptions = {}): CudaFactory {
  let probed: Probe | null = null;
  const instances = new Map<number, CudaBackend>();
  const probe = (): Probe => (probed ??= probeCuda(opts));
  return {
    type: 'cuda',
    probe,
    reset() {
      probed = null;
    },
    created() {
      return instances;
    },
    unavailableReason() {
      return probe().reason;
    },
    deviceCount() {
      return probe().rt?.deviceCount ?? 0;
    },
    create(index: number) {
      const p = probe();
      if (!p.rt) throw new DeviceError('device', `device 'cuda:${index}' is not available: ${p.reason}`);
      if (!Number.isInteger(index) || index < 0 || index >= p.rt.deviceCount)
        throw new DeviceError('device', `device 'cuda:${index}' does not exist: ${p.rt.deviceCount} cuda device(s) found`);
      let be = instances.get(index);
      if (!be) instances.set(index, (be = new CudaBackend(p.rt, index)));
      return be;
    },
  };
}

export const cudaFactory = createCudaFactory();
registerBackend(cudaFactory);

const indexOf = (device: string | number = 0) => (typeof device === 'number' ? device : Number(/^cuda(?::(\d+))?$/.exec(device)?.[1] ?? 0));

/**
 * Driver/library/device details of a cuda device, or null with nothing loaded when CUDA is
 * unavailable. Never creates the device (an unused device reports only driver-level facts).
 */
export function cudaInfo(device: string | number = 0): Record<string, unknown> | null {
  const p = cudaFactory.probe();
  if (!p.rt) return null;
  const be = cudaFactory.created().get(indexOf(device));
  if (be) return be.info();
  return { driverVersion: p.rt.driverVersion, nvrtcVersion: p.rt.nvrtcVersion.join('.'), deviceCount: p.rt.deviceCount, libraries: { ...p.rt.paths } };
}
/** Bytes held by tensors, cached in the allocator's free lists, and the peak (zeros for an unused device). */
export function cudaMemoryStats(device: string | number = 0): { allocated: number; cached: number; peak: number } {
  return cudaFactory.created().get(indexOf(device))?.memoryStats() ?? { allocated: 0, cached: 0, peak: 0 };
}
/** Returns cached device memory to the driver (torch.cuda.empty_cache). */
export function cudaEmptyCache(device?: string | number): void {
  for (const [i, be] of cudaFactory.created()) if (device === undefined || i === indexOf(device)) be.emptyCache();
}

export { CudaBackend } from './backend.js';
export { searchDirs, findCandidates, describeSearch, LIBS } from './loader.js';
