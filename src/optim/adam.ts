/** torch.optim.Adam and AdamW (decoupled weight decay), with amsgrad and maximize (PyTorch's single-tensor update). */
import type { Tensor } from '../tensor.js';
import { zerosLike } from '../ops/creation.js';
import { maximum } from '../ops/elementwise.js';
import { TorchError } from '../errors.js';
import { fusable, hostArray, bump, adamKernel, fusedUpdatesEnabled } from './fused.js';
import { Optimizer, checkNonNegative, checkBool, withDefaults, decayedGradient, type Params, type ParamGroup } from './optimizer.js';

export interface AdamOptions {
  lr?: number;
  betas?: [number, number] | readonly number[];
  eps?: number;
  weightDecay?: number;
  amsgrad?: boolean;
  maximize?: boolean;
}

const ADAM_DEFAULTS: Required<AdamOptions> = { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false, maximize: false };
/** AdamW's defaults differ from Adam's only in the weight decay (PyTorch's 1e-2). */
const ADAMW_DEFAULTS: Required<AdamOptions> = { ...ADAM_DEFAULTS, weightDecay: 1e-2 };

function validateAdam(name: string, g: ParamGroup): void {
  checkNonNegative(name, g, ['lr', 'eps']);
  const b = g.betas;
  if (!Array.isArray(b) || b.length !== 2) throw new TorchError(name, `betas must be a pair [beta1, beta2], got ${String(b)}`);
  for (let i = 0; i < 2; i++)
    if (typeof b[i] !== 'number' || !(b[i] >= 0 && b[i] < 1)) throw new TorchError(name, `Invalid beta parameter at index ${i}: ${String(b[i])} (betas must be in [0, 1))`);
  checkNonNegative(name, g, ['weightDecay']);
  checkBool(name, g, ['amsgrad', 'maximize']);
}

/** The shared update; `decoupled` is AdamW's weight decay (param *= 1 - lr * wd). */
function adamUpdate(g: ParamGroup, decoupled: boolean, stateOf: (p: Tensor) => Record<string, any>): void {
  const lr: number = g.lr, eps: number = g.eps, wd: number = g.weightDecay;
  const beta1: number = g.betas[0], beta2: number = g.betas[1];
  const amsgrad: boolean = g.amsgrad, maximize: boolean = g.maximize;
  for (const p of g.params) {
    const grad = p.grad;
    if (!grad) continue;
    const st = stateOf(p);
    if (st.step === undefined) {
      st.step = 0;
      st.expAvg = zerosLike(p);
      st.expAvgSq = zerosLike(p);
      if (amsgrad) st.maxExpAvgSq = zerosLike(p);
    } else if (amsgrad && !st.maxExpAvgSq) st.maxExpAvgSq = zerosLike(p);
    const expAvg: Tensor = st.expAvg, expAvgSq: Tensor = st.expAvgSq;
    st.step += 1;
    const step: number = st.step;
    const bc1 = 1 - beta1 ** step;
    const bc2 = 1 - beta2 ** step;
    const stepSize = lr / bc1;
    const bc2Sqrt = Math.sqrt(bc2);
    if (fusable(p)) {
      const n = p.numel(), dt = p.dtype;
      const P = hostArray(p, dt, n), G = hostArray(grad, dt, n), M = hostArray(expAvg, dt, n), V = hostArray(expAvgSq, dt, n);
      const MX = amsgrad ? hostArray(st.maxExpAvgSq, dt, n) : null;
      if (P && G && M && V && (!amsgrad || MX)) {
        adamKernel(n, P, p._offset, G, grad._offset, M, expAvg._offset, V, expAvgSq._offset, MX, amsgrad ? st.maxExpAvgSq._offset : 0,
          { lr, beta1, beta2, eps, weightDecay: wd, decoupled, maximize, stepSize, bc2Sqrt });
        bump(p, expAvg, expAvgSq, amsgrad ? st.maxExpAvgSq : null);
        continue;
      }
    }
    // a device's fused kernel (webgpu): one pass instead of a chain of tensor ops
    const be = p._backend;
    if (be.adamStep && fusedUpdatesEnabled() && grad._backend === be) {
      const mx: Tensor | null = amsgrad ? st.maxExpAvgSq : null;
      if (be.adamStep({ param: p._view, grad: grad._view, expAvg: expAvg._view, expAvgSq: expAvgSq._view, maxExpAvgSq: mx ? mx._view : null },
        { lr, beta1, beta2, eps, weightDecay: wd, decoupled, maximize, stepSize, bc2Sqrt })) {
        bump(p, expAvg, expAvgSq, mx);
        continue;
      }
    }
    if (decoupled && wd !== 0) p.mul_(1 - lr * wd);
    const { d, own } = decayedGradient(p, grad, maximize, decoupled ? 0 : wd);
    expAvg.lerp_(d, 1 - beta1);
    expAvgSq.mul_(beta2).addcmul_(d, d, { value: 1 - beta2 });
    let second = expAvgSq;
    if (amsgrad) {
      const m: Tensor = st.maxExpAvgSq;
      const mx = maximum(m, expAvgSq);
      m.copy_(mx);
      mx.dispose();
      second = m;
    }
    const denom = second.sqrt().div_(bc2Sqrt).add_(eps);
    p.addcdiv_(expAvg, denom, { value: -stepSize });
    denom.dispose();
    if (own) d.dispose();
  }
}

export class Adam extends Optimizer {
  constructor(params: Params, opts: AdamOptions = {}) {
    super(params, withDefaults('Adam', opts, ADAM_DEFAULTS), 'Adam');
  }
  protected override validateGroup(g: ParamGroup): void { validateAdam('Adam', g); }
  protected override updateGroup(g: ParamGroup): void { adamUpdate(g, false, (p) => this.stateOf(p)); }
}

export class AdamW extends Optimizer {
  constructor(params: Params, opts: AdamOptions = {}) {
    super(params, withDefaults('AdamW', opts, ADAMW_DEFAULTS), 'AdamW');
  }
  protected override validateGroup(g: ParamGroup): void { validateAdam('AdamW', g); }
  protected override updateGroup(g: ParamGroup): void { adamUpdate(g, true, (p) => this.stateOf(p)); }
}
