/* Fused recurrent-cell kernels, included at the end of kernels.c (shares its vector helpers and thread pool). */

/* ------------------------------------------------------------------ LSTM cell (src/nn/rnn.ts fused path)
 *
 * One time step over N rows of H units; gate order i, f, g, o as PyTorch. The caller runs the
 * GEMMs (OpenBLAS from JS): these kernels do everything elementwise between them.
 *
 *   forward:  gates[n, :] holds h_{t-1} W_hh^T on entry (or is taken as 0: gz); pre = gates +
 *             xp[t]; on exit gates holds the activated sigmoid(i), sigmoid(f), tanh(g),
 *             sigmoid(o); c = f c_prev + i g; h = o tanh(c).
 *   backward: dh = gout + dhn (the output's gradient plus dG[t+1] W_hh); dc (in: the gradient
 *             from the next step, out: the one for c_prev); dG = the pre-activation gradients.
 *
 * float32 uses the vector sigmoid/tanh (a few ulp); float64 uses libm with the JS kernels'
 * formulas (sigmoid = 1 / (1 + e^-x)), so the gradients stay exact enough for gradcheck. All
 * arrays are rows of 4H (gates, xp, dG) or H units (the others), contiguous within a row; the
 * rows of gates, c, c_prev, dhn and dc are contiguous, those of xp, h, gout and dG strided. */

typedef struct {
  int64_t H, xs, hs, h2s;
  int gz;
  void *gates;
  const void *xp, *cp;
  void *c, *h, *h2;
} lstm_fwd_ctx;

typedef struct {
  int64_t H, gos, dgs;
  const void *gates, *c, *cp, *gout, *dhn;
  void *dc, *dG;
} lstm_bwd_ctx;

/* A vector of up to 8 floats from p (zero past n). */
static inline vf ldn(const float *p, int64_t n) {
  if (n >= VL) return ld(p);
  float t[VL] = {0};
  memcpy(t, p, (size_t)n * sizeof(float));
  return ld(t);
}
static inline void stn(float *p, vf v, int64_t n) {
  if (n >= VL) { st(p, v); return; }
  float t[VL];
  st(t, v);
  memcpy(p, t, (size_t)n * sizeof(float));
}

static void lstm_fwd32_task(void *vc, int64_t b, int64_t e) {
  lstm_fwd_ctx *c = vc;
  const int64_t H = c->H;
  for (int64_t n = b; n < e; n++) {
    float *G = (float *)c->gates + n * 4 * H;
    const float *X = (const float *)c->xp + n * c->xs;
    const float *CP = (const float *)c->cp + n * H;
    float *C = (float *)c->c + n * H, *Hh = (float *)c->h + n * c->hs;
    float *H2 = c->h2 ? (float *)c->h2 + n * c->h2s : NULL;
    for (int64_t j = 0; j < H; j += VL) {
      int64_t m = H - j;
      vf pi = ldn(X + j, m), pf = ldn(X + H + j, m), pg = ldn(X + 2 * H + j, m), po = ldn(X + 3 * H + j, m);
      if (!c->gz) {
        pi = ldn(G + j, m) + pi;
        pf = ldn(G + H + j, m) + pf;
        pg = ldn(G + 2 * H + j, m) + pg;
        po = ldn(G + 3 * H + j, m) + po;
      }
      vf i = v_sigmoid(pi), f = v_sigmoid(pf), g = v_tanh(pg), o = v_sigmoid(po);
      vf cn = f * ldn(CP + j, m) + i * g;
      vf hn = o * v_tanh(cn);
      stn(G + j, i, m);
      stn(G + H + j, f, m);
      stn(G + 2 * H + j, g, m);
      stn(G + 3 * H + j, o, m);
      stn(C + j, cn, m);
      stn(Hh + j, hn, m);
      if (H2) stn(H2 + j, hn, m);
    }
  }
}

static inline double sigmoid_d(double x) { return 1.0 / (1.0 + exp(-x)); }

NO_CONTRACT static void lstm_fwd64_task(void *vc, int64_t b, int64_t e) {
  lstm_fwd_ctx *c = vc;
  const int64_t H = c->H;
  for (int64_t n = b; n < e; n++) {
    double *G = (double *)c->gates + n * 4 * H;
    const double *X = (const double *)c->xp + n * c->xs;
    const double *CP = (const double *)c->cp + n * H;
    double *C = (double *)c->c + n * H, *Hh = (double *)c->h + n * c->hs;
    double *H2 = c->h2 ? (double *)c->h2 + n * c->h2s : NULL;
    const int gz = c->gz;
    for (int64_t j = 0; j < H; j++) {
      double i = sigmoid_d(gz ? X[j] : G[j] + X[j]);
      double f = sigmoid_d(gz ? X[H + j] : G[H + j] + X[H + j]);
      double g = tanh(gz ? X[2 * H + j] : G[2 * H + j] + X[2 * H + j]);
      double o = sigmoid_d(gz ? X[3 * H + j] : G[3 * H + j] + X[3 * H + j]);
      double cn = f * CP[j] + i * g;
      G[j] = i; G[H + j] = f; G[2 * H + j] = g; G[3 * H + j] = o;
      C[j] = cn;
      Hh[j] = o * tanh(cn);
      if (H2) H2[j] = Hh[j];
    }
  }
}

static void lstm_bwd32_task(void *vc, int64_t b, int64_t e) {
  lstm_bwd_ctx *c = vc;
  const int64_t H = c->H;
  for (int64_t n = b; n < e; n++) {
    const float *G = (const float *)c->gates + n * 4 * H;
    const float *C = (const float *)c->c + n * H, *CP = (const float *)c->cp + n * H;
    const float *GO = (const float *)c->gout + n * c->gos, *DHN = (const float *)c->dhn + n * H;
    float *DC = (float *)c->dc + n * H, *DG = (float *)c->dG + n * c->dgs;
    for (int64_t j = 0; j < H; j += VL) {
      int64_t m = H - j;
      vf i = ldn(G + j, m), f = ldn(G + H + j, m), g = ldn(G + 2 * H + j, m), o = ldn(G + 3 * H + j, m);
      vf tc = v_tanh(ldn(C + j, m));
      vf dh = ldn(GO + j, m) + ldn(DHN + j, m);
      vf dc = ldn(DC + j, m) + (dh * o) * (1.0f - tc * tc);
      vf d_o = dh * tc;
      vf di = dc * g, df = dc * ldn(CP + j, m), dg = dc * i;
      stn(DC + j, dc * f, m);
      stn(DG + j, di * (i * (1.0f - i)), m);
      stn(DG + H + j, df * (f * (1.0f - f)), m);
      stn(DG + 2 * H + j, dg * (1.0f - g * g), m);
      stn(DG + 3 * H + j, d_o * (o * (1.0f - o)), m);
    }
  }
}

NO_CONTRACT static void lstm_bwd64_task(void *vc, int64_t b, int64_t e) {
  lstm_bwd_ctx *c = vc;
  const int64_t H = c->H;
  for (int64_t n = b; n < e; n++) {
    const double *G = (const double *)c->gates + n * 4 * H;
    const double *C = (const double *)c->c + n * H, *CP = (const double *)c->cp + n * H;
    const double *GO = (const double *)c->gout + n * c->gos, *DHN = (const double *)c->dhn + n * H;
    double *DC = (double *)c->dc + n * H, *DG = (double *)c->dG + n * c->dgs;
    for (int64_t j = 0; j < H; j++) {
      double i = G[j], f = G[H + j], g = G[2 * H + j], o = G[3 * H + j];
      double tc = tanh(C[j]);
      double dh = GO[j] + DHN[j];
      double dc = DC[j] + (dh * o) * (1.0 - tc * tc);
      double d_o = dh * tc;
      DC[j] = dc * f;
      DG[j] = (dc * g) * (i * (1.0 - i));
      DG[H + j] = (dc * CP[j]) * (f * (1.0 - f));
      DG[2 * H + j] = (dc * i) * (1.0 - g * g);
      DG[3 * H + j] = d_o * (o * (1.0 - o));
    }
  }
}

/* Rows per task: about GRAIN_TRANSCENDENTAL units (~5 transcendentals each). A step is short and
 * the steps come one after another: splitting batch 32 x hidden 128 between threads gained nothing
 * on a 2-core machine, batch 64 x hidden 256 is split in two. */
static int64_t lstm_grain(int64_t H) { int64_t g = GRAIN_TRANSCENDENTAL / (H > 0 ? H : 1); return g > 0 ? g : 1; }

/** One LSTM step forward (see above); offsets and row strides (xs of xp, hs of h) in elements.
 * gz: the gates' contents are taken as zero (h_{t-1} = 0: no GEMM ran). h2 (may be NULL) gets a
 * second copy of h (row stride h2s). Returns 0 for an unknown dtype. */
EXPORT int tl_lstm_fwd(int dtype, int64_t N, int64_t H, int gz, void *gates, int64_t go, const void *xp, int64_t xo, int64_t xs,
  const void *cp, int64_t cpo, void *c, int64_t co, void *h, int64_t ho, int64_t hs, void *h2, int64_t h2o, int64_t h2s) {
  if (dtype != 0 && dtype != 1) return 0;
  size_t es = dtype == 0 ? sizeof(float) : sizeof(double);
  lstm_fwd_ctx k = {H, xs, hs, h2s, gz, (char *)gates + go * es, (const char *)xp + xo * es, (const char *)cp + cpo * es,
    (char *)c + co * es, (char *)h + ho * es, h2 ? (char *)h2 + h2o * es : NULL};
  parallel_for(N, lstm_grain(H), 1, dtype == 0 ? lstm_fwd32_task : lstm_fwd64_task, &k);
  return 1;
}

/** One LSTM step backward (see above); offsets and row strides (gos of gout, dgs of dG) in
 * elements. Returns 0 for an unknown dtype. */
EXPORT int tl_lstm_bwd(int dtype, int64_t N, int64_t H, const void *gates, int64_t go, const void *c, int64_t co,
  const void *cp, int64_t cpo, const void *gout, int64_t goo, int64_t gos, const void *dhn, int64_t dho, void *dc, int64_t dco,
  void *dG, int64_t dgo, int64_t dgs) {
  if (dtype != 0 && dtype != 1) return 0;
  size_t es = dtype == 0 ? sizeof(float) : sizeof(double);
  lstm_bwd_ctx k = {H, gos, dgs, (const char *)gates + go * es, (const char *)c + co * es, (const char *)cp + cpo * es,
    (const char *)gout + goo * es, (const char *)dhn + dho * es, (char *)dc + dco * es, (char *)dG + dgo * es};
  parallel_for(N, lstm_grain(H), 1, dtype == 0 ? lstm_bwd32_task : lstm_bwd64_task, &k);
  return 1;
}
