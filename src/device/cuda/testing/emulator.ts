/**
 * Host emulator for testing the cuda backend without a GPU (test tooling; not imported by the
 * library). It builds, with the system C/C++ compiler, stand-ins for:
 * - libcuda.so.1: memory is host memory (each allocation fenced by guard bytes that every sync
 *   checks, fresh allocations filled with 0xCD), launches call into the kernel module,
 *   events report "not ready" a couple of times so the async read path is exercised;
 * - libnvrtc.so.12 (+ an empty libnvrtc-builtins): compiles the generated CUDA source as C++
 *   (g++ -DTL_HOST_EMU, with a header that runs each block's threads as fibers so __shared__
 *   and __syncthreads behave as on a GPU); the "cubin" is the path of the built .so;
 * - libcublas.so.12 (+ empty libcublasLt): a column-major reference GEMM that rejects invalid
 *   leading dimensions and type combinations as cuBLAS does;
 * - libcudnn.so.9: the legacy convolution API over a direct reference convolution.
 * Everything torchlet does above the driver (FFI signatures as declared in ffi.ts, argument
 * packing, allocator, staging, kernel logic, cuBLAS/cuDNN argument mapping) runs for real.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { EMU_HEADER, MOCK_CUDA, MOCK_NVRTC, MOCK_CUBLAS, MOCK_CUDNN } from './emu-sources.js';

export interface Emulator {
  /** Folder holding the fake libraries (point the loader's LD_LIBRARY_PATH here). */
  libDir: string;
  /** Environment for createCudaFactory({ env, envOnly: true }). */
  env: Record<string, string>;
}

const have = (cmd: string) => {
  const r = spawnSync(cmd, ['--version'], { stdio: 'ignore' });
  return r.status === 0;
};

/** Builds (or reuses) the emulator libraries; null with a reason when no compiler is available. */
export function buildEmulator(opts: { withCublas?: boolean; withCudnn?: boolean } = {}): { emu: Emulator | null; reason: string | null } {
  const withCublas = opts.withCublas ?? true, withCudnn = opts.withCudnn ?? true;
  if (!have('gcc') || !have('g++')) return { emu: null, reason: 'gcc/g++ not found (the host emulator compiles fake CUDA libraries and the kernels with them)' };
  const hash = createHash('sha256').update([EMU_HEADER, MOCK_CUDA, MOCK_NVRTC, MOCK_CUBLAS, MOCK_CUDNN, String(withCublas), String(withCudnn)].join('\0')).digest('hex').slice(0, 16);
  const root = path.join(os.tmpdir(), `torchlet-cuda-emu-${process.getuid?.() ?? 0}-${hash}`);
  const libDir = path.join(root, 'lib');
  const env = { LD_LIBRARY_PATH: libDir, TORCHLET_CUDA_CACHE_DIR: path.join(root, 'kernel-cache') };
  if (fs.existsSync(path.join(libDir, 'libcuda.so.1'))) return { emu: { libDir, env }, reason: null };
  const work = `${root}.build-${process.pid}`;
  fs.rmSync(work, { recursive: true, force: true });
  fs.mkdirSync(path.join(work, 'lib'), { recursive: true });
  const src = (name: string, text: string) => {
    const p = path.join(work, name);
    fs.writeFileSync(p, text);
    return p;
  };
  const cc = (out: string, file: string | null) => {
    const args = ['-shared', '-fPIC', '-O1', '-w', '-o', path.join(work, 'lib', out)];
    if (file) args.push(file, '-ldl');
    else args.push('-x', 'c', '-');
    const r = spawnSync('gcc', args, { input: file ? undefined : 'int tl_emu_empty;\n', encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`building ${out} failed:\n${r.stderr}`);
  };
  try {
    fs.writeFileSync(path.join(work, 'lib', 'emu.h'), EMU_HEADER);
    cc('libcuda.so.1', src('mock_cuda.c', MOCK_CUDA));
    cc('libnvrtc.so.12', src('mock_nvrtc.c', MOCK_NVRTC));
    cc('libnvrtc-builtins.so.12.4', null);
    if (withCublas) {
      cc('libcublas.so.12', src('mock_cublas.c', MOCK_CUBLAS));
      cc('libcublasLt.so.12', null);
    }
    if (withCudnn) cc('libcudnn.so.9', src('mock_cudnn.c', MOCK_CUDNN));
    try {
      fs.renameSync(work, root);
    } catch {
      fs.rmSync(work, { recursive: true, force: true }); // built concurrently by someone else
    }
  } catch (e) {
    fs.rmSync(work, { recursive: true, force: true });
    return { emu: null, reason: (e as Error).message };
  }
  return { emu: { libDir, env }, reason: null };
}
