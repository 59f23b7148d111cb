/**
 * The process-wide CUDA runtime state: the driver API and NVRTC loaded once (on the first
 * probe), cuBLAS/cuDNN loaded on first need. probeCuda never throws: it returns either a
 * runtime or a one-line reason naming what is missing.
 */
import * as path from 'node:path';
import {
  LIBS, type SearchOptions, type Candidate, type Loaded, loadFirst, preloadSiblings, describeSearch,
  getKoffi, koffiLoadError, sonameMajor,
} from './loader.js';
import { bindDriver, bindNvrtc, bindCublas, bindCudnn, type Driver, type Nvrtc, type Cublas, type Cudnn } from './ffi.js';

export interface CudaRuntime {
  driver: Driver;
  nvrtc: Nvrtc;
  /** cuDriverGetVersion, e.g. 12040 for CUDA 12.4. */
  driverVersion: number;
  nvrtcVersion: [number, number];
  deviceCount: number;
  paths: { cuda: string; nvrtc: string; cublas?: string; cudnn?: string };
  opts: SearchOptions;
  /** Loaded lazily by loadCublas/loadCudnn (undefined: not tried yet; null: unavailable, the note says why). */
  cublas?: Cublas | null;
  cublasNote?: string;
  cudnn?: Cudnn | null;
  cudnnNote?: string;
}

export interface Probe {
  rt: CudaRuntime | null;
  reason: string | null;
}

function errorName(d: Driver, code: number): string {
  try {
    const n: [string | null] = [null];
    const s: [string | null] = [null];
    d.cuGetErrorName(code, n);
    d.cuGetErrorString(code, s);
    return n[0] ? `${n[0]} (${s[0] ?? 'no description'})` : `CUDA error ${code}`;
  } catch {
    return `CUDA error ${code}`;
  }
}
export { errorName as cudaErrorName };

/** Candidates ordered so that libraries no newer than the driver's CUDA major come first. */
function preferCompatible(driverMajor: number) {
  return (c: Candidate[]): Candidate[] => {
    const ok = (x: Candidate) => {
      const m = sonameMajor(x.name);
      return m === null || m <= driverMajor;
    };
    return [...c.filter(ok), ...c.filter((x) => !ok(x))];
  };
}

export function probeCuda(opts: SearchOptions): Probe {
  try {
    return probeInner(opts);
  } catch (e) {
    return { rt: null, reason: `probing CUDA failed unexpectedly: ${(e as Error).message.split('\n')[0]}` };
  }
}

function probeInner(opts: SearchOptions): Probe {
  if (!getKoffi()) return { rt: null, reason: koffiLoadError() };
  const where = () => describeSearch(opts);
  // 1. the driver
  const cu = loadFirst(LIBS.cuda, opts);
  if (!cu.loaded) {
    if (!cu.found) return { rt: null, reason: `${LIBS.cuda.label} was not found; searched: ${where()}` };
    return { rt: null, reason: `${LIBS.cuda.label} could not be loaded: ${cu.errors.join('; ')}` };
  }
  const { api: driver, missing } = bindDriver(cu.loaded.lib);
  if (missing.length)
    return { rt: null, reason: `${cu.loaded.path} lacks driver API functions (${missing.slice(0, 4).join(', ')}${missing.length > 4 ? ', ...' : ''}); the NVIDIA driver is too old` };
  const init = driver.cuInit(0);
  if (init !== 0) {
    const hint = init === 34 ? ' (this is the CUDA stub library, not a real driver)' : init === 100 ? ' (no NVIDIA GPU is visible to this process)' : '';
    return { rt: null, reason: `cuInit failed with ${errorName(driver, init)}${hint}; driver library: ${cu.loaded.path}` };
  }
  const ver: [number] = [0];
  driver.cuDriverGetVersion(ver);
  const count: [number] = [0];
  const rc = driver.cuDeviceGetCount(count);
  if (rc !== 0) return { rt: null, reason: `cuDeviceGetCount failed with ${errorName(driver, rc)}` };
  if (count[0] === 0) return { rt: null, reason: 'no CUDA devices found (cuDeviceGetCount returned 0)' };
  // 2. NVRTC (required: every kernel is compiled at run time)
  const driverMajor = Math.floor(ver[0] / 1000);
  const nv = loadFirst(LIBS.nvrtc, opts, {
    order: preferCompatible(driverMajor),
    preload: (dir) => { preloadSiblings(dir, ['libnvrtc-builtins.so'], opts.readdir); },
    accept: (l) => (bindNvrtc(l.lib).missing.length ? 'missing NVRTC functions' : null),
  });
  if (!nv.loaded) {
    const tail = nv.found ? `could not be loaded: ${nv.errors.join('; ')}` : `was not found; searched: ${where()}`;
    return { rt: null, reason: `${LIBS.nvrtc.label}, which compiles torchlet's CUDA kernels, ${tail} (install the CUDA toolkit or \`pip install nvidia-cuda-nvrtc\`)` };
  }
  const nvrtc = bindNvrtc(nv.loaded.lib).api;
  const maj: [number] = [0], min: [number] = [0];
  nvrtc.nvrtcVersion(maj, min);
  return {
    rt: {
      driver, nvrtc, driverVersion: ver[0], nvrtcVersion: [maj[0], min[0]], deviceCount: count[0],
      paths: { cuda: cu.loaded.path, nvrtc: nv.loaded.path }, opts,
    },
    reason: null,
  };
}

const truthy = (v: string | undefined) => v !== undefined && v !== '' && v !== '0' && v.toLowerCase() !== 'false';

/** How loadOptional finds, checks and binds one optional library (cuBLAS, cuDNN). */
interface OptionalLib<T> {
  /** Its name in messages. */
  label: string;
  /** Sibling libraries it links against (unversioned names; the candidate's soname major is appended), made resident first. */
  siblings: string[];
  bind: (lib: Loaded['lib']) => { api: T; missing: string[] };
  /** Why a library that lacks functions we bind is passed over. */
  lacks: string;
  order?: (c: Candidate[]) => Candidate[];
  /** Runs just before the search (after the cache and the disable switch). */
  before?: () => void;
}

/**
 * Loads an optional library once: the result (the bound API, or null with a one-line note
 * saying why) stays on the runtime, so later calls and cudaInfo() read it back.
 * TORCHLET_CUDA_DISABLE_<NAME> turns it off.
 */
function loadOptional<K extends 'cublas' | 'cudnn'>(rt: CudaRuntime, name: K, lib: OptionalLib<NonNullable<CudaRuntime[K]>>): NonNullable<CudaRuntime[K]> | null {
  const cached = rt[name];
  if (cached !== undefined) return cached ?? null; // null: tried before and unavailable
  const note = `${name}Note` as const;
  const disable = `TORCHLET_CUDA_DISABLE_${name.toUpperCase()}`;
  const env = rt.opts.env ?? process.env;
  if (truthy(env[disable])) {
    rt[name] = null;
    rt[note] = `disabled by ${disable}`;
    return null;
  }
  lib.before?.();
  const r = loadFirst(LIBS[name], rt.opts, {
    order: lib.order,
    preload: (dir, c) => {
      const m = sonameMajor(c.name);
      preloadSiblings(dir, lib.siblings.map((p) => (m ? `${p}.${m}` : p)), rt.opts.readdir);
    },
    accept: (l: Loaded) => (lib.bind(l.lib).missing.length ? lib.lacks : null),
  });
  if (!r.loaded) {
    rt[name] = null;
    rt[note] = r.found ? `${lib.label} could not be loaded: ${r.errors.join('; ')}` : `${lib.label} was not found`;
    return null;
  }
  rt.paths[name] = r.loaded.path;
  const api = lib.bind(r.loaded.lib).api;
  rt[name] = api;
  return api;
}

/** Loads cuBLAS (for matmul) once; sets rt.cublas to null with a note when unavailable. */
export function loadCublas(rt: CudaRuntime): Cublas | null {
  return loadOptional(rt, 'cublas', {
    label: 'cuBLAS', siblings: ['libcublasLt.so'], bind: bindCublas, lacks: 'missing cublasGemmStridedBatchedEx',
    order: preferCompatible(Math.floor(rt.driverVersion / 1000)),
  });
}

const CUDNN_SUBLIBS = ['libcudnn_graph.so', 'libcudnn_engines_precompiled.so', 'libcudnn_engines_runtime_compiled.so', 'libcudnn_heuristic.so', 'libcudnn_ops.so', 'libcudnn_cnn.so', 'libcudnn_ops_infer.so', 'libcudnn_cnn_infer.so'];

/** Loads cuDNN (for conv2d) once; null with a note when unavailable. */
export function loadCudnn(rt: CudaRuntime): Cudnn | null {
  return loadOptional(rt, 'cudnn', {
    label: 'cuDNN', siblings: CUDNN_SUBLIBS, bind: bindCudnn, lacks: 'missing legacy convolution functions',
    // cuDNN's engines link against cuBLAS(Lt); have it resident first
    before: () => { loadCublas(rt); },
  });
}

export function libDir(p: string): string {
  return p.includes('/') ? path.dirname(p) : '(system loader)';
}
