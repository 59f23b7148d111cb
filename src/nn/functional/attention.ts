/** Scaled dot-product attention (torch.nn.functional.scaled_dot_product_attention), as a composite. */
import { Tensor } from '../../tensor.js';
import * as ops from '../../ops/index.js';
import { isFloating } from '../../dtype.js';
import { TorchError, ShapeError, DTypeError, fmtShape } from '../../errors.js';

export interface SDPAOptions {
  /** Boolean (true = takes part in attention) or floating (added to the scores); broadcasts to [..., L, S]. */
  attnMask?: Tensor | null;
  /** Dropout probability on the attention weights (applied whenever > 0, as PyTorch's function). */
  dropoutP?: number;
  /** Masks out keys after the query's position (top-left aligned causal mask, L x S). */
  isCausal?: boolean;
  /** Scale of the scores; default 1 / sqrt(E). */
  scale?: number | null;
}

/** The boolean causal mask [L, S]: true where key j <= query i. */
export function causalMask(L: number, S: number, device: string): Tensor {
  const rows = ops.unsqueeze(ops.arange(L, { device }), 1);
  const cols = ops.unsqueeze(ops.arange(S, { device }), 0);
  return ops.le(cols, rows);
}

/** Attention dropout: zeroes weights with probability p and rescales the rest by 1 / (1 - p). */
export function attentionDropout(w: Tensor, p: number): Tensor {
  if (p <= 0) return w;
  if (p >= 1) return ops.mul(w, 0);
  const keep = ops.ge(ops.randLike(w), p);
  return ops.mul(ops.where(keep, w, 0), 1 / (1 - p));
}

function checkInputs(op: string, q: Tensor, k: Tensor, v: Tensor): void {
  for (const [name, x] of [['query', q], ['key', k], ['value', v]] as const) {
    if (!(x instanceof Tensor)) throw new TorchError(op, `expected ${name} to be a Tensor, got ${x === null ? 'null' : typeof x}`);
    if (x.ndim < 2) throw new ShapeError(op, `expected ${name} of shape [..., L, E] with at least 2 dims, got ${fmtShape(x.shape)}`);
    if (!isFloating(x.dtype)) throw new DTypeError(op, `expected ${name} to be floating point, got ${x.dtype}`);
  }
  if (q.shape[q.ndim - 1] !== k.shape[k.ndim - 1])
    throw new ShapeError(op, `query and key must have the same embedding size (last dim), got ${fmtShape(q.shape)} and ${fmtShape(k.shape)}`);
  if (k.shape[k.ndim - 2] !== v.shape[v.ndim - 2])
    throw new ShapeError(op, `key and value must have the same sequence length (dim -2), got ${fmtShape(k.shape)} and ${fmtShape(v.shape)}`);
}

/**
 * Attention output and weights: softmax(q k^T * scale + bias) v. Used by scaledDotProductAttention
 * and MultiheadAttention (which needs the weights).
 */
export function attentionWithWeights(q: Tensor, k: Tensor, v: Tensor, opts: SDPAOptions = {}): [Tensor, Tensor] {
  const op = 'scaledDotProductAttention';
  checkInputs(op, q, k, v);
  const L = q.shape[q.ndim - 2], S = k.shape[k.ndim - 2], E = q.shape[q.ndim - 1];
  const scale = opts.scale ?? 1 / Math.sqrt(E);
  let scores = ops.mul(ops.matmul(q, ops.transpose(k, -2, -1)), scale);
  const mask = opts.attnMask ?? null;
  if (opts.isCausal) {
    if (mask) throw new TorchError(op, 'an explicit attnMask cannot be combined with isCausal; fold the causal mask into attnMask instead');
    scores = ops.where(causalMask(L, S, q.device), scores, -Infinity);
  }
  if (mask) {
    if (!(mask instanceof Tensor)) throw new TorchError(op, 'attnMask must be a Tensor');
    try { ops.expand(mask, broadcastTo(mask.shape, scores.shape)); } catch {
      throw new ShapeError(op, `attnMask of shape ${fmtShape(mask.shape)} cannot be broadcast to the attention scores' shape ${fmtShape(scores.shape)} ([..., L, S])`);
    }
    if (mask.dtype === 'bool') scores = ops.where(mask, scores, -Infinity);
    else if (isFloating(mask.dtype)) scores = ops.add(scores, mask);
    else throw new DTypeError(op, `attnMask must be bool (true = take part) or floating point (added to the scores), got ${mask.dtype}`);
  }
  let weights = ops.softmax(scores, -1);
  weights = attentionDropout(weights, opts.dropoutP ?? 0);
  return [ops.matmul(weights, v), weights];
}

/** Shape that mask broadcasts to against scores (throws when it cannot). */
function broadcastTo(mask: readonly number[], scores: readonly number[]): number[] {
  if (mask.length > scores.length) throw new Error('too many dims');
  const lead = scores.length - mask.length;
  return scores.map((s, i) => {
    if (i < lead) return s;
    const m = mask[i - lead];
    if (m !== s && m !== 1) throw new Error('mismatch');
    return s;
  });
}

/**
 * Scaled dot-product attention as PyTorch 2.x: softmax(q k^T / sqrt(E) + mask) v for q [..., L, E],
 * k [..., S, E], v [..., S, Ev] (batch dims broadcast).
 * @example F.scaledDotProductAttention(q, k, v, { isCausal: true })
 */
export function scaledDotProductAttention(q: Tensor, k: Tensor, v: Tensor, opts: SDPAOptions = {}): Tensor {
  return attentionWithWeights(q, k, v, opts)[0];
}
