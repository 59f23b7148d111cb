/* Fused 2-D convolution for the cpu device, included at the end of kernels.c (it uses its
 * window geometry, im2col/col2im loops and thread pool).
 *
 * Per image: the windows go into a per-thread scratch matrix [C*kh*kw, OH*OW] (small enough to
 * stay in L2) and one single-threaded BLAS GEMM per group reads it from there; images run in
 * parallel on the pool. Compared with one im2col of the whole batch and a GEMM per image:
 * no batch-sized column tensor (14 MB for a 32->64 channel 3x3 layer at batch 64) is allocated,
 * written to memory and read back, and both cores run GEMMs without OpenBLAS's per-call
 * thread hand-off.
 *
 * BLAS comes from the OpenBLAS the JS side already loaded (tl_conv_blas resolves cblas_?gemm
 * in it); the caller sets OpenBLAS to one thread, since the parallelism is over images here.
 * The weight gradient sums per-part partial products in a fixed order (CONV_PARTS parts of the
 * batch, whatever the thread count), so results do not depend on scheduling. */
#include <dlfcn.h>
#include <stdlib.h>

typedef void (*cblas_sgemm_fn)(int, int, int, int, int, int, float, const float *, int, const float *, int, float, float *, int);
typedef void (*cblas_dgemm_fn)(int, int, int, int, int, int, double, const double *, int, const double *, int, double, double *, int);
static cblas_sgemm_fn conv_sgemm;
static cblas_dgemm_fn conv_dgemm;

/** Resolves cblas_sgemm/cblas_dgemm in the BLAS library `path` (already loaded by the caller). */
EXPORT int tl_conv_blas(const char *path) {
  void *h = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
  if (!h) h = dlopen(path, RTLD_NOW);
  if (!h) return 0;
  conv_sgemm = (cblas_sgemm_fn)dlsym(h, "cblas_sgemm");
  conv_dgemm = (cblas_dgemm_fn)dlsym(h, "cblas_dgemm");
  return conv_sgemm != NULL && conv_dgemm != NULL;
}

enum { CB_ROW = 101, CB_N = 111, CB_T = 112 };
#define CONV_PARTS 8

static void conv_gemm(int dt, int ta, int tb, int64_t M, int64_t N, int64_t K, const void *A, int64_t lda,
                      const void *B, int64_t ldb, double beta, void *C, int64_t ldc) {
  if (dt == 0) conv_sgemm(CB_ROW, ta, tb, (int)M, (int)N, (int)K, 1.0f, A, (int)lda, B, (int)ldb, (float)beta, C, (int)ldc);
  else conv_dgemm(CB_ROW, ta, tb, (int)M, (int)N, (int)K, 1.0, A, (int)lda, B, (int)ldb, beta, C, (int)ldc);
}

typedef struct {
  int dt;
  int64_t groups, Cout, K, L; /* K = C/groups * kh * kw per group, L = OH * OW */
  win_geom g;                 /* geometry; xo/xs* the input's offset and strides */
  const void *x, *w, *b, *gy; /* w contiguous [Cout, C/groups, kh, kw]; gy contiguous [N, Cout, L] */
  void *out;                  /* forward: [N, Cout, L]; backward data: contiguous [N, C, H, W] */
  void *part;                 /* weight-gradient partials [parts][Cout * K + Cout] (bias sums last) */
  int want_bias;
  int64_t parts;
  int failed;
} conv_ctx;

/* The windows' side of g as one image's scratch matrix [C*kh*kw, L] (rows in C, KH, KW order). */
static void scratch_layout(win_geom *g, int64_t L) {
  g->dof = 0; g->dsN = 0; g->dsC = g->kh * g->kw * L; g->dsKH = g->kw * L; g->dsKW = L; g->dsOH = g->OW; g->dsOW = 1;
}

/* im2col of image n into the scratch */
static void conv_im2col(const conv_ctx *c, int64_t n, void *scratch) {
  win_ctx w = {c->dt, c->g, c->x, scratch, NULL};
  scratch_layout(&w.g, c->L);
  w.g.pad = 0;
  im2col_task(&w, n * c->g.C, (n + 1) * c->g.C);
}

/* The context every entry point starts from: dtype, geometry, groups and the GEMM sizes. */
static conv_ctx conv_setup(int dt, const double *geom, int64_t groups, int64_t Cout) {
  conv_ctx c = {0};
  c.dt = dt; read_geom(geom, &c.g);
  c.groups = groups; c.Cout = Cout; c.K = c.g.C / groups * c.g.kh * c.g.kw; c.L = c.g.OH * c.g.OW;
  return c;
}

static size_t conv_esize(int dt) { return dt == 0 ? sizeof(float) : sizeof(double); }

/* ---------------------------------------------------------------- direct float32 forward
 * For few input taps (K = C * kh * kw <= direct_max_k, one group, stride 1) the forward pass
 * skips the window matrix and the GEMM: each image is copied once into zero-padded planes
 * (Hp = OH + (kh-1) dh rows of Wp = OW + (kw-1) dw per channel), on which a stride-1 tap is a
 * fixed offset: output (oh, ow) of tap (c, i, j) reads padded element
 * c * CS + (oh + i dh) Wp + ow + j dw. Blocks of 4 output channels x 16 positions of a row sit
 * in 8 vector accumulators, one multiply-add per tap, and are stored straight to the output.
 * Measured against the GEMM path (2 threads, batch 64, warm output): 1 -> 32 channels on 28x28,
 * equal (0.28 ms); 3 -> 32 on 32x32, 0.67 vs 0.76-0.85 ms; 3 -> 16 on 64x64, 1.45 vs 3.45 ms.
 * The weight gradient stays a GEMM: the same walk as dot products measured 2x slower than
 * OpenBLAS's small-matrix kernel on the window matrix. */
static int direct_max_k = 32;

/** Sets the largest C * kh * kw the direct float32 kernels take (0: always BLAS); returns the old value. */
EXPORT int tl_conv_direct_max_k(int k) {
  int old = direct_max_k;
  if (k >= 0) direct_max_k = k;
  return old;
}

#define DIR_CO 4      /* output channels per block */
#define DIR_F 16      /* positions per block (2 vectors) */

typedef struct {
  int64_t Hp, Wp, CS;    /* padded plane rows, width, channel stride (with a zero tail) */
  int64_t K, Cp;         /* taps, output channels padded to DIR_CO */
  int64_t toff[64];      /* tap offsets in the padded planes */
} direct_geom;

static int direct_ok(const conv_ctx *c) {
  const win_geom *g = &c->g;
  if (c->dt != 0 || c->groups != 1 || g->sh != 1 || g->sw != 1 || c->K > direct_max_k || c->K > 64) return 0;
  if (g->OH < 1 || g->OW < 1) return 0;
  int64_t Hp = g->OH + (g->kh - 1) * g->dh, Wp = g->OW + (g->kw - 1) * g->dw;
  return g->C * (Hp * Wp + Wp + DIR_F) <= ((int64_t)1 << 22); /* padded image at most 16 MB */
}

static direct_geom direct_setup(const conv_ctx *c) {
  const win_geom *g = &c->g;
  direct_geom d;
  d.Hp = g->OH + (g->kh - 1) * g->dh;
  d.Wp = g->OW + (g->kw - 1) * g->dw;
  /* a block may run DIR_F - 1 positions past the last row, and a tap adds up to (kw-1) dw */
  d.CS = (d.Hp * d.Wp + d.Wp + DIR_F + 15) / 16 * 16;
  d.K = c->K;
  d.Cp = (c->Cout + DIR_CO - 1) / DIR_CO * DIR_CO;
  int64_t t = 0;
  for (int64_t ch = 0; ch < g->C; ch++)
    for (int64_t i = 0; i < g->kh; i++)
      for (int64_t j = 0; j < g->kw; j++) d.toff[t++] = ch * d.CS + i * g->dh * d.Wp + j * g->dw;
  return d;
}

/* image n of x into P: C planes of Hp x Wp with the padding (and each plane's tail) zero */
static void direct_pad(const conv_ctx *c, const direct_geom *d, int64_t n, float *P) {
  const win_geom *g = &c->g;
  const float *x = (const float *)c->x + g->xo + n * g->xsN;
  int64_t pl = g->pl, Wp = d->Wp, cols = g->W < Wp - pl ? g->W : Wp - pl;
  if (cols < 0) cols = 0;
  for (int64_t ch = 0; ch < g->C; ch++) {
    float *pc = P + ch * d->CS;
    for (int64_t r = 0; r < d->Hp; r++) {
      float *row = pc + r * Wp;
      int64_t h = r - g->pt;
      if (h < 0 || h >= g->H) { memset(row, 0, (size_t)Wp * 4); continue; }
      const float *src = x + ch * g->xsC + h * g->xsH;
      int64_t q = 0;
      for (; q < pl && q < Wp; q++) row[q] = 0.0f;
      if (g->xsW == 1) { memcpy(row + q, src, (size_t)cols * 4); q += cols; }
      else for (int64_t w = 0; w < cols; w++, q++) row[q] = src[w * g->xsW];
      for (; q < Wp; q++) row[q] = 0.0f;
    }
    memset(pc + d->Hp * Wp, 0, (size_t)(d->CS - d->Hp * Wp) * 4);
  }
}

/* o[q][0..DIR_F) for q < DIR_CO: bias[q] + sum over taps of wb[t][q] * P[toff[t] + f .. + DIR_F) */
static inline void direct_fwd_block(const float *P, const direct_geom *d, const float *wb, const float *bias, int64_t f, float *const o[DIR_CO]) {
  vf a00 = splat(bias[0]), a01 = a00, a10 = splat(bias[1]), a11 = a10;
  vf a20 = splat(bias[2]), a21 = a20, a30 = splat(bias[3]), a31 = a30;
  const float *w = wb;
  for (int64_t t = 0; t < d->K; t++, w += DIR_CO) {
    const float *s = P + d->toff[t] + f;
    vf s0 = ld(s), s1 = ld(s + VL);
    vf w0 = splat(w[0]), w1 = splat(w[1]), w2 = splat(w[2]), w3 = splat(w[3]);
    a00 += w0 * s0; a01 += w0 * s1;
    a10 += w1 * s0; a11 += w1 * s1;
    a20 += w2 * s0; a21 += w2 * s1;
    a30 += w3 * s0; a31 += w3 * s1;
  }
  st(o[0], a00); st(o[0] + VL, a01);
  st(o[1], a10); st(o[1] + VL, a11);
  st(o[2], a20); st(o[2] + VL, a21);
  st(o[3], a30); st(o[3] + VL, a31);
}

typedef struct { conv_ctx *c; direct_geom d; const float *wb, *bias; } direct_ctx;

/* Output rows are written straight from the accumulators, DIR_F positions at a time; a ragged
 * end is one more block ending at the row's last position (recomputing a few positions with the
 * same values). Rows shorter than DIR_F go through a small buffer; blocks past the last output
 * channel store into a spare one. */
static void direct_fwd_task(void *vc, int64_t b, int64_t e) {
  direct_ctx *k = vc;
  conv_ctx *c = k->c;
  const direct_geom *d = &k->d;
  const win_geom *g = &c->g;
  float *P = malloc((size_t)(g->C * d->CS + 2 * DIR_CO * DIR_F) * sizeof(float));
  if (!P) { c->failed = 1; return; }
  float *spare = P + g->C * d->CS; /* stores of padded output channels, and short rows */
  int64_t OH = g->OH, OW = g->OW, L = c->L;
  for (int64_t n = b; n < e; n++) {
    direct_pad(c, d, n, P);
    float *on = (float *)c->out + n * c->Cout * L;
    for (int64_t cb = 0; cb < d->Cp; cb += DIR_CO) {
      int64_t nq = c->Cout - cb < DIR_CO ? c->Cout - cb : DIR_CO;
      const float *wb = k->wb + cb * d->K, *bias = k->bias + cb;
      for (int64_t oh = 0; oh < OH; oh++) {
        float *row[DIR_CO], *o[DIR_CO];
        for (int q = 0; q < DIR_CO; q++) row[q] = q < nq ? on + (cb + q) * L + oh * OW : spare + q * DIR_F;
        if (OW < DIR_F) {
          for (int q = 0; q < DIR_CO; q++) o[q] = spare + (DIR_CO + q) * DIR_F;
          direct_fwd_block(P, d, wb, bias, oh * d->Wp, o);
          for (int q = 0; q < nq; q++) memcpy(row[q], o[q], (size_t)OW * sizeof(float));
          continue;
        }
        for (int64_t ow = 0;; ow += DIR_F) {
          if (ow + DIR_F > OW) ow = OW - DIR_F;
          for (int q = 0; q < DIR_CO; q++) o[q] = q < nq ? row[q] + ow : row[q];
          direct_fwd_block(P, d, wb, bias, oh * d->Wp + ow, o);
          if (ow + DIR_F >= OW) break;
        }
      }
    }
  }
  free(P);
}

/* forward by the direct kernels; 0 when out of memory */
static int direct_fwd(conv_ctx *c) {
  direct_ctx k = {c, direct_setup(c), NULL, NULL};
  const direct_geom *d = &k.d;
  /* weights regrouped per block of DIR_CO output channels: wb[cb][t][q], zeros for q past Cout */
  float *wb = calloc((size_t)(d->Cp * d->K + d->Cp), sizeof(float));
  if (!wb) return 0;
  float *bias = wb + d->Cp * d->K;
  const float *w = c->w;
  for (int64_t co = 0; co < c->Cout; co++) {
    int64_t cb = co / DIR_CO * DIR_CO, q = co % DIR_CO;
    for (int64_t t = 0; t < d->K; t++) wb[cb * d->K + t * DIR_CO + q] = w[co * d->K + t];
    bias[co] = c->b ? ((const float *)c->b)[co] : 0.0f;
  }
  k.wb = wb; k.bias = bias;
  parallel_for(c->g.N, 1, 1, direct_fwd_task, &k);
  free(wb);
  return !c->failed;
}

static void conv_fwd_task(void *vc, int64_t b, int64_t e) {
  conv_ctx *c = vc;
  size_t es = conv_esize(c->dt);
  int64_t CK = c->g.C * c->g.kh * c->g.kw, L = c->L, Cg = c->Cout / c->groups;
  char *scratch = malloc((size_t)(CK * L) * es);
  if (!scratch) { c->failed = 1; return; }
  for (int64_t n = b; n < e; n++) {
    conv_im2col(c, n, scratch);
    char *o = (char *)c->out + (size_t)(n * c->Cout * L) * es;
    if (c->b) {
      for (int64_t co = 0; co < c->Cout; co++) {
        if (c->dt == 0) { float v = ((const float *)c->b)[co]; float *r = (float *)o + co * L; for (int64_t i = 0; i < L; i++) r[i] = v; }
        else { double v = ((const double *)c->b)[co]; double *r = (double *)o + co * L; for (int64_t i = 0; i < L; i++) r[i] = v; }
      }
    }
    for (int64_t gi = 0; gi < c->groups; gi++) {
      conv_gemm(c->dt, CB_N, CB_N, Cg, L, c->K, (const char *)c->w + (size_t)(gi * Cg * c->K) * es, c->K,
                scratch + (size_t)(gi * c->K * L) * es, L, c->b ? 1.0 : 0.0, o + (size_t)(gi * Cg * L) * es, L);
    }
  }
  free(scratch);
}

/** Forward: out [N, Cout, OH, OW] (contiguous) = conv(x, w) + b (b may be NULL). */
EXPORT int tl_conv2d_fwd(int dt, const double *geom, int64_t groups, int64_t Cout, const void *x, const void *w, const void *b, void *out) {
  if ((dt != 0 && dt != 1) || !conv_sgemm) return 0;
  conv_ctx c = conv_setup(dt, geom, groups, Cout);
  c.x = x; c.w = w; c.b = b; c.out = out;
  if (direct_ok(&c)) return direct_fwd(&c);
  parallel_for(c.g.N, 1, 1, conv_fwd_task, &c);
  return c.failed ? 0 : 1;
}

/* backward data: per image S = W_g^T gy_n (per group) then col2im of S into gx_n (zeroed here) */
static void conv_bwd_data_task(void *vc, int64_t b, int64_t e) {
  conv_ctx *c = vc;
  size_t es = conv_esize(c->dt);
  int64_t C = c->g.C, CK = C * c->g.kh * c->g.kw, L = c->L, Cg = c->Cout / c->groups, HW = c->g.H * c->g.W;
  char *scratch = malloc((size_t)(CK * L) * es);
  if (!scratch) { c->failed = 1; return; }
  win_ctx w = {c->dt, c->g, scratch, c->out, NULL};
  w.g.xo = 0; /* out image n starts at nc * H * W */
  scratch_layout(&w.g, L);
  for (int64_t n = b; n < e; n++) {
    const char *gy = (const char *)c->gy + (size_t)(n * c->Cout * L) * es;
    for (int64_t gi = 0; gi < c->groups; gi++) {
      conv_gemm(c->dt, CB_T, CB_N, c->K, L, Cg, (const char *)c->w + (size_t)(gi * Cg * c->K) * es, c->K,
                gy + (size_t)(gi * Cg * L) * es, L, 0.0, scratch + (size_t)(gi * c->K * L) * es, L);
    }
    memset((char *)c->out + (size_t)(n * C * HW) * es, 0, (size_t)(C * HW) * es);
    col2im_task(&w, n * C, (n + 1) * C);
  }
  free(scratch);
}

/** Backward w.r.t. the input: gx (contiguous [N, C, H, W], fully written) from gy (contiguous [N, Cout, OH, OW]). */
EXPORT int tl_conv2d_bwd_data(int dt, const double *geom, int64_t groups, int64_t Cout, const void *w, const void *gy, void *gx) {
  if ((dt != 0 && dt != 1) || !conv_sgemm) return 0;
  conv_ctx c = conv_setup(dt, geom, groups, Cout);
  c.w = w; c.gy = gy; c.out = gx;
  parallel_for(c.g.N, 1, 1, conv_bwd_data_task, &c);
  return c.failed ? 0 : 1;
}

/* backward weight: part p covers images [p*N/P, (p+1)*N/P) and accumulates gy_n S_n^T into its partial */
static void conv_bwd_weight_task(void *vc, int64_t b, int64_t e) {
  conv_ctx *c = vc;
  size_t es = conv_esize(c->dt);
  int64_t CK = c->g.C * c->g.kh * c->g.kw, L = c->L, Cg = c->Cout / c->groups, N = c->g.N, P = c->parts;
  char *scratch = malloc((size_t)(CK * L) * es);
  if (!scratch) { c->failed = 1; return; }
  int64_t stride = c->Cout * c->K + c->Cout;
  for (int64_t p = b; p < e; p++) {
    char *part = (char *)c->part + (size_t)(p * stride) * es;
    int64_t n0 = p * N / P, n1 = (p + 1) * N / P;
    memset(part + (size_t)(c->Cout * c->K) * es, 0, (size_t)c->Cout * es);
    if (n0 == n1) { memset(part, 0, (size_t)(c->Cout * c->K) * es); continue; }
    for (int64_t n = n0; n < n1; n++) {
      if (c->want_bias) {
        /* bias gradient: row sums of gy_n by the vectorised row sums (float32: blocks of 64 in
         * float, block sums in double, rounded once per image) */
        const char *gyn = (const char *)c->gy + (size_t)(n * c->Cout * L) * es;
        char *gb = part + (size_t)(c->Cout * c->K) * es;
        for (int64_t co = 0; co < c->Cout; co++) {
          double s = reduce_run(c->dt, R_SUM, gyn + (size_t)(co * L) * es, L);
          if (c->dt == 0) ((float *)gb)[co] += (float)s;
          else ((double *)gb)[co] += s;
        }
      }
      conv_im2col(c, n, scratch);
      const char *gy = (const char *)c->gy + (size_t)(n * c->Cout * L) * es;
      for (int64_t gi = 0; gi < c->groups; gi++) {
        conv_gemm(c->dt, CB_N, CB_T, Cg, c->K, L, gy + (size_t)(gi * Cg * L) * es, L,
                  scratch + (size_t)(gi * c->K * L) * es, L, n == n0 ? 0.0 : 1.0, part + (size_t)(gi * Cg * c->K) * es, c->K);
      }
    }
  }
  free(scratch);
}

/** Backward w.r.t. the weight: gw (contiguous [Cout, C/groups, kh, kw], fully written) from x and
 * gy, and the bias gradient gb ([Cout]) when not NULL. */
EXPORT int tl_conv2d_bwd_weight(int dt, const double *geom, int64_t groups, int64_t Cout, const void *x, const void *gy, void *gw, void *gb) {
  if ((dt != 0 && dt != 1) || !conv_sgemm) return 0;
  conv_ctx c = conv_setup(dt, geom, groups, Cout);
  c.x = x; c.gy = gy; c.want_bias = gb != NULL;
  c.parts = c.g.N < CONV_PARTS ? (c.g.N > 0 ? c.g.N : 1) : CONV_PARTS;
  size_t es = conv_esize(dt), sz = (size_t)(Cout * c.K), stride = sz + (size_t)Cout;
  c.part = malloc(stride * es * (size_t)c.parts);
  if (!c.part) return 0;
  parallel_for(c.parts, 1, 1, conv_bwd_weight_task, &c);
  if (!c.failed) {
    /* gw = sum of the partials in part order */
    if (dt == 0) {
      float *o = gw, *ob = gb; const float *s = c.part;
      memcpy(o, s, sz * es);
      for (int64_t p = 1; p < c.parts; p++) for (size_t i = 0; i < sz; i++) o[i] += s[p * stride + i];
      if (ob) for (int64_t co = 0; co < Cout; co++) { float a = s[sz + co]; for (int64_t p = 1; p < c.parts; p++) a += s[p * stride + sz + co]; ob[co] = a; }
    } else {
      double *o = gw, *ob = gb; const double *s = c.part;
      memcpy(o, s, sz * es);
      for (int64_t p = 1; p < c.parts; p++) for (size_t i = 0; i < sz; i++) o[i] += s[p * stride + i];
      if (ob) for (int64_t co = 0; co < Cout; co++) { double a = s[sz + co]; for (int64_t p = 1; p < c.parts; p++) a += s[p * stride + sz + co]; ob[co] = a; }
    }
  }
  free(c.part);
  return c.failed ? 0 : 1;
}

/* ---------------------------------------------------------------- GEMM split over the pool
 * A mid-sized product on all cores without OpenBLAS's own threads: the pool's threads each run a
 * single-threaded GEMM on one block of C's columns (or rows, when C is narrow). The pool's
 * worker is usually still spinning from the previous op, where OpenBLAS's threads have to be
 * woken, and two thread pools on two cores pass the second core back and forth (an MLP step
 * spent about a quarter of its CPU time in sched_yield and context switches). */
typedef struct {
  int dt, ta, tb, by_cols;
  int64_t M, N, K, lda, ldb, ldc, parts;
  double beta;
  const char *A, *B;
  char *C;
} gemm_split_ctx;

static void gemm_split_task(void *vc, int64_t b, int64_t e) {
  gemm_split_ctx *g = vc;
  size_t es = conv_esize(g->dt);
  int64_t total = g->by_cols ? g->N : g->M;
  for (int64_t p = b; p < e; p++) {
    /* block edges on multiples of 16 (OpenBLAS's register tiles), the last block takes the rest */
    int64_t lo = p * total / g->parts / 16 * 16, hi = p + 1 == g->parts ? total : (p + 1) * total / g->parts / 16 * 16;
    if (hi <= lo) continue;
    const char *A = g->A, *B = g->B;
    char *C = g->C;
    int64_t M = g->M, N = g->N;
    if (g->by_cols) { B += (size_t)(g->tb ? lo * g->ldb : lo) * es; C += (size_t)lo * es; N = hi - lo; }
    else { A += (size_t)(g->ta ? lo : lo * g->lda) * es; C += (size_t)(lo * g->ldc) * es; M = hi - lo; }
    conv_gemm(g->dt, g->ta ? CB_T : CB_N, g->tb ? CB_T : CB_N, M, N, g->K, A, g->lda, B, g->ldb, g->beta, C, g->ldc);
  }
}

/** Row-major C = op(A) op(B) + beta C, split into column (or row) blocks over the pool's
 * threads, each a single-threaded BLAS call (the caller has set OpenBLAS to one thread).
 * Returns 0 (nothing done) when BLAS is not bound or the pool has one thread. */
EXPORT int tl_gemm_split(int dt, int ta, int tb, int64_t M, int64_t N, int64_t K, const void *A, int64_t lda,
                         const void *B, int64_t ldb, double beta, void *C, int64_t ldc) {
  if ((dt != 0 && dt != 1) || !conv_sgemm || M < 1 || N < 1 || K < 1) return 0;
  int threads = tl_get_num_threads();
  if (threads < 2) return 0;
  gemm_split_ctx g = {dt, ta, tb, N >= M || N >= 64, M, N, K, lda, ldb, ldc, 0, beta, A, B, C};
  int64_t total = g.by_cols ? N : M;
  g.parts = total / 32 < threads ? total / 32 : threads;
  if (g.parts < 2) return 0;
  parallel_for_ex(g.parts, 1, 1, gemm_split_task, &g, 1);
  return 1;
}
