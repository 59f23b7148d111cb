/**
 * MultiheadAttention, TransformerEncoderLayer and TransformerEncoder with PyTorch's parameter
 * and submodule names (`in_proj_weight`, `out_proj.weight`, `self_attn`, `linear1`, `norm1`,
 * `layers.0. ...`), so PyTorch state dicts load as is.
 *
 *   const layer = new nn.TransformerEncoderLayer(512, 8, { batchFirst: true });
 *   const encoder = new nn.TransformerEncoder(layer, 6);
 *   const y = encoder.forward(x, { srcKeyPaddingMask: pad });
 */
import { Tensor } from '../tensor.js';
import * as ops from '../ops/index.js';
import { noGrad } from '../autograd/grad_mode.js';
import { Module, Parameter, ModuleList } from './module.js';
import { Linear, Dropout } from './layers.js';
import { LayerNorm } from './norm.js';
import type { DType } from '../dtype.js';
import { attentionWithWeights, causalMask } from './functional/attention.js';
import { isFloating } from '../dtype.js';
import { TorchError, ShapeError, DTypeError, fmtShape } from '../errors.js';

// ---------------------------------------------------------------- MultiheadAttention

export interface MultiheadAttentionOptions {
  /** Dropout on the attention weights (training mode only). */
  dropout?: number;
  /** Biases of the input and output projections (default true). */
  bias?: boolean;
  /** Inputs and output as [batch, seq, feature] instead of [seq, batch, feature]. */
  batchFirst?: boolean;
  /** Feature size of key (default embedDim); differing sizes get separate q/k/v projection weights. */
  kdim?: number;
  /** Feature size of value (default embedDim). */
  vdim?: number;
  dtype?: DType;
  device?: string;
}

export interface MultiheadAttentionForwardOptions {
  /** [N, S] (or [S] unbatched): true (or a float added to the scores) marks keys to ignore (padding). */
  keyPaddingMask?: Tensor | null;
  /** Return the attention weights (default true). */
  needWeights?: boolean;
  /** [L, S] or [N * numHeads, L, S]: true marks pairs NOT allowed to attend; a float mask is added to the scores. */
  attnMask?: Tensor | null;
  /** Average the weights over heads (default true): [N, L, S]; otherwise [N, numHeads, L, S]. */
  averageAttnWeights?: boolean;
  /** Causal attention; with no attnMask, the causal mask is built here. */
  isCausal?: boolean;
}

/** The output projection under PyTorch's class name (prints as PyTorch's). */
export class NonDynamicallyQuantizableLinear extends Linear {}

function xavierUniform(shape: number[], opts: { dtype?: DType; device?: string }): Tensor {
  const [fanOut, fanIn] = shape;
  const bound = Math.sqrt(6 / (fanIn + fanOut));
  const t = ops.empty(shape, { dtype: opts.dtype, device: opts.device });
  if (t.numel() > 0) t.uniform_(-bound, bound);
  return t;
}

/** A bool or float mask as an additive float mask (-inf where a bool mask is true). */
function additiveMask(op: string, what: string, mask: Tensor, dtype: DType): Tensor {
  if (!(mask instanceof Tensor)) throw new TorchError(op, `${what} must be a Tensor`);
  if (mask.dtype === 'bool') return ops.maskedFill(ops.zeros([...mask.shape], { dtype, device: mask.device }), mask, -Infinity);
  if (!isFloating(mask.dtype)) throw new DTypeError(op, `only bool and floating types of ${what} are supported, got ${mask.dtype}`);
  return mask.dtype === dtype ? mask : mask.to(dtype);
}

/**
 * Multi-head attention as PyTorch's nn.MultiheadAttention: forward(query, key, value, opts) gives
 * [output, weights | null]. Masks use PyTorch's MultiheadAttention convention: true = masked out.
 */
export class MultiheadAttention extends Module {
  readonly embedDim: number;
  readonly kdim: number;
  readonly vdim: number;
  readonly numHeads: number;
  readonly headDim: number;
  readonly dropout: number;
  readonly batchFirst: boolean;
  declare in_proj_weight: Parameter | null;
  declare q_proj_weight: Parameter | null;
  declare k_proj_weight: Parameter | null;
  declare v_proj_weight: Parameter | null;
  declare in_proj_bias: Parameter | null;
  declare out_proj: NonDynamicallyQuantizableLinear;

  constructor(embedDim: number, numHeads: number, opts: MultiheadAttentionOptions = {}) {
    super();
    if (!Number.isInteger(embedDim) || embedDim <= 0 || !Number.isInteger(numHeads) || numHeads <= 0)
      throw new TorchError('MultiheadAttention', `embedDim and numHeads must be positive integers, got embedDim=${embedDim} and numHeads=${numHeads}`);
    if (embedDim % numHeads !== 0) throw new TorchError('MultiheadAttention', `embedDim (${embedDim}) must be divisible by numHeads (${numHeads})`);
    const dropout = opts.dropout ?? 0;
    if (!(dropout >= 0 && dropout <= 1)) throw new TorchError('MultiheadAttention', `dropout must be in [0, 1], got ${dropout}`);
    this.embedDim = embedDim;
    this.kdim = opts.kdim ?? embedDim;
    this.vdim = opts.vdim ?? embedDim;
    this.numHeads = numHeads;
    this.headDim = embedDim / numHeads;
    this.dropout = dropout;
    this.batchFirst = opts.batchFirst ?? false;
    const bias = opts.bias ?? true;
    // PyTorch's registration order: in_proj_weight or q/k/v_proj_weight, in_proj_bias, out_proj
    if (this.kdim === embedDim && this.vdim === embedDim) {
      this.registerParameter('in_proj_weight', new Parameter(xavierUniform([3 * embedDim, embedDim], opts)));
      this.registerParameter('q_proj_weight', null);
      this.registerParameter('k_proj_weight', null);
      this.registerParameter('v_proj_weight', null);
    } else {
      this.registerParameter('q_proj_weight', new Parameter(xavierUniform([embedDim, embedDim], opts)));
      this.registerParameter('k_proj_weight', new Parameter(xavierUniform([embedDim, this.kdim], opts)));
      this.registerParameter('v_proj_weight', new Parameter(xavierUniform([embedDim, this.vdim], opts)));
      this.registerParameter('in_proj_weight', null);
    }
    this.registerParameter('in_proj_bias', bias
      ? new Parameter(ops.zeros([3 * embedDim], { dtype: opts.dtype, device: opts.device })) : null);
    const outProj = new NonDynamicallyQuantizableLinear(embedDim, embedDim, { bias, dtype: opts.dtype, device: opts.device });
    if (outProj.bias) noGrad(() => outProj.bias!.zero_());
    this.registerModule('out_proj', outProj);
  }

  override forward(query: Tensor, key: Tensor, value: Tensor, opts: MultiheadAttentionForwardOptions = {}): [Tensor, Tensor | null] {
    const op = 'MultiheadAttention';
    for (const [n, x] of [['query', query], ['key', key], ['value', value]] as const)
      if (!(x instanceof Tensor)) throw new TorchError(op, `expected ${n} to be a Tensor, got ${x === null ? 'null' : typeof x}`);
    const needWeights = opts.needWeights ?? true;
    const average = opts.averageAttnWeights ?? true;
    const H = this.numHeads, E = this.embedDim, hd = this.headDim;
    const batched = query.ndim === 3;
    if (!batched && query.ndim !== 2) throw new ShapeError(op, `query should be unbatched 2-D or batched 3-D, got ${query.ndim}-D of shape ${fmtShape(query.shape)}`);
    if (key.ndim !== query.ndim || value.ndim !== query.ndim)
      throw new ShapeError(op, `for ${batched ? 'batched 3-D' : 'unbatched 2-D'} query, key and value should also be ${query.ndim}-D, got key ${fmtShape(key.shape)} and value ${fmtShape(value.shape)}`);
    // to [L, N, E]
    let q = query, k = key, v = value;
    if (!batched) { q = ops.unsqueeze(q, 1); k = ops.unsqueeze(k, 1); v = ops.unsqueeze(v, 1); }
    else if (this.batchFirst) { q = ops.transpose(q, 0, 1); k = ops.transpose(k, 0, 1); v = ops.transpose(v, 0, 1); }
    const [L, N] = q.shape;
    const S = k.shape[0];
    if (q.shape[2] !== E) throw new ShapeError(op, `was expecting embedding dimension of ${E} in query, but got ${q.shape[2]}`);
    if (k.shape[2] !== this.kdim) throw new ShapeError(op, `was expecting key feature size ${this.kdim}, but got ${k.shape[2]}`);
    if (v.shape[2] !== this.vdim) throw new ShapeError(op, `was expecting value feature size ${this.vdim}, but got ${v.shape[2]}`);
    if (k.shape[1] !== N || v.shape[1] !== N || v.shape[0] !== S)
      throw new ShapeError(op, `key ${fmtShape(key.shape)} and value ${fmtShape(value.shape)} must match query ${fmtShape(query.shape)} in batch size, and each other in sequence length`);

    // input projections
    const [wq, wk, wv] = this.in_proj_weight ? ops.chunk(this.in_proj_weight, 3, 0) : [this.q_proj_weight!, this.k_proj_weight!, this.v_proj_weight!];
    const [bq, bk, bv] = this.in_proj_bias ? ops.chunk(this.in_proj_bias, 3, 0) : [null, null, null];
    const proj = (x: Tensor, w: Tensor, b: Tensor | null) => { const y = ops.matmul(x, ops.t(w)); return b ? ops.add(y, b) : y; };
    // [L, N, E] -> [N, H, L, hd]
    const heads = (x: Tensor, len: number) => ops.permute(ops.reshape(x, [len, N, H, hd]), [1, 2, 0, 3]);
    const qh = heads(proj(q, wq, bq), L), kh = heads(proj(k, wk, bk), S), vh = heads(proj(v, wv, bv), S);

    // one additive mask broadcastable to [N, H, L, S]
    const dt = qh.dtype;
    let mask: Tensor | null = null;
    if (opts.attnMask) {
      let m = additiveMask(op, 'attnMask', opts.attnMask, dt);
      if (m.ndim === 2) {
        if (m.shape[0] !== L || m.shape[1] !== S) throw new ShapeError(op, `the shape of the 2-D attnMask is ${fmtShape(m.shape)}, but should be ${fmtShape([L, S])}`);
      } else if (m.ndim === 3) {
        const want = batched ? [N * H, L, S] : [H, L, S];
        if (m.shape.some((s, i) => s !== want[i])) throw new ShapeError(op, `the shape of the 3-D attnMask is ${fmtShape(m.shape)}, but should be ${fmtShape(want)}`);
        m = ops.reshape(m, [N, H, L, S]);
      } else throw new ShapeError(op, `attnMask's dimension ${m.ndim} is not supported; use [L, S] or [N * numHeads, L, S]`);
      mask = m;
    } else if (opts.isCausal) {
      mask = additiveMask(op, 'attnMask', ops.logicalNot(causalMask(L, S, q.device)), dt);
    }
    if (opts.keyPaddingMask) {
      const kpm = additiveMask(op, 'keyPaddingMask', opts.keyPaddingMask, dt);
      const want = batched ? [N, S] : [S];
      if (kpm.ndim !== want.length || kpm.shape.some((s, i) => s !== want[i]))
        throw new ShapeError(op, `expected keyPaddingMask of shape ${fmtShape(want)}, got ${fmtShape(kpm.shape)}`);
      const km = ops.reshape(kpm, [N, 1, 1, S]);
      mask = mask ? ops.add(mask, km) : km;
    }

    const [attn, weights] = attentionWithWeights(qh, kh, vh, { attnMask: mask, dropoutP: this.training ? this.dropout : 0 });
    // [N, H, L, hd] -> [L, N, E] -> out_proj
    let out = this.out_proj.forward(ops.reshape(ops.permute(attn, [2, 0, 1, 3]), [L, N, E]));
    let w: Tensor | null = null;
    if (needWeights) {
      w = average ? ops.mean(weights, 1) : weights;
      if (!batched) w = ops.squeeze(w, 0);
    }
    if (!batched) out = ops.squeeze(out, 1);
    else if (this.batchFirst) out = ops.transpose(out, 0, 1);
    return [out, w];
  }
}

// ---------------------------------------------------------------- encoder

export type Activation = 'relu' | 'gelu' | ((x: Tensor) => Tensor);

export interface TransformerEncoderLayerOptions {
  dimFeedforward?: number;
  dropout?: number;
  activation?: Activation;
  layerNormEps?: number;
  batchFirst?: boolean;
  /** Pre-norm (LayerNorm before attention and feedforward) instead of post-norm. */
  normFirst?: boolean;
  bias?: boolean;
  dtype?: DType;
  device?: string;
}

export interface EncoderLayerForwardOptions {
  /** Attention mask [L, L] or [N * nhead, L, L] (bool true = masked out, or float added). */
  srcMask?: Tensor | null;
  /** [N, L]: true marks padding. */
  srcKeyPaddingMask?: Tensor | null;
  isCausal?: boolean;
}

/**
 * One encoder block: self-attention and a feedforward network, each with dropout, a residual
 * connection and LayerNorm (post-norm by default, pre-norm with normFirst).
 */
export class TransformerEncoderLayer extends Module {
  declare self_attn: MultiheadAttention;
  declare linear1: Linear;
  declare dropout: Dropout;
  declare linear2: Linear;
  declare norm1: LayerNorm;
  declare norm2: LayerNorm;
  declare dropout1: Dropout;
  declare dropout2: Dropout;
  readonly normFirst: boolean;
  readonly activation: Activation;
  /** @internal the constructor arguments (clone() rebuilds from them). */
  readonly _args: [number, number, TransformerEncoderLayerOptions];

  constructor(dModel: number, nhead: number, opts: TransformerEncoderLayerOptions = {}) {
    super();
    const act = opts.activation ?? 'relu';
    if (act !== 'relu' && act !== 'gelu' && typeof act !== 'function')
      throw new TorchError('TransformerEncoderLayer', `activation should be 'relu', 'gelu' or a function, not '${String(act)}'`);
    this._args = [dModel, nhead, { ...opts }];
    const ff = opts.dimFeedforward ?? 2048;
    const p = opts.dropout ?? 0.1;
    const eps = opts.layerNormEps ?? 1e-5;
    const bias = opts.bias ?? true;
    const place = { dtype: opts.dtype, device: opts.device };
    this.registerModule('self_attn', new MultiheadAttention(dModel, nhead, { dropout: p, bias, batchFirst: opts.batchFirst, ...place }));
    this.registerModule('linear1', new Linear(dModel, ff, { bias, ...place }));
    this.registerModule('dropout', new Dropout(p));
    this.registerModule('linear2', new Linear(ff, dModel, { bias, ...place }));
    this.normFirst = opts.normFirst ?? false;
    this.registerModule('norm1', new LayerNorm(dModel, { eps, bias, ...place }));
    this.registerModule('norm2', new LayerNorm(dModel, { eps, bias, ...place }));
    this.registerModule('dropout1', new Dropout(p));
    this.registerModule('dropout2', new Dropout(p));
    this.activation = act;
  }

  /** A deep copy (same configuration, parameters copied, same training mode). */
  clone(): TransformerEncoderLayer {
    const [d, h, o] = this._args;
    const c = new TransformerEncoderLayer(d, h, o);
    const sd = this.stateDict();
    noGrad(() => c.loadStateDict(Object.fromEntries(Object.entries(sd).map(([k, v]) => [k, v.clone()]))));
    c.train(this.training);
    return c;
  }

  private act(x: Tensor): Tensor {
    const a = this.activation;
    return a === 'relu' ? ops.relu(x) : a === 'gelu' ? ops.gelu(x) : a(x);
  }
  private saBlock(x: Tensor, mask: Tensor | null, kpm: Tensor | null, isCausal: boolean): Tensor {
    const [y] = this.self_attn.forward(x, x, x, { attnMask: mask, keyPaddingMask: kpm, needWeights: false, isCausal });
    return this.dropout1.forward(y);
  }
  private ffBlock(x: Tensor): Tensor {
    return this.dropout2.forward(this.linear2.forward(this.dropout.forward(this.act(this.linear1.forward(x)))));
  }

  /** forward(src, { srcMask?, srcKeyPaddingMask?, isCausal? }) (a Tensor second argument is srcMask). */
  override forward(src: Tensor, opts: EncoderLayerForwardOptions | Tensor | null = {}): Tensor {
    const o: EncoderLayerForwardOptions = opts instanceof Tensor ? { srcMask: opts } : opts ?? {};
    const mask = o.srcMask ?? null, kpm = o.srcKeyPaddingMask ?? null, causal = o.isCausal ?? false;
    let x = src;
    if (this.normFirst) {
      x = ops.add(x, this.saBlock(this.norm1.forward(x), mask, kpm, causal));
      x = ops.add(x, this.ffBlock(this.norm2.forward(x)));
    } else {
      x = this.norm1.forward(ops.add(x, this.saBlock(x, mask, kpm, causal)));
      x = this.norm2.forward(ops.add(x, this.ffBlock(x)));
    }
    return x;
  }
}

export interface TransformerEncoderOptions {
  /** A final normalisation (e.g. LayerNorm) after the last layer. */
  norm?: Module | null;
  /** Accepted for PyTorch compatibility; torchlet has no nested tensors, padded positions are computed as usual. */
  enableNestedTensor?: boolean;
}

export interface EncoderForwardOptions {
  mask?: Tensor | null;
  srcKeyPaddingMask?: Tensor | null;
  isCausal?: boolean;
}

/** A stack of numLayers copies of encoderLayer (children `layers.0`, `layers.1`, ...), then an optional norm. */
export class TransformerEncoder extends Module {
  declare layers: ModuleList;
  declare norm: Module | null;
  readonly numLayers: number;

  constructor(encoderLayer: Module, numLayers: number, opts: TransformerEncoderOptions = {}) {
    super();
    if (!Number.isInteger(numLayers) || numLayers < 1) throw new TorchError('TransformerEncoder', `numLayers must be a positive integer, got ${numLayers}`);
    const cloneOf = (encoderLayer as unknown as { clone?: () => Module }).clone;
    if (typeof cloneOf !== 'function')
      throw new TorchError('TransformerEncoder', 'the encoder layer must have a clone() method that returns a deep copy (TransformerEncoderLayer has one)');
    this.registerModule('layers', new ModuleList(Array.from({ length: numLayers }, () => cloneOf.call(encoderLayer))));
    this.numLayers = numLayers;
    this.registerModule('norm', opts.norm ?? null);
  }

  /** forward(src, { mask?, srcKeyPaddingMask?, isCausal? }) (a Tensor second argument is mask). */
  override forward(src: Tensor, opts: EncoderForwardOptions | Tensor | null = {}): Tensor {
    const o: EncoderForwardOptions = opts instanceof Tensor ? { mask: opts } : opts ?? {};
    let x = src;
    for (const layer of this.layers) x = layer.forward(x, { srcMask: o.mask ?? null, srcKeyPaddingMask: o.srcKeyPaddingMask ?? null, isCausal: o.isCausal ?? false });
    return this.norm ? this.norm.forward(x) : x;
  }
}
