/**
 * Basic layers: Linear, Bilinear, Identity, Flatten, Unflatten, Dropout, Embedding and the
 * activations. Constructors take PyTorch's required arguments positionally and the rest in
 * an options object; parameters initialise as PyTorch's reset_parameters.
 */
import { Tensor } from '../tensor.js';
import * as ops from '../ops/index.js';
import { noGrad } from '../autograd/grad_mode.js';
import { TorchError, ShapeError, fmtShape } from '../errors.js';
import { Module, Parameter } from './module.js';
import * as impl from './functional/impl.js';
import * as init from './init.js';
import { newParam, checkCount, initBiasFromWeight, type FactoryOptions } from './layer_utils.js';
import { pyBool, pyFloat, pyStr, pyTuple } from './repr.js';

export { newParam, checkCount, initBiasFromWeight, type FactoryOptions } from './layer_utils.js';

// ---------------------------------------------------------------- linear

/** y = x W^T + b with W of shape [outFeatures, inFeatures]. */
export class Linear extends Module {
  inFeatures: number;
  outFeatures: number;
  weight: Parameter;
  declare bias: Parameter | null;
  constructor(inFeatures: number, outFeatures: number, opts: { bias?: boolean } & FactoryOptions = {}) {
    super();
    this.inFeatures = checkCount('Linear', 'in_features', inFeatures, 0);
    this.outFeatures = checkCount('Linear', 'out_features', outFeatures, 0);
    this.weight = newParam([outFeatures, inFeatures], opts);
    if (opts.bias ?? true) this.bias = newParam([outFeatures], opts);
    else this.registerParameter('bias', null);
    this.resetParameters();
  }
  resetParameters(): void {
    init.kaimingUniform_(this.weight, { a: Math.sqrt(5) });
    if (this.bias) initBiasFromWeight(this.bias, this.weight);
  }
  override forward(input: Tensor): Tensor { return impl.linear(this._getName(), input, this.weight, this.bias); }
  override extraRepr(): string { return `in_features=${this.inFeatures}, out_features=${this.outFeatures}, bias=${pyBool(this.bias !== null)}`; }
}

/** y = x1^T A x2 + b with A of shape [outFeatures, in1Features, in2Features]. */
export class Bilinear extends Module {
  in1Features: number;
  in2Features: number;
  outFeatures: number;
  weight: Parameter;
  declare bias: Parameter | null;
  constructor(in1Features: number, in2Features: number, outFeatures: number, opts: { bias?: boolean } & FactoryOptions = {}) {
    super();
    this.in1Features = checkCount('Bilinear', 'in1_features', in1Features, 0);
    this.in2Features = checkCount('Bilinear', 'in2_features', in2Features, 0);
    this.outFeatures = checkCount('Bilinear', 'out_features', outFeatures, 0);
    this.weight = newParam([outFeatures, in1Features, in2Features], opts);
    if (opts.bias ?? true) this.bias = newParam([outFeatures], opts);
    else this.registerParameter('bias', null);
    this.resetParameters();
  }
  resetParameters(): void {
    const bound = this.weight.shape[1] > 0 ? 1 / Math.sqrt(this.weight.shape[1]) : 0;
    init.uniform_(this.weight, -bound, bound);
    if (this.bias) init.uniform_(this.bias, -bound, bound);
  }
  override forward(input1: Tensor, input2: Tensor): Tensor { return impl.bilinear(this._getName(), input1, input2, this.weight, this.bias); }
  override extraRepr(): string {
    return `in1_features=${this.in1Features}, in2_features=${this.in2Features}, out_features=${this.outFeatures}, bias=${pyBool(this.bias !== null)}`;
  }
}

/** Returns its input (constructor arguments are accepted and ignored, as PyTorch). */
export class Identity extends Module {
  constructor(..._args: unknown[]) { super(); }
  override forward(input: Tensor): Tensor { return input; }
}

// ---------------------------------------------------------------- shape

/** Flattens dims startDim..endDim (default 1..-1). */
export class Flatten extends Module {
  startDim: number;
  endDim: number;
  constructor(startDim = 1, endDim = -1) {
    super();
    this.startDim = startDim;
    this.endDim = endDim;
  }
  override forward(input: Tensor): Tensor { return impl.checkTensor(this._getName(), input).flatten(this.startDim, this.endDim); }
  override extraRepr(): string { return `start_dim=${this.startDim}, end_dim=${this.endDim}`; }
}

/** Splits dim into unflattenedSize. */
export class Unflatten extends Module {
  dim: number;
  unflattenedSize: number[];
  constructor(dim: number, unflattenedSize: readonly number[]) {
    super();
    if (!Array.isArray(unflattenedSize) || unflattenedSize.some((s) => !Number.isInteger(s)))
      throw new TorchError('Unflatten', `unflattened_size must be an array of integers, got ${JSON.stringify(unflattenedSize)}`);
    this.dim = dim;
    this.unflattenedSize = [...unflattenedSize];
  }
  override forward(input: Tensor): Tensor { return impl.checkTensor(this._getName(), input).unflatten(this.dim, this.unflattenedSize); }
  override extraRepr(): string { return `dim=${this.dim}, unflattened_size=${pyTuple(this.unflattenedSize)}`; }
}

// ---------------------------------------------------------------- dropout, embedding

/** Zeroes elements with probability p in training mode, scaling the rest by 1/(1-p); identity in eval mode. */
export class Dropout extends Module {
  p: number;
  inplace: boolean;
  constructor(p = 0.5, opts: { inplace?: boolean } = {}) {
    super();
    if (typeof p !== 'number' || !(p >= 0 && p <= 1)) throw new TorchError('Dropout', `dropout probability has to be between 0 and 1, but got ${p}`);
    this.p = p;
    this.inplace = !!opts.inplace;
  }
  override forward(input: Tensor): Tensor { return impl.dropout(this._getName(), input, this.p, this.training); }
  override extraRepr(): string { return `p=${pyFloat(this.p)}, inplace=${pyBool(this.inplace)}`; }
}

export interface EmbeddingOptions extends FactoryOptions {
  paddingIdx?: number | null;
  maxNorm?: number | null;
  normType?: number;
  scaleGradByFreq?: boolean;
  sparse?: boolean;
  /** Use this tensor as the weight instead of initialising one. */
  _weight?: Tensor;
  /** Whether the weight is trained (Embedding.fromPretrained's freeze = !requiresGrad). */
  _freeze?: boolean;
}

/** A lookup table of numEmbeddings vectors of size embeddingDim; rows at paddingIdx start at 0 and get no gradient. */
export class Embedding extends Module {
  numEmbeddings: number;
  embeddingDim: number;
  paddingIdx: number | null;
  maxNorm: number | null;
  normType: number;
  scaleGradByFreq: boolean;
  sparse: boolean;
  weight: Parameter;
  constructor(numEmbeddings: number, embeddingDim: number, opts: EmbeddingOptions = {}) {
    super();
    this.numEmbeddings = checkCount('Embedding', 'num_embeddings', numEmbeddings, 0);
    this.embeddingDim = checkCount('Embedding', 'embedding_dim', embeddingDim, 0);
    let pad = opts.paddingIdx ?? null;
    if (pad !== null) {
      if (!Number.isInteger(pad) || pad >= numEmbeddings || pad < -numEmbeddings)
        throw new TorchError('Embedding', `padding_idx must be within num_embeddings (${numEmbeddings}), got ${pad}`);
      if (pad < 0) pad += numEmbeddings;
    }
    this.paddingIdx = pad;
    this.maxNorm = opts.maxNorm ?? null;
    this.normType = opts.normType ?? 2;
    this.scaleGradByFreq = !!opts.scaleGradByFreq;
    this.sparse = !!opts.sparse;
    if (opts._weight) {
      if (opts._weight.ndim !== 2 || opts._weight.shape[0] !== numEmbeddings || opts._weight.shape[1] !== embeddingDim)
        throw new ShapeError('Embedding', `shape of weight ${fmtShape(opts._weight.shape)} does not match num_embeddings and embedding_dim [${numEmbeddings}, ${embeddingDim}]`);
      this.weight = new Parameter(opts._weight, !opts._freeze);
    } else {
      this.weight = newParam([numEmbeddings, embeddingDim], opts);
      this.resetParameters();
    }
  }
  /** An Embedding holding `embeddings` (frozen by default, as PyTorch). */
  static fromPretrained(embeddings: Tensor, opts: Omit<EmbeddingOptions, '_weight' | '_freeze'> & { freeze?: boolean } = {}): Embedding {
    if (!(embeddings instanceof Tensor) || embeddings.ndim !== 2) throw new ShapeError('Embedding.fromPretrained', 'embeddings parameter is expected to be 2-dimensional');
    const { freeze, ...rest } = opts;
    return new Embedding(embeddings.shape[0], embeddings.shape[1], { ...rest, _weight: embeddings, _freeze: freeze ?? true });
  }
  resetParameters(): void {
    init.normal_(this.weight);
    if (this.paddingIdx !== null) noGrad(() => this.weight.select(0, this.paddingIdx!).fill_(0));
  }
  override forward(input: Tensor): Tensor {
    return impl.embedding(this._getName(), input, this.weight, {
      paddingIdx: this.paddingIdx, maxNorm: this.maxNorm, normType: this.normType, scaleGradByFreq: this.scaleGradByFreq,
    });
  }
  override extraRepr(): string {
    let s = `${this.numEmbeddings}, ${this.embeddingDim}`;
    if (this.paddingIdx !== null) s += `, padding_idx=${this.paddingIdx}`;
    if (this.maxNorm !== null) s += `, max_norm=${pyFloat(this.maxNorm)}`;
    if (this.normType !== 2) s += `, norm_type=${pyFloat(this.normType)}`;
    if (this.scaleGradByFreq) s += ', scale_grad_by_freq=True';
    if (this.sparse) s += ', sparse=True';
    return s;
  }
}

// ---------------------------------------------------------------- activations

const inplaceRepr = (b: boolean) => (b ? 'inplace=True' : '');

export class ReLU extends Module {
  inplace: boolean;
  constructor(opts: { inplace?: boolean } = {}) { super(); this.inplace = !!opts.inplace; }
  override forward(input: Tensor): Tensor { return ops.relu(impl.checkTensor(this._getName(), input)); }
  override extraRepr(): string { return inplaceRepr(this.inplace); }
}

export class LeakyReLU extends Module {
  negativeSlope: number;
  inplace: boolean;
  constructor(negativeSlope = 0.01, opts: { inplace?: boolean } = {}) {
    super();
    this.negativeSlope = negativeSlope;
    this.inplace = !!opts.inplace;
  }
  override forward(input: Tensor): Tensor { return impl.leakyRelu(this._getName(), input, this.negativeSlope); }
  override extraRepr(): string { return `negative_slope=${pyFloat(this.negativeSlope)}${this.inplace ? ', inplace=True' : ''}`; }
}

/** GELU; approximate 'none' (erf, the default) or 'tanh'. Accepts `new GELU('tanh')` or `new GELU({ approximate: 'tanh' })`. */
export class GELU extends Module {
  approximate: 'none' | 'tanh';
  constructor(opts: { approximate?: 'none' | 'tanh' } | 'none' | 'tanh' = {}) {
    super();
    const a = typeof opts === 'string' ? opts : opts.approximate ?? 'none';
    if (a !== 'none' && a !== 'tanh') throw new TorchError('GELU', `approximate must be 'none' or 'tanh', got '${a}'`);
    this.approximate = a;
  }
  override forward(input: Tensor): Tensor { return ops.gelu(impl.checkTensor(this._getName(), input), { approximate: this.approximate }); }
  override extraRepr(): string { return `approximate=${pyStr(this.approximate)}`; }
}

export class SiLU extends Module {
  inplace: boolean;
  constructor(opts: { inplace?: boolean } = {}) { super(); this.inplace = !!opts.inplace; }
  override forward(input: Tensor): Tensor { return ops.silu(impl.checkTensor(this._getName(), input)); }
  override extraRepr(): string { return inplaceRepr(this.inplace); }
}

export class Tanh extends Module {
  override forward(input: Tensor): Tensor { return ops.tanh(impl.checkTensor(this._getName(), input)); }
}

export class Sigmoid extends Module {
  override forward(input: Tensor): Tensor { return ops.sigmoid(impl.checkTensor(this._getName(), input)); }
}

/** softmax along dim (null: PyTorch's implicit dim rule). */
export class Softmax extends Module {
  dim: number | null;
  constructor(dim: number | null = null) { super(); this.dim = dim; }
  override forward(input: Tensor): Tensor {
    impl.checkTensor(this._getName(), input);
    return ops.softmax(input, this.dim ?? impl.implicitSoftmaxDim(input.ndim));
  }
  override extraRepr(): string { return `dim=${this.dim === null ? 'None' : this.dim}`; }
}

export class LogSoftmax extends Module {
  dim: number | null;
  constructor(dim: number | null = null) { super(); this.dim = dim; }
  override forward(input: Tensor): Tensor {
    impl.checkTensor(this._getName(), input);
    return ops.logSoftmax(input, this.dim ?? impl.implicitSoftmaxDim(input.ndim));
  }
  override extraRepr(): string { return `dim=${this.dim === null ? 'None' : this.dim}`; }
}

export class Softplus extends Module {
  beta: number;
  threshold: number;
  constructor(opts: { beta?: number; threshold?: number } = {}) { super(); this.beta = opts.beta ?? 1; this.threshold = opts.threshold ?? 20; }
  override forward(input: Tensor): Tensor { return ops.softplus(impl.checkTensor(this._getName(), input), { beta: this.beta, threshold: this.threshold }); }
  override extraRepr(): string { return `beta=${pyFloat(this.beta)}, threshold=${pyFloat(this.threshold)}`; }
}

// The other layer families, so that './layers.js' offers every layer.
export * from './conv.js';
export * from './pooling.js';
export * from './norm.js';
