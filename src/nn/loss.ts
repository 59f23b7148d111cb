/**
 * Loss modules (torch.nn.*Loss): thin Modules over the functional losses. Class weights and
 * posWeight are buffers named as PyTorch's (`weight`, `pos_weight`), so they follow `.to()`
 * and appear in `stateDict()` when given.
 *
 *   const loss = new nn.CrossEntropyLoss({ labelSmoothing: 0.1 });
 *   loss.forward(logits, labels).backward();
 */
import { Tensor } from '../tensor.js';
import { Module } from './module.js';
import * as F from './functional/loss.js';
import type { Reduction } from './functional/loss.js';

/** Base of the losses: holds the reduction ('mean' by default). */
export class Loss extends Module {
  reduction: Reduction;
  constructor(reduction: Reduction = 'mean') {
    super();
    this.reduction = reduction;
  }
  override forward(_input: Tensor, _target: Tensor): Tensor { return super.forward(); }
}

/** Base of the losses with a per-class `weight` buffer. */
export class WeightedLoss extends Loss {
  declare weight: Tensor | null;
  constructor(weight: Tensor | null | undefined, reduction: Reduction = 'mean') {
    super(reduction);
    this.registerBuffer('weight', weight ?? null);
  }
}

/** Mean squared error: (input - target)^2. */
export class MSELoss extends Loss {
  constructor(opts: F.ReductionOptions = {}) { super(opts.reduction); }
  override forward(input: Tensor, target: Tensor): Tensor { return F.mseLoss(input, target, { reduction: this.reduction }); }
}

/** Mean absolute error: |input - target|. */
export class L1Loss extends Loss {
  constructor(opts: F.ReductionOptions = {}) { super(opts.reduction); }
  override forward(input: Tensor, target: Tensor): Tensor { return F.l1Loss(input, target, { reduction: this.reduction }); }
}

/** Smooth L1 (quadratic below beta, linear above). */
export class SmoothL1Loss extends Loss {
  beta: number;
  constructor(opts: F.SmoothL1Options = {}) { super(opts.reduction); this.beta = opts.beta ?? 1; }
  override forward(input: Tensor, target: Tensor): Tensor { return F.smoothL1Loss(input, target, { reduction: this.reduction, beta: this.beta }); }
}

/** Huber (quadratic below delta, linear with slope delta above). */
export class HuberLoss extends Loss {
  delta: number;
  constructor(opts: F.HuberOptions = {}) { super(opts.reduction); this.delta = opts.delta ?? 1; }
  override forward(input: Tensor, target: Tensor): Tensor { return F.huberLoss(input, target, { reduction: this.reduction, delta: this.delta }); }
}

/** Cross entropy of logits against class indices or class probabilities. */
export class CrossEntropyLoss extends WeightedLoss {
  ignoreIndex: number;
  labelSmoothing: number;
  constructor(opts: F.CrossEntropyOptions = {}) {
    super(opts.weight, opts.reduction);
    this.ignoreIndex = opts.ignoreIndex ?? -100;
    this.labelSmoothing = opts.labelSmoothing ?? 0;
  }
  override forward(input: Tensor, target: Tensor): Tensor {
    return F.crossEntropy(input, target, { weight: this.weight, ignoreIndex: this.ignoreIndex, labelSmoothing: this.labelSmoothing, reduction: this.reduction });
  }
}

/** Negative log-likelihood of log-probabilities at class indices. */
export class NLLLoss extends WeightedLoss {
  ignoreIndex: number;
  constructor(opts: F.NLLLossOptions = {}) {
    super(opts.weight, opts.reduction);
    this.ignoreIndex = opts.ignoreIndex ?? -100;
  }
  override forward(input: Tensor, target: Tensor): Tensor {
    return F.nllLoss(input, target, { weight: this.weight, ignoreIndex: this.ignoreIndex, reduction: this.reduction });
  }
}

/** Binary cross entropy of probabilities. */
export class BCELoss extends WeightedLoss {
  constructor(opts: F.BCEOptions = {}) { super(opts.weight, opts.reduction); }
  override forward(input: Tensor, target: Tensor): Tensor {
    return F.binaryCrossEntropy(input, target, { weight: this.weight, reduction: this.reduction });
  }
}

/** Binary cross entropy of logits (sigmoid fused in), with optional posWeight. */
export class BCEWithLogitsLoss extends Loss {
  declare weight: Tensor | null;
  declare pos_weight: Tensor | null;
  constructor(opts: F.BCEWithLogitsOptions = {}) {
    super(opts.reduction);
    this.registerBuffer('weight', opts.weight ?? null);
    this.registerBuffer('pos_weight', opts.posWeight ?? null);
  }
  /** posWeight under its camelCase name. */
  get posWeight(): Tensor | null { return this.pos_weight; }
  override forward(input: Tensor, target: Tensor): Tensor {
    return F.binaryCrossEntropyWithLogits(input, target, { weight: this.weight, posWeight: this.pos_weight, reduction: this.reduction });
  }
}

/** Kullback-Leibler divergence (input: log-probabilities). */
export class KLDivLoss extends Module {
  reduction: Reduction | 'batchmean';
  logTarget: boolean;
  constructor(opts: F.KLDivOptions = {}) {
    super();
    this.reduction = opts.reduction ?? 'mean';
    this.logTarget = opts.logTarget ?? false;
  }
  override forward(input: Tensor, target: Tensor): Tensor {
    return F.klDiv(input, target, { reduction: this.reduction, logTarget: this.logTarget });
  }
}
