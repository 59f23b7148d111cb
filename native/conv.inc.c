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
