/**
 * Normalization layers: BatchNorm1d, BatchNorm2d, LayerNorm, GroupNorm.
 *
 * BatchNorm keeps running_mean, running_var and num_batches_tracked as buffers (the same
 * state-dict keys as PyTorch), updates them in training mode and uses them in eval mode.
 */
import { Tensor } from '../tensor.js';
import * as ops from '../ops/index.js';
import { noGrad } from '../autograd/grad_mode.js';
import { TorchError, ShapeError, fmtShape } from '../errors.js';
import { Module, Parameter } from './module.js';
import * as impl from './functional/impl.js';
import * as init from './init.js';
import { newParam, checkCount, type FactoryOptions } from './layer_utils.js';
import { pyBool, pyFloat, pyTuple } from './repr.js';

export interface BatchNormLayerOptions extends FactoryOptions {
  eps?: number;
  /** null: a cumulative moving average (PyTorch's momentum=None). */
  momentum?: number | null;
  affine?: boolean;
  trackRunningStats?: boolean;
}

/**
 * Registers a norm layer's affine weight and bias of `shape`, or null placeholders where it has
 * none (shape null; `bias` false drops only the bias, LayerNorm's bias=False), as PyTorch
 * registers None so that state dicts and repr agree. Values are set by resetAffine.
 */
function registerAffine(m: Module, shape: number[] | null, f: FactoryOptions, bias = true): void {
  m.registerParameter('weight', shape ? newParam(shape, f) : null);
  m.registerParameter('bias', shape && bias ? newParam(shape, f) : null);
}
/** weight 1, bias 0: the affine transform starts as the identity. */
function resetAffine(weight: Parameter | null, bias: Parameter | null): void {
  if (weight) init.ones_(weight);
  if (bias) init.zeros_(bias);
}

/** PyTorch's _BatchNorm. */
abstract class BatchNormBase extends Module {
  numFeatures: number;
  eps: number;
  momentum: number | null;
  affine: boolean;
  trackRunningStats: boolean;
  declare weight: Parameter | null;
  declare bias: Parameter | null;
  declare running_mean: Tensor | null;
  declare running_var: Tensor | null;
  declare num_batches_tracked: Tensor | null;

  constructor(layer: string, numFeatures: number, opts: BatchNormLayerOptions) {
    super();
    this.numFeatures = checkCount(layer, 'num_features', numFeatures);
    this.eps = opts.eps ?? 1e-5;
    this.momentum = opts.momentum === undefined ? 0.1 : opts.momentum;
    this.affine = opts.affine ?? true;
    this.trackRunningStats = opts.trackRunningStats ?? true;
    const f = { device: opts.device, dtype: opts.dtype };
    registerAffine(this, this.affine ? [numFeatures] : null, f);
    if (this.trackRunningStats) {
      this.registerBuffer('running_mean', ops.zeros([numFeatures], f));
      this.registerBuffer('running_var', ops.ones([numFeatures], f));
      this.registerBuffer('num_batches_tracked', ops.zeros([], { dtype: 'int64', device: opts.device }));
    } else {
      this.registerBuffer('running_mean', null);
      this.registerBuffer('running_var', null);
      this.registerBuffer('num_batches_tracked', null);
    }
    this.resetParameters();
  }
  /** running_mean in camelCase. */
  get runningMean(): Tensor | null { return this.running_mean; }
  get runningVar(): Tensor | null { return this.running_var; }
  get numBatchesTracked(): Tensor | null { return this.num_batches_tracked; }

  resetRunningStats(): void {
    if (!this.trackRunningStats) return;
    noGrad(() => {
      this.running_mean!.zero_();
      this.running_var!.fill_(1);
      this.num_batches_tracked!.zero_();
    });
  }
  resetParameters(): void {
    this.resetRunningStats();
    if (this.affine) {
      init.ones_(this.weight!);
      init.zeros_(this.bias!);
    }
  }
  protected abstract checkInputDim(input: Tensor): void;

  /** Checkpoints from before num_batches_tracked existed still load (PyTorch's version-2 upgrade). */
  override _upgradeStateDict(sd: Map<string, Tensor>, prefix: string): void {
    const key = `${prefix}num_batches_tracked`;
    if (this.num_batches_tracked && !sd.has(key) && sd.has(`${prefix}running_mean`)) sd.set(key, this.num_batches_tracked.detach().clone());
  }

  override forward(input: Tensor): Tensor {
    const op = this._getName();
    impl.checkTensor(op, input);
    this.checkInputDim(input);
    if (input.shape[1] !== this.numFeatures)
      throw new ShapeError(op, `expected input with ${this.numFeatures} channels (num_features) at dim 1, but got input of shape ${fmtShape(input.shape)}`);
    let factor = this.momentum ?? 0;
    if (this.training && this.trackRunningStats && this.num_batches_tracked) {
      noGrad(() => this.num_batches_tracked!.add_(1));
      if (this.momentum === null) factor = 1 / this.num_batches_tracked.item();
    }
    const bnTraining = this.training || (this.running_mean === null && this.running_var === null);
    const useStats = !this.training || this.trackRunningStats;
    return impl.batchNorm(op, input, useStats ? this.running_mean : null, useStats ? this.running_var : null, this.weight, this.bias,
      { training: bnTraining, momentum: factor, eps: this.eps });
  }
  override extraRepr(): string {
    return `${this.numFeatures}, eps=${pyFloat(this.eps)}, momentum=${pyFloat(this.momentum)}, affine=${pyBool(this.affine)}, track_running_stats=${pyBool(this.trackRunningStats)}`;
  }
}

/** Batch normalization over [N, C] or [N, C, L]. */
export class BatchNorm1d extends BatchNormBase {
  constructor(numFeatures: number, opts: BatchNormLayerOptions = {}) { super('BatchNorm1d', numFeatures, opts); }
  protected checkInputDim(input: Tensor): void {
    if (input.ndim !== 2 && input.ndim !== 3) throw new ShapeError(this._getName(), `expected 2D or 3D input (got ${input.ndim}D input of shape ${fmtShape(input.shape)})`);
  }
}

/** Batch normalization over [N, C, H, W]. */
export class BatchNorm2d extends BatchNormBase {
  constructor(numFeatures: number, opts: BatchNormLayerOptions = {}) { super('BatchNorm2d', numFeatures, opts); }
  protected checkInputDim(input: Tensor): void {
    if (input.ndim !== 4) throw new ShapeError(this._getName(), `expected 4D input (got ${input.ndim}D input of shape ${fmtShape(input.shape)})`);
  }
}

export interface LayerNormOptions extends FactoryOptions { eps?: number; elementwiseAffine?: boolean; bias?: boolean }

/** Layer normalization over the trailing normalizedShape dims. */
export class LayerNorm extends Module {
  normalizedShape: number[];
  eps: number;
  elementwiseAffine: boolean;
  declare weight: Parameter | null;
  declare bias: Parameter | null;
  constructor(normalizedShape: number | readonly number[], opts: LayerNormOptions = {}) {
    super();
    const ns = typeof normalizedShape === 'number' ? [normalizedShape] : [...normalizedShape];
    if (ns.some((s) => !Number.isInteger(s) || s < 0)) throw new TorchError('LayerNorm', `normalized_shape must be non-negative integers, got ${JSON.stringify(normalizedShape)}`);
    this.normalizedShape = ns;
    this.eps = opts.eps ?? 1e-5;
    this.elementwiseAffine = opts.elementwiseAffine ?? true;
    registerAffine(this, this.elementwiseAffine ? ns : null, { device: opts.device, dtype: opts.dtype }, opts.bias ?? true);
    this.resetParameters();
  }
  resetParameters(): void { resetAffine(this.weight, this.bias); }
  override forward(input: Tensor): Tensor { return impl.layerNorm(this._getName(), input, this.normalizedShape, this.weight, this.bias, { eps: this.eps }); }
  override extraRepr(): string { return `${pyTuple(this.normalizedShape)}, eps=${pyFloat(this.eps)}, elementwise_affine=${pyBool(this.elementwiseAffine)}`; }
}

export interface GroupNormOptions extends FactoryOptions { eps?: number; affine?: boolean }

/** Group normalization: numChannels split into numGroups groups. */
export class GroupNorm extends Module {
  numGroups: number;
  numChannels: number;
  eps: number;
  affine: boolean;
  declare weight: Parameter | null;
  declare bias: Parameter | null;
  constructor(numGroups: number, numChannels: number, opts: GroupNormOptions = {}) {
    super();
    this.numGroups = checkCount('GroupNorm', 'num_groups', numGroups);
    this.numChannels = checkCount('GroupNorm', 'num_channels', numChannels);
    if (numChannels % numGroups !== 0) throw new TorchError('GroupNorm', `num_channels (${numChannels}) must be divisible by num_groups (${numGroups})`);
    this.eps = opts.eps ?? 1e-5;
    this.affine = opts.affine ?? true;
    registerAffine(this, this.affine ? [numChannels] : null, { device: opts.device, dtype: opts.dtype });
    this.resetParameters();
  }
  resetParameters(): void { resetAffine(this.weight, this.bias); }
  override forward(input: Tensor): Tensor {
    const op = this._getName();
    impl.checkTensor(op, input);
    if (input.ndim < 2 || input.shape[1] !== this.numChannels)
      throw new ShapeError(op, `expected input of shape [N, ${this.numChannels}, *] (num_channels=${this.numChannels}), but got input of shape ${fmtShape(input.shape)}`);
    return impl.groupNorm(op, input, this.numGroups, this.weight, this.bias, { eps: this.eps });
  }
  override extraRepr(): string { return `${this.numGroups}, ${this.numChannels}, eps=${pyFloat(this.eps)}, affine=${pyBool(this.affine)}`; }
}
