/**
 * Typed koffi bindings for the pieces of the CUDA driver API, NVRTC, cuBLAS and cuDNN the
 * backend calls. Prototypes follow cuda.h (CUDA 12/13), nvrtc.h, cublas_api.h and cudnn
 * (legacy convolution API); versioned symbols are the ones cuda.h #defines the plain names to.
 * Pointers are bigint (koffi 3); CUdeviceptr is uint64.
 */
import type { LibraryHandle } from 'koffi';

type Fn = (...args: any[]) => any;
type Out<T> = [T];

// ---------- driver API ----------

export const CUDA_SUCCESS = 0;
export const CUDA_ERROR_OUT_OF_MEMORY = 2;
export const CUDA_ERROR_NOT_READY = 600;
export const CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK = 1;
export const CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT = 16;
export const CU_DEVICE_ATTRIBUTE_CAN_MAP_HOST_MEMORY = 19;
export const CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75;
export const CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76;
export const CU_MEMHOSTALLOC_PORTABLE = 0x01;
export const CU_MEMHOSTALLOC_DEVICEMAP = 0x02;
export const CU_EVENT_DISABLE_TIMING = 0x2;
export const CU_STREAM_NON_BLOCKING = 0x1;

export interface Driver {
  cuInit(flags: number): number;
  cuDriverGetVersion(v: Out<number>): number;
  cuDeviceGetCount(n: Out<number>): number;
  cuDeviceGet(dev: Out<number>, ordinal: number): number;
  cuDeviceGetAttribute(v: Out<number>, attr: number, dev: number): number;
  cuDeviceGetName(buf: Uint8Array, len: number, dev: number): number;
  cuDeviceTotalMem_v2(bytes: Out<number>, dev: number): number;
  cuDevicePrimaryCtxRetain(ctx: Out<bigint | null>, dev: number): number;
  cuDevicePrimaryCtxRelease_v2(dev: number): number;
  cuCtxSetCurrent(ctx: bigint | null): number;
  cuStreamCreate(s: Out<bigint | null>, flags: number): number;
  cuStreamSynchronize(s: bigint | null): number;
  cuStreamDestroy_v2(s: bigint | null): number;
  cuMemAlloc_v2(p: Out<number | bigint>, bytes: number): number;
  cuMemFree_v2(p: bigint): number;
  cuMemGetInfo_v2(free: Out<number>, total: Out<number>): number;
  cuMemHostAlloc(p: Out<bigint | null>, bytes: number, flags: number): number;
  cuMemFreeHost(p: bigint): number;
  cuMemHostGetDevicePointer_v2(d: Out<number | bigint>, p: bigint, flags: number): number;
  cuMemcpyHtoDAsync_v2(dst: bigint, src: bigint | ArrayBufferView, bytes: number, s: bigint | null): number;
  cuMemcpyDtoHAsync_v2(dst: bigint | ArrayBufferView, src: bigint, bytes: number, s: bigint | null): number;
  cuMemcpyDtoH_v2(dst: bigint | ArrayBufferView, src: bigint, bytes: number): number;
  cuMemcpyDtoDAsync_v2(dst: bigint, src: bigint, bytes: number, s: bigint | null): number;
  cuMemsetD8Async(dst: bigint, v: number, n: number, s: bigint | null): number;
  cuMemsetD16Async(dst: bigint, v: number, n: number, s: bigint | null): number;
  cuMemsetD32Async(dst: bigint, v: number, n: number, s: bigint | null): number;
  cuEventCreate(e: Out<bigint | null>, flags: number): number;
  cuEventRecord(e: bigint, s: bigint | null): number;
  cuEventQuery(e: bigint): number;
  cuEventSynchronize(e: bigint): number;
  cuEventDestroy_v2(e: bigint): number;
  cuModuleLoadData(m: Out<bigint | null>, image: Uint8Array): number;
  cuModuleGetFunction(f: Out<bigint | null>, m: bigint, name: string): number;
  cuLaunchKernel(f: bigint, gx: number, gy: number, gz: number, bx: number, by: number, bz: number, shmem: number, s: bigint | null, params: bigint, extra: null): number;
  cuGetErrorName(e: number, s: Out<string | null>): number;
  cuGetErrorString(e: number, s: Out<string | null>): number;
}

const DRIVER_PROTOS = [
  'int cuInit(unsigned int flags)',
  'int cuDriverGetVersion(_Out_ int *v)',
  'int cuDeviceGetCount(_Out_ int *n)',
  'int cuDeviceGet(_Out_ int *dev, int ordinal)',
  'int cuDeviceGetAttribute(_Out_ int *v, int attr, int dev)',
  'int cuDeviceGetName(void *buf, int len, int dev)',
  'int cuDeviceTotalMem_v2(_Out_ size_t *bytes, int dev)',
  'int cuDevicePrimaryCtxRetain(_Out_ void **ctx, int dev)',
  'int cuDevicePrimaryCtxRelease_v2(int dev)',
  'int cuCtxSetCurrent(void *ctx)',
  'int cuStreamCreate(_Out_ void **s, unsigned int flags)',
  'int cuStreamSynchronize(void *s)',
  'int cuStreamDestroy_v2(void *s)',
  'int cuMemAlloc_v2(_Out_ uint64_t *p, size_t bytes)',
  'int cuMemFree_v2(uint64_t p)',
  'int cuMemGetInfo_v2(_Out_ size_t *free, _Out_ size_t *total)',
  'int cuMemHostAlloc(_Out_ void **p, size_t bytes, unsigned int flags)',
  'int cuMemFreeHost(void *p)',
  'int cuMemHostGetDevicePointer_v2(_Out_ uint64_t *d, void *p, unsigned int flags)',
  'int cuMemcpyHtoDAsync_v2(uint64_t dst, const void *src, size_t bytes, void *s)',
  'int cuMemcpyDtoHAsync_v2(void *dst, uint64_t src, size_t bytes, void *s)',
  'int cuMemcpyDtoH_v2(void *dst, uint64_t src, size_t bytes)',
  'int cuMemcpyDtoDAsync_v2(uint64_t dst, uint64_t src, size_t bytes, void *s)',
  'int cuMemsetD8Async(uint64_t dst, uint8_t v, size_t n, void *s)',
  'int cuMemsetD16Async(uint64_t dst, uint16_t v, size_t n, void *s)',
  'int cuMemsetD32Async(uint64_t dst, uint32_t v, size_t n, void *s)',
  'int cuEventCreate(_Out_ void **e, unsigned int flags)',
  'int cuEventRecord(void *e, void *s)',
  'int cuEventQuery(void *e)',
  'int cuEventSynchronize(void *e)',
  'int cuEventDestroy_v2(void *e)',
  'int cuModuleLoadData(_Out_ void **m, const void *image)',
  'int cuModuleGetFunction(_Out_ void **f, void *m, const char *name)',
  'int cuLaunchKernel(void *f, unsigned int gx, unsigned int gy, unsigned int gz, unsigned int bx, unsigned int by, unsigned int bz, unsigned int shmem, void *s, void *params, void *extra)',
  'int cuGetErrorName(int e, _Out_ const char **s)',
  'int cuGetErrorString(int e, _Out_ const char **s)',
];

function nameOf(proto: string): string {
  const m = /([A-Za-z_][A-Za-z0-9_]*)\s*\(/.exec(proto);
  if (!m) throw new Error(`bad prototype ${proto}`);
  return m[1];
}

/** Binds every prototype; missing symbols are collected instead of thrown. */
function bindAll<T>(lib: LibraryHandle, protos: string[], optional: string[] = []): { api: T; missing: string[] } {
  const api: Record<string, Fn> = {};
  const missing: string[] = [];
  for (const p of protos) {
    const name = nameOf(p);
    try {
      api[name] = lib.func(p) as Fn;
    } catch {
      if (!optional.includes(name)) missing.push(name);
    }
  }
  return { api: api as T, missing };
}

export function bindDriver(lib: LibraryHandle): { api: Driver; missing: string[] } {
  return bindAll<Driver>(lib, DRIVER_PROTOS);
}

// ---------- NVRTC ----------

export interface Nvrtc {
  nvrtcVersion(major: Out<number>, minor: Out<number>): number;
  nvrtcGetNumSupportedArchs?(n: Out<number>): number;
  nvrtcGetSupportedArchs?(archs: Int32Array): number;
  nvrtcCreateProgram(prog: Out<bigint | null>, src: string, name: string, numHeaders: number, headers: null, includeNames: null): number;
  nvrtcCompileProgram(prog: bigint, numOptions: number, options: string[]): number;
  nvrtcGetProgramLogSize(prog: bigint, size: Out<number>): number;
  nvrtcGetProgramLog(prog: bigint, buf: Uint8Array): number;
  nvrtcGetPTXSize(prog: bigint, size: Out<number>): number;
  nvrtcGetPTX(prog: bigint, buf: Uint8Array): number;
  nvrtcGetCUBINSize?(prog: bigint, size: Out<number>): number;
  nvrtcGetCUBIN?(prog: bigint, buf: Uint8Array): number;
  nvrtcDestroyProgram(prog: [bigint | null]): number;
  nvrtcGetErrorString(r: number): string;
}

const NVRTC_PROTOS = [
  'int nvrtcVersion(_Out_ int *major, _Out_ int *minor)',
  'int nvrtcGetNumSupportedArchs(_Out_ int *n)',
  'int nvrtcGetSupportedArchs(void *archs)',
  'int nvrtcCreateProgram(_Out_ void **prog, const char *src, const char *name, int numHeaders, const char **headers, const char **includeNames)',
  'int nvrtcCompileProgram(void *prog, int numOptions, const char **options)',
  'int nvrtcGetProgramLogSize(void *prog, _Out_ size_t *size)',
  'int nvrtcGetProgramLog(void *prog, void *log)',
  'int nvrtcGetPTXSize(void *prog, _Out_ size_t *size)',
  'int nvrtcGetPTX(void *prog, void *ptx)',
  'int nvrtcGetCUBINSize(void *prog, _Out_ size_t *size)',
  'int nvrtcGetCUBIN(void *prog, void *cubin)',
  'int nvrtcDestroyProgram(_Inout_ void **prog)',
  'const char *nvrtcGetErrorString(int result)',
];

export function bindNvrtc(lib: LibraryHandle): { api: Nvrtc; missing: string[] } {
  return bindAll<Nvrtc>(lib, NVRTC_PROTOS, ['nvrtcGetNumSupportedArchs', 'nvrtcGetSupportedArchs', 'nvrtcGetCUBINSize', 'nvrtcGetCUBIN']);
}

// ---------- cuBLAS ----------

export const CUBLAS_OP_N = 0;
export const CUBLAS_OP_T = 1;
export const CUDA_R_32F = 0;
export const CUDA_R_64F = 1;
export const CUDA_R_16F = 2;
export const CUDA_R_16BF = 14;
export const CUBLAS_COMPUTE_32F = 68;
export const CUBLAS_COMPUTE_64F = 70;
export const CUBLAS_GEMM_DEFAULT = -1;

export interface Cublas {
  cublasCreate_v2(h: Out<bigint | null>): number;
  cublasDestroy_v2(h: bigint): number;
  cublasSetStream_v2(h: bigint, s: bigint | null): number;
  cublasGemmStridedBatchedEx(
    h: bigint, transa: number, transb: number, m: number, n: number, k: number,
    alpha: Float32Array | Float64Array, A: bigint, Atype: number, lda: number, strideA: number,
    B: bigint, Btype: number, ldb: number, strideB: number,
    beta: Float32Array | Float64Array, C: bigint, Ctype: number, ldc: number, strideC: number,
    batchCount: number, computeType: number, algo: number,
  ): number;
}

const CUBLAS_PROTOS = [
  'int cublasCreate_v2(_Out_ void **handle)',
  'int cublasDestroy_v2(void *handle)',
  'int cublasSetStream_v2(void *handle, void *stream)',
  'int cublasGemmStridedBatchedEx(void *handle, int transa, int transb, int m, int n, int k, const void *alpha, uint64_t A, int Atype, int lda, int64_t strideA, uint64_t B, int Btype, int ldb, int64_t strideB, const void *beta, uint64_t C, int Ctype, int ldc, int64_t strideC, int batchCount, int computeType, int algo)',
];

export function bindCublas(lib: LibraryHandle): { api: Cublas; missing: string[] } {
  return bindAll<Cublas>(lib, CUBLAS_PROTOS);
}

// ---------- cuDNN (legacy convolution API, present in cuDNN 8 and 9) ----------

export const CUDNN_DATA_FLOAT = 0;
export const CUDNN_DATA_DOUBLE = 1;
export const CUDNN_DATA_HALF = 2;
export const CUDNN_DATA_BFLOAT16 = 9;
export const CUDNN_TENSOR_NCHW = 0;
export const CUDNN_CROSS_CORRELATION = 1;
export const CUDNN_FWD_ALGO_IMPLICIT_GEMM = 0;
export const CUDNN_FWD_ALGO_IMPLICIT_PRECOMP_GEMM = 1;
/** cudnnMathType_t: FMA only (no TF32 down-conversion of float32). */
export const CUDNN_FMA_MATH = 3;

export interface Cudnn {
  cudnnGetVersion(): number;
  cudnnCreate(h: Out<bigint | null>): number;
  cudnnSetStream(h: bigint, s: bigint | null): number;
  cudnnCreateTensorDescriptor(d: Out<bigint | null>): number;
  cudnnDestroyTensorDescriptor(d: bigint): number;
  cudnnSetTensor4dDescriptorEx(d: bigint, dt: number, n: number, c: number, h: number, w: number, ns: number, cs: number, hs: number, ws: number): number;
  cudnnCreateFilterDescriptor(d: Out<bigint | null>): number;
  cudnnDestroyFilterDescriptor(d: bigint): number;
  cudnnSetFilter4dDescriptor(d: bigint, dt: number, fmt: number, k: number, c: number, h: number, w: number): number;
  cudnnCreateConvolutionDescriptor(d: Out<bigint | null>): number;
  cudnnDestroyConvolutionDescriptor(d: bigint): number;
  cudnnSetConvolution2dDescriptor(d: bigint, padH: number, padW: number, u: number, v: number, dilH: number, dilW: number, mode: number, computeType: number): number;
  cudnnSetConvolutionGroupCount(d: bigint, groups: number): number;
  cudnnSetConvolutionMathType?(d: bigint, mathType: number): number;
  cudnnGetConvolutionForwardWorkspaceSize(h: bigint, x: bigint, w: bigint, conv: bigint, y: bigint, algo: number, size: Out<number>): number;
  cudnnConvolutionForward(h: bigint, alpha: Float32Array | Float64Array, xd: bigint, x: bigint, wd: bigint, w: bigint, conv: bigint, algo: number, ws: bigint, wsSize: number, beta: Float32Array | Float64Array, yd: bigint, y: bigint): number;
  cudnnGetErrorString(s: number): string;
}

const CUDNN_PROTOS = [
  'size_t cudnnGetVersion()',
  'int cudnnCreate(_Out_ void **handle)',
  'int cudnnSetStream(void *handle, void *stream)',
  'int cudnnCreateTensorDescriptor(_Out_ void **d)',
  'int cudnnDestroyTensorDescriptor(void *d)',
  'int cudnnSetTensor4dDescriptorEx(void *d, int dataType, int n, int c, int h, int w, int nStride, int cStride, int hStride, int wStride)',
  'int cudnnCreateFilterDescriptor(_Out_ void **d)',
  'int cudnnDestroyFilterDescriptor(void *d)',
  'int cudnnSetFilter4dDescriptor(void *d, int dataType, int format, int k, int c, int h, int w)',
  'int cudnnCreateConvolutionDescriptor(_Out_ void **d)',
  'int cudnnDestroyConvolutionDescriptor(void *d)',
  'int cudnnSetConvolution2dDescriptor(void *d, int padH, int padW, int u, int v, int dilationH, int dilationW, int mode, int computeType)',
  'int cudnnSetConvolutionGroupCount(void *d, int groupCount)',
  'int cudnnSetConvolutionMathType(void *d, int mathType)',
  'int cudnnGetConvolutionForwardWorkspaceSize(void *handle, void *xDesc, void *wDesc, void *convDesc, void *yDesc, int algo, _Out_ size_t *size)',
  'int cudnnConvolutionForward(void *handle, const void *alpha, void *xDesc, uint64_t x, void *wDesc, uint64_t w, void *convDesc, int algo, uint64_t workSpace, size_t workSpaceSize, const void *beta, void *yDesc, uint64_t y)',
  'const char *cudnnGetErrorString(int status)',
];

export function bindCudnn(lib: LibraryHandle): { api: Cudnn; missing: string[] } {
  return bindAll<Cudnn>(lib, CUDNN_PROTOS, ['cudnnSetConvolutionMathType']);
}
