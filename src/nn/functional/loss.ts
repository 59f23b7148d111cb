/**
 * Loss functions (torch.nn.functional): composites of tensor ops, so autograd needs no
 * backward of their own (binaryCrossEntropy has a fused derivative, as PyTorch's, to stay
 * finite where the input saturates at 0 or 1, and cross entropy over class indices on the cpu
 * is one op, see classCrossEntropy).
 */
import { Tensor } from '../../tensor.js';
import * as ops from '../../ops/index.js';
import { apply, binaryRaw, empty_, unaryRaw, type OpSpec } from '../../ops/core.js';
import { isGradEnabled } from '../../autograd/grad_mode.js';
import { isFloating, type DType, type HostArray } from '../../dtype.js';
import { TorchError, ShapeError, DTypeError, IndexError, fmtShape } from '../../errors.js';

export type Reduction = 'none' | 'mean' | 'sum';

export interface CrossEntropyOptions {
  /** Per-class rescaling weight, a 1-D tensor of size C. */
  weight?: Tensor | null;
  /** Target value that is ignored and does not count towards the mean (class indices only). */
  ignoreIndex?: number;
  /** Amount of smoothing in [0, 1]: the target becomes a mix of itself and the uniform distribution. */
  labelSmoothing?: number;
  reduction?: Reduction;
}
export interface NLLLossOptions { weight?: Tensor | null; ignoreIndex?: number; reduction?: Reduction }
export interface ReductionOptions { reduction?: Reduction }
export interface SmoothL1Options { reduction?: Reduction; beta?: number }
export interface HuberOptions { reduction?: Reduction; delta?: number }
export interface BCEOptions { weight?: Tensor | null; reduction?: Reduction }
export interface BCEWithLogitsOptions { weight?: Tensor | null; posWeight?: Tensor | null; reduction?: Reduction }
export interface KLDivOptions { reduction?: Reduction | 'batchmean'; logTarget?: boolean }

// ---------------- helpers ----------------

function checkTensor(op: string, name: string, x: unknown): Tensor {
  if (!(x instanceof Tensor)) throw new TorchError(op, `expected ${name} to be a Tensor, got ${x === null ? 'null' : typeof x}`);
  return x;
}
function checkFloat(op: string, name: string, x: Tensor): Tensor {
  if (!isFloating(x.dtype)) throw new DTypeError(op, `expected ${name} to be a floating point tensor, got ${x.dtype}; convert with .float()`);
  return x;
}
function checkReduction(op: string, r: string | undefined, extra: string[] = []): string {
  const red = r ?? 'mean';
  const allowed = ['none', 'mean', 'sum', ...extra];
  if (!allowed.includes(red)) throw new TorchError(op, `reduction must be one of ${allowed.map((a) => `'${a}'`).join(', ')}, got '${red}'`);
  return red;
}
function reduce(loss: Tensor, reduction: string): Tensor {
  if (reduction === 'none') return loss;
  if (reduction === 'sum') return ops.sum(loss);
  return ops.mean(loss);
}
function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((s, i) => s === b[i]);
}
/** The target in the input's dtype (targets of regression losses may be any numeric dtype). */
function targetAs(op: string, input: Tensor, target: Tensor): Tensor {
  checkTensor(op, 'target', target);
  return target.dtype === input.dtype ? target : ops.toDtype(target, input.dtype);
}

/** The host values of a tensor where its device can read back synchronously (null elsewhere). */
function hostValues(x: Tensor): ArrayLike<number> | null {
  if (!x._backend.readSync) return null;
  return x.dataSync() as ArrayLike<number>;
}

/**
 * Checks every class index lies in [0, C) or equals ignoreIndex (devices that read back
 * asynchronously check in gather); returns the indices read (null where none were).
 */
function checkClassIndices(op: string, target: Tensor, numClasses: number, ignoreIndex: number): ArrayLike<number> | null {
  if (target.numel() === 0) return null;
  const data = hostValues(target);
  if (!data) return null;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v !== ignoreIndex && (v < 0 || v >= numClasses))
      throw new IndexError(op, `target ${v} is out of bounds: class indices must lie in [0, ${numClasses - 1}] for an input with ${numClasses} classes (or equal ignoreIndex ${ignoreIndex})`);
  }
  return data;
}

function checkWeight(op: string, weight: Tensor | null | undefined, numClasses: number, input: Tensor): Tensor | null {
  if (weight === undefined || weight === null) return null;
  checkTensor(op, 'weight', weight);
  if (weight.ndim !== 1 || weight.shape[0] !== numClasses)
    throw new ShapeError(op, `weight must be a 1-D tensor with one entry per class (${numClasses}), got shape ${fmtShape(weight.shape)}`);
  checkFloat(op, 'weight', weight);
  return weight.dtype === input.dtype ? weight : ops.toDtype(weight, input.dtype);
}

/** The class dim and the number of classes of an input of shape [C] or [N, C, d1, ...]. */
function classDim(op: string, input: Tensor): { dim: number; numClasses: number } {
  if (input.ndim === 0) throw new ShapeError(op, 'expected an input of shape [C] or [N, C, d1, ...], got a 0-d tensor');
  const dim = input.ndim === 1 ? 0 : 1;
  return { dim, numClasses: input.shape[dim] };
}

/** Checks that target holds class indices whose shape is the input's without the class dim. */
function checkIndexTarget(op: string, input: Tensor, target: Tensor, dim: number, allowProbabilities: boolean): void {
  const want = input.shape.filter((_, i) => i !== dim);
  if (isFloating(target.dtype) || target.dtype === 'bool') {
    const probs = allowProbabilities ? ` or class probabilities (floating point) of the input's shape ${fmtShape(input.shape)}` : '';
    throw new DTypeError(op, `expected target to be class indices (int64) of shape ${fmtShape(want)}${probs}; got a ${target.dtype} target of shape ${fmtShape(target.shape)}`);
  }
  if (target.dtype !== 'int64' && target.dtype !== 'int32' && target.dtype !== 'uint8')
    throw new DTypeError(op, `expected target to hold class indices as int64, got ${target.dtype}`);
  if (!sameShape(target.shape, want))
    throw new ShapeError(op, `expected target of shape ${fmtShape(want)} (the input's shape ${fmtShape(input.shape)} without the class dim ${dim}), got ${fmtShape(target.shape)}`);
}

/** The checks and options nllLoss and crossEntropy start with: float input, a target tensor, reduction, ignoreIndex. */
function classLossOptions(op: string, input: Tensor, target: Tensor, opts: NLLLossOptions): { reduction: string; ignoreIndex: number } {
  checkFloat(op, 'input', checkTensor(op, 'input', input));
  checkTensor(op, 'target', target);
  return { reduction: checkReduction(op, opts.reduction), ignoreIndex: opts.ignoreIndex ?? -100 };
}

/** Class indices safe to gather with: an ignored target (any value, even out of range) reads class 0 and is masked out later. */
function safeIndices(target: Tensor, valid: Tensor): Tensor {
  return ops.where(valid, target, 0).to('int64');
}
/** Each target's class weight, shaped as the target. */
function targetWeights(weight: Tensor, idx: Tensor, target: Tensor): Tensor {
  return ops.reshape(ops.indexSelect(weight, 0, ops.reshape(idx, [-1])), [...target.shape]);
}
/** What a 'mean' divides by, as PyTorch: the summed weights of the targets not ignored (their count when unweighted). */
function meanDenominator(valid: Tensor, w: Tensor | null, dtype: DType): Tensor {
  return w ? ops.sum(ops.where(valid, w, 0)) : ops.sum(ops.toDtype(valid, dtype));
}

/*
 * Cross entropy of [N, C] cpu logits against class indices, unweighted and unsmoothed (how
 * nearly every classifier trains), as one op: the fused log-softmax, then the N picked terms
 * summed on the host. The composite below records about ten ops and as many backward nodes
 * (~70 us of a 64x10 loss with its backward, ~5% of the benchmark MLP's step); this records
 * one, whose backward is PyTorch's formula, (softmax(x) - onehot(target)) * g per valid row.
 */
interface ClassCeArgs {
  /** The class indices (checked), row by row. */
  classes: ArrayLike<number>;
  ignoreIndex: number;
  reduction: string;
  /** Set by the forward: rows whose target is not ignoreIndex, and the log-probabilities. */
  count: number;
  logp: Tensor | null;
}
/** Each row's factor in the gradient: g (per row for 'none'), divided by the count for 'mean', 0 where ignored. */
function classCeScales(g: Tensor, a: ClassCeArgs, N: number): Float64Array {
  const gv = g._view, G = gv.handle as HostArray, gs = g.ndim === 1 ? gv.strides[0] : 0;
  const scale = new Float64Array(N);
  const div = a.reduction === 'mean' ? a.count : 1;
  for (let i = 0; i < N; i++) if (a.classes[i] !== a.ignoreIndex) scale[i] = G[gv.offset + i * gs] / div;
  return scale;
}
/** A fresh contiguous cpu tensor of `shape` holding `vals` (length numel) in dtype. */
function hostTensor(like: Tensor, shape: number[], vals: ArrayLike<number>): Tensor {
  const t = empty_(like._backend, shape, like.dtype, true);
  (t._view.handle as HostArray).set(vals as ArrayLike<number> & number[], 0);
  return t;
}
const classCrossEntropySpec: OpSpec<[ClassCeArgs]> = {
  // PyTorch's grad_fn for cross_entropy's result
  name: 'nllLoss',
  forward: ([x], a) => {
    const [N, C] = x.shape;
    const logp = ops.logSoftmax(x, 1).contiguous();
    a.logp = logp;
    const L = logp._view.handle as HostArray, off = logp._view.offset;
    const none = a.reduction === 'none';
    const rows = none ? new Float64Array(N) : null;
    let total = 0, count = 0;
    for (let i = 0; i < N; i++) {
      const k = a.classes[i];
      if (k === a.ignoreIndex) continue;
      const v = -L[off + i * C + k];
      if (rows) rows[i] = v;
      total += v;
      count++;
    }
    a.count = count;
    if (rows) return hostTensor(x, [N], rows);
    return hostTensor(x, [], [a.reduction === 'mean' ? total / count : total]);
  },
  backward: (g, c) => {
    const a = c.args[0], x = c.inputs[0];
    const [N, C] = x.shape;
    const scale = classCeScales(g, a, N);
    if (isGradEnabled()) {
      // createGraph: the same formula from differentiable ops, so it has a gradient itself
      const onehot = new Float64Array(N * C), mask = new Float64Array(N);
      for (let i = 0; i < N; i++) {
        if (a.classes[i] === a.ignoreIndex) continue;
        onehot[i * C + a.classes[i]] = 1;
        mask[i] = a.reduction === 'mean' ? 1 / a.count : 1;
      }
      const m = hostTensor(x, [N, 1], mask);
      const w = a.reduction === 'none' ? ops.mul(ops.reshape(g, [N, 1]), m) : ops.mul(g, m);
      return [ops.mul(ops.sub(ops.softmax(x, 1), hostTensor(x, [N, C], onehot)), w)];
    }
    const p = unaryRaw('exp', a.logp!);
    // rows scaled in place on the host up to a few thousand elements (a broadcasting op costs more there)
    const grad = N * C <= 16384 ? p : binaryRaw('mul', p, hostTensor(x, [N, 1], scale));
    const G = grad._view.handle as HostArray, off = grad._view.offset;
    for (let i = 0; i < N; i++) {
      const r = off + i * C, si = scale[i];
      if (grad === p) for (let j = 0; j < C; j++) G[r + j] *= si;
      if (si !== 0) G[r + a.classes[i]] -= si;
    }
    return [grad];
  },
  save: () => ({}),
};

/** nll over an input of log-probabilities and class-index target, already checked. */
function nllCore(logp: Tensor, target: Tensor, dim: number, weight: Tensor | null, ignoreIndex: number, reduction: string): Tensor {
  const valid = ops.ne(target, ignoreIndex);
  const idx = safeIndices(target, valid);
  const picked = ops.squeeze(ops.gather(logp, dim, ops.unsqueeze(idx, dim)), dim);
  const w = weight ? targetWeights(weight, idx, target) : null;
  // where, not a multiply by the mask: an ignored row may hold -inf
  const loss = ops.where(valid, w ? ops.neg(ops.mul(picked, w)) : ops.neg(picked), 0);
  if (reduction === 'none') return loss;
  if (reduction === 'sum') return ops.sum(loss);
  return ops.div(ops.sum(loss), meanDenominator(valid, w, logp.dtype));
}

// ---------------- classification ----------------

/**
 * Negative log-likelihood of log-probabilities input [N, C, d1, ...] (or [C]) at class-index
 * target [N, d1, ...] (or []), as PyTorch: a weighted mean divides by the summed weights of the
 * targets that are not ignoreIndex.
 */
export function nllLoss(input: Tensor, target: Tensor, opts: NLLLossOptions = {}): Tensor {
  const op = 'nllLoss';
  const { reduction, ignoreIndex } = classLossOptions(op, input, target, opts);
  const { dim, numClasses } = classDim(op, input);
  checkIndexTarget(op, input, target, dim, false);
  const weight = checkWeight(op, opts.weight, numClasses, input);
  checkClassIndices(op, target, numClasses, ignoreIndex);
  return nllCore(input, target, dim, weight, ignoreIndex, reduction);
}

/**
 * Cross entropy of unnormalised logits [N, C, d1, ...] (or [C]) against class indices
 * ([N, d1, ...], int64) or class probabilities (a float tensor of the input's shape), with
 * PyTorch's weight, ignoreIndex and labelSmoothing semantics.
 * @example F.crossEntropy(logits, labels, { labelSmoothing: 0.1 })
 */
export function crossEntropy(input: Tensor, target: Tensor, opts: CrossEntropyOptions = {}): Tensor {
  const op = 'crossEntropy';
  const { reduction, ignoreIndex } = classLossOptions(op, input, target, opts);
  const smoothing = opts.labelSmoothing ?? 0;
  if (!(smoothing >= 0 && smoothing <= 1)) throw new TorchError(op, `labelSmoothing must be between 0.0 and 1.0, got ${smoothing}`);
  const { dim, numClasses } = classDim(op, input);
  const weight = checkWeight(op, opts.weight, numClasses, input);
  const weightView = weight ? ops.reshape(weight, input.shape.map((s, i) => (i === dim ? numClasses : 1))) : null;
  const probabilities = isFloating(target.dtype) && sameShape(target.shape, input.shape);
  if (!probabilities) {
    checkIndexTarget(op, input, target, dim, true);
    const classes = checkClassIndices(op, target, numClasses, ignoreIndex);
    if (classes && smoothing === 0 && !weight && input.ndim === 2 && input._backend.type === 'cpu' && (input.dtype === 'float32' || input.dtype === 'float64'))
      return apply(classCrossEntropySpec, [input], { classes, ignoreIndex, reduction, count: 0, logp: null });
  }
  const logp = ops.logSoftmax(input, dim);

  if (probabilities) {
    // class probabilities
    let probs = targetAs(op, input, target);
    if (smoothing > 0) probs = ops.add(ops.mul(probs, 1 - smoothing), smoothing / numClasses);
    let terms = ops.mul(logp, probs);
    if (weightView) terms = ops.mul(terms, weightView);
    if (reduction === 'none') return ops.neg(ops.sum(terms, dim));
    if (reduction === 'sum') return ops.neg(ops.sum(terms));
    return ops.div(ops.neg(ops.sum(terms)), input.numel() / numClasses);
  }

  const nll = nllCore(logp, target, dim, weight, ignoreIndex, reduction);
  if (smoothing === 0) return nll;
  // the smoothing term: the (weighted) mean of -log p over classes, with ignored targets zeroed
  const valid = ops.ne(target, ignoreIndex);
  const smooth = ops.where(valid, ops.neg(ops.sum(weightView ? ops.mul(logp, weightView) : logp, dim)), 0);
  let smoothReduced: Tensor;
  if (reduction === 'none') smoothReduced = smooth;
  else if (reduction === 'sum') smoothReduced = ops.sum(smooth);
  else {
    const w = weight ? targetWeights(weight, safeIndices(target, valid), target) : null;
    smoothReduced = ops.div(ops.sum(smooth), meanDenominator(valid, w, input.dtype));
  }
  return ops.add(ops.mul(nll, 1 - smoothing), ops.mul(smoothReduced, smoothing / numClasses));
}

// ---------------- regression ----------------

function pointwise(op: string, input: Tensor, target: Tensor): [Tensor, Tensor] {
  checkFloat(op, 'input', checkTensor(op, 'input', input));
  const t = targetAs(op, input, target);
  // broadcasting as PyTorch (which warns when the shapes differ); a clear error where it cannot
  try { ops.expand(t, broadcastShape(input.shape, t.shape)); } catch {
    throw new ShapeError(op, `the target's shape ${fmtShape(target.shape)} cannot be broadcast with the input's shape ${fmtShape(input.shape)}`);
  }
  return [input, t];
}
function broadcastShape(a: readonly number[], b: readonly number[]): number[] {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const x = a[a.length - n + i] ?? 1, y = b[b.length - n + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) throw new ShapeError('broadcast', 'shapes do not broadcast');
    out.push(x === 1 ? y : x);
  }
  return out;
}

/** Mean squared error. */
export function mseLoss(input: Tensor, target: Tensor, opts: ReductionOptions = {}): Tensor {
  const reduction = checkReduction('mseLoss', opts.reduction);
  const [x, t] = pointwise('mseLoss', input, target);
  const d = ops.sub(x, t);
  return reduce(ops.mul(d, d), reduction);
}

/** Mean absolute error. */
export function l1Loss(input: Tensor, target: Tensor, opts: ReductionOptions = {}): Tensor {
  const reduction = checkReduction('l1Loss', opts.reduction);
  const [x, t] = pointwise('l1Loss', input, target);
  return reduce(ops.abs(ops.sub(x, t)), reduction);
}

/** Smooth L1: 0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta (beta = 0 is the L1 loss). */
export function smoothL1Loss(input: Tensor, target: Tensor, opts: SmoothL1Options = {}): Tensor {
  const op = 'smoothL1Loss';
  const reduction = checkReduction(op, opts.reduction);
  const beta = opts.beta ?? 1;
  if (!(beta >= 0)) throw new TorchError(op, `beta must be non-negative, got ${beta}`);
  const [x, t] = pointwise(op, input, target);
  const d = ops.abs(ops.sub(x, t));
  if (beta === 0) return reduce(d, reduction);
  const loss = ops.where(ops.lt(d, beta), ops.mul(ops.mul(d, d), 0.5 / beta), ops.sub(d, 0.5 * beta));
  return reduce(loss, reduction);
}

/** Huber: 0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta). */
export function huberLoss(input: Tensor, target: Tensor, opts: HuberOptions = {}): Tensor {
  const op = 'huberLoss';
  const reduction = checkReduction(op, opts.reduction);
  const delta = opts.delta ?? 1;
  if (!(delta > 0)) throw new TorchError(op, `delta must be positive, got ${delta}`);
  const [x, t] = pointwise(op, input, target);
  const d = ops.abs(ops.sub(x, t));
  const loss = ops.where(ops.lt(d, delta), ops.mul(ops.mul(d, d), 0.5), ops.mul(ops.sub(d, 0.5 * delta), delta));
  return reduce(loss, reduction);
}

// ---------------- binary ----------------

/**
 * Elementwise -(t log x + (1 - t) log(1 - x)) with the logs clamped at -100, as PyTorch; its
 * input gradient (x - t) / max(x (1 - x), 1e-12) stays finite at x = 0 or 1.
 */
const bceSpec: OpSpec<[]> = {
  name: 'binaryCrossEntropy',
  forward: ([x, t]) => {
    const logX = ops.clamp(ops.log(x), -100);
    const log1mX = ops.clamp(ops.log1p(ops.neg(x)), -100);
    return ops.sub(ops.mul(ops.sub(t, 1), log1mX), ops.mul(t, logX));
  },
  backward: (g, c) => {
    const [x, t] = c.inputs;
    const gx = c.needs[0] ? ops.mul(g, ops.div(ops.sub(x, t), ops.clamp(ops.mul(x, ops.sub(1, x)), 1e-12))) : null;
    const gt = c.needs[1] ? ops.mul(g, ops.sub(ops.log1p(ops.neg(x)), ops.log(x))) : null;
    return [gx, gt];
  },
};

/** Binary cross entropy of probabilities input against target of the same shape. */
export function binaryCrossEntropy(input: Tensor, target: Tensor, opts: BCEOptions = {}): Tensor {
  const op = 'binaryCrossEntropy';
  checkFloat(op, 'input', checkTensor(op, 'input', input));
  const reduction = checkReduction(op, opts.reduction);
  checkTensor(op, 'target', target);
  if (!sameShape(input.shape, target.shape))
    throw new ShapeError(op, `target shape ${fmtShape(target.shape)} must be the same as the input's shape ${fmtShape(input.shape)}`);
  const t = targetAs(op, input, target);
  const data = input.numel() > 0 ? hostValues(input) : null;
  if (data) for (let i = 0; i < data.length; i++) if (!(data[i] >= 0 && data[i] <= 1))
    throw new TorchError(op, `all elements of the input should be between 0 and 1 (probabilities), found ${data[i]}; apply sigmoid first or use binaryCrossEntropyWithLogits`);
  let loss = apply(bceSpec, [input, ops.expand(t, [...input.shape])]);
  if (opts.weight) loss = ops.mul(loss, targetAs(op, input, opts.weight));
  return reduce(loss, reduction);
}

/**
 * Binary cross entropy of logits (sigmoid fused in, numerically stable): (1 - t) x + lw softplus(-x)
 * with lw = 1 + (posWeight - 1) t.
 */
export function binaryCrossEntropyWithLogits(input: Tensor, target: Tensor, opts: BCEWithLogitsOptions = {}): Tensor {
  const op = 'binaryCrossEntropyWithLogits';
  checkFloat(op, 'input', checkTensor(op, 'input', input));
  const reduction = checkReduction(op, opts.reduction);
  checkTensor(op, 'target', target);
  if (!sameShape(input.shape, target.shape))
    throw new ShapeError(op, `target size ${fmtShape(target.shape)} must be the same as the input size ${fmtShape(input.shape)}`);
  const t = targetAs(op, input, target);
  const spNeg = ops.softplus(ops.neg(input));
  let loss: Tensor;
  if (opts.posWeight) {
    const logWeight = ops.add(ops.mul(ops.sub(targetAs(op, input, opts.posWeight), 1), t), 1);
    loss = ops.add(ops.mul(ops.sub(1, t), input), ops.mul(logWeight, spNeg));
  } else loss = ops.add(ops.mul(ops.sub(1, t), input), spNeg);
  if (opts.weight) loss = ops.mul(loss, targetAs(op, input, opts.weight));
  return reduce(loss, reduction);
}

// ---------------- divergence ----------------

/**
 * Kullback-Leibler divergence of log-probabilities input from target (probabilities, or
 * log-probabilities with logTarget): target (log target - input) pointwise, 0 where target is 0.
 * 'batchmean' divides the sum by the batch size (the mathematically correct KL); 'mean' divides
 * by the number of elements, as PyTorch.
 */
export function klDiv(input: Tensor, target: Tensor, opts: KLDivOptions = {}): Tensor {
  const op = 'klDiv';
  checkFloat(op, 'input', checkTensor(op, 'input', input));
  const reduction = checkReduction(op, opts.reduction, ['batchmean']);
  const [x, t] = pointwise(op, input, target);
  let loss: Tensor;
  if (opts.logTarget) loss = ops.mul(ops.exp(t), ops.sub(t, x));
  else {
    // xlogy(t, t): 0 where t == 0; log(1) there keeps the gradient finite
    const safe = ops.where(ops.eq(t, 0), 1, t);
    loss = ops.sub(ops.mul(t, ops.log(safe)), ops.mul(t, x));
  }
  if (reduction === 'batchmean') {
    const s = ops.sum(loss);
    return input.ndim === 0 ? s : ops.div(s, input.shape[0]);
  }
  return reduce(loss, reduction);
}
