/** torch.optim.SGD: momentum, dampening, weight decay, Nesterov, maximize (PyTorch's single-tensor update). */
import type { Tensor } from '../tensor.js';
import { TorchError } from '../errors.js';
import { zerosLike } from '../ops/creation.js';
import { fusable, hostArray, bump, sgdKernel } from './fused.js';
import { Optimizer, checkNonNegative, checkBool, withDefaults, decayedGradient, type Params, type ParamGroup } from './optimizer.js';

export interface SGDOptions {
  /** learning rate (default 1e-3, as PyTorch 2.x) */
  lr?: number;
  momentum?: number;
  dampening?: number;
  weightDecay?: number;
  nesterov?: boolean;
  maximize?: boolean;
}

const DEFAULTS: Required<SGDOptions> = { lr: 1e-3, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false, maximize: false };

export class SGD extends Optimizer {
  constructor(params: Params, opts: SGDOptions = {}) {
    super(params, withDefaults('SGD', opts, DEFAULTS), 'SGD');
  }

  protected override validateGroup(g: ParamGroup): void {
    checkNonNegative('SGD', g, ['lr', 'momentum', 'weightDecay']);
    if (typeof g.dampening !== 'number' || Number.isNaN(g.dampening)) throw new TorchError('SGD', `Invalid dampening value: ${String(g.dampening)}`);
    checkBool('SGD', g, ['nesterov', 'maximize']);
    if (g.nesterov && (g.momentum <= 0 || g.dampening !== 0))
      throw new TorchError('SGD', `Nesterov momentum requires a momentum and zero dampening (got momentum=${g.momentum}, dampening=${g.dampening})`);
  }

  protected override updateGroup(g: ParamGroup): void {
    const lr: number = g.lr, momentum: number = g.momentum, dampening: number = g.dampening;
    const wd: number = g.weightDecay, nesterov: boolean = g.nesterov, maximize: boolean = g.maximize;
    for (const p of g.params) {
      const grad = p.grad;
      if (!grad) continue;
      if (fusable(p)) {
        const n = p.numel(), dt = p.dtype;
        const G = hostArray(grad, dt, n);
        const st = momentum !== 0 ? this.stateOf(p) : null;
        const old: Tensor | undefined = st?.momentumBuffer;
        if (G && (!old || hostArray(old, dt, n))) {
          let buf: Tensor | null = null;
          if (st) { buf = old ?? zerosLike(p); st.momentumBuffer = buf; }
          sgdKernel(n, hostArray(p, dt, n)!, p._offset, G, grad._offset, buf ? hostArray(buf, dt, n) : null, buf ? buf._offset : 0,
            { lr, momentum, dampening, weightDecay: wd, nesterov, maximize, initBuf: !old });
          bump(p, buf);
          continue;
        }
      }
      // d: the update direction; `own` marks temporaries this step made (freed right away)
      let { d, own } = decayedGradient(p, grad, maximize, wd);
      if (momentum !== 0) {
        const st = this.stateOf(p);
        let buf: Tensor | undefined = st.momentumBuffer;
        if (!buf) {
          buf = own ? d : d.clone();
          own = false;
          st.momentumBuffer = buf;
        } else {
          buf.mul_(momentum).add_(d, { alpha: 1 - dampening });
        }
        if (nesterov) {
          const nd = d.add(buf, { alpha: momentum });
          if (own) d.dispose();
          d = nd; own = true;
        } else {
          if (own) d.dispose();
          d = buf; own = false;
        }
      }
      p.add_(d, { alpha: -lr });
      if (own) d.dispose();
    }
  }
}
