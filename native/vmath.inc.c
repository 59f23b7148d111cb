/*
 * Float32 vector math over GCC vector types of VL lanes: exp, log, tanh, sigmoid, gelu, erf and
 * the elementwise loops that apply them. Included twice: by kernels.c with VL = 8 (one AVX2
 * register; two SSE2 registers in the baseline build) and by vmath512.c with VL = 16 under
 * AVX-512. Both instantiations run the same operations in the same order (FMAs that must not be
 * regrouped are written out with fma_v), so their results agree bit for bit; only the lane count,
 * and with it the throughput, differs.
 *
 * The includer defines VL, VMATH_API (the entry points' linkage) and VMATH_NAME (their names),
 * and includes opcodes.h first.
 */
#include "coeffs.h"

typedef float vf __attribute__((vector_size(VL * 4)));
typedef int32_t vi __attribute__((vector_size(VL * 4)));
typedef uint32_t vu __attribute__((vector_size(VL * 4)));

static inline vf ld(const float *p) { vf v; memcpy(&v, p, sizeof v); return v; }
static inline void st(float *p, vf v) { memcpy(p, &v, sizeof v); }
static inline vf sel(vi m, vf a, vf b) { return (vf)((m & (vi)a) | (~m & (vi)b)); }
/* c in every lane. Written as a vector-scalar operation (c - +0 is c for every c, -0 and NaN
 * included) so GCC emits one broadcast; a lane-by-lane fill became a chain of inserts for
 * values loaded from memory. */
static inline vf splat(float c) { return c - (vf){}; }
static inline vf vabs(vf x) { return (vf)((vi)x & 0x7fffffff); }
static inline vf copysignv(vf mag, vf sgn) { return (vf)(((vi)mag & 0x7fffffff) | ((vi)sgn & (int32_t)0x80000000)); }

/* e^x, float32, < 2 ulp; IEEE results for +-inf, NaN, overflow and (subnormal) underflow: the
 * argument is clamped to [-104, 89], beyond which the scaling below over- or underflows by
 * itself, and NaN passes through every step. */
static inline vf v_exp_clamped(vf a);
static inline vf v_exp(vf x) {
  vf a = sel(x < -104.0f, splat(-104.0f), x);
  return v_exp_clamped(sel(a > 89.0f, splat(89.0f), a));
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

static inline vf v_exp_nonpos(vf a);
/* 1 / (1 + e^-x), as e^x / (1 + e^x) for negative x so that results below ~1e-38 do not flush to
 * 0; one division for both (e^-|x| <= 1: no overflow; NaN passes through) */
static inline vf v_sigmoid(vf x) {
  vf e = v_exp_nonpos(-vabs(x));
  return sel(x < 0.0f, e, splat(1.0f)) / (1.0f + e);
}

/* x*x = hi + lo exactly: one FMA where the cpu has it, else Dekker's product (which FMA
 * contraction also keeps exact). */
static inline void two_square(vf x, vf *hi, vf *lo) {
  vf h = x * x;
  *hi = h;
#if VL == 16
  *lo = (vf)_mm512_fmsub_ps((__m512)x, (__m512)x, (__m512)h); /* exact: rounded once */
#elif defined(__FMA__) && defined(__AVX__)
  *lo = (vf)_mm256_fmsub_ps((__m256)x, (__m256)x, (__m256)h);
#else
  vf c = x * 4097.0f;
  vf xh = c - (c - x), xl = x - xh;
  *lo = ((xh * xh - h) + 2.0f * xh * xl) + xl * xl;
#endif
}

/* e^a for a in [-104, 89] or NaN: Cody-Waite reduction by ln 2 (in two parts), a degree-7
 * polynomial, then the scaling by 2^k in two steps so that results down to the smallest
 * subnormal round once. */
static inline vf v_exp_clamped(vf a) {
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
  vi ki = __builtin_convertvector(k, vi);
  vi k1 = ki >> 1, k2 = ki - k1;
  return p * (vf)((k1 + 127) << 23) * (vf)((k2 + 127) << 23);
}

/* e^a for a <= 0 (no overflow or infinity to handle): e^-104 rounds to 0. */
static inline vf v_exp_nonpos(vf a) {
  return v_exp_clamped(sel(a < -104.0f, splat(-104.0f), a));
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
  two_square(x, &hi, &lo); /* callers clamp |x| <= 20: the exponent stays in [-400, 0] */
  return v_exp_nonpos(-s * hi) * (1.0f - s * lo);
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

/* Whether any lane of a comparison mask is set. */
static inline int any_lane(vi m) {
#if VL == 16
  return _mm512_movepi32_mask((__m512i)m) != 0;
#elif defined(__AVX__)
  return _mm256_movemask_ps((__m256)m) != 0;
#else
  typedef int32_t vi4_ __attribute__((vector_size(16)));
  vi4_ lo, hi;
  memcpy(&lo, &m, 16); memcpy(&hi, (char *)&m + 16, 16);
  lo |= hi;
  return (lo[0] | lo[1] | lo[2] | lo[3]) != 0;
#endif
}

/* gelu for |x| <= GELU_FAST_MAX (the bulk of real inputs), at about half the cost of v_gelu_phi:
 * Phi(-a) = e^(-a^2/2 + M(a)) / 2 for a = |x|, with M(a) = log(erfcx(a / sqrt 2)) = a P(a - c),
 * folded into the argument reduction of one exp (a^2 = h + l exactly, and a P(u) enters as an
 * exact product, so the argument is not rounded first). P(u) = P0 + u S(u): c is a float for which
 * P(c) = P0 is a float to 1e-12, so that the coefficient that a multiplies most is exact; S has
 * degree 9 (weighted least squares with mpmath, coefficients rounded to float one at a time from
 * the highest, the rest refitted; error of M < 4e-9). e^r is 1 + r + r^2 Q(r) on |r| <= ln2/2,
 * Q of degree 4 (relative error 5e-9). Worst error over every float in [-4, 4]: 2.2e-7 relative
 * (v_gelu_phi's: 3.7e-7).
 * Two vectors at a time, step by step, and S split into even and odd parts: the dependency chain
 * is long, and interleaving two of them keeps the FMA units busy. */
#define GELU_FAST_MAX 4.0f
#define FOR2 for (int j = 0; j < 2; j++)
/* a * b + c rounded once (without FMA hardware: twice) */
static inline vf fma_v(vf a, vf b, vf c) {
#if VL == 16
  return (vf)_mm512_fmadd_ps((__m512)a, (__m512)b, (__m512)c);
#elif defined(__FMA__) && defined(__AVX__)
  return (vf)_mm256_fmadd_ps((__m256)a, (__m256)b, (__m256)c);
#else
  return a * b + c;
#endif
}
__attribute__((always_inline)) static inline void v_gelu_fast2(const vf *x, vf *y) {
  vf a[2], h[2], l[2], u[2], u2[2], se[2], so[2], p[2], hh[2], c[2], kf[2], k[2], r[2], r2[2], qa[2], qb[2], e[2];
  const vf magic = splat(12582912.0f); /* 1.5 * 2^23: adding and subtracting it rounds to an integer */
  FOR2 a[j] = vabs(x[j]);
  FOR2 u[j] = a[j] - 1.9911913871765137f;
  FOR2 two_square(a[j], &h[j], &l[j]);
  FOR2 u2[j] = u[j] * u[j];
  FOR2 se[j] = splat(-3.9548716e-08f) * u2[j] + -7.7163645e-07f;
  FOR2 so[j] = splat(3.1508363e-09f) * u2[j] + 2.3209142e-07f;
  FOR2 se[j] = se[j] * u2[j] + 2.9183951e-05f;
  FOR2 so[j] = so[j] * u2[j] + -2.3752328e-07f;
  FOR2 se[j] = se[j] * u2[j] + 0.0022547806f;
  FOR2 so[j] = so[j] * u2[j] + -0.0003020762f;
  FOR2 se[j] = se[j] * u2[j] + 0.0861554f;
  FOR2 so[j] = so[j] * u2[j] + -0.014440429f;
  FOR2 hh[j] = h[j] * -0.5f; /* exact */
  FOR2 c[j] = l[j] * -0.5f;
  FOR2 p[j] = so[j] * u[j] + se[j];
  FOR2 p[j] = p[j] * u[j] + -0.5457763671875f; /* P(u); M = a P */
  /* k = round((M - a^2/2) / ln 2); kf's low mantissa bits hold k */
  /* (the FMAs of this part written out: the compiler must not regroup them, so that the AVX-512
   * copy below computes the same values) */
  FOR2 kf[j] = fma_v(fma_v(a[j], p[j], hh[j]), splat(1.44269504088896341f), magic);
  FOR2 k[j] = kf[j] - magic;
  FOR2 r[j] = fma_v(k[j], splat(-0.693359375f), hh[j]); /* exact (Cody-Waite) */
  FOR2 c[j] = fma_v(k[j], splat(2.12194440e-4f), c[j]);
  FOR2 r[j] = fma_v(a[j], p[j], r[j]);
  FOR2 r[j] = r[j] + c[j];
  FOR2 r2[j] = r[j] * r[j];
  FOR2 qa[j] = splat(0.1666657f) * r[j] + 0.5f;
  FOR2 qb[j] = splat(0.0013935454f) * r[j] + 0.008364383f;
  FOR2 qb[j] = qb[j] * r[j] + 0.041666448f;
  FOR2 qa[j] = qb[j] * r2[j] + qa[j];
  FOR2 e[j] = qa[j] * r2[j] + r[j];
  FOR2 e[j] = e[j] + 1.0f;
  /* q = Phi(-a) = e 2^(k - 1) (k >= -15 here); then x q for x < 0, x - x q for x >= 0 */
  FOR2 e[j] = e[j] * (vf)(((vu)kf[j] << 23) + (126u << 23));
  FOR2 {
    vf neg = x[j] * e[j], pos = x[j] - neg;
#if VL == 8 && defined(__AVX__)
    y[j] = (vf)_mm256_blendv_ps((__m256)pos, (__m256)neg, (__m256)x[j]); /* by the sign bit: -0 -> -0 */
#else
    y[j] = sel((vi)x[j] >> 31, neg, pos);
#endif
  }
}

/* v_gelu_phi in the lanes out of the fast path's range (kept out of line: rare) */
__attribute__((noinline, cold)) static void gelu_fix(const vf *x, vf *y) {
  for (int j = 0; j < 2; j++) y[j] = sel(~(vabs(x[j]) <= GELU_FAST_MAX), v_gelu_phi(x[j], NULL), y[j]);
}
__attribute__((always_inline)) static inline void gelu_pair(const vf *x, vf *y) {
  v_gelu_fast2(x, y);
  if (__builtin_expect(any_lane(~(vabs(x[0]) <= GELU_FAST_MAX) | ~(vabs(x[1]) <= GELU_FAST_MAX)), 0)) gelu_fix(x, y); /* NaN too */
}
/* gelu(x) = x Phi(x) over [b, e): the fast path, and v_gelu_phi in the lanes out of its range
 * (rare; each element's result depends on its value only) */
__attribute__((noinline)) static void gelu32(const float *X, float *Y, int64_t b, int64_t e) {
  int64_t i = b;
  for (; i + 2 * VL <= e; i += 2 * VL) {
    vf x[2] = {ld(X + i), ld(X + i + VL)}, y[2];
    gelu_pair(x, y);
    st(Y + i, y[0]);
    st(Y + i + VL, y[1]);
  }
  if (i < e) {
    float t[2 * VL] = {0};
    memcpy(t, X + i, (size_t)(e - i) * sizeof(float));
    vf x[2] = {ld(t), ld(t + VL)}, y[2];
    gelu_pair(x, y);
    st(t, y[0]);
    st(t + VL, y[1]);
    memcpy(Y + i, t, (size_t)(e - i) * sizeof(float));
  }
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

/* Vector loop over [b, e) with a zero-padded tail. X, Y name the arrays; EXPR uses x. */
#define VLOOP1(EXPR)                                                       \
  do {                                                                     \
    int64_t i = b;                                                         \
    /* two vectors per iteration: their long dependency chains overlap */ \
    for (; i + 2 * VL <= e; i += 2 * VL) {                                 \
      { vf x = ld(X + i); st(Y + i, (EXPR)); }                             \
      { vf x = ld(X + i + VL); st(Y + i + VL, (EXPR)); }                   \
    }                                                                      \
    for (; i + VL <= e; i += VL) { vf x = ld(X + i); st(Y + i, (EXPR)); }  \
    if (i < e) {                                                           \
      float tx[VL] = {0}, ty[VL];                                          \
      memcpy(tx, X + i, (size_t)(e - i) * sizeof(float));                  \
      vf x = ld(tx);                                                       \
      st(ty, (EXPR));                                                      \
      memcpy(Y + i, ty, (size_t)(e - i) * sizeof(float));                  \
    }                                                                      \
  } while (0)

/* Y[i] = op(X[i]) over [b, e) for the vectorised float32 ops; 0 for any other op (done nothing). */
VMATH_API int VMATH_NAME(unary_vec_f32)(int op, const float *X, float *Y, int64_t b, int64_t e) {
  switch (op) {
    case U_EXP: VLOOP1(v_exp(x)); return 1;
    case U_LOG: VLOOP1(v_log(x)); return 1;
    case U_TANH: VLOOP1(v_tanh(x)); return 1;
    case U_SIGMOID: VLOOP1(v_sigmoid(x)); return 1;
    case U_SILU: VLOOP1(x * v_sigmoid(x)); return 1;
    case U_GELU: gelu32(X, Y, b, e); return 1;
    case U_ERF: VLOOP1(v_erf(x)); return 1;
    case U_SOFTPLUS:
      /* x > 20 ? x : log1p(e^x); log1p(u) = log(w) - ((w - 1) - u) / w with w = 1 + u */
      VLOOP1(({
        vf u = v_exp(x), w = 1.0f + u;
        vf l = v_log(w) - ((w - 1.0f) - u) / w;
        l = sel(u < 1e-4f, u * (1.0f - 0.5f * u), l);
        sel(x > 20.0f, x, l);
      }));
      return 1;
    default: return 0;
  }
}

/* Largest of n floats, NaN if any is NaN (n >= 1; exact in any order). */
static float row_max(const float *x, int64_t n) {
  vf m = splat(-INFINITY);
  vi bad = {0};
  int64_t i = 0;
  for (; i + VL <= n; i += VL) {
    vf v = ld(x + i);
    bad |= v != v;
    m = sel(v > m, v, m);
  }
  if (any_lane(bad)) return NAN;
  float r = m[0];
  for (int k = 1; k < VL; k++) r = m[k] > r ? m[k] : r;
  for (; i < n; i++) {
    if (x[i] != x[i]) return x[i];
    if (x[i] > r) r = x[i];
  }
  return r;
}

/* Softmax (log = 0) or log-softmax (log = 1) of one contiguous row of n floats.
 * e = exp(x - max) (<= 1, or NaN) is stored for softmax and summed: in float within blocks of 32
 * elements (positive terms: no cancellation), lanes k and k + 8 of a block first paired as
 * ((e[k] + e[k+16]) + (e[k+8] + e[k+24])), which both lane counts can form in the same order;
 * block sums in double. */
VMATH_API void VMATH_NAME(softmax_row_f32)(const float *x, float *y, int64_t n, int log) {
  typedef double vd __attribute__((vector_size(32)));
  typedef float v4f __attribute__((vector_size(16)));
  typedef float v8f __attribute__((vector_size(32)));
  const float m = row_max(x, n);
  const vf mv = splat(m);
  vd acc = {0};
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    vf e[32 / VL];
    for (int j = 0; j < 32 / VL; j++) {
      e[j] = v_exp_nonpos(ld(x + i + j * VL) - mv);
      if (!log) st(y + i + j * VL, e[j]);
    }
#if VL == 16
    vf s = e[0] + e[1]; /* lanes k: e[k] + e[k+16]; lanes 8 + k: e[k+8] + e[k+24] */
    v8f t = __builtin_shufflevector(s, s, 0, 1, 2, 3, 4, 5, 6, 7) + __builtin_shufflevector(s, s, 8, 9, 10, 11, 12, 13, 14, 15);
#else
    v8f t = (e[0] + e[2]) + (e[1] + e[3]);
#endif
    v4f lo = {t[0], t[1], t[2], t[3]}, hi = {t[4], t[5], t[6], t[7]};
    acc += __builtin_convertvector(lo, vd) + __builtin_convertvector(hi, vd);
  }
  double s = (acc[0] + acc[1]) + (acc[2] + acc[3]);
  for (; i < n; i += VL) {
    float tx[VL], ty[VL];
    int64_t r = n - i < VL ? n - i : VL;
    for (int k = 0; k < VL; k++) tx[k] = -INFINITY;
    memcpy(tx, x + i, (size_t)r * 4);
    st(ty, v_exp_nonpos(ld(tx) - mv));
    for (int64_t k = 0; k < r; k++) { if (!log) y[i + k] = ty[k]; s += ty[k]; }
  }
  if (log) {
    float lse = (float)log1p(s - 1.0); /* log(s), s >= 1 */
    vf l = splat(lse);
    for (i = 0; i + VL <= n; i += VL) st(y + i, (ld(x + i) - mv) - l);
    for (; i < n; i++) y[i] = (x[i] - m) - lse;
  } else {
    /* times 1/s rather than divided by s: within an ulp, and much cheaper */
    float inv = (float)(1.0 / s);
    vf iv = splat(inv);
    for (i = 0; i + VL <= n; i += VL) st(y + i, ld(y + i) * iv);
    for (; i < n; i++) y[i] = y[i] * inv;
  }
}
