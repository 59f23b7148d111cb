/** Matrix products: matmul (with PyTorch's 1-D/batched rules), mm, bmm, dot, outer. */
import { Tensor } from '../tensor.js';
import { apply, binaryRaw, empty_, commonDevice, promote, type OpSpec } from './core.js';
import type { View } from '../device/backend.js';
import { ShapeError, DTypeError, TorchError, fmtShape } from '../errors.js';
import { broadcastShapes, numelOf } from '../layout.js';
import { isFloating, type DType } from '../dtype.js';
import { toDtype, toDevice, mul } from './elementwise.js';
import { reshape, expand, transpose, unsqueeze, squeeze } from './shape.js';
import { sum } from './reduce.js';

/** [B, M, K] x [B, K, N] -> [B, M, N]; inputs 3-D with equal batch. */
const bmmSpec: OpSpec<[]> = {
  name: 'bmm',
  forward: ([a, b]) => {
    const [B, M] = a.shape, N = b.shape[2];
    const out = empty_(a._backend, [B, M, N], a.dtype, true); // matmul writes every element
    if (out.numel() > 0) a._backend.matmul(a._view, b._view, out._view);
    return out;
  },
  backward: (g, c) => productGrads(g, c.inputs, c.needs, bmm3, 1),
  save: (needs) => ({ inputs: [...(needs[1] ? [0] : []), ...(needs[0] ? [1] : [])] }),
};
function bmm3(a: Tensor, b: Tensor): Tensor { return apply(bmmSpec, [a, b]); }

/** A 2-D tensor's view as a batch of one [1, R, C] matrix (what Backend.matmul takes). */
function batchOfOne(t: Tensor): View {
  const v = t._view;
  return { handle: v.handle, dtype: v.dtype, shape: [1, v.shape[0], v.shape[1]], strides: [0, v.strides[0], v.strides[1]], offset: v.offset };
}
/**
 * [M, K] x [K, N] -> [M, N]: the commonest product (every nn.Linear) as one op, without the
 * reshape/unsqueeze tensors that the batched form records around it (about a third of a
 * 64x64 product's time).
 */
const mm2Spec: OpSpec<[]> = {
  name: 'mm',
  forward: ([a, b]) => {
    const M = a.shape[0], N = b.shape[1];
    const out = empty_(a._backend, [M, N], a.dtype, true); // matmul writes every element
    if (out.numel() > 0) a._backend.matmul(batchOfOne(a), batchOfOne(b), batchOfOne(out));
    return out;
  },
  backward: (g, c) => productGrads(g, c.inputs, c.needs, mm2, 0),
  save: bmmSpec.save,
};
function mm2(a: Tensor, b: Tensor): Tensor { return apply(mm2Spec, [a, b]); }

/**
 * x W^T + b for x [M, K], W [N, K], b [N] (nn.Linear on a batch of rows) as one op where the
 * backend has addmm: the bias rows are written first and the GEMM adds the product to them,
 * instead of a product then a broadcast add into a second fresh [M, N] buffer (~10-15 us of each
 * layer of the benchmark MLP). Gradients as PyTorch's AddmmBackward0: g W, g^T x (contiguous,
 * in the weight's layout) and g summed over the rows.
 */
const addmmSpec: OpSpec<[]> = {
  name: 'addmm',
  forward: ([x, w, b]) => {
    const M = x.shape[0], N = w.shape[0], be = x._backend;
    const out = empty_(be, [M, N], x.dtype, true);
    if (out.numel() === 0) return out;
    const bv = b._view;
    const bias: View = { handle: bv.handle, dtype: bv.dtype, shape: [1, M, N], strides: [0, 0, bv.strides[0]], offset: bv.offset };
    const wt = batchOfOne(transpose(w, 0, 1));
    if (be.addmm!(bias, batchOfOne(x), wt, batchOfOne(out))) return out;
    // declined (e.g. no BLAS): the product, then the bias added
    be.matmul(batchOfOne(x), wt, batchOfOne(out));
    return binaryRaw('add', out, b);
  },
  backward: (g, c) => {
    const [x, w] = c.inputs, n = c.needs;
    return [n[0] ? mm2(g, w) : null, n[1] ? mm2(transpose(g, 0, 1), x) : null, n[2] ? sum(g, 0) : null];
  },
  save: (needs) => ({ inputs: [...(needs[1] ? [0] : []), ...(needs[0] ? [1] : [])] }),
};
/**
 * nn.Linear's x W^T + b through the backend's addmm, for 2-D x, 2-D W and 1-D b of matching
 * sizes and dtypes; null where that does not apply (the caller computes the product and the
 * sum as two ops).
 */
export function linearAddmm(x: Tensor, w: Tensor, b: Tensor): Tensor | null {
  const be = x._backend;
  if (!be.addmm || x.ndim !== 2 || w.ndim !== 2 || b.ndim !== 1 || b.shape[0] !== w.shape[0] || x.shape[1] !== w.shape[1]) return null;
  if (x.dtype !== w.dtype || b.dtype !== x.dtype || b._backend !== be || w._backend !== be) return null;
  if (!isFloating(x.dtype)) return null;
  return apply(addmmSpec, [x, w, b]);
}
/**
 * The gradients of a product a b by `prod` (matrices in dims d, d + 1), each in its input's
 * layout, as PyTorch: for a column-major input (a transposed view, as linear's weight.t())
 * (g^T a)^T rather than a^T g, so the gradient reaching the weight is contiguous and
 * accumulating it needs no transposing copy.
 */
function productGrads(g: Tensor, [a, b]: Tensor[], needs: readonly boolean[], prod: (x: Tensor, y: Tensor) => Tensor, d: number): [Tensor | null, Tensor | null] {
  const t = (x: Tensor) => transpose(x, d, d + 1);
  const ga = !needs[0] ? null : colMajor(a, d) ? t(prod(b, t(g))) : prod(g, t(b));
  const gb = !needs[1] ? null : colMajor(b, d) ? t(prod(t(g), a)) : prod(t(a), g);
  return [ga, gb];
}
/** Whether x's matrices (dims d, d + 1) are stored column by column (a transpose of contiguous ones). */
function colMajor(x: Tensor, d: number): boolean {
  const r = x.shape[d], c = x.shape[d + 1], st = x._strides;
  return r > 1 && c > 1 && st[d] === 1 && st[d + 1] === r;
}

function prep(op: string, a: Tensor, b: Tensor): [Tensor, Tensor] {
  if (!(a instanceof Tensor) || !(b instanceof Tensor)) throw new TorchError(op, 'expected two Tensors');
  const dev = commonDevice(op, [a, b]);
  const dt: DType = promote([a, b]);
  if (dt === 'bool') throw new DTypeError(op, 'matrix products are not defined for bool tensors');
  if (a.dtype !== b.dtype && !(isFloating(a.dtype) && isFloating(b.dtype)))
    throw new DTypeError(op, `expected both operands to have the same dtype, but got ${a.dtype} and ${b.dtype}`);
  return [toDtype(toDevice(a, dev), dt), toDtype(toDevice(b, dev), dt)];
}

/** matmul with PyTorch's rules: 1-D operands are promoted and the added dims removed; batch dims broadcast. */
export function matmul(a: Tensor, b: Tensor): Tensor {
  [a, b] = prep('matmul', a, b);
  if (a.ndim === 0 || b.ndim === 0) throw new ShapeError('matmul', `both arguments need at least 1 dimension, got shapes ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`);
  if (a.ndim === 1 && b.ndim === 1) return dot(a, b);
  const a2 = a.ndim === 1 ? unsqueeze(a, 0) : a;
  const b2 = b.ndim === 1 ? unsqueeze(b, 1) : b;
  const K = a2.shape[a2.ndim - 1];
  if (b2.shape[b2.ndim - 2] !== K)
    throw new ShapeError('matmul', `shapes ${fmtShape(a.shape)} and ${fmtShape(b.shape)} cannot be multiplied (${a2.shape[a2.ndim - 2]}x${K} and ${b2.shape[b2.ndim - 2]}x${b2.shape[b2.ndim - 1]})`);
  const M = a2.shape[a2.ndim - 2], N = b2.shape[b2.ndim - 1];
  let out: Tensor;
  if (a2.ndim === 2 && b2.ndim === 2) {
    out = mm2(a2, b2);
  } else if (b2.ndim === 2) {
    // fold a's batch dims into M: one GEMM, no copy of b
    const lead = a2.shape.slice(0, -2);
    const af = reshape(a2, [1, numelOf(lead) * M, K]);
    out = reshape(bmm3(af, unsqueeze(b2, 0)), [...lead, M, N]);
  } else {
    const batch = broadcastShapes('matmul', a2.shape.slice(0, -2), b2.shape.slice(0, -2));
    const nb = numelOf(batch);
    const ae = reshape(expand(a2, [...batch, M, K]), [nb, M, K]);
    const be = reshape(expand(b2, [...batch, K, N]), [nb, K, N]);
    out = reshape(bmm3(ae, be), [...batch, M, N]);
  }
  if (a.ndim === 1) out = squeeze(out, -2);
  if (b.ndim === 1) out = squeeze(out, -1);
  return out;
}
export function mm(a: Tensor, b: Tensor): Tensor {
  if (!(a instanceof Tensor) || !(b instanceof Tensor) || a.ndim !== 2 || b.ndim !== 2)
    throw new ShapeError('mm', `expects two 2-D tensors, got shapes ${a instanceof Tensor ? fmtShape(a.shape) : typeof a} and ${b instanceof Tensor ? fmtShape(b.shape) : typeof b}`);
  return matmul(a, b);
}
export function bmm(a: Tensor, b: Tensor): Tensor {
  if (!(a instanceof Tensor) || !(b instanceof Tensor) || a.ndim !== 3 || b.ndim !== 3)
    throw new ShapeError('bmm', `expects two 3-D tensors, got shapes ${a instanceof Tensor ? fmtShape(a.shape) : typeof a} and ${b instanceof Tensor ? fmtShape(b.shape) : typeof b}`);
  if (a.shape[0] !== b.shape[0]) throw new ShapeError('bmm', `batch sizes differ: ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`);
  if (a.shape[2] !== b.shape[1]) throw new ShapeError('bmm', `shapes ${fmtShape(a.shape)} and ${fmtShape(b.shape)} cannot be multiplied`);
  [a, b] = prep('bmm', a, b);
  return bmm3(a, b);
}
export function dot(a: Tensor, b: Tensor): Tensor {
  if (!(a instanceof Tensor) || !(b instanceof Tensor) || a.ndim !== 1 || b.ndim !== 1)
    throw new ShapeError('dot', `1D tensors expected, but got shapes ${a instanceof Tensor ? fmtShape(a.shape) : typeof a} and ${b instanceof Tensor ? fmtShape(b.shape) : typeof b}`);
  if (a.shape[0] !== b.shape[0]) throw new ShapeError('dot', `inconsistent tensor size, expected tensors of the same length, got ${a.shape[0]} and ${b.shape[0]}`);
  [a, b] = prep('dot', a, b);
  return sum(mul(a, b));
}
export function outer(a: Tensor, b: Tensor): Tensor {
  if (!(a instanceof Tensor) || !(b instanceof Tensor) || a.ndim !== 1 || b.ndim !== 1)
    throw new ShapeError('outer', `1D tensors expected, got shapes ${a instanceof Tensor ? fmtShape(a.shape) : typeof a} and ${b instanceof Tensor ? fmtShape(b.shape) : typeof b}`);
  return mul(unsqueeze(a, 1), unsqueeze(b, 0));
}
