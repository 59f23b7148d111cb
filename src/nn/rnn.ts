/**
 * Recurrent layers: RNN (tanh/relu), LSTM, GRU and their cells, with PyTorch's parameter names
 * (`weight_ih_l0`, `bias_hh_l1_reverse`, ...), gate order, initialisation and state layout, so
 * a PyTorch state dict loads as is.
 *
 * Each layer and direction projects the whole input sequence with one matmul, then loops over
 * time for the hidden projection; outputs are stacked (no in-place writes). While recording
 * gradients the time loop is one tape node whose backward recomputes the loop and
 * differentiates it once (see recurrenceSpec), so training costs O(L), not O(L^2), in the
 * sequence length. LSTM without projection on the cpu device takes a fused path instead: one
 * GEMM and one native kernel per step each way, a hand-written backward (see lstmFusedSpec).
 *
 *   const lstm = new nn.LSTM(10, 20, { numLayers: 2, batchFirst: true });
 *   const [out, [h, c]] = lstm.forward(x);       // x: [batch, seq, 10]
 */
import { Tensor } from '../tensor.js';
import * as ops from '../ops/index.js';
import { Module, Parameter } from './module.js';
import { attentionDropout } from './functional/attention.js';
import { isFloating, type DType } from '../dtype.js';
import { noGrad, enableGrad, isGradEnabled } from '../autograd/grad_mode.js';
import { grad } from '../autograd/api.js';
import { apply, empty_, contiguousRaw, type OpSpec, type OpContext } from '../ops/core.js';
import { gemmRaw } from '../device/cpu/matmul.js';
import { nativeLstmForward, nativeLstmBackward } from '../device/cpu/native.js';
import { TorchError, ShapeError, DTypeError, fmtShape } from '../errors.js';
import { pyBool, pyFloat } from './repr.js';

type Mode = 'RNN_TANH' | 'RNN_RELU' | 'LSTM' | 'GRU';

export interface RNNOptions {
  numLayers?: number;
  /** Whether the layers have bias_ih / bias_hh (default true). */
  bias?: boolean;
  /** Input and output as [batch, seq, feature] instead of [seq, batch, feature]. */
  batchFirst?: boolean;
  /** Dropout on the outputs of every layer but the last (training mode only). */
  dropout?: number;
  bidirectional?: boolean;
  /** RNN only: 'tanh' (default) or 'relu'. */
  nonlinearity?: 'tanh' | 'relu';
  /** LSTM only: project the hidden state to this size (weight_hr_l*). */
  projSize?: number;
  dtype?: DType;
  device?: string;
}

const GATES: Record<Mode, number> = { RNN_TANH: 1, RNN_RELU: 1, LSTM: 4, GRU: 3 };

function uniformParam(shape: number[], bound: number, opts: { dtype?: DType; device?: string }): Parameter {
  const t = ops.empty(shape, { dtype: opts.dtype, device: opts.device });
  if (t.numel() > 0) t.uniform_(-bound, bound);
  return new Parameter(t);
}

/** What the recomputing backward records per step: the hidden projections' inputs and outputs. */
interface Trace { hPrev: Tensor[]; hp: Tensor[]; m: Tensor[]; hr: Tensor[] }

/**
 * One time step of a cell: the new [h, c] (c only for LSTM) from the projected input xt.
 * Gate order as PyTorch: LSTM i, f, g, o; GRU r, z, n with n = tanh(x_n + r * (h W_hn^T + b_hn)).
 */
function cellStep(mode: Mode, xt: Tensor, h: Tensor, c: Tensor | null, wHhT: Tensor, bHh: Tensor | null, wHrT: Tensor | null, trace?: Trace): [Tensor, Tensor | null] {
  let hp = ops.matmul(h, wHhT);
  if (bHh) hp = ops.add(hp, bHh);
  if (trace) { trace.hPrev.push(h); trace.hp.push(hp); }
  if (mode === 'GRU') {
    const [xr, xz, xn] = ops.chunk(xt, 3, -1);
    const [hr, hz, hn] = ops.chunk(hp, 3, -1);
    const r = ops.sigmoid(ops.add(xr, hr));
    const z = ops.sigmoid(ops.add(xz, hz));
    const n = ops.tanh(ops.add(xn, ops.mul(r, hn)));
    // (1 - z) * n + z * h
    return [ops.add(n, ops.mul(z, ops.sub(h, n))), null];
  }
  const pre = ops.add(xt, hp);
  if (mode === 'RNN_TANH') return [ops.tanh(pre), null];
  if (mode === 'RNN_RELU') return [ops.relu(pre), null];
  const [i, f, g, o] = ops.chunk(pre, 4, -1);
  const cNext = ops.add(ops.mul(ops.sigmoid(f), c!), ops.mul(ops.sigmoid(i), ops.tanh(g)));
  let hNext = ops.mul(ops.sigmoid(o), ops.tanh(cNext));
  if (wHrT) {
    const m = hNext;
    hNext = ops.matmul(m, wHrT);
    if (trace) { trace.m.push(m); trace.hr.push(hNext); }
  }
  return [hNext, cNext];
}

/** The recurrence of one layer and direction over a whole sequence (inputs already projected). */
interface Recurrence {
  mode: Mode;
  reverse: boolean;
  /** h0 is known to be zeros (no hx given) */
  h0Zero?: boolean;
  /** @internal set by the fused LSTM's forward for its backward */
  saved?: LstmSaved;
}

/** Runs the time loop with ordinary ops: the per-step outputs, and the final h and c. */
function loop(cfg: Recurrence, steps: Tensor[], h0: Tensor, c0: Tensor | null, wHh: Tensor, bHh: Tensor | null, wHr: Tensor | null, trace?: Trace): { outs: Tensor[]; h: Tensor; c: Tensor | null } {
  const L = steps.length;
  // contiguous transposes: the cpu GEMM runs about twice as fast on them
  const wHhT = ops.t(wHh).contiguous(), wHrT = wHr ? ops.t(wHr).contiguous() : null;
  let h = h0, c = c0;
  const outs: Tensor[] = new Array(L);
  for (let s = 0; s < L; s++) {
    const ti = cfg.reverse ? L - 1 - s : s;
    [h, c] = cellStep(cfg.mode, steps[ti], h, c, wHhT, bHh, wHrT, trace);
    outs[ti] = h;
  }
  return { outs, h, c };
}

/** [outputs, h, c] flattened into one tensor (the recurrence op has a single output). */
function pack(outs: Tensor[], h: Tensor, c: Tensor | null): Tensor {
  const seq = outs.length ? ops.reshape(ops.stack(outs, 0), [-1]) : ops.zeros([0], { dtype: h.dtype, device: h.device });
  const parts = [seq, ops.reshape(h, [-1])];
  if (c) parts.push(ops.reshape(c, [-1]));
  return ops.cat(parts, 0);
}

/** sum_t a_t^T b_t for per-step [N, *] tensors, as one matmul over the stacked steps. */
function stepOuter(a: Tensor[], b: Tensor[]): Tensor {
  const A = ops.reshape(ops.stack(a, 0), [-1, a[0].shape[a[0].ndim - 1]]);
  const B = ops.reshape(ops.stack(b, 0), [-1, b[0].shape[b[0].ndim - 1]]);
  return ops.matmul(ops.t(A), B);
}

/**
 * The whole time loop as one recorded op [xp, h0, c0, W_hh, b_hh (GRU), W_hr] -> packed
 * [outputs, h_n, c_n]. Slicing the projected input per time step with ordinary ops would give
 * every step's backward a gradient the size of the whole sequence (O(L^2) work and memory), and
 * the weights a full-size gradient per step. This op's backward recomputes the loop from
 * per-step leaves with the weights held constant, differentiates that once, and forms the weight
 * gradients with one matmul over all steps. Under createGraph it differentiates the composite
 * loop over the real inputs instead, so higher-order gradients work.
 */
const recurrenceSpec: OpSpec<[Recurrence]> = {
  name: 'recurrence',
  forward: ([xp, h0, c0, wHh, bHh, wHr], cfg) => {
    const r = loop(cfg, ops.unbind(xp, 0), h0, c0 ?? null, wHh, bHh ?? null, wHr ?? null);
    return pack(r.outs, r.h, r.c);
  },
  backward: (g, ctx) => {
    const [xp, h0, c0, wHh, bHh, wHr] = ctx.inputs;
    const cfg = ctx.args[0];
    const needs = ctx.needs;
    const res: (Tensor | null)[] = ctx.inputs.map(() => null);
    if (isGradEnabled()) {
      // createGraph: a graph of ordinary ops over the real inputs
      const wanted = ctx.inputs.map((x, i) => (x && needs[i] ? i : -1)).filter((i) => i >= 0);
      const r = loop(cfg, ops.unbind(xp, 0), h0, c0 ?? null, wHh, bHh ?? null, wHr ?? null);
      const gs = grad([pack(r.outs, r.h, r.c)], wanted.map((i) => ctx.inputs[i]), { gradOutputs: [g], createGraph: true, allowUnused: true });
      wanted.forEach((i, k) => { res[i] = gs[k] ?? ops.zerosLike(ctx.inputs[i]); });
      return res;
    }
    const L = xp.shape[0];
    if (L === 0) {
      // no steps: h_n = h0 and c_n = c0
      const hn = h0.numel();
      if (needs[1]) res[1] = ops.reshape(ops.narrow(g, 0, 0, hn), [...h0.shape]);
      if (c0 && needs[2]) res[2] = ops.reshape(ops.narrow(g, 0, hn, c0.numel()), [...c0.shape]);
      for (const i of [0, 3, 4, 5]) if (ctx.inputs[i] && needs[i]) res[i] = ops.zerosLike(ctx.inputs[i]);
      return res;
    }
    // recompute: per-step input leaves, h0/c0 leaves (h0 always, so every step's projection is in the graph)
    const stepLeaves = ops.unbind(ops.detach(xp), 0).map((s) => (needs[0] ? ops.detach(s).requiresGrad_(true) : s));
    const h0L = ops.detach(h0).requiresGrad_(true);
    const c0L = c0 ? ops.detach(c0).requiresGrad_(true) : null;
    const trace: Trace = { hPrev: [], hp: [], m: [], hr: [] };
    const r = enableGrad(() => loop(cfg, stepLeaves, h0L, c0L, ops.detach(wHh), bHh ? ops.detach(bHh) : null, wHr ? ops.detach(wHr) : null, trace));
    // g = [outputs, h_n, c_n] flattened
    const stepSize = r.h.numel();
    const gOut = ops.reshape(ops.narrow(g, 0, 0, L * stepSize), [L, ...r.h.shape]);
    const roots: Tensor[] = [...r.outs, r.h];
    const rootGrads: Tensor[] = [...ops.unbind(gOut, 0), ops.reshape(ops.narrow(g, 0, L * stepSize, stepSize), [...r.h.shape])];
    if (r.c) { roots.push(r.c); rootGrads.push(ops.reshape(ops.narrow(g, 0, (L + 1) * stepSize, r.c.numel()), [...r.c.shape])); }
    const wantHp = needs[3] || (bHh && needs[4]);
    const wantHr = wHr && needs[5];
    const targets: Tensor[] = [...(needs[0] ? stepLeaves : []), h0L, ...(c0L ? [c0L] : []), ...(wantHp ? trace.hp : []), ...(wantHr ? trace.hr : [])];
    const gs = grad(roots, targets, { gradOutputs: rootGrads, allowUnused: true });
    const orZeros = (x: Tensor | null | undefined, like: Tensor) => x ?? ops.zerosLike(like);
    let k = 0;
    if (needs[0]) res[0] = ops.stack(stepLeaves.map((s) => orZeros(gs[k++], s)), 0);
    const gh0 = orZeros(gs[k++], h0L);
    if (needs[1]) res[1] = gh0;
    if (c0L) { const gc0 = orZeros(gs[k++], c0L); if (needs[2]) res[2] = gc0; }
    if (wantHp) {
      const dHp = trace.hp.map((x) => orZeros(gs[k++], x));
      if (needs[3]) res[3] = stepOuter(dHp, trace.hPrev.map((x) => ops.detach(x)));
      if (bHh && needs[4]) res[4] = ops.sum(ops.reshape(ops.stack(dHp, 0), [-1, bHh.shape[0]]), 0);
    }
    if (wantHr) {
      const dHr = trace.hr.map((x) => orZeros(gs[k++], x));
      res[5] = stepOuter(dHr, trace.m.map((x) => ops.detach(x)));
    }
    return res;
  },
};

// ---------------------------------------------------------------- fused LSTM (cpu)

/**
 * LSTM without projection on the cpu device (float32/float64) runs a fused loop instead of
 * the op-by-op one: per step one GEMM, h_{t-1} W_hh^T, straight into a gates buffer, then one
 * kernel (native/rnn.inc.c, or the JS one below) that adds the projected input, applies the
 * gate activations in place and computes c_t and h_t. Its backward is written out by hand: per
 * step one kernel for the pre-activation gate gradients dG[t] and one GEMM dh_{t-1} = dG[t] W_hh,
 * then dW_hh as a single GEMM over all steps. Under createGraph it falls back to the composite
 * backward (recurrenceSpec), whose graph is differentiable again.
 *
 * Layouts: the sequence tensors (xp, the outputs, their gradients) are either time-major, row
 * (t, n) at t*N + n, or batch-major, row (t, n) at n*L + t (batchFirst input projected in its
 * own layout: no transposing copies); the buffers internal to the loop are time-major.
 */
type Floats = Float32Array | Float64Array;

let fusedLstmOn = true;
/** @internal turns the fused cpu LSTM off (the composite loop only) or back on; for tests and comparisons. */
export function setFusedLSTM(on: boolean): void { fusedLstmOn = on; }
/** @internal how many fused forwards and backwards ran (tests check that the fused path was taken). */
export const fusedLSTMCounts = { forward: 0, backward: 0 };

/**
 * What the fused forward keeps for the backward: cpu tensors used as plain buffers (so they
 * come from and go back to the device's pool, and count towards its memory budget).
 */
interface LstmSaved {
  /** [L, N, 4H] activated gates i, f, g, o, time-major */
  gates: Tensor;
  /** [L, N, H] c_t, time-major */
  cs: Tensor;
  /** [L*N, H] h_{t-1} in the sequence layout (row of (t, n) holds the h that step t started from) */
  hp: Tensor;
  /** c0, contiguous */
  c0: Tensor;
  batchMajor: boolean;
}

/** The host array of a cpu tensor. */
const hostOf = (t: Tensor): Floats => t._storage.handle as Floats;

/** Whether a [L, N, S] tensor is laid out batch-major with contiguous rows (false: time-major contiguous; null: neither). */
function seqLayout(x: Tensor): boolean | null {
  const [L, N, S] = x.shape, [sL, sN, sS] = x._strides;
  if (S > 1 && sS !== 1) return null;
  if ((L <= 1 || sL === N * S) && (N <= 1 || sN === S)) return false;
  if ((N <= 1 || sN === L * S) && (L <= 1 || sL === S)) return true;
  return null;
}

function fusedLstmApplies(cfg: Recurrence, xp: Tensor, h0: Tensor, c0: Tensor | null, wHh: Tensor, bHh: Tensor | null, wHr: Tensor | null): boolean {
  if (!fusedLstmOn || cfg.mode !== 'LSTM' || wHr || bHh || !c0) return false;
  const dt = xp.dtype;
  if (dt !== 'float32' && dt !== 'float64') return false;
  for (const t of [xp, h0, c0, wHh]) if (t._backend.type !== 'cpu' || t.dtype !== dt) return false;
  return xp.shape[0] > 0 && xp.shape[1] > 0 && h0.shape[1] > 0;
}

/**
 * Multiply-adds from which a per-step GEMM runs on all OpenBLAS threads (see gemmRaw): the steps
 * are a chain of small dependent products, which a second thread barely speeds up (and slows
 * down on a busy machine); e.g. batch 32 x hidden 128 (2M) runs on one.
 */
const STEP_PARALLEL_WORK = 2 ** 23;

const allZero = (a: Floats, o: number, n: number): boolean => {
  for (let i = 0; i < n; i++) if (a[o + i] !== 0) return false;
  return true;
};
/** A scratch buffer of n elements (contents undefined): a pooled cpu tensor and its host array (offset 0). */
function scratch(be: Tensor['_backend'], dt: DType, n: number): [Tensor, Floats] {
  const t = empty_(be, [n], dt, true);
  return [t, hostOf(t)];
}
/** Reused buffers for what never outlives one call (slot 0, 1, 2), per dtype; contents undefined. */
const tmpBufs: Record<string, Floats[]> = { float32: [], float64: [] };
function tmp(dt: 'float32' | 'float64', slot: number, n: number): Floats {
  const have = tmpBufs[dt][slot];
  if (have && have.length >= n) return have;
  return (tmpBufs[dt][slot] = dt === 'float32' ? new Float32Array(n) : new Float64Array(n));
}

/** JS fallback of native tl_lstm_fwd (same arguments). */
function lstmCellForwardJS(N: number, H: number, gz: boolean, G: Floats, go: number, X: Floats, xo: number, xs: number, CP: Floats, cpo: number,
  C: Floats, co: number, Hh: Floats, ho: number, hs: number, H2: Floats | null, h2o: number, h2s: number): void {
  const sig = (v: number) => 1 / (1 + Math.exp(-v));
  for (let n = 0; n < N; n++) {
    const g = go + n * 4 * H, x = xo + n * xs, cp = cpo + n * H, c = co + n * H, h = ho + n * hs, h2 = h2o + n * h2s;
    for (let j = 0; j < H; j++) {
      const i = sig(gz ? X[x + j] : G[g + j] + X[x + j]);
      const f = sig(gz ? X[x + H + j] : G[g + H + j] + X[x + H + j]);
      const gg = Math.tanh(gz ? X[x + 2 * H + j] : G[g + 2 * H + j] + X[x + 2 * H + j]);
      const o = sig(gz ? X[x + 3 * H + j] : G[g + 3 * H + j] + X[x + 3 * H + j]);
      G[g + j] = i; G[g + H + j] = f; G[g + 2 * H + j] = gg; G[g + 3 * H + j] = o;
      C[c + j] = f * CP[cp + j] + i * gg;
      Hh[h + j] = o * Math.tanh(C[c + j]);
      if (H2) H2[h2 + j] = Hh[h + j];
    }
  }
}

/** JS fallback of native tl_lstm_bwd (same arguments). */
function lstmCellBackwardJS(N: number, H: number, G: Floats, go: number, C: Floats, co: number, CP: Floats, cpo: number,
  GO: Floats, goo: number, gos: number, DHN: Floats, dho: number, DC: Floats, dco: number, DG: Floats, dgo: number, dgs: number): void {
  for (let n = 0; n < N; n++) {
    const g = go + n * 4 * H, c = co + n * H, cp = cpo + n * H, gout = goo + n * gos, dhn = dho + n * H, dcr = dco + n * H, dg = dgo + n * dgs;
    for (let j = 0; j < H; j++) {
      const i = G[g + j], f = G[g + H + j], gg = G[g + 2 * H + j], o = G[g + 3 * H + j];
      const tc = Math.tanh(C[c + j]);
      const dh = GO[gout + j] + DHN[dhn + j];
      const dc = DC[dcr + j] + (dh * o) * (1 - tc * tc);
      DC[dcr + j] = dc * f;
      DG[dg + j] = (dc * gg) * (i * (1 - i));
      DG[dg + H + j] = (dc * CP[cp + j]) * (f * (1 - f));
      DG[dg + 2 * H + j] = (dc * i) * (1 - gg * gg);
      DG[dg + 3 * H + j] = (dh * tc) * (o * (1 - o));
    }
  }
}

/**
 * The fused forward over xp [L, N, 4H] (time- or batch-major), h0 and c0 [N, H], W_hh [4H, H]:
 * the packed [outputs (in xp's layout), h_n, c_n], and with `save` what the backward needs.
 */
function lstmForwardFused(xp0: Tensor, h00: Tensor, c00: Tensor, w0: Tensor, reverse: boolean, save: boolean, h0Zero: boolean): { packed: Tensor; saved: LstmSaved | null } {
  fusedLSTMCounts.forward++;
  const dt = xp0.dtype as 'float32' | 'float64';
  const [L, N, G4] = xp0.shape;
  const H = G4 / 4, NH = N * H;
  let bm = seqLayout(xp0);
  const xp = bm === null ? contiguousRaw(xp0) : xp0;
  if (bm === null) bm = false;
  const h0 = contiguousRaw(h00), c0 = contiguousRaw(c00), w = contiguousRaw(w0);
  // h W_hh^T: OpenBLAS is as fast with W_hh transposed in place as with a copy of W_hh^T, except
  // for small products (twice as fast on the copy at batch 8, hidden 64)
  const wT = N * G4 * H < 2 ** 20 ? contiguousRaw(ops.t(w)) : null;
  const X = hostOf(xp), H0 = hostOf(h0), C0 = hostOf(c0), W = hostOf(wT ?? w);
  const h0o = h0._offset, c0o = c0._offset, wo = (wT ?? w)._offset, ldw = wT ? G4 : H;
  // step t's rows of S elements (S = 4H for xp, H for the outputs) start at t*stepRows*S, rowStride*S apart
  const stepRows = bm ? 1 : N, rowStride = bm ? L : 1;
  const xs = rowStride * G4, hs = rowStride * H;
  const be = xp0._backend;
  // without save, gates and c live for one step: reused buffers
  const [gatesT, gates] = save ? scratch(be, dt, L * N * G4) : [null, tmp(dt, 0, N * G4)];
  const [csT, cs] = save ? scratch(be, dt, L * NH) : [null, tmp(dt, 1, 2 * NH)];
  const [hpT, hp] = save ? scratch(be, dt, L * NH) : [null, null];
  const packed = empty_(be, [(L + 2) * NH], dt, true);
  const O = hostOf(packed);
  let tPrev = -1, cPrevO = 0;
  for (let s = 0; s < L; s++) {
    const t = reverse ? L - 1 - s : s;
    const go = save ? t * N * G4 : 0, co = save ? t * NH : (s & 1) * NH;
    const ho = t * stepRows * H;
    // h0 = 0 (no hx given, or zeros): no GEMM, the kernel reads the gates as zero
    const gz = s === 0 && (h0Zero || allZero(H0, h0o, NH));
    if (s === 0) {
      if (!gz) gemmRaw(dt, false, !wT, N, G4, H, 1, H0, h0o, H, W, wo, ldw, 0, gates, go, G4, STEP_PARALLEL_WORK);
      if (hp) for (let n = 0; n < N; n++) hp.set(H0.subarray(h0o + n * H, h0o + n * H + H), ho + n * hs);
    } else {
      gemmRaw(dt, false, !wT, N, G4, H, 1, O, tPrev * stepRows * H, hs, W, wo, ldw, 0, gates, go, G4, STEP_PARALLEL_WORK);
    }
    // h_t is where the next step starts from: its copy in hp goes to the next step's rows
    const tNext = reverse ? t - 1 : t + 1;
    const h2 = hp && s < L - 1 ? hp : null, h2o = tNext * stepRows * H;
    const CP = s === 0 ? C0 : cs, cpo = s === 0 ? c0o : cPrevO;
    const xo = xp._offset + t * stepRows * G4;
    if (!nativeLstmForward(dt, N, H, gz, gates, go, X, xo, xs, CP, cpo, cs, co, O, ho, hs, h2, h2o, hs))
      lstmCellForwardJS(N, H, gz, gates, go, X, xo, xs, CP, cpo, cs, co, O, ho, hs, h2, h2o, hs);
    tPrev = t;
    cPrevO = co;
  }
  // h_n and c_n after the sequence, contiguous
  for (let n = 0; n < N; n++) O.copyWithin(L * NH + n * H, tPrev * stepRows * H + n * hs, tPrev * stepRows * H + n * hs + H);
  O.set(cs.subarray(cPrevO, cPrevO + NH), (L + 1) * NH);
  return { packed, saved: save ? { gates: gatesT!, cs: csT!, hp: hpT!, c0, batchMajor: bm } : null };
}

/** The fused backward: gradients of [xp, h0, c0, W_hh] from the packed output's gradient g. */
function lstmBackwardFused(g0: Tensor, ctx: OpContext<[Recurrence]>): (Tensor | null)[] {
  const [xp, h0, , wHh] = ctx.inputs;
  const cfg = ctx.args[0];
  const sv = cfg.saved!;
  const needs = ctx.needs;
  fusedLSTMCounts.backward++;
  const dt = xp.dtype as 'float32' | 'float64';
  const be = xp._backend;
  const [L, N, G4] = xp.shape;
  const H = G4 / 4, NH = N * H;
  const bm = sv.batchMajor;
  const stepRows = bm ? 1 : N, rowStride = bm ? L : 1;
  const g = contiguousRaw(g0), GO = hostOf(g), goo = g._offset;
  const w = contiguousRaw(wHh), W = hostOf(w), wo = w._offset;
  const C0 = hostOf(sv.c0), c0o = sv.c0._offset;
  // dG in xp's layout
  const dGt = empty_(be, bm ? [N, L, G4] : [L, N, G4], dt, true);
  const DG = hostOf(dGt);
  const dh0 = empty_(be, [N, H], dt, true), dc0 = empty_(be, [N, H], dt, true);
  const DHN = tmp(dt, 2, NH);
  const DC = hostOf(dc0), GS = hostOf(sv.gates), CS = hostOf(sv.cs);
  DHN.set(GO.subarray(goo + L * NH, goo + (L + 1) * NH));
  DC.set(GO.subarray(goo + (L + 1) * NH, goo + (L + 2) * NH));
  for (let s = L - 1; s >= 0; s--) {
    const t = cfg.reverse ? L - 1 - s : s;
    const tPrev = cfg.reverse ? t + 1 : t - 1;
    const CP = s === 0 ? C0 : CS, cpo = s === 0 ? c0o : tPrev * NH;
    const gOff = goo + t * stepRows * H, dgo = t * stepRows * G4;
    if (!nativeLstmBackward(dt, N, H, GS, t * N * G4, CS, t * NH, CP, cpo, GO, gOff, rowStride * H, DHN, 0, DC, 0, DG, dgo, rowStride * G4))
      lstmCellBackwardJS(N, H, GS, t * N * G4, CS, t * NH, CP, cpo, GO, gOff, rowStride * H, DHN, 0, DC, 0, DG, dgo, rowStride * G4);
    // dh_{t-1} = dG[t] W_hh (into dh0 after the first step)
    if (s > 0) gemmRaw(dt, false, false, N, H, G4, 1, DG, dgo, rowStride * G4, W, wo, H, 0, DHN, 0, H, STEP_PARALLEL_WORK);
    else if (needs[1]) gemmRaw(dt, false, false, N, H, G4, 1, DG, dgo, rowStride * G4, W, wo, H, 0, hostOf(dh0), 0, H, STEP_PARALLEL_WORK);
  }
  const res: (Tensor | null)[] = ctx.inputs.map(() => null);
  if (needs[0]) res[0] = bm ? ops.transpose(dGt, 0, 1) : dGt;
  if (needs[1]) res[1] = dh0;
  if (needs[2]) res[2] = dc0;
  if (needs[3]) {
    // dW_hh = sum over all rows (t, n) of dG^T h_{t-1}: one GEMM (both in the same row order)
    const dW = empty_(be, [G4, H], dt, true);
    gemmRaw(dt, true, false, G4, H, L * N, 1, DG, 0, G4, hostOf(sv.hp), 0, H, 0, hostOf(dW), 0, H);
    res[3] = dW;
  }
  return res;
}

/** The fused LSTM recurrence as one recorded op (inputs and output as recurrenceSpec's). */
const lstmFusedSpec: OpSpec<[Recurrence]> = {
  name: 'recurrence',
  forward: ([xp, h0, c0, wHh], cfg) => {
    const r = lstmForwardFused(xp, h0, c0!, wHh, cfg.reverse, true, cfg.h0Zero === true);
    cfg.saved = r.saved!;
    return r.packed;
  },
  // createGraph: the composite backward over ordinary ops (differentiable again)
  backward: (g, ctx) => (isGradEnabled() ? recurrenceSpec.backward!(g, ctx) : lstmBackwardFused(g, ctx)),
  // backward reads W_hh and c0 (and the createGraph fallback every input), not the output (hp holds the h's)
  save: () => ({ inputs: [0, 1, 2, 3] }),
};

/** The packed [outputs, h_n, c_n] split into tensors (outputs batch-major when batchMajor). */
function unpack(packed: Tensor, L: number, hShape: number[], c0: Tensor | null, batchMajor: boolean): [Tensor, Tensor, Tensor | null] {
  const hN = hShape[0] * hShape[1];
  const outN = L * hN;
  const flat = ops.narrow(packed, 0, 0, outN);
  const out = batchMajor ? ops.transpose(ops.reshape(flat, [hShape[0], L, hShape[1]]), 0, 1) : ops.reshape(flat, [L, ...hShape]);
  const h = ops.reshape(ops.narrow(packed, 0, outN, hN), hShape);
  const c = c0 ? ops.reshape(ops.narrow(packed, 0, outN + hN, c0.numel()), [...c0.shape]) : null;
  return [out, h, c];
}

/** The recurrence of one layer and direction: [outputs [L, N, Hh], h_n, c_n]. */
function recurrence(cfg: Recurrence, xp: Tensor, h0: Tensor, c0: Tensor | null, wHh: Tensor, bHh: Tensor | null, wHr: Tensor | null): [Tensor, Tensor, Tensor | null] {
  const inputs = [xp, h0, c0, wHh, bHh, wHr];
  const L = xp.shape[0];
  const recording = isGradEnabled() && inputs.some((x) => x && x.requiresGrad);
  if (fusedLstmApplies(cfg, xp, h0, c0, wHh, bHh, wHr)) {
    const bm = seqLayout(xp) === true;
    if (!recording) return unpack(lstmForwardFused(xp, h0, c0!, wHh, cfg.reverse, false, cfg.h0Zero === true).packed, L, [...h0.shape], c0, bm);
    return unpack(apply(lstmFusedSpec, inputs as Tensor[], cfg), L, [...h0.shape], c0, bm);
  }
  if (!recording) {
    const r = loop(cfg, ops.unbind(xp, 0), h0, c0, wHh, bHh, wHr);
    return [L > 0 ? ops.stack(r.outs, 0) : ops.zeros([0, ...h0.shape], { dtype: xp.dtype, device: xp.device }), r.h, r.c];
  }
  return unpack(apply(recurrenceSpec, inputs as Tensor[], cfg), L, [...h0.shape], c0, false);
}

/** Initial states that _prepare made as zeros (no hx given): the recurrence can skip h0 W_hh^T. */
const zeroStates = new WeakSet<Tensor>();

function checkInput(op: string, x: unknown): Tensor {
  if (!(x instanceof Tensor)) throw new TorchError(op, `expected the input to be a Tensor, got ${x === null ? 'null' : typeof x}`);
  if (!isFloating(x.dtype)) throw new DTypeError(op, `expected a floating point input, got ${x.dtype}; convert with .float()`);
  return x;
}

/** The shared machinery of RNN, LSTM and GRU. */
export class RNNBase extends Module {
  readonly mode: Mode;
  readonly inputSize: number;
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly bias: boolean;
  readonly batchFirst: boolean;
  readonly dropout: number;
  readonly bidirectional: boolean;
  readonly projSize: number;

  constructor(mode: Mode, inputSize: number, hiddenSize: number, opts: RNNOptions = {}) {
    super();
    const name = mode.startsWith('RNN') ? 'RNN' : mode;
    for (const [k, v] of [['inputSize', inputSize], ['hiddenSize', hiddenSize]] as const)
      if (!Number.isInteger(v) || v < 0) throw new TorchError(name, `${k} must be a non-negative integer, got ${v}`);
    const numLayers = opts.numLayers ?? 1;
    if (!Number.isInteger(numLayers) || numLayers < 1) throw new TorchError(name, `numLayers must be a positive integer, got ${numLayers}`);
    const dropout = opts.dropout ?? 0;
    if (!(dropout >= 0 && dropout <= 1)) throw new TorchError(name, `dropout should be a number in the range [0, 1] representing the probability of an element being zeroed, got ${dropout}`);
    const projSize = opts.projSize ?? 0;
    if (!Number.isInteger(projSize) || projSize < 0) throw new TorchError(name, `projSize must be a non-negative integer, got ${projSize}`);
    if (projSize > 0 && mode !== 'LSTM') throw new TorchError(name, 'projSize is only supported by LSTM');
    if (projSize >= hiddenSize && projSize > 0) throw new TorchError(name, `projSize (${projSize}) has to be smaller than hiddenSize (${hiddenSize})`);
    this.mode = mode;
    this.inputSize = inputSize;
    this.hiddenSize = hiddenSize;
    this.numLayers = numLayers;
    this.bias = opts.bias ?? true;
    this.batchFirst = opts.batchFirst ?? false;
    this.dropout = dropout;
    this.bidirectional = opts.bidirectional ?? false;
    this.projSize = projSize;

    const gate = GATES[mode] * hiddenSize;
    const realHidden = projSize > 0 ? projSize : hiddenSize;
    const dirs = this.bidirectional ? 2 : 1;
    const bound = hiddenSize > 0 ? 1 / Math.sqrt(hiddenSize) : 0;
    for (let layer = 0; layer < numLayers; layer++) {
      for (let d = 0; d < dirs; d++) {
        const inSize = layer === 0 ? inputSize : realHidden * dirs;
        const sfx = `_l${layer}${d === 1 ? '_reverse' : ''}`;
        // PyTorch's registration order (and so stateDict order): w_ih, w_hh, b_ih, b_hh, w_hr
        this.registerParameter(`weight_ih${sfx}`, uniformParam([gate, inSize], bound, opts));
        this.registerParameter(`weight_hh${sfx}`, uniformParam([gate, realHidden], bound, opts));
        if (this.bias) {
          this.registerParameter(`bias_ih${sfx}`, uniformParam([gate], bound, opts));
          this.registerParameter(`bias_hh${sfx}`, uniformParam([gate], bound, opts));
        }
        if (projSize > 0) this.registerParameter(`weight_hr${sfx}`, uniformParam([projSize, hiddenSize], bound, opts));
      }
    }
  }

  /** Re-initialises every parameter uniformly in [-1/sqrt(hiddenSize), 1/sqrt(hiddenSize)], as PyTorch. */
  resetParameters(): void {
    const bound = this.hiddenSize > 0 ? 1 / Math.sqrt(this.hiddenSize) : 0;
    noGrad(() => { for (const p of this.parameters()) p.uniform_(-bound, bound); });
  }
  /** A no-op kept for PyTorch compatibility (cuDNN weight flattening). */
  flattenParameters(): void {}

  /** The parameters of one layer and direction (null where the layer has no bias / projection). */
  private layerParams(layer: number, d: number): { wIh: Tensor; wHh: Tensor; bIh: Tensor | null; bHh: Tensor | null; wHr: Tensor | null } {
    const sfx = `_l${layer}${d === 1 ? '_reverse' : ''}`;
    const self = this as unknown as Record<string, Tensor | undefined>;
    return {
      wIh: self[`weight_ih${sfx}`]!, wHh: self[`weight_hh${sfx}`]!,
      bIh: self[`bias_ih${sfx}`] ?? null, bHh: self[`bias_hh${sfx}`] ?? null,
      wHr: self[`weight_hr${sfx}`] ?? null,
    };
  }

  /** @internal runs the layers; hx and cx are [layers * dirs, N, *] (cx only for LSTM). */
  _run(x: Tensor, hx: Tensor, cx: Tensor | null): [Tensor, Tensor, Tensor | null] {
    const dirs = this.bidirectional ? 2 : 1;
    const hN: Tensor[] = [], cN: Tensor[] = [];
    let layerInput = x;
    for (let layer = 0; layer < this.numLayers; layer++) {
      const outs: Tensor[] = [];
      for (let d = 0; d < dirs; d++) {
        const p = this.layerParams(layer, d);
        const idx = layer * dirs + d;
        // one matmul projects every time step, in the input's own layout when that is batch-major
        // (batchFirst: one GEMM and no transposing copy); for RNN and LSTM both biases fold into it
        const xT = ops.transpose(layerInput, 0, 1);
        const bm = !layerInput.isContiguous() && xT.isContiguous();
        let xp = ops.matmul(bm ? xT : layerInput, ops.t(p.wIh));
        const bias = p.bHh && this.mode !== 'GRU' ? (p.bIh ? ops.add(p.bIh, p.bHh) : p.bHh) : p.bIh;
        if (bias) xp = ops.add(xp, bias);
        if (bm) xp = ops.transpose(xp, 0, 1);
        const [o, h, c] = recurrence({ mode: this.mode, reverse: d === 1, h0Zero: zeroStates.has(hx) }, xp, ops.select(hx, 0, idx), cx ? ops.select(cx, 0, idx) : null,
          p.wHh, this.mode === 'GRU' ? p.bHh : null, p.wHr);
        outs.push(o);
        hN.push(h);
        if (c) cN.push(c);
      }
      let out = dirs === 2 ? ops.cat(outs, 2) : outs[0];
      if (this.dropout > 0 && this.training && layer < this.numLayers - 1) out = attentionDropout(out, this.dropout);
      layerInput = out;
    }
    return [layerInput, ops.stack(hN, 0), cx ? ops.stack(cN, 0) : null];
  }

  /** @internal input and states in [seq, batch, *] layout, checked; returns what forward needs to undo. */
  _prepare(op: string, input: Tensor, hx: Tensor | null, cx: Tensor | null): { x: Tensor; h: Tensor; c: Tensor | null; batched: boolean } {
    checkInput(op, input);
    if (input.ndim !== 2 && input.ndim !== 3) throw new ShapeError(op, `expected the input to be 2-D (unbatched [seq, feature]) or 3-D, got ${input.ndim}-D of shape ${fmtShape(input.shape)}`);
    const batched = input.ndim === 3;
    const x = batched ? (this.batchFirst ? ops.transpose(input, 0, 1) : input) : ops.unsqueeze(input, 1);
    if (x.shape[2] !== this.inputSize) throw new ShapeError(op, `input.size(-1) must be equal to inputSize. Expected ${this.inputSize}, got ${x.shape[2]}`);
    const dirs = this.bidirectional ? 2 : 1;
    const N = x.shape[1];
    const realHidden = this.projSize > 0 ? this.projSize : this.hiddenSize;
    const prepState = (s: Tensor | null, size: number, what: string): Tensor => {
      const want = [this.numLayers * dirs, N, size];
      if (s === null || s === undefined) {
        const z = ops.zeros(want, { dtype: x.dtype, device: x.device });
        zeroStates.add(z);
        return z;
      }
      if (!(s instanceof Tensor)) throw new TorchError(op, `expected ${what} to be a Tensor`);
      if (!batched && s.ndim !== 2) throw new ShapeError(op, `for unbatched 2-D input, ${what} should also be 2-D but got ${s.ndim}-D tensor`);
      if (batched && s.ndim !== 3) throw new ShapeError(op, `for batched 3-D input, ${what} should also be 3-D but got ${s.ndim}-D tensor`);
      const st = batched ? s : ops.unsqueeze(s, 1);
      if (st.shape.some((v, i) => v !== want[i]))
        throw new ShapeError(op, `expected ${what} size ${fmtShape(batched ? want : [want[0], want[2]])}, got ${fmtShape(s.shape)}`);
      return st;
    };
    const h = prepState(hx, realHidden, 'hidden state hx');
    const c = this.mode === 'LSTM' ? prepState(cx, this.hiddenSize, 'cell state cx') : null;
    if (x.dtype !== h.dtype) throw new DTypeError(op, `input dtype ${x.dtype} and hidden state dtype ${h.dtype} differ`);
    return { x, h, c, batched };
  }

  /** @internal output back to the caller's layout. */
  _finish(out: Tensor, h: Tensor, c: Tensor | null, batched: boolean): [Tensor, Tensor, Tensor | null] {
    if (!batched) return [ops.squeeze(out, 1), ops.squeeze(h, 1), c ? ops.squeeze(c, 1) : null];
    return [this.batchFirst ? ops.transpose(out, 0, 1) : out, h, c];
  }

  override extraRepr(): string {
    let s = `${this.inputSize}, ${this.hiddenSize}`;
    if (this.projSize !== 0) s += `, proj_size=${this.projSize}`;
    if (this.numLayers !== 1) s += `, num_layers=${this.numLayers}`;
    if (this.bias !== true) s += `, bias=${pyBool(this.bias)}`;
    if (this.batchFirst) s += `, batch_first=${pyBool(this.batchFirst)}`;
    if (this.dropout !== 0) s += `, dropout=${pyFloat(this.dropout)}`;
    if (this.bidirectional) s += `, bidirectional=${pyBool(this.bidirectional)}`;
    return s;
  }
}

/**
 * Elman RNN: h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh), act tanh or relu.
 * forward(x, h0?) gives [output, h_n].
 */
export class RNN extends RNNBase {
  readonly nonlinearity: 'tanh' | 'relu';
  constructor(inputSize: number, hiddenSize: number, opts: RNNOptions = {}) {
    const nl = opts.nonlinearity ?? 'tanh';
    if (nl !== 'tanh' && nl !== 'relu') throw new TorchError('RNN', `unknown nonlinearity '${nl}'; select 'tanh' or 'relu'`);
    super(nl === 'tanh' ? 'RNN_TANH' : 'RNN_RELU', inputSize, hiddenSize, opts);
    this.nonlinearity = nl;
  }
  override forward(input: Tensor, hx: Tensor | null = null): [Tensor, Tensor] {
    const { x, h, batched } = this._prepare('RNN', input, hx, null);
    const [out, hn] = this._run(x, h, null);
    const [o, hh] = this._finish(out, hn, null, batched);
    return [o, hh];
  }
}

/** Long short-term memory; forward(x, [h0, c0]?) gives [output, [h_n, c_n]]. Gates i, f, g, o. */
export class LSTM extends RNNBase {
  constructor(inputSize: number, hiddenSize: number, opts: RNNOptions = {}) { super('LSTM', inputSize, hiddenSize, opts); }
  override forward(input: Tensor, hx: [Tensor, Tensor] | null = null): [Tensor, [Tensor, Tensor]] {
    if (hx !== null && hx !== undefined && (!Array.isArray(hx) || hx.length !== 2))
      throw new TorchError('LSTM', 'hx must be an array [h0, c0] of two tensors');
    const { x, h, c, batched } = this._prepare('LSTM', input, hx ? hx[0] : null, hx ? hx[1] : null);
    const [out, hn, cn] = this._run(x, h, c);
    const [o, hh, cc] = this._finish(out, hn, cn, batched);
    return [o, [hh, cc!]];
  }
}

/** Gated recurrent unit; forward(x, h0?) gives [output, h_n]. Gates r, z, n as PyTorch. */
export class GRU extends RNNBase {
  constructor(inputSize: number, hiddenSize: number, opts: RNNOptions = {}) { super('GRU', inputSize, hiddenSize, opts); }
  override forward(input: Tensor, hx: Tensor | null = null): [Tensor, Tensor] {
    const { x, h, batched } = this._prepare('GRU', input, hx, null);
    const [out, hn] = this._run(x, h, null);
    const [o, hh] = this._finish(out, hn, null, batched);
    return [o, hh];
  }
}

// ---------------------------------------------------------------- cells

export interface RNNCellOptions { bias?: boolean; nonlinearity?: 'tanh' | 'relu'; dtype?: DType; device?: string }

/** The shared parameters of the cells: weight_ih, weight_hh, bias_ih, bias_hh. */
export class RNNCellBase extends Module {
  readonly inputSize: number;
  readonly hiddenSize: number;
  readonly bias: boolean;
  declare weight_ih: Parameter;
  declare weight_hh: Parameter;
  declare bias_ih: Parameter | null;
  declare bias_hh: Parameter | null;
  constructor(inputSize: number, hiddenSize: number, bias: boolean, numChunks: number, opts: RNNCellOptions) {
    super();
    this.inputSize = inputSize;
    this.hiddenSize = hiddenSize;
    this.bias = bias;
    const bound = hiddenSize > 0 ? 1 / Math.sqrt(hiddenSize) : 0;
    this.registerParameter('weight_ih', uniformParam([numChunks * hiddenSize, inputSize], bound, opts));
    this.registerParameter('weight_hh', uniformParam([numChunks * hiddenSize, hiddenSize], bound, opts));
    this.registerParameter('bias_ih', bias ? uniformParam([numChunks * hiddenSize], bound, opts) : null);
    this.registerParameter('bias_hh', bias ? uniformParam([numChunks * hiddenSize], bound, opts) : null);
  }
  /** @internal input as [N, inputSize] and a state as [N, hiddenSize] (zeros when absent). */
  _prepare(op: string, input: Tensor, states: (Tensor | null)[]): { x: Tensor; s: Tensor[]; batched: boolean } {
    checkInput(op, input);
    if (input.ndim !== 1 && input.ndim !== 2) throw new ShapeError(op, `expected the input to be 1-D or 2-D, got ${input.ndim}-D of shape ${fmtShape(input.shape)}`);
    const batched = input.ndim === 2;
    const x = batched ? input : ops.unsqueeze(input, 0);
    if (x.shape[1] !== this.inputSize) throw new ShapeError(op, `input has inconsistent input size: got ${x.shape[1]}, expected ${this.inputSize}`);
    const s = states.map((st) => {
      if (st === null || st === undefined) return ops.zeros([x.shape[0], this.hiddenSize], { dtype: x.dtype, device: x.device });
      const v = batched ? st : ops.unsqueeze(st, 0);
      if (v.ndim !== 2 || v.shape[0] !== x.shape[0] || v.shape[1] !== this.hiddenSize)
        throw new ShapeError(op, `expected a hidden state of shape ${fmtShape(batched ? [x.shape[0], this.hiddenSize] : [this.hiddenSize])}, got ${fmtShape(st.shape)}`);
      return v;
    });
    return { x, s, batched };
  }
  /** @internal x W_ih^T + b_ih (+ b_hh when foldHidden). */
  _project(x: Tensor, foldHidden: boolean): Tensor {
    let xp = ops.matmul(x, ops.t(this.weight_ih));
    if (this.bias_ih) xp = ops.add(xp, this.bias_ih);
    if (foldHidden && this.bias_hh) xp = ops.add(xp, this.bias_hh);
    return xp;
  }
  override extraRepr(): string {
    let s = `${this.inputSize}, ${this.hiddenSize}`;
    if (!this.bias) s += ', bias=False';
    const nl = (this as unknown as { nonlinearity?: string }).nonlinearity;
    if (nl && nl !== 'tanh') s += `, nonlinearity=${nl}`;
    return s;
  }
}

/** One Elman RNN step: forward(x, h?) gives h'. */
export class RNNCell extends RNNCellBase {
  readonly nonlinearity: 'tanh' | 'relu';
  constructor(inputSize: number, hiddenSize: number, opts: RNNCellOptions = {}) {
    const nl = opts.nonlinearity ?? 'tanh';
    if (nl !== 'tanh' && nl !== 'relu') throw new TorchError('RNNCell', `unknown nonlinearity '${nl}'; select 'tanh' or 'relu'`);
    super(inputSize, hiddenSize, opts.bias ?? true, 1, opts);
    this.nonlinearity = nl;
  }
  override forward(input: Tensor, hx: Tensor | null = null): Tensor {
    const { x, s: [h], batched } = this._prepare('RNNCell', input, [hx]);
    const [hn] = cellStep(this.nonlinearity === 'tanh' ? 'RNN_TANH' : 'RNN_RELU', this._project(x, true), h, null, ops.t(this.weight_hh), null, null);
    return batched ? hn : ops.squeeze(hn, 0);
  }
}

/** One LSTM step: forward(x, [h, c]?) gives [h', c']. */
export class LSTMCell extends RNNCellBase {
  constructor(inputSize: number, hiddenSize: number, opts: RNNCellOptions = {}) { super(inputSize, hiddenSize, opts.bias ?? true, 4, opts); }
  override forward(input: Tensor, hx: [Tensor, Tensor] | null = null): [Tensor, Tensor] {
    if (hx !== null && hx !== undefined && (!Array.isArray(hx) || hx.length !== 2))
      throw new TorchError('LSTMCell', 'hx must be an array [h, c] of two tensors');
    const { x, s: [h, c], batched } = this._prepare('LSTMCell', input, hx ? [hx[0], hx[1]] : [null, null]);
    const [hn, cn] = cellStep('LSTM', this._project(x, true), h, c, ops.t(this.weight_hh), null, null);
    return batched ? [hn, cn!] : [ops.squeeze(hn, 0), ops.squeeze(cn!, 0)];
  }
}

/** One GRU step: forward(x, h?) gives h'. */
export class GRUCell extends RNNCellBase {
  constructor(inputSize: number, hiddenSize: number, opts: RNNCellOptions = {}) { super(inputSize, hiddenSize, opts.bias ?? true, 3, opts); }
  override forward(input: Tensor, hx: Tensor | null = null): Tensor {
    const { x, s: [h], batched } = this._prepare('GRUCell', input, [hx]);
    const [hn] = cellStep('GRU', this._project(x, false), h, null, ops.t(this.weight_hh), this.bias_hh, null);
    return batched ? hn : ops.squeeze(hn, 0);
  }
}
