/** torch.optim.Adagrad: lrDecay, weight decay, initialAccumulatorValue, eps, maximize (PyTorch's single-tensor update). */
import type { Tensor } from '../tensor.js';
import { fullLike } from '../ops/creation.js';
import { fusable, hostArray, bump, adagradKernel } from './fused.js';
import { Optimizer, checkNonNegative, checkBool, withDefaults, decayedGradient, type Params, type ParamGroup } from './optimizer.js';

export interface AdagradOptions {
  lr?: number;
  lrDecay?: number;
  weightDecay?: number;
  initialAccumulatorValue?: number;
  eps?: number;
  maximize?: boolean;
}

const DEFAULTS: Required<AdagradOptions> = { lr: 1e-2, lrDecay: 0, weightDecay: 0, initialAccumulatorValue: 0, eps: 1e-10, maximize: false };

export class Adagrad extends Optimizer {
  constructor(params: Params, opts: AdagradOptions = {}) {
    super(params, withDefaults('Adagrad', opts, DEFAULTS), 'Adagrad');
  }

  protected override validateGroup(g: ParamGroup): void {
    checkNonNegative('Adagrad', g, ['lr', 'lrDecay', 'weightDecay', 'initialAccumulatorValue', 'eps']);
    checkBool('Adagrad', g, ['maximize']);
  }

  /** As PyTorch, the state (step 0, sum = initialAccumulatorValue) exists from construction. */
  protected override initGroup(g: ParamGroup): void {
    for (const p of g.params) this.initState(p, g);
  }
  private initState(p: Tensor, g: ParamGroup): Record<string, any> {
    const st = this.stateOf(p);
    if (st.step === undefined) st.step = 0;
    if (!st.sum) st.sum = fullLike(p, g.initialAccumulatorValue);
    return st;
  }

  protected override updateGroup(g: ParamGroup): void {
    const lr: number = g.lr, lrDecay: number = g.lrDecay, wd: number = g.weightDecay;
    const eps: number = g.eps, maximize: boolean = g.maximize;
    for (const p of g.params) {
      const grad = p.grad;
      if (!grad) continue;
      const st = this.initState(p, g);
      st.step += 1;
      const step: number = st.step;
      const clr = lr / (1 + (step - 1) * lrDecay);
      const sum: Tensor = st.sum;
      if (fusable(p)) {
        const n = p.numel(), dt = p.dtype;
        const P = hostArray(p, dt, n), G = hostArray(grad, dt, n), S = hostArray(sum, dt, n);
        if (P && G && S) {
          adagradKernel(n, P, p._offset, G, grad._offset, S, sum._offset, { clr, eps, weightDecay: wd, maximize });
          bump(p, sum);
          continue;
        }
      }
      const { d, own } = decayedGradient(p, grad, maximize, wd);
      sum.addcmul_(d, d, { value: 1 });
      const std = sum.sqrt().add_(eps);
      p.addcdiv_(d, std, { value: -clr });
      std.dispose();
      if (own) d.dispose();
    }
  }
}
