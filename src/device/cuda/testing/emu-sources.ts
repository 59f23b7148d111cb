/**
 * C/C++ sources of the host emulator (see emulator.ts): stand-ins for libcuda, NVRTC, cuBLAS
 * and cuDNN that run torchlet's generated CUDA kernels on the CPU. Test tooling only.
 */
import { softHalfC, bfloat16C } from '../codegen.js';

/** Force-included into every kernel module compiled by the fake NVRTC (g++ -DTL_HOST_EMU). */
export const EMU_HEADER = String.raw`
#include <cmath>
#include <math.h>
#include <string.h>
#include <stdlib.h>
#include <ucontext.h>
struct tl_dim3 { unsigned x, y, z; };
static tl_dim3 threadIdx, blockIdx, blockDim, gridDim;
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __shared__ static
static inline float __int_as_float(int v) { float f; memcpy(&f, &v, 4); return f; }
static inline float __uint_as_float(unsigned v) { float f; memcpy(&f, &v, 4); return f; }
static inline unsigned __float_as_uint(float f) { unsigned v; memcpy(&v, &f, 4); return v; }
static inline int __float_as_int(float f) { int v; memcpy(&v, &f, 4); return v; }
static inline long long __double_as_longlong(double d) { long long v; memcpy(&v, &d, 8); return v; }
static inline double __longlong_as_double(long long v) { double d; memcpy(&d, &v, 8); return d; }
// one OS thread runs every emulated thread, so atomics are plain read-modify-writes
static inline float atomicAdd(float* p, float v) { float o = *p; *p = o + v; return o; }
static inline double atomicAdd(double* p, double v) { double o = *p; *p = o + v; return o; }
static inline int atomicAdd(int* p, int v) { int o = *p; *p = (int)((unsigned)o + (unsigned)v); return o; }
static inline unsigned long long atomicAdd(unsigned long long* p, unsigned long long v) { unsigned long long o = *p; *p = o + v; return o; }
static inline unsigned atomicCAS(unsigned* p, unsigned c, unsigned v) { unsigned o = *p; if (o == c) *p = v; return o; }
static inline unsigned long long atomicCAS(unsigned long long* p, unsigned long long c, unsigned long long v) { unsigned long long o = *p; if (o == c) *p = v; return o; }

// Blocks run one after another; within a block, kernels that use __syncthreads run every thread
// as a fiber (ucontext), switching at each barrier, so shared memory and barriers behave as on a GPU.
#define TL_STACK (64 * 1024)
static ucontext_t tl_sched;
static ucontext_t* tl_fib = 0;
static char* tl_stk = 0;
static unsigned char* tl_done = 0;
static int tl_cap = 0, tl_cur = 0;
static void (*tl_fn)(void**) = 0;
static void** tl_args = 0;
static void tl_set_tid(int t) {
  threadIdx.x = t % blockDim.x;
  threadIdx.y = (t / blockDim.x) % blockDim.y;
  threadIdx.z = t / (blockDim.x * blockDim.y);
}
static void __syncthreads() {
  int me = tl_cur;
  swapcontext(&tl_fib[me], &tl_sched);
  tl_set_tid(me);
}
static void tl_fiber_main() { tl_fn(tl_args); tl_done[tl_cur] = 1; }
static void tl_emu_grid(const unsigned* g, const unsigned* b, void** p, void (*fn)(void**), int barrier) {
  gridDim.x = g[0]; gridDim.y = g[1]; gridDim.z = g[2];
  blockDim.x = b[0]; blockDim.y = b[1]; blockDim.z = b[2];
  int nt = (int)(b[0] * b[1] * b[2]);
  tl_fn = fn; tl_args = p;
  if (barrier && nt > tl_cap) {
    free(tl_fib); free(tl_stk); free(tl_done);
    tl_fib = (ucontext_t*)calloc(nt, sizeof(ucontext_t));
    tl_stk = (char*)malloc((size_t)nt * TL_STACK);
    tl_done = (unsigned char*)calloc(nt, 1);
    tl_cap = nt;
  }
  for (unsigned bz = 0; bz < g[2]; ++bz)
    for (unsigned by = 0; by < g[1]; ++by)
      for (unsigned bx = 0; bx < g[0]; ++bx) {
        blockIdx.x = bx; blockIdx.y = by; blockIdx.z = bz;
        if (!barrier) {
          for (int t = 0; t < nt; ++t) { tl_set_tid(t); fn(p); }
          continue;
        }
        for (int t = 0; t < nt; ++t) {
          getcontext(&tl_fib[t]);
          tl_fib[t].uc_stack.ss_sp = tl_stk + (size_t)t * TL_STACK;
          tl_fib[t].uc_stack.ss_size = TL_STACK;
          tl_fib[t].uc_link = &tl_sched;
          makecontext(&tl_fib[t], tl_fiber_main, 0);
          tl_done[t] = 0;
        }
        int left = nt;
        while (left > 0)
          for (int t = 0; t < nt; ++t)
            if (!tl_done[t]) {
              tl_cur = t;
              tl_set_tid(t);
              swapcontext(&tl_sched, &tl_fib[t]);
              if (tl_done[t]) --left;
            }
      }
}
`;

/** libcuda.so.1 stand-in: memory is host memory with guard bytes; kernels run through the emulator. */
export const MOCK_CUDA = String.raw`
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <stdint.h>
#include <dlfcn.h>
typedef unsigned long long CUdeviceptr;
#define GUARD 64
#define FILLER 0xCD
#define GUARDBYTE 0xAB
typedef struct Block { struct Block* next; unsigned char* base; size_t size; } Block;
static Block* live = 0;
static long long launches = 0, allocs = 0, bad_guard = 0;
static int guard_ok(Block* b) {
  for (int i = 0; i < GUARD; ++i) if (b->base[i] != GUARDBYTE || b->base[GUARD + b->size + i] != GUARDBYTE) return 0;
  return 1;
}
static int check_all(void) {
  for (Block* b = live; b; b = b->next) if (!guard_ok(b)) { bad_guard++; return 0; }
  return 1;
}
static const char* names[] = { "CUDA_SUCCESS", "CUDA_ERROR_INVALID_VALUE", "CUDA_ERROR_OUT_OF_MEMORY" };
int cuInit(unsigned f) { (void)f; return 0; }
int cuDriverGetVersion(int* v) { const char* e = getenv("TL_EMU_DRIVER_VERSION"); *v = e ? atoi(e) : 12040; return 0; }
int cuDeviceGetCount(int* n) { const char* e = getenv("TL_EMU_DEVICES"); *n = e ? atoi(e) : 1; return 0; }
int cuDeviceGet(int* d, int o) { *d = o; return 0; }
int cuDeviceGetAttribute(int* v, int a, int d) {
  (void)d;
  switch (a) { case 75: *v = 8; break; case 76: *v = 0; break; case 16: *v = 2; break; case 19: *v = 1; break; case 1: *v = 1024; break; default: *v = 0; }
  return 0;
}
int cuDeviceGetName(char* b, int len, int d) { snprintf(b, len, "torchlet host emulator #%d", d); return 0; }
int cuDeviceTotalMem_v2(size_t* b, int d) { (void)d; *b = (size_t)1 << 32; return 0; }
int cuDevicePrimaryCtxRetain(void** c, int d) { *c = (void*)(uintptr_t)(0x1000 + d); return 0; }
int cuDevicePrimaryCtxRelease_v2(int d) { (void)d; return 0; }
int cuCtxSetCurrent(void* c) { (void)c; return 0; }
int cuStreamCreate(void** s, unsigned f) { (void)f; *s = malloc(8); return 0; }
int cuStreamSynchronize(void* s) { (void)s; return check_all() ? 0 : 700; }
int cuStreamDestroy_v2(void* s) { free(s); return 0; }
int cuMemAlloc_v2(CUdeviceptr* p, size_t n) {
  const char* lim = getenv("TL_EMU_MEM_LIMIT");
  if (lim && n > (size_t)atoll(lim)) return 2;
  Block* b = (Block*)malloc(sizeof(Block));
  b->base = (unsigned char*)malloc(n + 2 * GUARD);
  if (!b->base) { free(b); return 2; }
  b->size = n;
  memset(b->base, GUARDBYTE, GUARD);
  memset(b->base + GUARD, FILLER, n);
  memset(b->base + GUARD + n, GUARDBYTE, GUARD);
  b->next = live; live = b; allocs++;
  *p = (CUdeviceptr)(uintptr_t)(b->base + GUARD);
  return 0;
}
int cuMemFree_v2(CUdeviceptr p) {
  for (Block** pb = &live; *pb; pb = &(*pb)->next) {
    Block* b = *pb;
    if ((CUdeviceptr)(uintptr_t)(b->base + GUARD) == p) {
      int ok = guard_ok(b);
      *pb = b->next; free(b->base); free(b);
      if (!ok) bad_guard++;
      return ok ? 0 : 700;
    }
  }
  return 1;
}
int cuMemGetInfo_v2(size_t* f, size_t* t) { *f = (size_t)1 << 31; *t = (size_t)1 << 32; return 0; }
int cuMemHostAlloc(void** p, size_t n, unsigned f) { (void)f; *p = malloc(n ? n : 1); return 0; }
int cuMemFreeHost(void* p) { free(p); return 0; }
int cuMemHostGetDevicePointer_v2(CUdeviceptr* d, void* p, unsigned f) { (void)f; *d = (CUdeviceptr)(uintptr_t)p; return 0; }
int cuMemcpyHtoDAsync_v2(CUdeviceptr d, const void* s, size_t n, void* st) { (void)st; memcpy((void*)(uintptr_t)d, s, n); return 0; }
int cuMemcpyDtoHAsync_v2(void* d, CUdeviceptr s, size_t n, void* st) { (void)st; memcpy(d, (void*)(uintptr_t)s, n); return 0; }
int cuMemcpyDtoH_v2(void* d, CUdeviceptr s, size_t n) { memcpy(d, (void*)(uintptr_t)s, n); return 0; }
int cuMemcpyDtoDAsync_v2(CUdeviceptr d, CUdeviceptr s, size_t n, void* st) { (void)st; memmove((void*)(uintptr_t)d, (void*)(uintptr_t)s, n); return 0; }
int cuMemsetD8Async(CUdeviceptr d, unsigned char v, size_t n, void* st) { (void)st; memset((void*)(uintptr_t)d, v, n); return 0; }
int cuMemsetD16Async(CUdeviceptr d, unsigned short v, size_t n, void* st) { (void)st; if (d & 1) return 1; unsigned short* p = (unsigned short*)(uintptr_t)d; for (size_t i = 0; i < n; ++i) p[i] = v; return 0; }
int cuMemsetD32Async(CUdeviceptr d, unsigned v, size_t n, void* st) { (void)st; if (d & 3) return 1; unsigned* p = (unsigned*)(uintptr_t)d; for (size_t i = 0; i < n; ++i) p[i] = v; return 0; }
typedef struct { int polls; } Event;
int cuEventCreate(void** e, unsigned f) { (void)f; *e = calloc(1, sizeof(Event)); return 0; }
int cuEventRecord(void* e, void* s) { (void)s; ((Event*)e)->polls = 2; return 0; }
int cuEventQuery(void* e) { Event* ev = (Event*)e; if (ev->polls > 0) { ev->polls--; return 600; } return check_all() ? 0 : 700; }
int cuEventSynchronize(void* e) { ((Event*)e)->polls = 0; return check_all() ? 0 : 700; }
int cuEventDestroy_v2(void* e) { free(e); return 0; }
int cuModuleLoadData(void** m, const void* image) {
  void* h = dlopen((const char*)image, RTLD_NOW | RTLD_LOCAL);
  if (!h) { fprintf(stderr, "emu cuModuleLoadData: %s\n", dlerror()); return 200; }
  *m = h; return 0;
}
int cuModuleGetFunction(void** f, void* m, const char* name) {
  char sym[512]; snprintf(sym, sizeof sym, "tl_emu_%s", name);
  void* p = dlsym(m, sym);
  if (!p) return 500;
  *f = p; return 0;
}
typedef void (*Tramp)(const unsigned*, const unsigned*, void**);
int cuLaunchKernel(void* f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz, unsigned shmem, void* s, void** params, void** extra) {
  (void)shmem; (void)s; (void)extra;
  if (!gx || !gy || !gz || !bx || !by || !bz) return 1;
  if (gx > 2147483647u || gy > 65535u || gz > 65535u || bx > 1024u || by > 1024u || bz > 64u || (unsigned long long)bx * by * bz > 1024ull) return 1;
  unsigned g[3] = { gx, gy, gz }, b[3] = { bx, by, bz };
  ((Tramp)f)(g, b, params);
  launches++;
  return check_all() ? 0 : 700;
}
int cuGetErrorName(int e, const char** s) {
  *s = e == 0 ? names[0] : e == 1 ? names[1] : e == 2 ? names[2] : e == 700 ? "CUDA_ERROR_ILLEGAL_ADDRESS" : e == 600 ? "CUDA_ERROR_NOT_READY" : "CUDA_ERROR_UNKNOWN";
  return 0;
}
int cuGetErrorString(int e, const char** s) { *s = e == 700 ? "guard bytes around an emulated allocation were overwritten" : "emulated error"; return 0; }
long long tl_emu_stat(int which) { return which == 0 ? launches : which == 1 ? allocs : bad_guard; }
`;

/** libnvrtc stand-in: "compiles" by building the source with g++ into a shared object (the image is its path). */
export const MOCK_NVRTC = String.raw`
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <dlfcn.h>
#include <unistd.h>
typedef struct { char* src; char* name; char* log; char* image; } Prog;
static char dir[4096];
static long counter = 0;
static void init_dir(void) {
  if (dir[0]) return;
  Dl_info info;
  dladdr((void*)&init_dir, &info);
  strncpy(dir, info.dli_fname, sizeof dir - 1);
  char* slash = strrchr(dir, '/');
  if (slash) *slash = 0;
}
int nvrtcVersion(int* a, int* b) { *a = 12; *b = 4; return 0; }
int nvrtcGetNumSupportedArchs(int* n) { *n = 3; return 0; }
int nvrtcGetSupportedArchs(int* a) { a[0] = 75; a[1] = 80; a[2] = 86; return 0; }
int nvrtcCreateProgram(Prog** p, const char* src, const char* name, int nh, const char** h, const char** in) {
  (void)nh; (void)h; (void)in;
  Prog* q = (Prog*)calloc(1, sizeof(Prog));
  q->src = strdup(src); q->name = strdup(name ? name : "k.cu");
  *p = q; return 0;
}
static char* slurp(const char* path) {
  FILE* f = fopen(path, "rb"); if (!f) return strdup("");
  fseek(f, 0, SEEK_END); long n = ftell(f); fseek(f, 0, SEEK_SET);
  char* b = (char*)malloc(n + 1); fread(b, 1, n, f); b[n] = 0; fclose(f); return b;
}
int nvrtcCompileProgram(Prog* p, int nopt, const char** opts) {
  init_dir();
  int arch = 0;
  for (int i = 0; i < nopt; ++i) if (!strncmp(opts[i], "--gpu-architecture=", 19)) arch = 1;
  if (!arch) { p->log = strdup("emulated nvrtc: no --gpu-architecture option"); return 7; }
  char base[4600], src[4700], so[4700], log[4700], cmd[16000];
  snprintf(base, sizeof base, "%s/k-%d-%ld", dir, (int)getpid(), counter++);
  snprintf(src, sizeof src, "%s.cpp", base); snprintf(so, sizeof so, "%s.so", base); snprintf(log, sizeof log, "%s.log", base);
  FILE* f = fopen(src, "wb"); if (!f) return 5;
  fputs(p->src, f); fclose(f);
  const char* cxx = getenv("TL_EMU_CXX"); if (!cxx) cxx = "g++";
  snprintf(cmd, sizeof cmd, "%s -std=c++17 -O1 -w -shared -fPIC -DTL_HOST_EMU=1 -include '%s/emu.h' -o '%s' '%s' > '%s' 2>&1", cxx, dir, so, src, log);
  int rc = system(cmd);
  p->log = slurp(log);
  unlink(log);
  if (rc != 0) return 6;
  unlink(src);
  p->image = strdup(so);
  return 0;
}
int nvrtcGetProgramLogSize(Prog* p, size_t* n) { *n = (p->log ? strlen(p->log) : 0) + 1; return 0; }
int nvrtcGetProgramLog(Prog* p, char* b) { strcpy(b, p->log ? p->log : ""); return 0; }
int nvrtcGetPTXSize(Prog* p, size_t* n) { *n = strlen(p->image) + 1; return 0; }
int nvrtcGetPTX(Prog* p, char* b) { strcpy(b, p->image); return 0; }
int nvrtcGetCUBINSize(Prog* p, size_t* n) { *n = strlen(p->image) + 1; return 0; }
int nvrtcGetCUBIN(Prog* p, char* b) { strcpy(b, p->image); return 0; }
int nvrtcDestroyProgram(Prog** p) { Prog* q = *p; free(q->src); free(q->name); free(q->log); free(q->image); free(q); *p = 0; return 0; }
const char* nvrtcGetErrorString(int r) { return r == 6 ? "NVRTC_ERROR_COMPILATION" : r == 0 ? "NVRTC_SUCCESS" : "NVRTC_ERROR"; }
`;

/**
 * 16-bit float helpers shared by the cuBLAS/cuDNN stand-ins: the kernels' own conversions
 * (codegen.ts), so a stand-in rounds exactly as an emulated kernel does.
 */
const HALF_C = String.raw`
static float __uint_as_float(unsigned v) { float f; memcpy(&f, &v, 4); return f; }
static unsigned __float_as_uint(float f) { unsigned v; memcpy(&v, &f, 4); return v; }
${softHalfC('static', '')}
${bfloat16C('static', '')}
/* dtype codes: cudaDataType (0 f32, 1 f64, 2 f16, 14 bf16) */
static double ld(const void* p, long long i, int t) {
  switch (t) { case 0: return ((const float*)p)[i]; case 1: return ((const double*)p)[i]; case 2: return h2f(((const unsigned short*)p)[i]); case 14: return bf2f(((const unsigned short*)p)[i]); }
  return 0;
}
static void st(void* p, long long i, int t, double v) {
  switch (t) { case 0: ((float*)p)[i] = (float)v; break; case 1: ((double*)p)[i] = v; break; case 2: ((unsigned short*)p)[i] = f2h((float)v); break; case 14: ((unsigned short*)p)[i] = f2bf((float)v); break; }
}
`;

/** libcublas stand-in: a reference column-major GEMM that validates its arguments like cuBLAS. */
export const MOCK_CUBLAS = String.raw`
#include <stdlib.h>
#include <string.h>
${HALF_C}
static long long gemms = 0;
int cublasCreate_v2(void** h) { *h = malloc(8); return 0; }
int cublasDestroy_v2(void* h) { free(h); return 0; }
int cublasSetStream_v2(void* h, void* s) { (void)h; (void)s; return 0; }
int cublasGemmStridedBatchedEx(void* h, int ta, int tb, int m, int n, int k, const void* alpha, const void* A, int At, int lda, long long sA,
    const void* B, int Bt, int ldb, long long sB, const void* beta, void* C, int Ct, int ldc, long long sC, int batch, int compute, int algo) {
  (void)h; (void)algo;
  if (At != Bt || At != Ct) return 7;
  if ((At == 1) != (compute == 70)) return 7;
  if (compute != 68 && compute != 70) return 7;
  if (m < 0 || n < 0 || k < 0 || batch < 0) return 7;
  if ((ta != 0 && ta != 1) || (tb != 0 && tb != 1)) return 7;
  if (lda < (ta == 0 ? (m > 1 ? m : 1) : (k > 1 ? k : 1))) return 7;
  if (ldb < (tb == 0 ? (k > 1 ? k : 1) : (n > 1 ? n : 1))) return 7;
  if (ldc < (m > 1 ? m : 1)) return 7;
  double a = compute == 70 ? *(const double*)alpha : *(const float*)alpha;
  double bt = compute == 70 ? *(const double*)beta : *(const float*)beta;
  for (int b = 0; b < batch; ++b)
    for (int j = 0; j < n; ++j)
      for (int i = 0; i < m; ++i) {
        double s = 0;
        for (int p = 0; p < k; ++p) {
          double x = ld(A, b * sA + (ta == 0 ? i + (long long)p * lda : p + (long long)i * lda), At);
          double y = ld(B, b * sB + (tb == 0 ? p + (long long)j * ldb : j + (long long)p * ldb), Bt);
          s += x * y;
        }
        long long ci = b * sC + i + (long long)j * ldc;
        st(C, ci, Ct, a * s + (bt != 0 ? bt * ld(C, ci, Ct) : 0));
      }
  gemms++;
  return 0;
}
long long tl_emu_gemms(void) { return gemms; }
`;

/** libcudnn stand-in: the legacy convolution API with a direct reference convolution. */
export const MOCK_CUDNN = String.raw`
#include <stdlib.h>
#include <string.h>
${HALF_C}
typedef struct { int dt, n, c, h, w, sn, sc, sh, sw, set; } Tensor;
typedef struct { int dt, fmt, k, c, h, w, set; } Filter;
typedef struct { int ph, pw, u, v, dh, dw, mode, ct, groups, math, set; } Conv;
static long long convs = 0;
static int code(int dt) { return dt == 0 ? 0 : dt == 1 ? 1 : dt == 2 ? 2 : dt == 9 ? 14 : -1; }
size_t cudnnGetVersion(void) { return 90100; }
int cudnnCreate(void** h) { *h = malloc(8); return 0; }
int cudnnSetStream(void* h, void* s) { (void)h; (void)s; return 0; }
int cudnnCreateTensorDescriptor(void** d) { *d = calloc(1, sizeof(Tensor)); return 0; }
int cudnnDestroyTensorDescriptor(void* d) { free(d); return 0; }
int cudnnSetTensor4dDescriptorEx(Tensor* t, int dt, int n, int c, int h, int w, int sn, int sc, int sh, int sw) {
  if (code(dt) < 0 || n <= 0 || c <= 0 || h <= 0 || w <= 0 || sn <= 0 || sc <= 0 || sh <= 0 || sw <= 0) return 2000;
  t->dt = dt; t->n = n; t->c = c; t->h = h; t->w = w; t->sn = sn; t->sc = sc; t->sh = sh; t->sw = sw; t->set = 1; return 0;
}
int cudnnCreateFilterDescriptor(void** d) { *d = calloc(1, sizeof(Filter)); return 0; }
int cudnnDestroyFilterDescriptor(void* d) { free(d); return 0; }
int cudnnSetFilter4dDescriptor(Filter* f, int dt, int fmt, int k, int c, int h, int w) {
  if (code(dt) < 0 || fmt != 0 || k <= 0 || c <= 0 || h <= 0 || w <= 0) return 2000;
  f->dt = dt; f->fmt = fmt; f->k = k; f->c = c; f->h = h; f->w = w; f->set = 1; return 0;
}
int cudnnCreateConvolutionDescriptor(void** d) { Conv* c = (Conv*)calloc(1, sizeof(Conv)); c->groups = 1; *d = c; return 0; }
int cudnnDestroyConvolutionDescriptor(void* d) { free(d); return 0; }
int cudnnSetConvolution2dDescriptor(Conv* c, int ph, int pw, int u, int v, int dh, int dw, int mode, int ct) {
  if (ph < 0 || pw < 0 || u <= 0 || v <= 0 || dh <= 0 || dw <= 0 || (mode != 0 && mode != 1) || (ct != 0 && ct != 1)) return 2000;
  c->ph = ph; c->pw = pw; c->u = u; c->v = v; c->dh = dh; c->dw = dw; c->mode = mode; c->ct = ct; c->set = 1; return 0;
}
int cudnnSetConvolutionGroupCount(Conv* c, int g) { if (g <= 0) return 2000; c->groups = g; return 0; }
int cudnnSetConvolutionMathType(Conv* c, int m) { c->math = m; return 0; }
static int validate(Tensor* x, Filter* w, Conv* c, Tensor* y) {
  if (!x->set || !w->set || !c->set || !y->set) return 2000;
  if (x->dt != w->dt || x->dt != y->dt) return 3000;
  if ((x->dt == 1) != (c->ct == 1)) return 3000;
  if (x->c != w->c * c->groups || w->k % c->groups || y->c != w->k || y->n != x->n) return 2000;
  int oh = (x->h + 2 * c->ph - c->dh * (w->h - 1) - 1) / c->u + 1, ow = (x->w + 2 * c->pw - c->dw * (w->w - 1) - 1) / c->v + 1;
  if (y->h != oh || y->w != ow) return 2000;
  return 0;
}
int cudnnGetConvolutionForwardWorkspaceSize(void* h, Tensor* x, Filter* w, Conv* c, Tensor* y, int algo, size_t* size) {
  (void)h; int r = validate(x, w, c, y); if (r) return r;
  if (algo != 0 && algo != 1) return 3000;
  *size = algo == 1 ? 4096 : 0; return 0;
}
int cudnnConvolutionForward(void* h, const void* alpha, Tensor* x, const void* X, Filter* w, const void* W, Conv* c, int algo,
    void* ws, size_t wsSize, const void* beta, Tensor* y, void* Y) {
  (void)h;
  int r = validate(x, w, c, y); if (r) return r;
  if (algo == 1 && (!ws || wsSize < 4096)) return 2000;
  if (algo == 1) memset(ws, 0x5a, 4096);
  int t = code(x->dt);
  double a = c->ct == 1 ? *(const double*)alpha : *(const float*)alpha, b = c->ct == 1 ? *(const double*)beta : *(const float*)beta;
  int cpg = w->c, kpg = w->k / c->groups;
  for (int n = 0; n < y->n; ++n) for (int k = 0; k < y->c; ++k) for (int oh = 0; oh < y->h; ++oh) for (int ow = 0; ow < y->w; ++ow) {
    int g = k / kpg; double s = 0;
    for (int ci = 0; ci < cpg; ++ci) for (int r0 = 0; r0 < w->h; ++r0) for (int s0 = 0; s0 < w->w; ++s0) {
      int ih = oh * c->u - c->ph + r0 * c->dh, iw = ow * c->v - c->pw + s0 * c->dw;
      if (ih < 0 || iw < 0 || ih >= x->h || iw >= x->w) continue;
      long long xi = (long long)n * x->sn + (long long)(g * cpg + ci) * x->sc + (long long)ih * x->sh + (long long)iw * x->sw;
      long long wi = (((long long)k * w->c + ci) * w->h + r0) * w->w + s0;
      s += ld(X, xi, t) * ld(W, wi, t);
    }
    long long yi = (long long)n * y->sn + (long long)k * y->sc + (long long)oh * y->sh + (long long)ow * y->sw;
    st(Y, yi, t, a * s + (b != 0 ? b * ld(Y, yi, t) : 0));
  }
  convs++;
  return 0;
}
const char* cudnnGetErrorString(int s) { return s == 0 ? "CUDNN_STATUS_SUCCESS" : "CUDNN_STATUS_EMULATED_ERROR"; }
long long tl_emu_convs(void) { return convs; }
`;
