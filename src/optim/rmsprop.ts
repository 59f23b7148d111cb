/** torch.optim.RMSprop: alpha, eps, weight decay, momentum, centered, maximize (PyTorch's single-tensor update). */
import type { Tensor } from '../tensor.js';
import { zerosLike } from '../ops/creation.js';
import { fusable, hostArray, bump, rmspropKernel } from './fused.js';
import { Optimizer, checkNonNegative, checkBool, withDefaults, decayedGradient, type Params, type ParamGroup } from './optimizer.js';

export interface RMSpropOptions {
  lr?: number;
  alpha?: number;
  eps?: number;
  weightDecay?: number;
  momentum?: number;
  centered?: boolean;
  maximize?: boolean;
}

const DEFAULTS: Required<RMSpropOptions> = { lr: 1e-2, alpha: 0.99, eps: 1e-8, weightDecay: 0, momentum: 0, centered: false, maximize: false };

export class RMSprop extends Optimizer {
  constructor(params: Params, opts: RMSpropOptions = {}) {
    super(params, withDefaults('RMSprop', opts, DEFAULTS), 'RMSprop');
  }

  protected override validateGroup(g: ParamGroup): void {
    checkNonNegative('RMSprop', g, ['lr', 'eps', 'momentum', 'weightDecay', 'alpha']);
    checkBool('RMSprop', g, ['centered', 'maximize']);
  }

  protected override updateGroup(g: ParamGroup): void {
    const lr: number = g.lr, alpha: number = g.alpha, eps: number = g.eps, wd: number = g.weightDecay;
    const momentum: number = g.momentum, centered: boolean = g.centered, maximize: boolean = g.maximize;
    for (const p of g.params) {
      const grad = p.grad;
      if (!grad) continue;
      const st = this.stateOf(p);
      if (st.step === undefined) {
        st.step = 0;
        st.squareAvg = zerosLike(p);
      }
      if (momentum > 0 && !st.momentumBuffer) st.momentumBuffer = zerosLike(p);
      if (centered && !st.gradAvg) st.gradAvg = zerosLike(p);
      st.step += 1;
      const squareAvg: Tensor = st.squareAvg;
      if (fusable(p)) {
        const n = p.numel(), dt = p.dtype;
        const P = hostArray(p, dt, n), G = hostArray(grad, dt, n), S = hostArray(squareAvg, dt, n);
        const GA = centered ? hostArray(st.gradAvg, dt, n) : null, B = momentum > 0 ? hostArray(st.momentumBuffer, dt, n) : null;
        if (P && G && S && (!centered || GA) && (!(momentum > 0) || B)) {
          rmspropKernel(n, P, p._offset, G, grad._offset, S, squareAvg._offset, GA, GA ? st.gradAvg._offset : 0, B, B ? st.momentumBuffer._offset : 0,
            { lr, alpha, eps, weightDecay: wd, momentum, centered, maximize });
          bump(p, squareAvg, GA ? st.gradAvg : null, B ? st.momentumBuffer : null);
          continue;
        }
      }
      const { d, own } = decayedGradient(p, grad, maximize, wd);
      squareAvg.mul_(alpha).addcmul_(d, d, { value: 1 - alpha });
      let avg: Tensor;
      if (centered) {
        const gradAvg: Tensor = st.gradAvg;
        gradAvg.lerp_(d, 1 - alpha);
        avg = squareAvg.addcmul(gradAvg, gradAvg, { value: -1 }).sqrt_();
      } else avg = squareAvg.sqrt();
      avg.add_(eps);
      if (momentum > 0) {
        const buf: Tensor = st.momentumBuffer;
        buf.mul_(momentum).addcdiv_(d, avg);
        p.add_(buf, { alpha: -lr });
      } else p.addcdiv_(d, avg, { value: -lr });
      avg.dispose();
      if (own) d.dispose();
    }
  }
}
