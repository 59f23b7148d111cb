/**
 * Fused cpu updates: when a parameter, its gradient and its state are contiguous float32 or
 * float64 cpu tensors, each optimizer updates them in one pass over the host arrays instead of
 * a chain of tensor ops (each of which allocates and walks the whole tensor). The arithmetic
 * is PyTorch's single-tensor update, operation by operation in the same order (float64
 * results equal the tensor-op path to the last bit or so; float32 values are computed in
 * double precision and rounded when stored). Other devices and dtypes take the tensor-op path.
 */
import type { Tensor } from '../tensor.js';
import { nativeAdam } from '../device/cpu/native.js';

export type HostFloat = Float32Array | Float64Array;

/** The host array of a contiguous float32/float64 cpu tensor (offset in `hostOffset`), or null. */
export function hostArray(t: Tensor | null | undefined, dtype: string, numel: number): HostFloat | null {
  if (!t || t.dtype !== dtype || t._backend.type !== 'cpu' || t.isDisposed) return null;
  if (t.numel() !== numel || !t.isContiguous()) return null;
  const h = t._storage.handle;
  return h instanceof Float32Array || h instanceof Float64Array ? h : null;
}
let enabled = true;
/** Turns the fused cpu path on or off (off: every update runs as tensor ops; for tests and comparisons). */
export function setFusedUpdates(on: boolean): void { enabled = on; }
export function fusedUpdatesEnabled(): boolean { return enabled; }

/** Whether p (and so its update) can take the fused path. */
export function fusable(p: Tensor): boolean {
  return enabled && (p.dtype === 'float32' || p.dtype === 'float64') && p._backend.type === 'cpu' && p.isContiguous() && !p.isDisposed;
}
/** Marks tensors as modified in place (autograd checks these version counters). */
export function bump(...ts: (Tensor | null | undefined)[]): void {
  for (const t of ts) if (t) t._storage.version++;
}

/** PyTorch's lerp: self + w * (end - self) for |w| < 0.5, else end - (end - self) * (1 - w). */
function lerp(a: number, b: number, w: number): number {
  return Math.abs(w) < 0.5 ? a + w * (b - a) : b - (b - a) * (1 - w);
}

export interface SgdArgs {
  lr: number; momentum: number; dampening: number; weightDecay: number; nesterov: boolean; maximize: boolean;
  /** true on the first step with momentum: the buffer starts as a copy of the direction */
  initBuf: boolean;
}
export function sgdKernel(n: number, P: HostFloat, po: number, G: HostFloat, go: number, B: HostFloat | null, bo: number, a: SgdArgs): void {
  const { lr, momentum, dampening, weightDecay: wd, nesterov, maximize, initBuf } = a;
  const damp = 1 - dampening, nlr = -lr;
  for (let i = 0; i < n; i++) {
    let d = G[go + i];
    if (maximize) d = -d;
    if (wd !== 0) d = d + wd * P[po + i];
    if (B !== null) {
      let b: number;
      if (initBuf) b = d;
      else { b = B[bo + i] * momentum; b = b + damp * d; }
      B[bo + i] = b;
      b = B[bo + i]; // as stored (float32 rounding)
      d = nesterov ? d + momentum * b : b;
    }
    P[po + i] = P[po + i] + nlr * d;
  }
}

export interface AdamArgs {
  lr: number; beta1: number; beta2: number; eps: number; weightDecay: number; decoupled: boolean; maximize: boolean;
  stepSize: number; bc2Sqrt: number;
}
export function adamKernel(n: number, P: HostFloat, po: number, G: HostFloat, go: number, M: HostFloat, mo: number, V: HostFloat, vo: number,
  MX: HostFloat | null, xo: number, a: AdamArgs): void {
  // the same arithmetic in native code (multithreaded) when it is available
  if (nativeAdam(P instanceof Float32Array ? 'float32' : 'float64', n, P, po, G, go, M, mo, V, vo, MX, xo, a)) return;
  const { lr, beta1, beta2, eps, weightDecay: wd, decoupled, maximize, stepSize, bc2Sqrt } = a;
  const decay = 1 - lr * wd, w1 = 1 - beta1, c2 = 1 - beta2, nstep = -stepSize;
  const coupledWd = !decoupled && wd !== 0, decoupledWd = decoupled && wd !== 0;
  // PyTorch's lerp(m, d, w1): m + w1 * (d - m) for |w1| < 0.5, else d - (d - m) * (1 - w1)
  const small1 = Math.abs(w1) < 0.5, omw1 = 1 - w1;
  for (let i = 0; i < n; i++) {
    let p = P[po + i];
    if (decoupledWd) { p = p * decay; P[po + i] = p; p = P[po + i]; }
    let d = G[go + i];
    if (maximize) d = -d;
    if (coupledWd) d = d + wd * p;
    const m0 = M[mo + i];
    M[mo + i] = small1 ? m0 + w1 * (d - m0) : d - (d - m0) * omw1;
    let v = V[vo + i] * beta2;
    v = v + c2 * d * d;
    V[vo + i] = v;
    let s: number;
    if (MX !== null) {
      const mx = Math.max(MX[xo + i], V[vo + i]);
      MX[xo + i] = mx;
      s = MX[xo + i];
    } else s = V[vo + i];
    const denom = Math.sqrt(s) / bc2Sqrt + eps;
    P[po + i] = p + nstep * M[mo + i] / denom;
  }
}

export interface RmspropArgs { lr: number; alpha: number; eps: number; weightDecay: number; momentum: number; centered: boolean; maximize: boolean }
export function rmspropKernel(n: number, P: HostFloat, po: number, G: HostFloat, go: number, S: HostFloat, so: number,
  GA: HostFloat | null, gao: number, B: HostFloat | null, bo: number, a: RmspropArgs): void {
  const { lr, alpha, eps, weightDecay: wd, momentum, maximize } = a;
  const c = 1 - alpha, nlr = -lr;
  for (let i = 0; i < n; i++) {
    let d = G[go + i];
    if (maximize) d = -d;
    if (wd !== 0) d = d + wd * P[po + i];
    let sq = S[so + i] * alpha;
    sq = sq + c * d * d;
    S[so + i] = sq;
    sq = S[so + i];
    let avg: number;
    if (GA !== null) {
      GA[gao + i] = lerp(GA[gao + i], d, c);
      const ga = GA[gao + i];
      avg = Math.sqrt(sq + -1 * ga * ga);
    } else avg = Math.sqrt(sq);
    avg = avg + eps;
    if (B !== null) {
      let b = B[bo + i] * momentum;
      b = b + d / avg;
      B[bo + i] = b;
      P[po + i] = P[po + i] + nlr * B[bo + i];
    } else P[po + i] = P[po + i] + nlr * d / avg;
  }
}

export interface AdagradArgs { clr: number; eps: number; weightDecay: number; maximize: boolean }
export function adagradKernel(n: number, P: HostFloat, po: number, G: HostFloat, go: number, S: HostFloat, so: number, a: AdagradArgs): void {
  const { clr, eps, weightDecay: wd, maximize } = a;
  const nclr = -clr;
  for (let i = 0; i < n; i++) {
    let d = G[go + i];
    if (maximize) d = -d;
    if (wd !== 0) d = d + wd * P[po + i];
    S[so + i] = S[so + i] + d * d;
    const std = Math.sqrt(S[so + i]) + eps;
    P[po + i] = P[po + i] + nclr * d / std;
  }
}
