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
#include <string.h>
#include <linux/futex.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "coeffs.h"

#define EXPORT __attribute__((visibility("default")))

/* ------------------------------------------------------------------ thread pool */

/* A job is fn(ctx, begin, end) over [0, n) split into `parts` contiguous chunks; the calling
 * thread runs chunk 0 and waits for the others. Workers spin briefly after a job (ops often
 * come back to back), then sleep on a futex. */
typedef void (*task_fn)(void *ctx, int64_t begin, int64_t end);

#define MAX_THREADS 64
static int n_threads = 0; /* 0: not decided yet */
static int n_started = 0; /* workers running */
static pthread_mutex_t start_lock = PTHREAD_MUTEX_INITIALIZER;

static _Atomic uint32_t job_gen = 0;
static _Atomic int job_pending = 0;
static _Atomic int sleepers = 0;
static task_fn job_fn;
static void *job_ctx;
static int64_t job_n, job_align;
static int job_parts;

static long futex(_Atomic uint32_t *addr, int op, uint32_t val) {
  return syscall(SYS_futex, (uint32_t *)addr, op, val, NULL, NULL, 0);
}

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

static void chunk_of(int part, int64_t *b, int64_t *e) {
  /* equal chunks, boundaries rounded to job_align elements (whole cache lines per thread) */
  int64_t per = (job_n + job_parts - 1) / job_parts;
  per = (per + job_align - 1) / job_align * job_align;
  int64_t lo = per * part, hi = lo + per;
  if (lo > job_n) lo = job_n;
  if (hi > job_n) hi = job_n;
  *b = lo;
  *e = hi;
}

static void *worker_main(void *arg) {
  int id = (int)(intptr_t)arg; /* 1..n_threads-1 */
  uint32_t seen = atomic_load(&job_gen);
  for (;;) {
    uint32_t g;
    int spins = 0;
    while ((g = atomic_load_explicit(&job_gen, memory_order_acquire)) == seen) {
      if (++spins < 4000) { cpu_relax(); continue; }
      atomic_fetch_add(&sleepers, 1);
      if (atomic_load(&job_gen) == seen) futex(&job_gen, FUTEX_WAIT_PRIVATE, seen);
      atomic_fetch_sub(&sleepers, 1);
      spins = 0;
    }
    seen = g;
    if (id < job_parts) {
      int64_t b, e;
      chunk_of(id, &b, &e);
      if (b < e) job_fn(job_ctx, b, e);
      atomic_fetch_sub_explicit(&job_pending, 1, memory_order_release);
    }
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

static void ensure_workers(int want) {
  if (want <= n_started + 1) return;
  pthread_mutex_lock(&start_lock);
  while (n_started + 1 < want) {
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
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

/* Runs fn over [0, n) on up to n_threads threads, giving each at least `grain` elements. */
static void parallel_for(int64_t n, int64_t grain, int64_t align, task_fn fn, void *ctx) {
  int threads = tl_get_num_threads();
  int64_t parts = grain > 0 ? n / grain : 1;
  if (parts > threads) parts = threads;
  if (parts <= 1) {
    if (n > 0) fn(ctx, 0, n);
    return;
  }
  ensure_workers((int)parts);
  if (n_started + 1 < parts) parts = n_started + 1;
  if (parts <= 1) {
    fn(ctx, 0, n);
    return;
  }
  job_fn = fn;
  job_ctx = ctx;
  job_n = n;
  job_align = align < 1 ? 1 : align;
  job_parts = (int)parts;
  /* every started worker sees the generation bump; those with id >= parts skip the job */
  atomic_store(&job_pending, (int)parts - 1);
  atomic_fetch_add_explicit(&job_gen, 1, memory_order_release);
  if (atomic_load(&sleepers) > 0) futex(&job_gen, FUTEX_WAKE_PRIVATE, INT32_MAX);
  int64_t b, e;
  chunk_of(0, &b, &e);
  if (b < e) fn(ctx, b, e);
  int spins = 0;
  while (atomic_load_explicit(&job_pending, memory_order_acquire) > 0) {
    if (++spins < 20000) cpu_relax();
    else sched_yield();
  }
}

/* ------------------------------------------------------------------ vector helpers */

typedef float vf __attribute__((vector_size(32)));
typedef int32_t vi __attribute__((vector_size(32)));
typedef uint32_t vu __attribute__((vector_size(32)));
#define VL 8

static inline vf ld(const float *p) { vf v; memcpy(&v, p, sizeof v); return v; }
static inline void st(float *p, vf v) { memcpy(p, &v, sizeof v); }
static inline vf sel(vi m, vf a, vf b) { return (vf)((m & (vi)a) | (~m & (vi)b)); }
static inline vf splat(float c) { return (vf){c, c, c, c, c, c, c, c}; }
static inline vf vabs(vf x) { return (vf)((vi)x & 0x7fffffff); }
static inline vf copysignv(vf mag, vf sgn) { return (vf)(((vi)mag & 0x7fffffff) | ((vi)sgn & (int32_t)0x80000000)); }

/* e^x, float32, < 2 ulp; IEEE results for +-inf, NaN, overflow and (subnormal) underflow. */
static inline vf v_exp(vf x) {
  const vi big = x > 88.72283935546875f, small = x < -103.972084045410156f, nan = x != x;
  vf a = sel(big | small | nan, splat(0.0f), x);
  const vf magic = splat(12582912.0f); /* 1.5 * 2^23: adding and subtracting it rounds to an integer */
  vf k = (a * 1.44269504088896341f + magic) - magic;
  vf r = a - k * 0.693359375f;
  r = r - k * -2.12194440e-4f;
  vf p = splat(1.9875691500e-4f);
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * (r * r) + r + 1.0f;
  /* scale by 2^k in two steps so that results down to the smallest subnormal round once */
  vi ki = __builtin_convertvector(k, vi);
  vi k1 = ki >> 1, k2 = ki - k1;
  vf s1 = (vf)((k1 + 127) << 23), s2 = (vf)((k2 + 127) << 23);
  vf res = p * s1 * s2;
  res = sel(big, splat(INFINITY), res);
  res = sel(small, splat(0.0f), res);
  return sel(nan, x, res);
}

/* natural log, float32, ~1 ulp; log(0) = -inf, log(<0) = NaN, log(inf) = inf. */
static inline vf v_log(vf x) {
  const vi nan = x != x, neg = x < 0.0f, zero = x == 0.0f, inf = x == INFINITY;
  const vi sub = (x < 1.17549435e-38f) & (x > 0.0f);
  vf xs = sel(sub, x * 8388608.0f, x); /* 2^23 */
  vi bits = (vi)xs;
  vi e = ((bits >> 23) & 0xff) - 126 - (sub & 23);
  vf m = (vf)((bits & 0x007fffff) | 0x3f000000); /* [0.5, 1) */
  vi lt = m < 0.707106781186547524f;
  e = e + lt; /* lt is -1 where true */
  m = sel(lt, m + m, m) - 1.0f;
  vf ef = __builtin_convertvector(e, vf);
  vf z = m * m;
  vf y = splat(7.0376836292e-2f);
  y = y * m + -1.1514610310e-1f;
  y = y * m + 1.1676998740e-1f;
  y = y * m + -1.2420140846e-1f;
  y = y * m + 1.4249322787e-1f;
  y = y * m + -1.6668057665e-1f;
  y = y * m + 2.0000714765e-1f;
  y = y * m + -2.4999993993e-1f;
  y = y * m + 3.3333331174e-1f;
  y = y * m * z;
  y = y + ef * -2.12194440e-4f;
  y = y - 0.5f * z;
  vf r = m + y;
  r = r + ef * 0.693359375f;
  r = sel(inf, splat(INFINITY), r);
  r = sel(zero, splat(-INFINITY), r);
  r = sel(neg, splat(NAN), r);
  return sel(nan, x, r);
}

/* tanh, float32, few ulp: odd polynomial below 0.625, else 1 - 2 / (e^2|x| + 1). */
static inline vf v_tanh(vf x) {
  vf ax = vabs(x);
  vf s = x * x;
  vf p = splat(-5.70498872745e-3f);
  p = p * s + 2.06390887954e-2f;
  p = p * s + -5.37397155531e-2f;
  p = p * s + 1.33314422036e-1f;
  p = p * s + -3.33332819422e-1f;
  vf small = copysignv(p * s * x + x, x); /* copysign keeps tanh(-0) = -0 */
  vf e = v_exp(ax + ax);
  vf large = copysignv(1.0f - 2.0f / (e + 1.0f), x);
  return sel(ax < 0.625f, small, large);
}

/* 1 / (1 + e^-x), as e^x / (1 + e^x) for negative x so that results below ~1e-38 do not flush to 0 */
static inline vf v_sigmoid(vf x) {
  vf e = v_exp(-vabs(x));
  vf d = 1.0f + e;
  return sel(x < 0.0f, e / d, 1.0f / d);
}

/* x*x = hi + lo exactly (Dekker's product: no FMA needed, and contraction keeps it exact). */
static inline void two_square(vf x, vf *hi, vf *lo) {
  vf c = x * 4097.0f;
  vf xh = c - (c - x), xl = x - xh;
  vf h = x * x;
  *hi = h;
  *lo = ((xh * xh - h) + 2.0f * xh * xl) + xl * xl;
}

/* erfcx(z) = e^(z^2) erfc(z) for z in [0, 10.1] (relative error < 3e-7 in float): a polynomial in
 * u = (z - 3) / (z + 3), from a Chebyshev interpolation (native/gen_coeffs.py). */
static inline vf v_erfcx(vf z) {
  vf u = (z - 3.0f) / (z + 3.0f);
  vf p = splat(ERFCX_C10);
  p = p * u + ERFCX_C9;
  p = p * u + ERFCX_C8;
  p = p * u + ERFCX_C7;
  p = p * u + ERFCX_C6;
  p = p * u + ERFCX_C5;
  p = p * u + ERFCX_C4;
  p = p * u + ERFCX_C3;
  p = p * u + ERFCX_C2;
  p = p * u + ERFCX_C1;
  p = p * u + ERFCX_C0;
  return p;
}

/* e^(-s x^2) for s = 1 or 0.5, without the error of rounding x^2 first. */
static inline vf v_exp_neg_sq(vf x, float s) {
  vf hi, lo;
  two_square(x, &hi, &lo);
  return v_exp(-s * hi) * (1.0f - s * lo);
}

/* gelu(x) = x Phi(x), Phi the standard normal cdf, accurate relative to its value in both tails:
 * Phi(-|x|) = erfc(|x| / sqrt 2) / 2 = e^(-x^2/2) erfcx(|x| / sqrt 2) / 2. With `gauss`, returns
 * Phi(x) itself and sets *gauss = e^(-x^2/2) (for the gradient). NaN -> NaN. */
static inline vf v_gelu_phi(vf x, vf *gauss) {
  vf ax = vabs(x);
  vf axc = sel(ax > 20.0f, splat(20.0f), ax); /* e^(-200) is 0 in float; also keeps inf out */
  vf g = v_exp_neg_sq(axc, 0.5f);
  vf half_e = 0.5f * v_erfcx(axc * 0.707106781186547524f);
  vf r;
  if (gauss) {
    *gauss = g;
    vf tail = g * half_e;
    r = sel(x < 0.0f, tail, 1.0f - tail);
  } else {
    /* x * Phi(x), multiplying in an order that keeps intermediates out of the subnormals */
    r = sel(x < 0.0f, (x * g) * half_e, x * (1.0f - g * half_e));
    r = sel(ax == INFINITY, sel(x < 0.0f, splat(NAN), x), r); /* -inf * 0 is NaN, as 0.5x(1 + erf) */
  }
  return sel(x != x, x, r);
}

/* erf(x): Maclaurin series below 0.5, 1 - e^(-x^2) erfcx(|x|) above, +-1 beyond 4. */
static inline vf v_erf(vf x) {
  vf ax = vabs(x);
  vf s = x * x;
  vf p = splat(ERF_S7);
  p = p * s + ERF_S6;
  p = p * s + ERF_S5;
  p = p * s + ERF_S4;
  p = p * s + ERF_S3;
  p = p * s + ERF_S2;
  p = p * s + ERF_S1;
  p = p * s + ERF_S0;
  vf small = p * x;
  vf zc = sel(ax > 4.0f, splat(4.0f), ax);
  vf erfc = v_exp_neg_sq(zc, 1.0f) * v_erfcx(zc);
  vf large = copysignv(1.0f - erfc, x);
  large = sel(ax > 4.0f, copysignv(splat(1.0f), x), large);
  vf r = sel(ax < 0.5f, small, large);
  return sel(x != x, x, r);
}

/* ------------------------------------------------------------------ elementwise ops */

/* Op codes shared with src/device/cpu/native.ts (keep the two lists in sync). */
enum {
  U_NEG = 0, U_ABS, U_EXP, U_LOG, U_SQRT, U_RSQRT, U_TANH, U_SIGMOID, U_RELU, U_GELU, U_SILU,
  U_ERF, U_RECIPROCAL, U_SQUARE, U_SOFTPLUS
};
enum {
  B_ADD = 0, B_SUB, B_MUL, B_DIV, B_MAXIMUM, B_MINIMUM, B_RELU_BWD, B_SIGMOID_BWD, B_TANH_BWD,
  B_GELU_BWD, B_SILU_BWD
};

/* Elements per task below which a job is not split between threads. */
#define GRAIN_CHEAP (1 << 16)      /* memory-bound ops */
#define GRAIN_TRANSCENDENTAL 8192  /* exp, tanh, gelu, ... */

/* Vector loop over [b, e) with a zero-padded tail. X, Y name the arrays; EXPR uses x. */
#define VLOOP1(EXPR)                                                       \
  do {                                                                     \
    int64_t i = b;                                                         \
    for (; i + VL <= e; i += VL) { vf x = ld(X + i); st(Y + i, (EXPR)); }  \
    if (i < e) {                                                           \
      float tx[VL] = {0}, ty[VL];                                          \
      memcpy(tx, X + i, (size_t)(e - i) * sizeof(float));                  \
      vf x = ld(tx);                                                       \
      st(ty, (EXPR));                                                      \
      memcpy(Y + i, ty, (size_t)(e - i) * sizeof(float));                  \
    }                                                                      \
  } while (0)

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
    case U_EXP: VLOOP1(v_exp(x)); break;
    case U_LOG: VLOOP1(v_log(x)); break;
    case U_TANH: VLOOP1(v_tanh(x)); break;
    case U_SIGMOID: VLOOP1(v_sigmoid(x)); break;
    case U_SILU: VLOOP1(x * v_sigmoid(x)); break;
    case U_GELU: VLOOP1(v_gelu_phi(x, NULL)); break;
    case U_ERF: VLOOP1(v_erf(x)); break;
    case U_SOFTPLUS:
      /* x > 20 ? x : log1p(e^x); log1p(u) = log(w) - ((w - 1) - u) / w with w = 1 + u */
      VLOOP1(({
        vf u = v_exp(x), w = 1.0f + u;
        vf l = v_log(w) - ((w - 1.0f) - u) / w;
        l = sel(u < 1e-4f, u * (1.0f - 0.5f * u), l);
        sel(x > 20.0f, x, l);
      }));
      break;
    default: break;
  }
}

static void un64_task(void *vc, int64_t b, int64_t e) {
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
  if (dtype == 0) {
    if (op < 0 || op > U_SOFTPLUS) return 0;
    c.x = (const float *)x + xo;
    c.y = (float *)y + yo;
    parallel_for(n, unary_is_transcendental(op) ? GRAIN_TRANSCENDENTAL : GRAIN_CHEAP, 16, un32_task, &c);
    return 1;
  }
  if (dtype == 1) {
    if (!(op == U_NEG || op == U_ABS || op == U_SQRT || op == U_RSQRT || op == U_RECIPROCAL || op == U_SQUARE || op == U_RELU)) return 0;
    c.x = (const double *)x + xo;
    c.y = (double *)y + yo;
    parallel_for(n, GRAIN_CHEAP, 8, un64_task, &c);
    return 1;
  }
  return 0;
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

static void bin32_task(void *vc, int64_t b0, int64_t e0) {
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
    case B_GELU_BWD: BVLOOP(v_gelu_bwd(a, b)); break;
    case B_SILU_BWD: BVLOOP(v_silu_bwd(a, b)); break;
    default: break;
  }
}
static void bin64_task(void *vc, int64_t b0, int64_t e0) {
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
  if (mode < 0 || mode > 2) return 0;
  if (dtype == 0) {
    if (op < 0 || op > B_SILU_BWD) return 0;
    c.x = (const float *)x + xo;
    c.y = (const float *)y + yo;
    c.out = (float *)out + oo;
    parallel_for(n, op == B_GELU_BWD || op == B_SILU_BWD ? GRAIN_TRANSCENDENTAL : GRAIN_CHEAP, 16, bin32_task, &c);
    return 1;
  }
  if (dtype == 1) {
    if (op < 0 || op > B_TANH_BWD) return 0;
    c.x = (const double *)x + xo;
    c.y = (const double *)y + yo;
    c.out = (double *)out + oo;
    parallel_for(n, GRAIN_CHEAP, 8, bin64_task, &c);
    return 1;
  }
  return 0;
}

/* ------------------------------------------------------------------ row reductions */

enum { R_SUM = 0, R_MAX, R_MIN };

/* Sum of n floats in double: 4 independent 4-lane accumulators. */
static double sum_f32(const float *x, int64_t n) {
  typedef double vd __attribute__((vector_size(32)));
  typedef float v4f __attribute__((vector_size(16)));
  vd a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    v4f f0, f1, f2, f3;
    memcpy(&f0, x + i, 16); memcpy(&f1, x + i + 4, 16); memcpy(&f2, x + i + 8, 16); memcpy(&f3, x + i + 12, 16);
    a0 += __builtin_convertvector(f0, vd);
    a1 += __builtin_convertvector(f1, vd);
    a2 += __builtin_convertvector(f2, vd);
    a3 += __builtin_convertvector(f3, vd);
  }
  vd a = (a0 + a1) + (a2 + a3);
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
/* max (is_max) or min of n values; NaN if any is NaN; the identity (-+inf) when n = 0 */
static float maxmin_f32(const float *x, int64_t n, int is_max) {
  vf m = splat(is_max ? -INFINITY : INFINITY);
  vi bad = {0};
  int64_t i = 0;
  for (; i + VL <= n; i += VL) {
    vf v = ld(x + i);
    bad |= v != v;
    m = is_max ? sel(v > m, v, m) : sel(v < m, v, m);
  }
  float r = m[0];
  for (int k = 0; k < VL; k++) {
    if (bad[k]) return NAN;
    r = is_max ? (m[k] > r ? m[k] : r) : (m[k] < r ? m[k] : r);
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

typedef struct { int dtype, op; const void *x; void *out; int64_t n; double *partial; int64_t partial_n; } red_ctx;

/* rows [b, e) */
static void red_rows_task(void *vc, int64_t b, int64_t e) {
  red_ctx *c = vc;
  int64_t n = c->n;
  for (int64_t r = b; r < e; r++) {
    if (c->dtype == 0) {
      const float *x = (const float *)c->x + r * n;
      ((float *)c->out)[r] = c->op == R_SUM ? (float)sum_f32(x, n) : maxmin_f32(x, n, c->op == R_MAX);
    } else {
      const double *x = (const double *)c->x + r * n;
      ((double *)c->out)[r] = c->op == R_SUM ? sum_f64(x, n) : maxmin_f64(x, n, c->op == R_MAX);
    }
  }
}
/* one long row split in parts: part p reduces elements [p*chunk, (p+1)*chunk) into partial[p] */
static void red_part_task(void *vc, int64_t p0, int64_t p1) {
  red_ctx *c = vc;
  int64_t chunk = c->n; /* the chunk length, in this job */
  for (int64_t p = p0; p < p1; p++) {
    int64_t b = p * chunk, e = b + chunk < c->partial_n ? b + chunk : c->partial_n;
    double v;
    if (c->dtype == 0) {
      const float *x = (const float *)c->x + b;
      v = c->op == R_SUM ? sum_f32(x, e - b) : maxmin_f32(x, e - b, c->op == R_MAX);
    } else {
      const double *x = (const double *)c->x + b;
      v = c->op == R_SUM ? sum_f64(x, e - b) : maxmin_f64(x, e - b, c->op == R_MAX);
    }
    c->partial[p] = v;
  }
}

/** out[oo + r] = op over x[xo + r*n .. xo + r*n + n) for r < rows (contiguous rows). */
EXPORT int tl_reduce_rows(int dtype, int op, const void *x, int64_t xo, void *out, int64_t oo, int64_t rows, int64_t n) {
  if ((dtype != 0 && dtype != 1) || op < R_SUM || op > R_MIN || n < 1) return 0;
  size_t es = dtype == 0 ? 4 : 8;
  red_ctx c = {dtype, op, (const char *)x + xo * es, (char *)out + oo * es, n, NULL, 0};
  int threads = tl_get_num_threads();
  if (rows >= threads || threads < 2 || n < 2 * GRAIN_CHEAP) {
    /* split rows (grain in rows: about GRAIN_CHEAP elements each) */
    int64_t grain = GRAIN_CHEAP / n + 1;
    parallel_for(rows, grain, 1, red_rows_task, &c);
    return 1;
  }
  /* few long rows: split each row between the threads, then combine */
  double partial[MAX_THREADS];
  int64_t chunk = (n + threads - 1) / threads;
  chunk = (chunk + 15) / 16 * 16;
  int used = (int)((n + chunk - 1) / chunk);
  for (int64_t r = 0; r < rows; r++) {
    red_ctx rc = c;
    rc.x = (const char *)c.x + r * n * es;
    rc.n = chunk;
    rc.partial = partial;
    rc.partial_n = n;
    parallel_for(used, 1, 1, red_part_task, &rc);
    double acc = op == R_SUM ? 0.0 : op == R_MAX ? -INFINITY : INFINITY;
    int bad = 0;
    for (int k = 0; k < used; k++) {
      double v = partial[k];
      if (op == R_SUM) acc += v;
      else { bad |= v != v; acc = op == R_MAX ? (v > acc ? v : acc) : (v < acc ? v : acc); }
    }
    if (bad) acc = NAN;
    if (dtype == 0) ((float *)c.out)[r] = (float)acc;
    else ((double *)c.out)[r] = acc;
  }
  return 1;
}

/* ------------------------------------------------------------------ softmax rows */

typedef struct { int dtype, log; const void *x; void *out; int64_t n; } sm_ctx;

static void softmax_rows_f32(const float *x, float *y, int64_t n, int log) {
  float m = maxmin_f32(x, n, 1);
  vf mv = splat(m);
  /* e = exp(x - m) into y (also the log-sum's terms), summed in double */
  int64_t i = 0;
  typedef double vd __attribute__((vector_size(32)));
  typedef float v4f __attribute__((vector_size(16)));
  vd acc = {0};
  for (; i + VL <= n; i += VL) {
    vf e = v_exp(ld(x + i) - mv);
    st(y + i, e);
    v4f lo = {e[0], e[1], e[2], e[3]}, hi = {e[4], e[5], e[6], e[7]};
    acc += __builtin_convertvector(lo, vd) + __builtin_convertvector(hi, vd);
  }
  double s = (acc[0] + acc[1]) + (acc[2] + acc[3]);
  if (i < n) {
    float tx[VL], ty[VL];
    for (int k = 0; k < VL; k++) tx[k] = -INFINITY;
    memcpy(tx, x + i, (size_t)(n - i) * 4);
    st(ty, v_exp(ld(tx) - mv));
    for (int64_t k = 0; k < n - i; k++) { y[i + k] = ty[k]; s += ty[k]; }
  }
  if (log) {
    float lse = (float)log1p(s - 1.0); /* log(s), s >= 1 */
    vf l = splat(lse);
    for (i = 0; i + VL <= n; i += VL) st(y + i, (ld(x + i) - mv) - l);
    for (; i < n; i++) y[i] = (x[i] - m) - lse;
  } else {
    float sf = (float)s;
    vf sv = splat(sf);
    for (i = 0; i + VL <= n; i += VL) st(y + i, ld(y + i) / sv);
    for (; i < n; i++) y[i] = y[i] / sf;
  }
}
static void softmax_rows_f64(const double *x, double *y, int64_t n, int log_) {
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
    if (c->dtype == 0) softmax_rows_f32((const float *)c->x + r * c->n, (float *)c->out + r * c->n, c->n, c->log);
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

/** dst[do + r*cols + k] = src[so + r*rs + k*cs] for r < rows, k < cols; es = element bytes. */
EXPORT int tl_copy2d(int es, const void *src, int64_t so, int64_t rs, int64_t cs, void *dst, int64_t dof, int64_t rows, int64_t cols) {
  if (es != 1 && es != 2 && es != 4 && es != 8) return 0;
  cp_ctx c = {es, (const char *)src + so * es, (char *)dst + dof * es, rows, cols, rs, cs};
  int64_t grain = (GRAIN_CHEAP / (cols > 0 ? cols : 1) + 16) / 16 * 16;
  parallel_for(rows, grain, 16, copy_task, &c);
  return 1;
}

/** Version of the exported interface (bumped whenever a signature or op code changes). */
EXPORT int tl_abi_version(void) { return 1; }
