/*
 * torchlet's native cpu kernels: contiguous elementwise ops, row reductions, softmax rows and
 * strided 2-D copies for float32/float64, on a small thread pool.
 *
 * Built twice by native/build.sh (x86-64 baseline and x86-64-v3, i.e. AVX2 + FMA) from this one
 * source; src/device/cpu/native.ts picks one at load time and falls back to the JS kernels when
 * neither loads. Everything is written as plain C over GCC vector types, so both builds
 * vectorise the same code (SSE2 lowers each 8-lane vector to two registers).
 *
 * Semantics follow the JS kernels (src/device/kernels.ts) op by op: IEEE NaN/Inf/-0 behaviour,
 * no fast-math. Transcendental float32 functions are our own branch-free approximations
 * (Cody-Waite reduction plus polynomials), accurate to a few ulp; float64 only gets the ops
 * that are exact (arithmetic, comparisons, sqrt), so float64 results equal the JS kernels'.
 */
#define _GNU_SOURCE
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <dlfcn.h>
#include <linux/futex.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>
#ifdef __AVX__
#include <immintrin.h>
#endif

#include "opcodes.h"

#define EXPORT __attribute__((visibility("default")))
/* Functions whose compound expressions must round exactly as the JS kernels do (float64: the
 * same double operations in the same order; float32: computed in double, rounded once) are
 * compiled without FMA contraction. */
#define NO_CONTRACT __attribute__((optimize("fp-contract=off")))

/* ------------------------------------------------------------------ thread pool */

/* A job is fn(ctx, begin, end) over [0, n), cut into chunks that the calling thread and the
 * workers take one at a time from a shared counter: on a busy machine a worker that is not
 * scheduled in time simply gets fewer chunks (the caller never waits for a chunk nobody took).
 * Workers spin briefly after a job (ops often come back to back), then sleep on a futex.
 * The counter also holds the job's generation and chunk count, and a chunk is claimed by a
 * compare-and-swap of all three: a worker that wakes late (preempted between jobs) can never
 * claim a chunk of a job that is over, nor read the parameters of the next one half-written
 * (they are read only after a successful claim, while the caller waits for that chunk). */
typedef void (*task_fn)(void *ctx, int64_t begin, int64_t end);

#define MAX_THREADS 64
static int n_threads = 0; /* 0: not decided yet */
static int n_started = 0; /* workers running */
static pthread_mutex_t start_lock = PTHREAD_MUTEX_INITIALIZER;

static _Atomic uint32_t job_gen = 0;
static _Atomic uint64_t job_next = 0; /* generation << 32 | chunk count << 16 | next chunk */
static _Atomic int64_t job_done = 0; /* chunks finished */
static _Atomic int sleepers = 0;
static task_fn job_fn;
static void *job_ctx;
static int64_t job_n, job_chunk, job_nchunks;
static uint32_t start_gen[MAX_THREADS];

static long futex(_Atomic uint32_t *addr, int op, uint32_t val) {
  return syscall(SYS_futex, (uint32_t *)addr, op, val, NULL, NULL, 0);
}

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

/* Takes and runs chunks of job `gen` until none is left (or another job has started). */
static void run_chunks(uint32_t gen) {
  for (;;) {
    uint64_t w = atomic_load_explicit(&job_next, memory_order_acquire);
    for (;;) {
      if ((uint32_t)(w >> 32) != gen || (w & 0xffff) >= ((w >> 16) & 0xffff)) return;
      if (atomic_compare_exchange_weak_explicit(&job_next, &w, w + 1, memory_order_acq_rel, memory_order_acquire)) break;
    }
    int64_t k = (int64_t)(w & 0xffff);
    int64_t b = k * job_chunk, e = b + job_chunk < job_n ? b + job_chunk : job_n;
    job_fn(job_ctx, b, e);
    atomic_fetch_add_explicit(&job_done, 1, memory_order_release);
  }
}

/* How long a worker polls for the next job before sleeping: ops of a loop come back to back,
 * and waking a sleeping thread costs ~50 us or more on a busy machine. It first polls with
 * `pause` (~30 us), then with sched_yield (~1 ms when the core is otherwise idle): a thread
 * that only pauses keeps its core for its whole time slice, and a multithreaded OpenBLAS GEMM
 * started right after a native op then waits for its second thread (MLP step: ~15% slower). */
#define WORKER_PAUSE_SPINS 1500
#define WORKER_SPINS (WORKER_PAUSE_SPINS + 2000)

static void *worker_main(void *arg) {
  int id = (int)(intptr_t)arg;
  /* the generation current when this worker was created: a job posted before the thread got
   * to run is still seen as new */
  uint32_t seen = start_gen[id];
  for (;;) {
    uint32_t g;
    int spins = 0;
    while ((g = atomic_load_explicit(&job_gen, memory_order_acquire)) == seen) {
      if (++spins < WORKER_PAUSE_SPINS) { cpu_relax(); continue; }
      if (spins < WORKER_SPINS) { sched_yield(); continue; }
      atomic_fetch_add(&sleepers, 1);
      if (atomic_load(&job_gen) == seen) futex(&job_gen, FUTEX_WAIT_PRIVATE, seen);
      atomic_fetch_sub(&sleepers, 1);
      spins = 0;
    }
    seen = g;
    run_chunks(g);
  }
  return NULL;
}

static int default_threads(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    int c = CPU_COUNT(&set);
    if (c > 0 && c < n) n = c;
  }
  if (n < 1) n = 1;
  if (n > MAX_THREADS) n = MAX_THREADS;
  return (int)n;
}

/* Keeps this library mapped until the process ends: a loader that unloads it at exit (koffi
 * does, from a finalizer) would otherwise pull the code from under a worker still spinning in it. */
static void pin_library(void) {
  Dl_info info;
  if (dladdr((void *)&pin_library, &info) && info.dli_fname) (void)dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
}

static void ensure_workers(int want) {
  if (want <= n_started + 1) return;
  pthread_mutex_lock(&start_lock);
  if (n_started == 0) pin_library();
  while (n_started + 1 < want) {
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    start_gen[n_started + 1] = atomic_load(&job_gen);
    if (pthread_create(&t, &attr, worker_main, (void *)(intptr_t)(n_started + 1)) != 0) {
      pthread_attr_destroy(&attr);
      break;
    }
    pthread_attr_destroy(&attr);
    pthread_detach(t);
    n_started++;
  }
  pthread_mutex_unlock(&start_lock);
}

/** Threads used for large ops (including the caller); n < 1 restores the default. */
EXPORT void tl_set_num_threads(int n) {
  if (n < 1) n = default_threads();
  if (n > MAX_THREADS) n = MAX_THREADS;
  n_threads = n;
}
EXPORT int tl_get_num_threads(void) {
  if (n_threads == 0) n_threads = default_threads() < 2 ? default_threads() : 2;
  return n_threads;
}

/* Runs fn over [0, n) on up to n_threads threads when each gets at least `grain` elements;
 * chunk boundaries are multiples of `align` elements (whole cache lines per chunk). With
 * `always_wake`, a sleeping worker is woken even for a job of few grains (each grain is long). */
static void parallel_for_ex(int64_t n, int64_t grain, int64_t align, task_fn fn, void *ctx, int always_wake) {
  int threads = tl_get_num_threads();
  if (grain < 1) grain = 1;
  if (align < 1) align = 1;
  if (threads < 2 || n < 2 * grain) {
    if (n > 0) fn(ctx, 0, n);
    return;
  }
  ensure_workers(threads);
  /* a sleeping worker takes ~50-100 us (much more on a busy machine) to wake: worth it only
   * for jobs of several grains; a spinning one joins at once */
  if (n_started < 1 || (!always_wake && atomic_load(&sleepers) > 0 && n < 8 * grain)) {
    fn(ctx, 0, n);
    return;
  }
  /* about 4 chunks per thread, none smaller than grain / 2 */
  int64_t chunk = n / (4 * (int64_t)threads);
  if (chunk < grain / 2) chunk = grain / 2;
  if (chunk < 1) chunk = 1;
  chunk = (chunk + align - 1) / align * align;
  while ((n + chunk - 1) / chunk > 0xffff) chunk += align; /* the count must fit its 16 bits */
  uint32_t gen = atomic_load_explicit(&job_gen, memory_order_relaxed) + 1;
  job_fn = fn;
  job_ctx = ctx;
  job_n = n;
  job_chunk = chunk;
  job_nchunks = (n + chunk - 1) / chunk;
  atomic_store_explicit(&job_done, 0, memory_order_relaxed);
  atomic_store_explicit(&job_next, (uint64_t)gen << 32 | (uint64_t)job_nchunks << 16, memory_order_release);
  atomic_store_explicit(&job_gen, gen, memory_order_seq_cst);
  if (atomic_load(&sleepers) > 0) futex(&job_gen, FUTEX_WAKE_PRIVATE, INT32_MAX);
  run_chunks(gen);
  int spins = 0;
  while (atomic_load_explicit(&job_done, memory_order_acquire) < job_nchunks) {
    if (++spins < 20000) cpu_relax();
    else sched_yield();
  }
}

static void parallel_for(int64_t n, int64_t grain, int64_t align, task_fn fn, void *ctx) {
  parallel_for_ex(n, grain, align, fn, ctx, 0);
}

/* ------------------------------------------------------------------ vector math */

#define VL 8
#define VMATH_API static
#define VMATH_NAME(f) f
#include "vmath.inc.c"

#if defined(__AVX2__) && defined(__FMA__) && defined(__x86_64__)
/* The x86-64-v3 build also links vmath512.c, the same vector math on 16 lanes, used where the cpu
 * has AVX-512 (F, DQ, BW, VL) and TORCHLET_NATIVE_AVX512 is not 0. Long dependency chains (exp's
 * and gelu's polynomials) get twice the independent work per instruction window: ~1.3-1.5x
 * faster, also on AMD Zen 4, which runs each 512-bit op as two 256-bit halves. */
#define HAVE_AVX512 1
int unary_vec_f32_avx512(int op, const float *X, float *Y, int64_t b, int64_t e);
void softmax_row_f32_avx512(const float *x, float *y, int64_t n, int log);
static int avx512_state = -1; /* -1: not decided yet */
static int use_avx512(void) {
  if (avx512_state < 0) {
    const char *env = getenv("TORCHLET_NATIVE_AVX512");
    __builtin_cpu_init();
    avx512_state = !(env && env[0] == '0') && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
                   __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
  }
  return avx512_state;
}
#endif


/* ------------------------------------------------------------------ elementwise ops */

/* Elements per task below which a job is not split between threads. */
#define GRAIN_CHEAP (1 << 16)      /* memory-bound ops */
#define GRAIN_TRANSCENDENTAL 8192  /* exp, tanh, gelu, ... */

typedef struct { int op; const void *x; void *y; } un_ctx;

static void un32_task(void *vc, int64_t b, int64_t e) {
  un_ctx *c = vc;
  const float *X = c->x;
  float *Y = c->y;
  switch (c->op) {
    case U_NEG: for (int64_t i = b; i < e; i++) Y[i] = -X[i]; break;
    case U_ABS: for (int64_t i = b; i < e; i++) Y[i] = fabsf(X[i]); break;
    case U_SQRT: for (int64_t i = b; i < e; i++) Y[i] = sqrtf(X[i]); break;
    /* as the JS kernels: in double, rounded once */
    case U_RSQRT: for (int64_t i = b; i < e; i++) Y[i] = (float)(1.0 / sqrt((double)X[i])); break;
    case U_RECIPROCAL: for (int64_t i = b; i < e; i++) Y[i] = 1.0f / X[i]; break;
    case U_SQUARE: for (int64_t i = b; i < e; i++) Y[i] = X[i] * X[i]; break;
    case U_RELU: for (int64_t i = b; i < e; i++) { float v = X[i]; Y[i] = v > 0.0f ? v : (v != v ? v : 0.0f); } break;
    default:
#ifdef HAVE_AVX512
      if (use_avx512()) { unary_vec_f32_avx512(c->op, X, Y, b, e); break; }
#endif
      unary_vec_f32(c->op, X, Y, b, e);
      break;
  }
}

NO_CONTRACT static void un64_task(void *vc, int64_t b, int64_t e) {
  un_ctx *c = vc;
  const double *X = c->x;
  double *Y = c->y;
  switch (c->op) {
    case U_NEG: for (int64_t i = b; i < e; i++) Y[i] = -X[i]; break;
    case U_ABS: for (int64_t i = b; i < e; i++) Y[i] = fabs(X[i]); break;
    case U_SQRT: for (int64_t i = b; i < e; i++) Y[i] = sqrt(X[i]); break;
    case U_RSQRT: for (int64_t i = b; i < e; i++) Y[i] = 1.0 / sqrt(X[i]); break;
    case U_RECIPROCAL: for (int64_t i = b; i < e; i++) Y[i] = 1.0 / X[i]; break;
    case U_SQUARE: for (int64_t i = b; i < e; i++) Y[i] = X[i] * X[i]; break;
    case U_RELU: for (int64_t i = b; i < e; i++) { double v = X[i]; Y[i] = v > 0.0 ? v : (v != v ? v : 0.0); } break;
    default: break;
  }
}

static int unary_is_transcendental(int op) {
  return op == U_EXP || op == U_LOG || op == U_TANH || op == U_SIGMOID || op == U_SILU || op == U_GELU ||
         op == U_ERF || op == U_SOFTPLUS;
}

/** y[yo + i] = op(x[xo + i]) for i < n; dtype 0 = float32, 1 = float64. Returns 0 if unsupported. */
EXPORT int tl_unary(int dtype, int op, const void *x, int64_t xo, void *y, int64_t yo, int64_t n) {
  un_ctx c = {op, NULL, NULL};
  task_fn fn;
  int64_t grain, align;
  if (dtype == 0) {
    if (op < 0 || op > U_SOFTPLUS) return 0;
    c.x = (const float *)x + xo;
    c.y = (float *)y + yo;
    fn = un32_task; align = 16;
    grain = unary_is_transcendental(op) ? GRAIN_TRANSCENDENTAL : GRAIN_CHEAP;
  } else if (dtype == 1) {
    if (!(op == U_NEG || op == U_ABS || op == U_SQRT || op == U_RSQRT || op == U_RECIPROCAL || op == U_SQUARE || op == U_RELU)) return 0;
    c.x = (const double *)x + xo;
    c.y = (double *)y + yo;
    fn = un64_task; align = 8; grain = GRAIN_CHEAP;
  } else {
    return 0;
  }
  parallel_for(n, grain, align, fn, &c);
  return 1;
}

/* Unary ops over an n-d layout whose innermost dim is contiguous in x and out (e.g. a column
 * block of a matrix, as the gates of an LSTM): an odometer over the outer dims.
 * dims (doubles): ndim, shape[ndim], out strides[ndim], x strides[ndim]. */
#define UND_MAX 12
typedef struct { int dtype, op, nd; int64_t shape[UND_MAX], os[UND_MAX], xs[UND_MAX]; const char *x; char *o; size_t es; } und_ctx;

static void unary_nd_task(void *vc, int64_t b, int64_t e) {
  und_ctx *c = vc;
  int L = c->nd - 1;
  int64_t inner = c->shape[L];
  int64_t idx[UND_MAX], xo = 0, oo = 0, rem = b;
  for (int d = L - 1; d >= 0; d--) {
    idx[d] = rem % c->shape[d];
    rem /= c->shape[d];
    xo += idx[d] * c->xs[d];
    oo += idx[d] * c->os[d];
  }
  for (int64_t q = b; q < e; q++) {
    un_ctx uc = {c->op, c->x + xo * c->es, c->o + oo * c->es};
    if (c->dtype == 0) un32_task(&uc, 0, inner); else un64_task(&uc, 0, inner);
    for (int d = L - 1; d >= 0; d--) {
      xo += c->xs[d]; oo += c->os[d];
      if (++idx[d] < c->shape[d]) break;
      idx[d] = 0;
      xo -= c->xs[d] * c->shape[d]; oo -= c->os[d] * c->shape[d];
    }
  }
}

/** Unary op over an n-d layout (see unary_nd_task); 0 when the op or layout is not handled. */
EXPORT int tl_unary_nd(int dtype, int op, const double *dims, const void *x, int64_t xo, void *out, int64_t oo) {
  if (dtype == 0 ? (op < 0 || op > U_SOFTPLUS)
      : dtype == 1 ? !(op == U_NEG || op == U_ABS || op == U_SQRT || op == U_RSQRT || op == U_RECIPROCAL || op == U_SQUARE || op == U_RELU)
      : 1) return 0;
  und_ctx c;
  c.dtype = dtype; c.op = op; c.nd = (int)dims[0];
  if (c.nd < 1 || c.nd > UND_MAX) return 0;
  c.es = dtype == 0 ? 4 : 8;
  int64_t outer = 1;
  for (int d = 0; d < c.nd; d++) {
    c.shape[d] = (int64_t)dims[1 + d];
    c.os[d] = (int64_t)dims[1 + c.nd + d];
    c.xs[d] = (int64_t)dims[1 + 2 * c.nd + d];
    if (d < c.nd - 1) outer *= c.shape[d];
  }
  int L = c.nd - 1;
  if (c.os[L] != 1 || c.xs[L] != 1) return 0;
  c.x = (const char *)x + xo * c.es;
  c.o = (char *)out + oo * c.es;
  int64_t inner = c.shape[L] > 0 ? c.shape[L] : 1;
  parallel_for(outer, (unary_is_transcendental(op) ? GRAIN_TRANSCENDENTAL : GRAIN_CHEAP) / inner + 1, 1, unary_nd_task, &c);
  return 1;
}

/* Binary ops. mode: 0 both contiguous, 1 x is one broadcast value, 2 y is. */
typedef struct { int op, mode; const void *x, *y; void *out; } bin_ctx;

/* max/min as JS Math.max/min on non-NaN values: equal values (0 and -0) pick +0 / -0 */
static inline float maxf_js(float a, float b) {
  if (a != a) return a;
  if (b != b) return b;
  if (a > b) return a;
  if (b > a) return b;
  uint32_t ua, ub; memcpy(&ua, &a, 4); memcpy(&ub, &b, 4); ua &= ub; memcpy(&a, &ua, 4); return a;
}
static inline float minf_js(float a, float b) {
  if (a != a) return a;
  if (b != b) return b;
  if (a < b) return a;
  if (b < a) return b;
  uint32_t ua, ub; memcpy(&ua, &a, 4); memcpy(&ub, &b, 4); ua |= ub; memcpy(&a, &ua, 4); return a;
}
static inline double maxd_js(double a, double b) {
  if (a != a) return a;
  if (b != b) return b;
  if (a > b) return a;
  if (b > a) return b;
  uint64_t ua, ub; memcpy(&ua, &a, 8); memcpy(&ub, &b, 8); ua &= ub; memcpy(&a, &ua, 8); return a;
}
static inline double mind_js(double a, double b) {
  if (a != a) return a;
  if (b != b) return b;
  if (a < b) return a;
  if (b < a) return b;
  uint64_t ua, ub; memcpy(&ua, &a, 8); memcpy(&ub, &b, 8); ua |= ub; memcpy(&a, &ua, 8); return a;
}

/* The three operand layouts of one scalar expression EXPR(a, b) over [b0, e0). */
#define BLOOP(T, EXPR)                                                                      \
  do {                                                                                      \
    const T *X = c->x, *Yv = c->y;                                                          \
    T *O = c->out;                                                                          \
    if (c->mode == 0) { for (int64_t i = b0; i < e0; i++) { T a = X[i], b = Yv[i]; O[i] = (EXPR); } } \
    else if (c->mode == 1) { const T a = X[0]; for (int64_t i = b0; i < e0; i++) { T b = Yv[i]; O[i] = (EXPR); } } \
    else { const T b = Yv[0]; for (int64_t i = b0; i < e0; i++) { T a = X[i]; O[i] = (EXPR); } } \
  } while (0)

/* float32 vector loop for the gelu/silu gradients (a = grad, b = saved input) */
#define BVLOOP(EXPR)                                                                        \
  do {                                                                                      \
    const float *X = c->x, *Yv = c->y;                                                      \
    float *O = c->out;                                                                      \
    int64_t i = b0;                                                                         \
    for (; i + VL <= e0; i += VL) {                                                         \
      vf a = c->mode == 1 ? splat(X[0]) : ld(X + i), b = c->mode == 2 ? splat(Yv[0]) : ld(Yv + i); \
      st(O + i, (EXPR));                                                                    \
    }                                                                                       \
    if (i < e0) {                                                                           \
      float ta[VL] = {0}, tb[VL] = {0}, to[VL];                                              \
      int64_t r = e0 - i;                                                                   \
      if (c->mode == 1) for (int k = 0; k < VL; k++) ta[k] = X[0]; else memcpy(ta, X + i, (size_t)r * 4); \
      if (c->mode == 2) for (int k = 0; k < VL; k++) tb[k] = Yv[0]; else memcpy(tb, Yv + i, (size_t)r * 4); \
      vf a = ld(ta), b = ld(tb);                                                            \
      st(to, (EXPR));                                                                       \
      memcpy(O + i, to, (size_t)r * 4);                                                     \
    }                                                                                       \
  } while (0)

static inline vf v_gelu_bwd(vf g, vf y) {
  vf gauss;
  vf phi = v_gelu_phi(y, &gauss);
  return g * (phi + y * 0.3989422804014327f * gauss);
}
static inline vf v_silu_bwd(vf g, vf y) {
  vf s = v_sigmoid(y);
  return g * (s * (1.0f + y * (1.0f - s)));
}


static void bin32_vec_task(void *vc, int64_t b0, int64_t e0) {
  bin_ctx *c = vc;
  if (c->op == B_GELU_BWD) BVLOOP(v_gelu_bwd(a, b));
  else BVLOOP(v_silu_bwd(a, b));
}

NO_CONTRACT static void bin32_task(void *vc, int64_t b0, int64_t e0) {
  bin_ctx *c = vc;
  switch (c->op) {
    case B_ADD: BLOOP(float, a + b); break;
    case B_SUB: BLOOP(float, a - b); break;
    case B_MUL: BLOOP(float, a * b); break;
    case B_DIV: BLOOP(float, a / b); break;
    case B_MAXIMUM: BLOOP(float, maxf_js(a, b)); break;
    case B_MINIMUM: BLOOP(float, minf_js(a, b)); break;
    case B_RELU_BWD: BLOOP(float, b <= 0.0f ? 0.0f : a); break;
    /* compound expressions in double, rounded once, as the JS kernels compute them */
    case B_SIGMOID_BWD: BLOOP(float, (float)((double)a * ((double)b * (1.0 - (double)b)))); break;
    case B_TANH_BWD: BLOOP(float, (float)((double)a * (1.0 - (double)b * (double)b))); break;
    default: break;
  }
}
NO_CONTRACT static void bin64_task(void *vc, int64_t b0, int64_t e0) {
  bin_ctx *c = vc;
  switch (c->op) {
    case B_ADD: BLOOP(double, a + b); break;
    case B_SUB: BLOOP(double, a - b); break;
    case B_MUL: BLOOP(double, a * b); break;
    case B_DIV: BLOOP(double, a / b); break;
    case B_MAXIMUM: BLOOP(double, maxd_js(a, b)); break;
    case B_MINIMUM: BLOOP(double, mind_js(a, b)); break;
    case B_RELU_BWD: BLOOP(double, b <= 0.0 ? 0.0 : a); break;
    case B_SIGMOID_BWD: BLOOP(double, a * (b * (1.0 - b))); break;
    case B_TANH_BWD: BLOOP(double, a * (1.0 - b * b)); break;
    default: break;
  }
}

/** out[oo + i] = op(x[xo + i], y[yo + i]) (mode 1: x[xo] for every i; mode 2: y[yo]). */
EXPORT int tl_binary(int dtype, int op, int mode, const void *x, int64_t xo, const void *y, int64_t yo,
                     void *out, int64_t oo, int64_t n) {
  bin_ctx c = {op, mode, NULL, NULL, NULL};
  task_fn fn;
  int64_t grain, align;
  if (mode < 0 || mode > 2) return 0;
  if (dtype == 0) {
    if (op < 0 || op > B_SILU_BWD) return 0;
    c.x = (const float *)x + xo;
    c.y = (const float *)y + yo;
    c.out = (float *)out + oo;
    align = 16;
    if (op == B_GELU_BWD || op == B_SILU_BWD) { fn = bin32_vec_task; grain = GRAIN_TRANSCENDENTAL; }
    else { fn = bin32_task; grain = GRAIN_CHEAP; }
  } else if (dtype == 1) {
    if (op < 0 || op > B_TANH_BWD) return 0;
    c.x = (const double *)x + xo;
    c.y = (const double *)y + yo;
    c.out = (double *)out + oo;
    fn = bin64_task; align = 8; grain = GRAIN_CHEAP;
  } else {
    return 0;
  }
  parallel_for(n, grain, align, fn, &c);
  return 1;
}

/* Broadcasting binary ops: an odometer over the outer dims, the innermost dim through the
 * contiguous kernels above (each input's innermost stride is 0 or 1, the output's 1).
 * dims (doubles): ndim, then shape[ndim], out strides[ndim], x strides[ndim], y strides[ndim]. */
#define ND_MAX 12
typedef struct { int dtype, op, nd; int64_t shape[ND_MAX], os[ND_MAX], xs[ND_MAX], ys[ND_MAX]; const char *x, *y; char *o; size_t es; } nd_ctx;

static void binary_nd_task(void *vc, int64_t b, int64_t e) {
  nd_ctx *c = vc;
  int L = c->nd - 1;
  int64_t inner = c->shape[L];
  int mode = c->xs[L] == 0 ? 1 : c->ys[L] == 0 ? 2 : 0;
  /* decode the first outer index */
  int64_t idx[ND_MAX], xo = 0, yo = 0, oo = 0, rem = b;
  for (int d = L - 1; d >= 0; d--) {
    idx[d] = rem % c->shape[d];
    rem /= c->shape[d];
    xo += idx[d] * c->xs[d];
    yo += idx[d] * c->ys[d];
    oo += idx[d] * c->os[d];
  }
  for (int64_t q = b; q < e; q++) {
    bin_ctx bc = {c->op, mode, c->x + xo * c->es, c->y + yo * c->es, c->o + oo * c->es};
    if (c->dtype == 1) bin64_task(&bc, 0, inner);
    else if (c->op == B_GELU_BWD || c->op == B_SILU_BWD) bin32_vec_task(&bc, 0, inner);
    else bin32_task(&bc, 0, inner);
    for (int d = L - 1; d >= 0; d--) {
      xo += c->xs[d]; yo += c->ys[d]; oo += c->os[d];
      if (++idx[d] < c->shape[d]) break;
      idx[d] = 0;
      xo -= c->xs[d] * c->shape[d]; yo -= c->ys[d] * c->shape[d]; oo -= c->os[d] * c->shape[d];
    }
  }
}

/** Binary op over an n-d layout (see binary_nd_task); returns 0 when the layout is not one it takes. */
EXPORT int tl_binary_nd(int dtype, int op, const double *dims, const void *x, int64_t xo, const void *y, int64_t yo, void *out, int64_t oo) {
  if ((dtype != 0 && dtype != 1) || op < 0 || op > (dtype == 0 ? B_SILU_BWD : B_TANH_BWD)) return 0;
  nd_ctx c;
  c.dtype = dtype; c.op = op; c.nd = (int)dims[0];
  if (c.nd < 1 || c.nd > ND_MAX) return 0;
  c.es = dtype == 0 ? 4 : 8;
  int64_t outer = 1;
  for (int d = 0; d < c.nd; d++) {
    c.shape[d] = (int64_t)dims[1 + d];
    c.os[d] = (int64_t)dims[1 + c.nd + d];
    c.xs[d] = (int64_t)dims[1 + 2 * c.nd + d];
    c.ys[d] = (int64_t)dims[1 + 3 * c.nd + d];
    if (d < c.nd - 1) outer *= c.shape[d];
  }
  int L = c.nd - 1;
  if (c.os[L] != 1 || (c.xs[L] != 0 && c.xs[L] != 1) || (c.ys[L] != 0 && c.ys[L] != 1) || (c.xs[L] == 0 && c.ys[L] == 0)) return 0;
  c.x = (const char *)x + xo * c.es;
  c.y = (const char *)y + yo * c.es;
  c.o = (char *)out + oo * c.es;
  int64_t inner = c.shape[L] > 0 ? c.shape[L] : 1;
  int heavy = op == B_GELU_BWD || op == B_SILU_BWD;
  parallel_for(outer, (heavy ? GRAIN_TRANSCENDENTAL : GRAIN_CHEAP) / inner + 1, 1, binary_nd_task, &c);
  return 1;
}

/* ------------------------------------------------------------------ row reductions */

enum { R_SUM = 0, R_MAX, R_MIN };

/* Sum of n floats: blocks of 64 summed in float by a tree of 8-lane vectors (error ~ 3 ulp of
 * the block's size), the block sums accumulated in double. */
static double sum_f32(const float *x, int64_t n) {
  typedef double vd __attribute__((vector_size(32)));
  typedef float v4f __attribute__((vector_size(16)));
  vd a0 = {0}, a1 = {0};
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    vf t0 = ld(x + i) + ld(x + i + 8), t1 = ld(x + i + 16) + ld(x + i + 24);
    vf t2 = ld(x + i + 32) + ld(x + i + 40), t3 = ld(x + i + 48) + ld(x + i + 56);
    vf t = (t0 + t1) + (t2 + t3);
    v4f lo = {t[0], t[1], t[2], t[3]}, hi = {t[4], t[5], t[6], t[7]};
    a0 += __builtin_convertvector(lo, vd);
    a1 += __builtin_convertvector(hi, vd);
  }
  vd a = a0 + a1;
  double s = (a[0] + a[1]) + (a[2] + a[3]);
  for (; i < n; i++) s += x[i];
  return s;
}
static double sum_f64(const double *x, int64_t n) {
  typedef double vd __attribute__((vector_size(32)));
  vd a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    vd f0, f1, f2, f3;
    memcpy(&f0, x + i, 32); memcpy(&f1, x + i + 4, 32); memcpy(&f2, x + i + 8, 32); memcpy(&f3, x + i + 12, 32);
    a0 += f0; a1 += f1; a2 += f2; a3 += f3;
  }
  vd a = (a0 + a1) + (a2 + a3);
  double s = (a[0] + a[1]) + (a[2] + a[3]);
  for (; i < n; i++) s += x[i];
  return s;
}
/* max (is_max) or min of n values; NaN if any is NaN; the identity (-+inf) when n = 0.
 * Four independent accumulators (a compare-and-blend has a few cycles of latency). */
static inline vf vmax_(vf a, vf b) {
#ifdef __AVX__
  return (vf)__builtin_ia32_maxps256((__m256)a, (__m256)b);
#else
  return sel(a > b, a, b);
#endif
}
static inline vf vmin_(vf a, vf b) {
#ifdef __AVX__
  return (vf)__builtin_ia32_minps256((__m256)a, (__m256)b);
#else
  return sel(a < b, a, b);
#endif
}
static float maxmin_f32(const float *x, int64_t n, int is_max) {
  const vf id = splat(is_max ? -INFINITY : INFINITY);
  vf m0 = id, m1 = id, m2 = id, m3 = id;
  vi bad = {0};
  int64_t i = 0;
  if (is_max) {
    for (; i + 32 <= n; i += 32) {
      vf v0 = ld(x + i), v1 = ld(x + i + 8), v2 = ld(x + i + 16), v3 = ld(x + i + 24);
      bad |= (v0 != v0) | (v1 != v1) | (v2 != v2) | (v3 != v3);
      m0 = vmax_(v0, m0); m1 = vmax_(v1, m1); m2 = vmax_(v2, m2); m3 = vmax_(v3, m3);
    }
    m0 = vmax_(vmax_(m0, m1), vmax_(m2, m3));
  } else {
    for (; i + 32 <= n; i += 32) {
      vf v0 = ld(x + i), v1 = ld(x + i + 8), v2 = ld(x + i + 16), v3 = ld(x + i + 24);
      bad |= (v0 != v0) | (v1 != v1) | (v2 != v2) | (v3 != v3);
      m0 = vmin_(v0, m0); m1 = vmin_(v1, m1); m2 = vmin_(v2, m2); m3 = vmin_(v3, m3);
    }
    m0 = vmin_(vmin_(m0, m1), vmin_(m2, m3));
  }
  float r = m0[0];
  for (int k = 0; k < VL; k++) {
    if (bad[k]) return NAN;
    r = is_max ? (m0[k] > r ? m0[k] : r) : (m0[k] < r ? m0[k] : r);
  }
  for (; i < n; i++) {
    float v = x[i];
    if (v != v) return v;
    if (is_max ? v > r : v < r) r = v;
  }
  return r;
}
static double maxmin_f64(const double *x, int64_t n, int is_max) {
  double r = is_max ? -INFINITY : INFINITY;
  int bad = 0;
  for (int64_t i = 0; i < n; i++) {
    double v = x[i];
    bad |= v != v;
    r = is_max ? (v > r ? v : r) : (v < r ? v : r);
  }
  return bad ? NAN : r;
}

/* op over n contiguous elements, in double (float32 max/min are exact in double) */
static double reduce_run(int dtype, int op, const char *x, int64_t n) {
  if (dtype == 0) {
    const float *p = (const float *)x;
    return op == R_SUM ? sum_f32(p, n) : maxmin_f32(p, n, op == R_MAX);
  }
  const double *p = (const double *)x;
  return op == R_SUM ? sum_f64(p, n) : maxmin_f64(p, n, op == R_MAX);
}

/* Long rows are cut into blocks of RED_BLOCK elements whose results (partial) the threads compute
 * in any order and the caller combines in order: the result does not depend on the thread count. */
#define RED_BLOCK 16384
typedef struct { int dtype, op; const char *x; char *out; int64_t n, nb; double *partial; } red_ctx;

/* whole rows [b, e) */
static void red_rows_task(void *vc, int64_t b, int64_t e) {
  red_ctx *c = vc;
  size_t es = c->dtype == 0 ? 4 : 8;
  for (int64_t r = b; r < e; r++) {
    double v = reduce_run(c->dtype, c->op, c->x + r * c->n * es, c->n);
    if (c->dtype == 0) ((float *)c->out)[r] = (float)v;
    else ((double *)c->out)[r] = v;
  }
}
/* blocks [b, e): block t is block t % nb of row t / nb */
static void red_block_task(void *vc, int64_t b, int64_t e) {
  red_ctx *c = vc;
  size_t es = c->dtype == 0 ? 4 : 8;
  for (int64_t t = b; t < e; t++) {
    int64_t r = t / c->nb, lo = (t % c->nb) * RED_BLOCK;
    int64_t len = c->n - lo < RED_BLOCK ? c->n - lo : RED_BLOCK;
    c->partial[t] = reduce_run(c->dtype, c->op, c->x + (r * c->n + lo) * es, len);
  }
}

/** out[oo + r] = op over x[xo + r*n .. xo + r*n + n) for r < rows (contiguous rows). */
EXPORT int tl_reduce_rows(int dtype, int op, const void *x, int64_t xo, void *out, int64_t oo, int64_t rows, int64_t n) {
  if ((dtype != 0 && dtype != 1) || op < R_SUM || op > R_MIN || n < 1) return 0;
  size_t es = dtype == 0 ? 4 : 8;
  red_ctx c = {dtype, op, (const char *)x + xo * es, (char *)out + oo * es, n, 0, NULL};
  if (n < 2 * RED_BLOCK) {
    /* short rows: whole rows per task (grain in rows: about GRAIN_CHEAP elements each) */
    parallel_for(rows, GRAIN_CHEAP / n + 1, 1, red_rows_task, &c);
    return 1;
  }
  c.nb = (n + RED_BLOCK - 1) / RED_BLOCK;
  int64_t total = rows * c.nb;
  double stack_partial[512];
  c.partial = total <= 512 ? stack_partial : malloc((size_t)total * sizeof(double));
  if (!c.partial) return 0;
  parallel_for(total, GRAIN_CHEAP / RED_BLOCK, 1, red_block_task, &c);
  for (int64_t r = 0; r < rows; r++) {
    const double *pr = c.partial + r * c.nb;
    double acc = op == R_SUM ? 0.0 : op == R_MAX ? -INFINITY : INFINITY;
    int bad = 0;
    for (int64_t j = 0; j < c.nb; j++) {
      double v = pr[j];
      if (op == R_SUM) acc += v;
      else { bad |= v != v; acc = op == R_MAX ? (v > acc ? v : acc) : (v < acc ? v : acc); }
    }
    if (bad) acc = NAN;
    if (dtype == 0) ((float *)c.out)[r] = (float)acc;
    else ((double *)c.out)[r] = acc;
  }
  if (c.partial != stack_partial) free(c.partial);
  return 1;
}

/* Reduction over the outer and inner dims of a contiguous [A, K, B] layout, keeping the middle:
 * out[k] = op over a < A, b < B of x[(a*K + k)*B + b] (batch-norm statistics, bias gradients). */
typedef struct { int dtype, op; const char *x; char *out; int64_t A, K, B; } axes_ctx;

static void axes_rows_task(void *vc, int64_t k0, int64_t k1) {
  /* B >= 16: each output reduces A contiguous rows of B */
  axes_ctx *c = vc;
  for (int64_t k = k0; k < k1; k++) {
    double acc = c->op == R_SUM ? 0.0 : c->op == R_MAX ? -INFINITY : INFINITY;
    int bad = 0;
    for (int64_t a = 0; a < c->A; a++) {
      int64_t off = (a * c->K + k) * c->B;
      double v;
      if (c->dtype == 0) {
        const float *x = (const float *)c->x + off;
        v = c->op == R_SUM ? sum_f32(x, c->B) : maxmin_f32(x, c->B, c->op == R_MAX);
      } else {
        const double *x = (const double *)c->x + off;
        v = c->op == R_SUM ? sum_f64(x, c->B) : maxmin_f64(x, c->B, c->op == R_MAX);
      }
      if (c->op == R_SUM) acc += v;
      else { bad |= v != v; acc = c->op == R_MAX ? (v > acc ? v : acc) : (v < acc ? v : acc); }
    }
    if (bad) acc = NAN;
    if (c->dtype == 0) ((float *)c->out)[k] = (float)acc;
    else ((double *)c->out)[k] = acc;
  }
}

static void axes_cols_task(void *vc, int64_t k0, int64_t k1) {
  /* B == 1: column sums of an [A, K] matrix, read row by row (in memory order), in double */
  axes_ctx *c = vc;
  enum { CB = 512 };
  double acc[CB];
  int nanrow[CB];
  for (int64_t kb = k0; kb < k1; kb += CB) {
    int64_t w = k1 - kb < CB ? k1 - kb : CB;
    double init = c->op == R_SUM ? 0.0 : c->op == R_MAX ? -INFINITY : INFINITY;
    for (int64_t j = 0; j < w; j++) { acc[j] = init; nanrow[j] = 0; }
    for (int64_t a = 0; a < c->A; a++) {
      if (c->dtype == 0) {
        const float *x = (const float *)c->x + a * c->K + kb;
        if (c->op == R_SUM) for (int64_t j = 0; j < w; j++) acc[j] += x[j];
        else if (c->op == R_MAX) for (int64_t j = 0; j < w; j++) { double v = x[j]; nanrow[j] |= v != v; acc[j] = v > acc[j] ? v : acc[j]; }
        else for (int64_t j = 0; j < w; j++) { double v = x[j]; nanrow[j] |= v != v; acc[j] = v < acc[j] ? v : acc[j]; }
      } else {
        const double *x = (const double *)c->x + a * c->K + kb;
        if (c->op == R_SUM) for (int64_t j = 0; j < w; j++) acc[j] += x[j];
        else if (c->op == R_MAX) for (int64_t j = 0; j < w; j++) { double v = x[j]; nanrow[j] |= v != v; acc[j] = v > acc[j] ? v : acc[j]; }
        else for (int64_t j = 0; j < w; j++) { double v = x[j]; nanrow[j] |= v != v; acc[j] = v < acc[j] ? v : acc[j]; }
      }
    }
    for (int64_t j = 0; j < w; j++) {
      double v = nanrow[j] ? NAN : acc[j];
      if (c->dtype == 0) ((float *)c->out)[kb + j] = (float)v;
      else ((double *)c->out)[kb + j] = v;
    }
  }
}

/** out[oo + k] = op over a, b of x[xo + (a*K + k)*B + b] (sum, max, min); 0 when not handled. */
EXPORT int tl_reduce_axes(int dtype, int op, const void *x, int64_t xo, void *out, int64_t oo, int64_t A, int64_t K, int64_t B) {
  if ((dtype != 0 && dtype != 1) || op < R_SUM || op > R_MIN || A < 1 || K < 1 || B < 1) return 0;
  if (B != 1 && B < 16) return 0;
  size_t es = dtype == 0 ? 4 : 8;
  axes_ctx c = {dtype, op, (const char *)x + xo * es, (char *)out + oo * es, A, K, B};
  int64_t per = A * B;
  if (B == 1) parallel_for(K, GRAIN_CHEAP / (A > 0 ? A : 1) + 64, 64, axes_cols_task, &c);
  else parallel_for(K, GRAIN_CHEAP / per + 1, 1, axes_rows_task, &c);
  return 1;
}

/* ------------------------------------------------------------------ softmax rows */

typedef struct { int dtype, log; const void *x; void *out; int64_t n; } sm_ctx;

NO_CONTRACT static void softmax_rows_f64(const double *x, double *y, int64_t n, int log_) {
  double m = maxmin_f64(x, n, 1), s = 0;
  for (int64_t i = 0; i < n; i++) { double e = exp(x[i] - m); y[i] = e; s += e; }
  if (log_) {
    double lse = log(s);
    for (int64_t i = 0; i < n; i++) y[i] = (x[i] - m) - lse;
  } else {
    for (int64_t i = 0; i < n; i++) y[i] = y[i] / s;
  }
}
static void softmax_task(void *vc, int64_t b, int64_t e) {
  sm_ctx *c = vc;
  for (int64_t r = b; r < e; r++) {
    if (c->dtype == 0) {
      const float *x = (const float *)c->x + r * c->n;
      float *y = (float *)c->out + r * c->n;
#ifdef HAVE_AVX512
      if (use_avx512()) { softmax_row_f32_avx512(x, y, c->n, c->log); continue; }
#endif
      softmax_row_f32(x, y, c->n, c->log);
    }
    else softmax_rows_f64((const double *)c->x + r * c->n, (double *)c->out + r * c->n, c->n, c->log);
  }
}

/** Softmax (log = 0) or log-softmax (log = 1) of each contiguous row of n elements. */
EXPORT int tl_softmax_rows(int dtype, int log, const void *x, int64_t xo, void *out, int64_t oo, int64_t rows, int64_t n) {
  if ((dtype != 0 && dtype != 1) || n < 1) return 0;
  size_t es = dtype == 0 ? 4 : 8;
  sm_ctx c = {dtype, log, (const char *)x + xo * es, (char *)out + oo * es, n};
  parallel_for(rows, GRAIN_TRANSCENDENTAL / n + 1, 1, softmax_task, &c);
  return 1;
}

/* ------------------------------------------------------------------ batch normalization (training) */

/* Sum of (x - m)^2 over n floats: blocks of 64 in float (non-negative terms), the block sums in double. */
static double sumsq_dev_f32(const float *x, int64_t n, float m) {
  typedef double vd __attribute__((vector_size(32)));
  typedef float v4f __attribute__((vector_size(16)));
  const vf mv = splat(m);
  vd acc = {0};
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    vf d0 = ld(x + i) - mv, d1 = ld(x + i + 8) - mv, d2 = ld(x + i + 16) - mv, d3 = ld(x + i + 24) - mv;
    vf d4 = ld(x + i + 32) - mv, d5 = ld(x + i + 40) - mv, d6 = ld(x + i + 48) - mv, d7 = ld(x + i + 56) - mv;
    vf t = ((d0 * d0 + d1 * d1) + (d2 * d2 + d3 * d3)) + ((d4 * d4 + d5 * d5) + (d6 * d6 + d7 * d7));
    v4f lo = {t[0], t[1], t[2], t[3]}, hi = {t[4], t[5], t[6], t[7]};
    acc += __builtin_convertvector(lo, vd) + __builtin_convertvector(hi, vd);
  }
  vf t = {0};
  for (; i + VL <= n; i += VL) { vf d = ld(x + i) - mv; t += d * d; }
  double s = (acc[0] + acc[1]) + (acc[2] + acc[3]);
  for (int k = 0; k < VL; k++) s += t[k];
  for (; i < n; i++) { float d = x[i] - m; s += d * d; }
  return s;
}

/* Batch normalization of a contiguous [N, C, S] tensor by its own statistics, a channel per task:
 * the channel's mean and biased variance (two passes in double over its N runs of S elements,
 * which stay in cache for the second pass and the output), then
 * y = (x - mean) * (weight / sqrt(var + eps)) + bias. mean and var are written out (for the
 * running statistics). */
typedef struct { int dtype; int64_t N, C, S; const char *x; char *y; const char *w, *b; double eps; char *mean, *var; } bn_ctx;

static void bn_train_task(void *vc, int64_t c0, int64_t c1) {
  const bn_ctx *k = vc;
  const int64_t N = k->N, C = k->C, S = k->S, cs = C * S;
  const double cnt = (double)N * (double)S;
  for (int64_t c = c0; c < c1; c++) {
    if (k->dtype == 0) {
      const float *x = (const float *)k->x + c * S;
      float *y = (float *)k->y + c * S;
      double s = 0, ss = 0;
      for (int64_t n = 0; n < N; n++) s += sum_f32(x + n * cs, S);
      double mean = s / cnt;
      float m = (float)mean;
      for (int64_t n = 0; n < N; n++) ss += sumsq_dev_f32(x + n * cs, S, m);
      double dm = mean - (double)m;
      double var = ss / cnt - dm * dm; /* the mean of (x - m)^2 is var + (mean - m)^2 */
      if (var < 0) var = 0;
      double w = k->w ? ((const float *)k->w)[c] : 1.0, b = k->b ? ((const float *)k->b)[c] : 0.0;
      const float sc = (float)(w / sqrt(var + k->eps)), bb = (float)b;
      for (int64_t n = 0; n < N; n++) {
        const float *xr = x + n * cs;
        float *yr = y + n * cs;
        for (int64_t i = 0; i < S; i++) yr[i] = (xr[i] - m) * sc + bb;
      }
      ((float *)k->mean)[c] = m;
      ((float *)k->var)[c] = (float)var;
    } else {
      const double *x = (const double *)k->x + c * S;
      double *y = (double *)k->y + c * S;
      double s = 0, ss = 0;
      for (int64_t n = 0; n < N; n++) s += sum_f64(x + n * cs, S);
      double mean = s / cnt;
      for (int64_t n = 0; n < N; n++) {
        const double *xr = x + n * cs;
        for (int64_t i = 0; i < S; i++) { double d = xr[i] - mean; ss += d * d; }
      }
      double var = ss / cnt;
      double w = k->w ? ((const double *)k->w)[c] : 1.0, b = k->b ? ((const double *)k->b)[c] : 0.0;
      const double sc = w / sqrt(var + k->eps);
      for (int64_t n = 0; n < N; n++) {
        const double *xr = x + n * cs;
        double *yr = y + n * cs;
        for (int64_t i = 0; i < S; i++) yr[i] = (xr[i] - mean) * sc + b;
      }
      ((double *)k->mean)[c] = mean;
      ((double *)k->var)[c] = var;
    }
  }
}

/** Training-mode batch normalization of x (contiguous [N, C, S], at offset xo) into y (same
 * layout): per-channel statistics of the batch; w, b (length C) may be NULL. mean and var (biased)
 * receive the statistics (length C). 0 when not handled. */
EXPORT int tl_batchnorm_train(int dtype, int64_t N, int64_t C, int64_t S, const void *x, int64_t xo, void *y, int64_t yo,
                              const void *w, int64_t wo, const void *b, int64_t bo, double eps,
                              void *mean, int64_t mo, void *var, int64_t vo) {
  if ((dtype != 0 && dtype != 1) || N < 1 || C < 1 || S < 1) return 0;
  size_t es = dtype == 0 ? 4 : 8;
  bn_ctx k = {dtype, N, C, S, (const char *)x + xo * es, (char *)y + yo * es, w ? (const char *)w + wo * es : NULL,
              b ? (const char *)b + bo * es : NULL, eps, (char *)mean + mo * es, (char *)var + vo * es};
  /* about three passes over N * S elements per channel */
  parallel_for(C, GRAIN_CHEAP / (3 * N * S) + 1, 1, bn_train_task, &k);
  return 1;
}

/* ------------------------------------------------------------------ strided 2-D copies */

/* dst (contiguous rows x cols) = src with row stride rs and column stride cs (elements).
 * A transpose (rs = 1) of 4- or 8-byte elements moves 8x8 / 4x4 blocks through registers: the
 * source rows of one block are a power-of-two stride apart for square matrices, so a tile of
 * more than 8 rows would thrash L1's 8-way sets. Other layouts copy element by element in small
 * tiles. */
typedef struct { int es; const void *src; void *dst; int64_t rows, cols, rs, cs; } cp_ctx;

typedef double vd4 __attribute__((vector_size(32)));
typedef int64_t vl4 __attribute__((vector_size(32)));

/* out row i = (in[0][i], ..., in[7][i]) */
static inline void transpose8(const vf in[8], vf out[8]) {
  vf t[8], u[8];
  for (int p = 0; p < 8; p += 2) {
    t[p] = __builtin_shuffle(in[p], in[p + 1], (vi){0, 8, 1, 9, 4, 12, 5, 13});
    t[p + 1] = __builtin_shuffle(in[p], in[p + 1], (vi){2, 10, 3, 11, 6, 14, 7, 15});
  }
  for (int q = 0; q < 8; q += 4) {
    u[q + 0] = __builtin_shuffle(t[q + 0], t[q + 2], (vi){0, 1, 8, 9, 4, 5, 12, 13});
    u[q + 1] = __builtin_shuffle(t[q + 0], t[q + 2], (vi){2, 3, 10, 11, 6, 7, 14, 15});
    u[q + 2] = __builtin_shuffle(t[q + 1], t[q + 3], (vi){0, 1, 8, 9, 4, 5, 12, 13});
    u[q + 3] = __builtin_shuffle(t[q + 1], t[q + 3], (vi){2, 3, 10, 11, 6, 7, 14, 15});
  }
  for (int i = 0; i < 4; i++) {
    out[i] = __builtin_shuffle(u[i], u[i + 4], (vi){0, 1, 2, 3, 8, 9, 10, 11});
    out[i + 4] = __builtin_shuffle(u[i], u[i + 4], (vi){4, 5, 6, 7, 12, 13, 14, 15});
  }
}
static inline void transpose4d(const vd4 in[4], vd4 out[4]) {
  vd4 t0 = __builtin_shuffle(in[0], in[1], (vl4){0, 4, 2, 6}), t1 = __builtin_shuffle(in[0], in[1], (vl4){1, 5, 3, 7});
  vd4 t2 = __builtin_shuffle(in[2], in[3], (vl4){0, 4, 2, 6}), t3 = __builtin_shuffle(in[2], in[3], (vl4){1, 5, 3, 7});
  out[0] = __builtin_shuffle(t0, t2, (vl4){0, 1, 4, 5});
  out[1] = __builtin_shuffle(t1, t3, (vl4){0, 1, 4, 5});
  out[2] = __builtin_shuffle(t0, t2, (vl4){2, 3, 6, 7});
  out[3] = __builtin_shuffle(t1, t3, (vl4){2, 3, 6, 7});
}

/* dst rows [b, e): dst[r][k] = src[r + k*cs] (4-byte elements) */
static void transpose32(const uint32_t *S, uint32_t *D, int64_t b, int64_t e, int64_t cols, int64_t cs) {
  int64_t r0 = b;
  for (; r0 + 8 <= e; r0 += 8) {
    int64_t k0 = 0;
    for (; k0 + 8 <= cols; k0 += 8) {
      vf in[8], out[8];
      for (int j = 0; j < 8; j++) memcpy(&in[j], S + r0 + (k0 + j) * cs, 32);
      transpose8(in, out);
      for (int i = 0; i < 8; i++) memcpy(D + (r0 + i) * cols + k0, &out[i], 32);
    }
    for (int64_t r = r0; r < r0 + 8; r++)
      for (int64_t k = k0; k < cols; k++) D[r * cols + k] = S[r + k * cs];
  }
  for (int64_t r = r0; r < e; r++)
    for (int64_t k = 0; k < cols; k++) D[r * cols + k] = S[r + k * cs];
}
static void transpose64(const uint64_t *S, uint64_t *D, int64_t b, int64_t e, int64_t cols, int64_t cs) {
  int64_t r0 = b;
  for (; r0 + 4 <= e; r0 += 4) {
    int64_t k0 = 0;
    for (; k0 + 4 <= cols; k0 += 4) {
      vd4 in[4], out[4];
      for (int j = 0; j < 4; j++) memcpy(&in[j], S + r0 + (k0 + j) * cs, 32);
      transpose4d(in, out);
      for (int i = 0; i < 4; i++) memcpy(D + (r0 + i) * cols + k0, &out[i], 32);
    }
    for (int64_t r = r0; r < r0 + 4; r++)
      for (int64_t k = k0; k < cols; k++) D[r * cols + k] = S[r + k * cs];
  }
  for (int64_t r = r0; r < e; r++)
    for (int64_t k = 0; k < cols; k++) D[r * cols + k] = S[r + k * cs];
}

#define TILE 8
#define COPY_BLOCK(T)                                                                     \
  do {                                                                                    \
    const T *S = c->src;                                                                  \
    T *D = c->dst;                                                                        \
    if (c->cs == 1) {                                                                     \
      for (int64_t r = b; r < e; r++) memcpy(D + r * c->cols, S + r * c->rs, (size_t)c->cols * sizeof(T)); \
    } else {                                                                              \
      for (int64_t r0 = b; r0 < e; r0 += TILE) {                                          \
        int64_t r1 = r0 + TILE < e ? r0 + TILE : e;                                       \
        for (int64_t c0 = 0; c0 < c->cols; c0 += TILE) {                                  \
          int64_t c1 = c0 + TILE < c->cols ? c0 + TILE : c->cols;                         \
          for (int64_t r = r0; r < r1; r++) {                                             \
            const T *s = S + r * c->rs;                                                   \
            T *d = D + r * c->cols;                                                       \
            for (int64_t k = c0; k < c1; k++) d[k] = s[k * c->cs];                        \
          }                                                                               \
        }                                                                                 \
      }                                                                                   \
    }                                                                                     \
  } while (0)

static void copy_task(void *vc, int64_t b, int64_t e) {
  cp_ctx *c = vc;
  if (c->rs == 1 && c->cs != 1 && c->es == 4) { transpose32(c->src, c->dst, b, e, c->cols, c->cs); return; }
  if (c->rs == 1 && c->cs != 1 && c->es == 8) { transpose64(c->src, c->dst, b, e, c->cols, c->cs); return; }
  switch (c->es) {
    case 1: COPY_BLOCK(uint8_t); break;
    case 2: COPY_BLOCK(uint16_t); break;
    case 4: COPY_BLOCK(uint32_t); break;
    default: COPY_BLOCK(uint64_t); break;
  }
}

/* fills: every element of [b, e) gets the es-byte pattern (memset when it is all zero bytes) */
typedef struct { int es, zero; char *dst; uint64_t pat; } fill_ctx;
#define FILL_BLOCK(T) do { T *d = (T *)c->dst; const T v = (T)c->pat; for (int64_t i = b; i < e; i++) d[i] = v; } while (0)
static void fill_task(void *vc, int64_t b, int64_t e) {
  fill_ctx *c = vc;
  if (c->zero) { memset(c->dst + b * c->es, 0, (size_t)((e - b) * c->es)); return; }
  switch (c->es) {
    case 1: memset(c->dst + b, (int)(c->pat & 0xff), (size_t)(e - b)); break;
    case 2: FILL_BLOCK(uint16_t); break;
    case 4: FILL_BLOCK(uint32_t); break;
    default: FILL_BLOCK(uint64_t); break;
  }
}

/** dst[dof + i] = the es-byte value at `pattern` for i < n, on the pool (large tensors' fills). */
EXPORT int tl_fill(int es, void *dst, int64_t dof, int64_t n, const void *pattern) {
  if (es != 1 && es != 2 && es != 4 && es != 8) return 0;
  fill_ctx c = {es, 1, (char *)dst + dof * es, 0};
  memcpy(&c.pat, pattern, (size_t)es);
  c.zero = c.pat == 0;
  parallel_for(n, GRAIN_CHEAP * 4 / es, 64 / es, fill_task, &c);
  return 1;
}

/** dst[do + r*cols + k] = src[so + r*rs + k*cs] for r < rows, k < cols; es = element bytes. */
EXPORT int tl_copy2d(int es, const void *src, int64_t so, int64_t rs, int64_t cs, void *dst, int64_t dof, int64_t rows, int64_t cols) {
  if (es != 1 && es != 2 && es != 4 && es != 8) return 0;
  cp_ctx c = {es, (const char *)src + so * es, (char *)dst + dof * es, rows, cols, rs, cs};
  int64_t grain = (GRAIN_CHEAP / (cols > 0 ? cols : 1) + 16) / 16 * 16;
  parallel_for(rows, grain, 16, copy_task, &c);
  return 1;
}

/* ------------------------------------------------------------------ windows: im2col, col2im, max pooling */

/* Geometry passed as doubles (exact integers), in this order (src/device/cpu/native.ts: WIN_*). */
typedef struct {
  int64_t N, C, H, W, kh, kw, sh, sw, dh, dw, pt, pl, OH, OW;
  int64_t xo, xsN, xsC, xsH, xsW;                 /* source (image or cols) offset and strides */
  int64_t dof, dsN, dsC, dsKH, dsKW, dsOH, dsOW;  /* im2col destination / col2im source (cols) */
  double pad;
} win_geom;

static void read_geom(const double *p, win_geom *g) {
  int64_t *f = &g->N;
  for (int i = 0; i < 26; i++) f[i] = (int64_t)p[i];
  g->pad = p[26];
}

/* [lo, hi): output positions o with 0 <= o*stride - pad + k <= n - 1 (as validRange in windows.ts) */
static void valid_range(int64_t n, int64_t out, int64_t stride, int64_t pad, int64_t k, int64_t *lo, int64_t *hi) {
  int64_t a = pad - k;
  int64_t l = a <= 0 ? 0 : (a + stride - 1) / stride;
  int64_t num = n - 1 + pad - k;
  int64_t h = num < 0 ? 0 : num / stride + 1; /* floor for num >= 0; num < 0 gives no valid position */
  if (num < 0) h = 0;
  if (h > out) h = out;
  if (l < 0) l = 0;
  *lo = l;
  *hi = h > l ? h : l;
}

typedef struct { int dtype; win_geom g; const void *x; void *d; const double *ix; } win_ctx;

/* A task over planes [b, e) running BODY(float) or BODY(double) by c->dtype (BODY sees c and g). */
#define WIN_TASK(name, BODY)                                          \
  static void name(void *vc, int64_t b, int64_t e) {                  \
    win_ctx *c = vc;                                                  \
    const win_geom *g = &c->g;                                        \
    if (c->dtype == 0) BODY(float); else BODY(double);                \
  }

/* Runs task over the N * C (image, channel) planes of a window op; each plane costs about
 * OH * OW elements, times kh * kw when `per_window` (every window element is touched). */
static int win_run(int dtype, const double *geom, const void *src, void *dst, const double *ix, int per_window, task_fn task) {
  if (dtype != 0 && dtype != 1) return 0;
  win_ctx c = {dtype, {0}, src, dst, ix};
  read_geom(geom, &c.g);
  int64_t per = c.g.OH * c.g.OW * (per_window ? c.g.kh * c.g.kw : 1);
  parallel_for(c.g.N * c.g.C, GRAIN_CHEAP / (per > 0 ? per : 1) + 1, 1, task, &c);
  return 1;
}

#define IM2COL_BODY(T)                                                                               \
  do {                                                                                               \
    const T *S = c->x; T *D = c->d; const T pad = (T)g->pad;                                         \
    const int64_t C = g->C, H = g->H, W = g->W, OH = g->OH, OW = g->OW, kh = g->kh, kw = g->kw;      \
    const int64_t sh = g->sh, sw = g->sw, dh = g->dh, dw = g->dw, pt = g->pt, pl = g->pl;             \
    const int64_t xsN = g->xsN, xsC = g->xsC, xsH = g->xsH, xsW = g->xsW;                             \
    const int64_t dsN = g->dsN, dsC = g->dsC, dsKH = g->dsKH, dsKW = g->dsKW, dsOH = g->dsOH, dOW = g->dsOW; \
    const int64_t step = sw * xsW;                                                                   \
    /* stride 1, no dilation, output as wide as the input, rows packed in both: each (ki, kj)     \
     * plane is the image shifted by one offset, so it is one long copy of the valid span plus   \
     * padding fixed up at the row ends, instead of OH short row copies */                         \
    const int same_rows = sh == 1 && sw == 1 && dh == 1 && dw == 1 && xsW == 1 && xsH == W && OW == W \
      && dOW == 1 && dsOH == OW;                                                                     \
    for (int64_t nc = b; nc < e && same_rows; nc++) {                                                \
      int64_t n = nc / C, ch = nc % C;                                                               \
      for (int64_t ki = 0; ki < kh; ki++) {                                                          \
        int64_t ohLo, ohHi;                                                                          \
        valid_range(H, OH, 1, pt, ki, &ohLo, &ohHi);                                                 \
        for (int64_t kj = 0; kj < kw; kj++) {                                                        \
          int64_t owLo, owHi;                                                                        \
          valid_range(W, OW, 1, pl, kj, &owLo, &owHi);                                               \
          T *dp = D + g->dof + n * dsN + ch * dsC + ki * dsKH + kj * dsKW;                           \
          const T *sp = S + g->xo + n * xsN + ch * xsC + (ki - pt) * W + (kj - pl);                  \
          if (ohLo >= ohHi || owLo >= owHi) { for (int64_t i = 0; i < OH * OW; i++) dp[i] = pad; continue; } \
          for (int64_t i = 0; i < ohLo * OW; i++) dp[i] = pad;                                       \
          int64_t a = ohLo * OW + owLo, z = (ohHi - 1) * OW + owHi;                                  \
          for (int64_t i = a; i < z; i++) dp[i] = sp[i];                                             \
          for (int64_t oh = ohLo; oh < ohHi; oh++) {                                                 \
            T *rd = dp + oh * OW;                                                                    \
            for (int64_t ow = 0; ow < owLo; ow++) rd[ow] = pad;                                      \
            for (int64_t ow = owHi; ow < OW; ow++) rd[ow] = pad;                                     \
          }                                                                                          \
          for (int64_t i = ohHi * OW; i < OH * OW; i++) dp[i] = pad;                                 \
        }                                                                                            \
      }                                                                                              \
    }                                                                                                \
    for (int64_t nc = b; nc < e && !same_rows; nc++) {                                               \
      int64_t n = nc / C, ch = nc % C;                                                               \
      for (int64_t kj = 0; kj < kw; kj++) {                                                          \
        int64_t owLo, owHi;                                                                          \
        valid_range(W, OW, sw, pl, kj * dw, &owLo, &owHi);                                           \
        for (int64_t ki = 0; ki < kh; ki++) {                                                        \
          int64_t ohLo, ohHi;                                                                        \
          valid_range(H, OH, sh, pt, ki * dh, &ohLo, &ohHi);                                         \
          T *dp = D + g->dof + n * dsN + ch * dsC + ki * dsKH + kj * dsKW;                           \
          const T *sp = S + g->xo + n * xsN + ch * xsC + (ki * dh - pt) * xsH + (kj * dw - pl) * xsW; \
          for (int64_t oh = 0; oh < OH; oh++) {                                                      \
            T *rd = dp + oh * dsOH;                                                                  \
            if (oh < ohLo || oh >= ohHi) { for (int64_t ow = 0; ow < OW; ow++) rd[ow * dOW] = pad; continue; } \
            const T *rs = sp + oh * sh * xsH;                                                        \
            if (dOW == 1) {                                                                          \
              for (int64_t ow = 0; ow < owLo; ow++) rd[ow] = pad;                                    \
              if (step == 1) for (int64_t ow = owLo; ow < owHi; ow++) rd[ow] = rs[ow];               \
              else for (int64_t ow = owLo; ow < owHi; ow++) rd[ow] = rs[ow * step];                  \
              for (int64_t ow = owHi; ow < OW; ow++) rd[ow] = pad;                                   \
            } else {                                                                                 \
              for (int64_t ow = 0; ow < owLo; ow++) rd[ow * dOW] = pad;                              \
              for (int64_t ow = owLo; ow < owHi; ow++) rd[ow * dOW] = rs[ow * step];                 \
              for (int64_t ow = owHi; ow < OW; ow++) rd[ow * dOW] = pad;                             \
            }                                                                                        \
          }                                                                                          \
        }                                                                                            \
      }                                                                                              \
    }                                                                                                \
  } while (0)

WIN_TASK(im2col_task, IM2COL_BODY)

/** im2col: the windows of x (any strides, padding reads geom.pad) into d (any strides). */
EXPORT int tl_im2col(int dtype, const double *geom, const void *x, void *d) {
  return win_run(dtype, geom, x, d, NULL, 1, im2col_task);
}

/* col2im: out (contiguous [N, C, H, W], zeroed, at offset xo) += the windows of cols (d* strides).
 * Per image the additions come in the JS kernel's order (ki, kj, oh, ow), so results match. */
#define COL2IM_BODY(T)                                                                               \
  do {                                                                                               \
    const T *S = c->x; T *O = c->d;                                                                  \
    for (int64_t nc = b; nc < e; nc++) {                                                             \
      int64_t n = nc / g->C, ch = nc % g->C;                                                         \
      T *img = O + g->xo + nc * g->H * g->W;                                                         \
      for (int64_t ki = 0; ki < g->kh; ki++) {                                                       \
        int64_t ohLo, ohHi;                                                                          \
        valid_range(g->H, g->OH, g->sh, g->pt, ki * g->dh, &ohLo, &ohHi);                             \
        for (int64_t kj = 0; kj < g->kw; kj++) {                                                     \
          int64_t owLo, owHi;                                                                        \
          valid_range(g->W, g->OW, g->sw, g->pl, kj * g->dw, &owLo, &owHi);                           \
          int64_t cBase = g->dof + n * g->dsN + ch * g->dsC + ki * g->dsKH + kj * g->dsKW;             \
          for (int64_t oh = ohLo; oh < ohHi; oh++) {                                                 \
            T *orow = img + (oh * g->sh - g->pt + ki * g->dh) * g->W + (kj * g->dw - g->pl);          \
            const T *crow = S + cBase + oh * g->dsOH;                                                \
            if (g->sw == 1 && g->dsOW == 1) for (int64_t ow = owLo; ow < owHi; ow++) orow[ow] += crow[ow]; \
            else for (int64_t ow = owLo; ow < owHi; ow++) orow[ow * g->sw] += crow[ow * g->dsOW];    \
          }                                                                                          \
        }                                                                                            \
      }                                                                                              \
    }                                                                                                \
  } while (0)

WIN_TASK(col2im_task, COL2IM_BODY)

/** col2im: sums the windows of cols into the zero-filled contiguous image out. */
EXPORT int tl_col2im(int dtype, const double *geom, const void *cols, void *out) {
  return win_run(dtype, geom, cols, out, NULL, 1, col2im_task);
}

/* max pooling: values (contiguous [N, C, OH, OW], at offset dof) and int64 indices h*W + w (as
 * doubles, at offset dsN); the first maximum, or the last NaN, as windows.ts's maxPoolCpu.
 * The 2x2, stride 2, unpadded window with unit column stride (by far the most common) has its
 * own loop; everything else the general one, with the geometry in locals. */
/* branch-free (max comparisons on real data mispredict half the time) */
#define MAX_STEP(val, pos) do { __typeof__(best) v_ = (val); int t_ = (v_ > best) | (v_ != v_); best = t_ ? v_ : best; at = t_ ? (pos) : at; } while (0)

/* 8 windows of a 2x2, stride-2 row pair from column 2 * ow: values into vo[0..8) and indices
 * (p0 + offsets, as doubles) into io[0..8) */
static inline void maxpool2x2_step8(const float *r0, const float *r1, int64_t ow, int64_t p0, int64_t W, float *vo, double *io) {
  typedef double vd4l __attribute__((vector_size(32)));
  typedef int32_t vi4 __attribute__((vector_size(16)));
  vf a0 = ld(r0 + 2 * ow), a1 = ld(r0 + 2 * ow + 8), b0 = ld(r1 + 2 * ow), b1 = ld(r1 + 2 * ow + 8);
  const vi ev = {0, 2, 4, 6, 8, 10, 12, 14}, od = {1, 3, 5, 7, 9, 11, 13, 15};
  vf x00 = __builtin_shuffle(a0, a1, ev), x01 = __builtin_shuffle(a0, a1, od);
  vf x10 = __builtin_shuffle(b0, b1, ev), x11 = __builtin_shuffle(b0, b1, od);
  vi w = {0, 2, 4, 6, 8, 10, 12, 14};
  w = w + (int32_t)(p0 + 2 * ow);
  vf best = x00;
  vi at = w, m;
  m = (x01 > best) | (x01 != x01); best = sel(m, x01, best); at = (m & (w + 1)) | (~m & at);
  m = (x10 > best) | (x10 != x10); best = sel(m, x10, best); at = (m & (w + (int32_t)W)) | (~m & at);
  m = (x11 > best) | (x11 != x11); best = sel(m, x11, best); at = (m & (w + (int32_t)W + 1)) | (~m & at);
  st(vo, best);
  vi4 lo = {at[0], at[1], at[2], at[3]}, hi = {at[4], at[5], at[6], at[7]};
  vd4l dl = __builtin_convertvector(lo, vd4l), dh = __builtin_convertvector(hi, vd4l);
  memcpy(io, &dl, 32);
  memcpy(io + 4, &dh, 32);
}

/* One row of 2x2/stride-2 float32 windows, 8 at a time: even/odd columns of two input rows. */
static void maxpool2x2_row_f32(const float *r0, const float *r1, int64_t OW, int64_t p0, int64_t W, float *vo, double *io) {
  if (p0 + W + 2 * OW >= INT32_MAX) {
    for (int64_t ow = 0; ow < OW; ow++) {
      int64_t w = 2 * ow;
      float best = r0[w]; int64_t at = p0 + w;
      MAX_STEP(r0[w + 1], p0 + w + 1);
      MAX_STEP(r1[w], p0 + W + w);
      MAX_STEP(r1[w + 1], p0 + W + w + 1);
      vo[ow] = best;
      io[ow] = (double)at;
    }
    return;
  }
  if (OW < 8) {
    /* short rows (7 windows after two poolings of 28): one vector step over padded copies */
    float t0[16] = {0}, t1[16] = {0}, tv[8];
    double ti[8];
    memcpy(t0, r0, (size_t)(2 * OW) * sizeof(float));
    memcpy(t1, r1, (size_t)(2 * OW) * sizeof(float));
    maxpool2x2_step8(t0, t1, 0, p0, W, tv, ti);
    memcpy(vo, tv, (size_t)OW * sizeof(float));
    memcpy(io, ti, (size_t)OW * sizeof(double));
    return;
  }
  /* a ragged end is one more vector step ending at the last window (it recomputes a few
   * windows with identical results); a scalar tail costs more than the vector body */
  for (int64_t ow = 0;; ow += 8) {
    if (ow + 8 > OW) ow = OW - 8;
    maxpool2x2_step8(r0, r1, ow, p0, W, vo + ow, io + ow);
    if (ow + 8 >= OW) break;
  }
}
#define POOL_ROW_FAST(T) _Generic((T)0, float: 1, default: 0)
#define MAXPOOL_BODY(T)                                                                              \
  do {                                                                                               \
    const T *S = c->x; T *V = c->d; double *IX = (double *)c->ix;                                    \
    const int64_t C = g->C, H = g->H, W = g->W, OH = g->OH, OW = g->OW, kh = g->kh, kw = g->kw;      \
    const int64_t sh = g->sh, sw = g->sw, dh = g->dh, dw = g->dw, pt = g->pt, pl = g->pl;             \
    const int64_t xsN = g->xsN, xsC = g->xsC, xsH = g->xsH, xsW = g->xsW;                             \
    const int fast = kh == 2 && kw == 2 && sh == 2 && sw == 2 && dh == 1 && dw == 1 && pt == 0 && pl == 0 \
      && xsW == 1 && 2 * OH <= H && 2 * OW <= W;                                                     \
    for (int64_t nc = b; nc < e; nc++) {                                                             \
      int64_t n = nc / C, ch = nc % C;                                                               \
      const T *base = S + g->xo + n * xsN + ch * xsC;                                                \
      int64_t o = nc * OH * OW;                                                                      \
      T *vo = V + g->dof + o; double *io = IX + g->dsN + o;                                          \
      if (fast) {                                                                                    \
        for (int64_t oh = 0; oh < OH; oh++) {                                                        \
          const T *r0 = base + 2 * oh * xsH, *r1 = r0 + xsH;                                         \
          int64_t p0 = 2 * oh * W;                                                                   \
          if (POOL_ROW_FAST(T)) {                                                                    \
            maxpool2x2_row_f32((const float *)r0, (const float *)r1, OW, p0, W, (float *)(vo + oh * OW), io + oh * OW); \
            continue;                                                                                \
          }                                                                                          \
          for (int64_t ow = 0; ow < OW; ow++) {                                                      \
            int64_t w = 2 * ow;                                                                      \
            T best = r0[w]; int64_t at = p0 + w;                                                     \
            MAX_STEP(r0[w + 1], p0 + w + 1);                                                         \
            MAX_STEP(r1[w], p0 + W + w);                                                             \
            MAX_STEP(r1[w + 1], p0 + W + w + 1);                                                     \
            vo[oh * OW + ow] = best;                                                                 \
            io[oh * OW + ow] = (double)at;                                                           \
          }                                                                                          \
        }                                                                                            \
        continue;                                                                                    \
      }                                                                                              \
      for (int64_t oh = 0; oh < OH; oh++) {                                                          \
        int64_t h0 = oh * sh - pt;                                                                   \
        for (int64_t ow = 0; ow < OW; ow++) {                                                        \
          int64_t w0 = ow * sw - pl;                                                                 \
          T best = -INFINITY; int64_t at = -1;                                                       \
          for (int64_t ki = 0; ki < kh; ki++) {                                                      \
            int64_t h = h0 + ki * dh;                                                                \
            if (h < 0 || h >= H) continue;                                                           \
            const T *row = base + h * xsH;                                                           \
            for (int64_t kj = 0; kj < kw; kj++) {                                                    \
              int64_t w = w0 + kj * dw;                                                              \
              if (w < 0 || w >= W) continue;                                                         \
              T val = row[w * xsW];                                                                  \
              if (at < 0 || val > best || val != val) { best = val; at = h * W + w; }                \
            }                                                                                        \
          }                                                                                          \
          vo[oh * OW + ow] = at < 0 ? -INFINITY : best;                                              \
          io[oh * OW + ow] = at < 0 ? 0 : (double)at;                                                \
        }                                                                                            \
      }                                                                                              \
    }                                                                                                \
  } while (0)

WIN_TASK(maxpool_task, MAXPOOL_BODY)

EXPORT int tl_maxpool(int dtype, const double *geom, const void *x, void *values, double *indices) {
  return win_run(dtype, geom, x, values, indices, 1, maxpool_task);
}

/* max-pool backward: out (zeroed contiguous [N, C, H, W] at dof) gets grad (contiguous, at xo)
 * added at each window's index (at dsN). */
#define MAXPOOL_BWD_BODY(T)                                                                          \
  do {                                                                                               \
    const T *S = c->x; T *O = c->d; const double *IX = c->ix;                                        \
    int64_t plane = g->OH * g->OW, HW = g->H * g->W;                                                 \
    for (int64_t nc = b; nc < e; nc++) {                                                             \
      T *ob = O + g->dof + nc * HW;                                                                  \
      const T *sb = S + g->xo + nc * plane;                                                          \
      const double *ib = IX + g->dsN + nc * plane;                                                   \
      for (int64_t k = 0; k < plane; k++) ob[(int64_t)ib[k]] += sb[k];                               \
    }                                                                                                \
  } while (0)

WIN_TASK(maxpool_bwd_task, MAXPOOL_BWD_BODY)

EXPORT int tl_maxpool_backward(int dtype, const double *geom, const void *grad, const double *indices, void *out) {
  return win_run(dtype, geom, grad, out, indices, 0, maxpool_bwd_task);
}

/* ------------------------------------------------------------------ fused Adam / AdamW */

/* The arithmetic of src/optim/fused.ts adamKernel, operation by operation. float64 state is
 * computed in double exactly as there (bit for bit); float32 state in float32 arithmetic, as
 * PyTorch's own Adam does (the double divisions and square root cost 5x more). */
typedef struct {
  int dtype, decoupled, maximize, amsgrad;
  double lr, beta1, beta2, eps, wd, step_size, bc2_sqrt;
  void *P, *M, *V, *MX; const void *G;
} adam_ctx;

/* AMS and DEC are compile-time constants in each expansion: conditional loads and stores inside
 * a vectorised loop become masked moves, which are slow (microcoded on AMD). */
#define ADAM_LOOP(T, AMS, DEC)                                                                       \
  for (int64_t i = b; i < e; i++) {                                                                  \
    T p = P[i];                                                                                      \
    if (DEC) { p = p * decay; P[i] = p; }                                                            \
    T d = G[i];                                                                                      \
    d = maximize ? -d : d;                                                                           \
    d = coupled ? d + wd * p : d;                                                                    \
    T m0 = M[i];                                                                                     \
    T m = small1 ? m0 + w1 * (d - m0) : d - (d - m0) * omw1;                                         \
    M[i] = m;                                                                                        \
    T v = V[i] * beta2;                                                                              \
    v = v + c2 * d * d;                                                                              \
    V[i] = v;                                                                                        \
    T s = v;                                                                                         \
    if (AMS) { T a = MX[i]; T mx = a > v ? a : (v != v ? v : (a != a ? a : v)); MX[i] = mx; s = mx; } \
    T denom = _Generic(s, float: sqrtf, default: sqrt)(s) / bc2 + eps;                               \
    P[i] = p + nstep * m / denom;                                                                    \
  }

#define ADAM_BODY(T)                                                                                 \
  do {                                                                                               \
    T *P = c->P, *M = c->M, *V = c->V, *MX = c->MX; const T *G = c->G;                                \
    const T wd = (T)c->wd, beta2 = (T)c->beta2, eps = (T)c->eps, bc2 = (T)c->bc2_sqrt;                \
    const T decay = (T)(1 - c->lr * c->wd), w1 = (T)(1 - c->beta1), c2 = (T)(1 - c->beta2);           \
    const T nstep = (T)-c->step_size, omw1 = (T)(1 - (1 - c->beta1));                                 \
    const int coupled = !c->decoupled && c->wd != 0, decoupled = c->decoupled && c->wd != 0;          \
    const int small1 = fabs(1 - c->beta1) < 0.5, maximize = c->maximize, amsgrad = c->amsgrad;        \
    if (amsgrad) { if (decoupled) ADAM_LOOP(T, 1, 1) else ADAM_LOOP(T, 1, 0) }                        \
    else { if (decoupled) ADAM_LOOP(T, 0, 1) else ADAM_LOOP(T, 0, 0) }                                \
  } while (0)

static void adam32_task(void *vc, int64_t b, int64_t e) {
  adam_ctx *c = vc;
  ADAM_BODY(float);
}

NO_CONTRACT static void adam64_task(void *vc, int64_t b, int64_t e) {
  adam_ctx *c = vc;
  ADAM_BODY(double);
}

/** One Adam/AdamW step over n contiguous elements; hp = [lr, beta1, beta2, eps, weightDecay,
 * decoupled, maximize, stepSize, bc2Sqrt, amsgrad]. MX is ignored unless amsgrad. */
EXPORT int tl_adam(int dtype, int64_t n, const double *hp, void *P, int64_t po, const void *G, int64_t go,
                   void *M, int64_t mo, void *V, int64_t vo, void *MX, int64_t xo) {
  if (dtype != 0 && dtype != 1) return 0;
  size_t es = dtype == 0 ? 4 : 8;
  adam_ctx c;
  c.dtype = dtype;
  c.lr = hp[0]; c.beta1 = hp[1]; c.beta2 = hp[2]; c.eps = hp[3]; c.wd = hp[4];
  c.decoupled = hp[5] != 0; c.maximize = hp[6] != 0; c.step_size = hp[7]; c.bc2_sqrt = hp[8]; c.amsgrad = hp[9] != 0;
  c.P = (char *)P + po * es; c.G = (const char *)G + go * es; c.M = (char *)M + mo * es; c.V = (char *)V + vo * es;
  c.MX = c.amsgrad ? (char *)MX + xo * es : NULL;
  parallel_for(n, GRAIN_CHEAP / 4, 16, dtype == 0 ? adam32_task : adam64_task, &c);
  return 1;
}

/** Version of the exported interface (bumped whenever a signature or op code changes). */
EXPORT int tl_abi_version(void) { return 8; }

/* Recurrent-layer kernels (fused LSTM cell forward/backward) live in their own file. */
#include "rnn.inc.c"

/* Fused 2-D convolution (per-image im2col into scratch + BLAS GEMM, images in parallel). */
#include "conv.inc.c"
