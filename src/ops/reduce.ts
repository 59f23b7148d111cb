/** Reductions, scans, softmax and sorting. */
import { Tensor } from '../tensor.js';
import { apply, fillRaw, reduceRaw, binaryRaw, unaryRaw, castRaw, empty_, named, type OpSpec } from './core.js';
import { normDim, normDims } from '../layout.js';
import { type DType, isFloating } from '../dtype.js';
import { DTypeError, IndexError, TorchError, ShapeError, fmtShape } from '../errors.js';
import { add, sub, mul, div, exp, log, sqrt, abs, pow, eq, ne, where, toDtype, neg, logicalOr, logicalAnd, isnan } from './elementwise.js';
import { expand, reshape, unsqueeze, narrow, flatten, sumToShape } from './shape.js';
import { gather, scatter } from './indexing.js';
import { zeros } from './creation.js';

type Dims = number | number[] | null | undefined;

function checkT(op: string, x: unknown): Tensor {
  if (!(x instanceof Tensor)) throw new TorchError(op, `expected a Tensor, got ${x === null ? 'null' : typeof x}`);
  return x;
}
/** Reduced dims (sorted); an empty list (or none) means all dims. */
function reducedDims(op: string, x: Tensor, dim: Dims): number[] {
  if (dim === undefined || dim === null) return x.shape.map((_, i) => i);
  if (Array.isArray(dim) && dim.length === 0) return x.shape.map((_, i) => i);
  if (x.ndim === 0) { normDims(op, dim, 0); return []; }
  return normDims(op, dim, x.ndim);
}
/** g (reduced shape) broadcast back to x's shape. */
function expandBack(g: Tensor, xShape: readonly number[], dims: number[], keepdim: boolean): Tensor {
  let r = g;
  if (!keepdim) for (const d of dims) r = unsqueeze(r, d);
  return expand(r, [...xShape]);
}
function keepShape(x: Tensor, dims: number[]): number[] {
  return x.shape.map((s, i) => (dims.includes(i) ? 1 : s));
}
function finish(r: Tensor, x: Tensor, dims: number[], keepdim: boolean): Tensor {
  return keepdim ? reshape(r, keepShape(x, dims)) : r;
}

// ---------------- sum / mean / prod ----------------

const sumSpec: OpSpec<[number[], boolean, DType]> = {
  name: 'sum',
  forward: ([x], dims, keepdim, dt) => {
    const r = reduceRaw('sum', x, dims, dt);
    return keepdim ? r.view(keepShape(x, dims)) : r;
  },
  backward: (g, c) => [expandBack(g, c.inputs[0].shape, c.args[0], c.args[1])],
  save: () => ({}),
};
export function sum(x: Tensor, dim?: Dims, keepdim = false, opts?: { dtype?: DType }): Tensor {
  checkT('sum', x);
  const dims = reducedDims('sum', x, dim);
  const dt = opts?.dtype ?? (isFloating(x.dtype) ? x.dtype : 'int64');
  return apply(sumSpec, [x], dims, keepdim, dt);
}
/** Internal: raw sum for gradient fitting (no autograd). */
export function sumRaw(x: Tensor, dims: number[]): Tensor { return reduceRaw('sum', x, dims, x.dtype); }

export function mean(x: Tensor, dim?: Dims, keepdim = false): Tensor {
  checkT('mean', x);
  if (!isFloating(x.dtype)) throw new DTypeError('mean', `could not infer output dtype: input dtype must be floating point, got ${x.dtype}; convert with .float()`);
  const dims = reducedDims('mean', x, dim);
  let n = 1;
  for (const d of dims) n *= x.shape[d];
  return div(sum(x, dims, keepdim), n);
}

const prodSpec: OpSpec<[number[], boolean]> = {
  name: 'prod',
  forward: ([x], dims, keepdim) => {
    const r = reduceRaw('prod', x, dims, isFloating(x.dtype) ? x.dtype : 'int64');
    return keepdim ? r.view(keepShape(x, dims)) : r;
  },
  backward: (g, c) => {
    const [x] = c.inputs;
    const [dims, keepdim] = c.args;
    // product of all other elements: out / x where x != 0, recomputed by masking zeros otherwise
    const outE = expandBack(c.out, x.shape, dims, keepdim);
    const gE = expandBack(g, x.shape, dims, keepdim);
    const isZero = eq(x, 0);
    const safeX = where(isZero, 1, x);
    const others = prod(safeX, dims.length === 1 ? dims[0] : null, true);
    const zerosCount = sum(toDtype(isZero, x.dtype), dims, true);
    // where x == 0 and it is the only zero: product of the others; elsewhere out / x
    const onlyZero = where(eq(zerosCount, 1), others, 0);
    return [mul(gE, where(isZero, expand(onlyZero, [...x.shape]), div(outE, safeX)))];
  },
  save: () => ({ inputs: [0], output: true }),
};
export function prod(x: Tensor, dim?: number | null, keepdim = false): Tensor {
  checkT('prod', x);
  const dims = dim === undefined || dim === null ? x.shape.map((_, i) => i) : x.ndim === 0 ? [] : [normDim('prod', dim, x.ndim)];
  if (dims.length > 1 && x.requiresGrad) {
    return apply(prodSpec, [flatten(x)], [0], false).view(keepdim ? keepShape(x, dims) : []);
  }
  return apply(prodSpec, [x], dims, keepdim);
}

// ---------------- max / min ----------------

function checkNonEmpty(op: string, x: Tensor, dims: number[]) {
  for (const d of dims) if (x.shape[d] === 0) throw new IndexError(op, `cannot reduce over a zero-size dimension (input shape ${fmtShape(x.shape)}, dim ${d}); specify a non-zero-size dim`);
  if (x.numel() === 0 && dims.length === x.ndim) throw new IndexError(op, `cannot reduce an empty tensor of shape ${fmtShape(x.shape)}`);
}
/** amax/amin; `full` is max()/min() without dim, whose gradient goes to the NaNs when the result is NaN. */
function amaxSpec(op: 'max' | 'min', full = false): OpSpec<[number[], boolean]> {
  return {
    name: full ? op : op === 'max' ? 'amax' : 'amin',
    forward: ([x], dims, keepdim) => {
      const r = reduceRaw(op, x, dims, x.dtype);
      return keepdim ? r.view(keepShape(x, dims)) : r;
    },
    backward: (g, c) => {
      const [x] = c.inputs;
      const [dims, keepdim] = c.args;
      // ties share the gradient evenly, as PyTorch's amax/amin; for max()/min() (PyTorch's
      // evenly_distribute_backward) a NaN result shares it among the NaNs
      const outE = expandBack(c.out, x.shape, dims, keepdim);
      const hit = eq(x, outE);
      const mask = toDtype(full ? logicalOr(hit, logicalAnd(isnan(x), isnan(outE))) : hit, g.dtype);
      const count = sum(mask, dims, true);
      return [div(mul(expandBack(g, x.shape, dims, keepdim), mask), count)];
    },
    save: () => ({ inputs: [0], output: true }),
  };
}
const amaxS = amaxSpec('max'), aminS = amaxSpec('min'), maxAllS = amaxSpec('max', true), minAllS = amaxSpec('min', true);
export function amax(x: Tensor, dim?: Dims, keepdim = false): Tensor {
  const dims = reducedDims('amax', checkT('amax', x), dim);
  checkNonEmpty('amax', x, dims);
  return apply(amaxS, [x], dims, keepdim);
}
export function amin(x: Tensor, dim?: Dims, keepdim = false): Tensor {
  const dims = reducedDims('amin', checkT('amin', x), dim);
  checkNonEmpty('amin', x, dims);
  return apply(aminS, [x], dims, keepdim);
}
function argReduce(op: 'argmax' | 'argmin', x: Tensor, dim: number | null | undefined, keepdim: boolean): Tensor {
  checkT(op, x);
  if (dim === undefined || dim === null) {
    checkNonEmpty(op, x, x.shape.map((_, i) => i));
    const r = reduceRaw(op, x.ndim === 0 ? x : x.contiguous().view([-1]), x.ndim === 0 ? [] : [0], 'int64');
    return keepdim ? r.view(x.shape.map(() => 1)) : r;
  }
  const d = x.ndim === 0 ? (normDim(op, dim, 0), 0) : normDim(op, dim, x.ndim);
  if (x.ndim === 0) return reduceRaw(op, x, [], 'int64');
  checkNonEmpty(op, x, [d]);
  const r = reduceRaw(op, x, [d], 'int64');
  return keepdim ? r.view(keepShape(x, [d])) : r;
}
export function argmax(x: Tensor, dim?: number | null, keepdim = false): Tensor { return argReduce('argmax', x, dim, keepdim); }
export function argmin(x: Tensor, dim?: number | null, keepdim = false): Tensor { return argReduce('argmin', x, dim, keepdim); }

function maxMin(op: 'max' | 'min', x: Tensor, dim?: number | Tensor, keepdim = false): any {
  checkT(op, x);
  if (dim instanceof Tensor) return op === 'max' ? (x as any).maximum(dim) : (x as any).minimum(dim);
  if (dim === undefined || dim === null) {
    const dims = x.shape.map((_, i) => i);
    checkNonEmpty(op, x, dims);
    return apply(op === 'max' ? maxAllS : minAllS, [x], dims, false);
  }
  const indices = named(op, () => argReduce(op === 'max' ? 'argmax' : 'argmin', x, dim, true));
  const d = x.ndim === 0 ? 0 : normDim(op, dim, x.ndim);
  let values = x.ndim === 0 ? x.clone() : gather(x, d, indices);
  let idx = indices;
  if (!keepdim && x.ndim > 0) { values = values.squeeze(d); idx = idx.squeeze(d); }
  if (x.ndim === 0) idx = idx.view([]);
  return { values, indices: idx };
}
export function max(x: Tensor, dim?: number | Tensor, keepdim = false): any { return maxMin('max', x, dim, keepdim); }
export function min(x: Tensor, dim?: number | Tensor, keepdim = false): any { return maxMin('min', x, dim, keepdim); }

export function all(x: Tensor, dim?: Dims, keepdim = false): Tensor {
  const dims = reducedDims('all', checkT('all', x), dim);
  // reducing over a zero-size dim: every slice is empty, so all() is true
  if (dims.some((d) => x.shape[d] === 0)) return finish(fillRaw(x._backend, x.shape.filter((_, i) => !dims.includes(i)), 'bool', 1), x, dims, keepdim);
  const b = x.dtype === 'bool' ? x : castRaw(x, 'bool');
  return finish(castRaw(reduceRaw('min', castRaw(b, 'uint8'), dims, 'uint8'), 'bool'), x, dims, keepdim);
}
export function any(x: Tensor, dim?: Dims, keepdim = false): Tensor {
  const dims = reducedDims('any', checkT('any', x), dim);
  // reducing over a zero-size dim: every slice is empty, so any() is false
  if (dims.some((d) => x.shape[d] === 0)) return finish(fillRaw(x._backend, x.shape.filter((_, i) => !dims.includes(i)), 'bool', 0), x, dims, keepdim);
  const b = x.dtype === 'bool' ? x : castRaw(x, 'bool');
  return finish(castRaw(reduceRaw('max', castRaw(b, 'uint8'), dims, 'uint8'), 'bool'), x, dims, keepdim);
}

// ---------------- statistics ----------------

export function variance(x: Tensor, dim?: Dims, opts: { correction?: number; keepdim?: boolean; unbiased?: boolean } = {}): Tensor {
  checkT('var', x);
  if (!isFloating(x.dtype)) throw new DTypeError('var', `input dtype must be floating point, got ${x.dtype}`);
  const dims = reducedDims('var', x, dim);
  const correction = opts.correction ?? (opts.unbiased === false ? 0 : 1);
  let n = 1;
  for (const d of dims) n *= x.shape[d];
  const mu = mean(x, dims, true);
  const dev = sub(x, mu);
  return div(sum(mul(dev, dev), dims, opts.keepdim ?? false), Math.max(0, n - correction));
}
export function std(x: Tensor, dim?: Dims, opts: { correction?: number; keepdim?: boolean; unbiased?: boolean } = {}): Tensor {
  return sqrt(variance(x, dim, opts));
}

const norm2Spec: OpSpec<[number[], boolean]> = {
  name: 'norm',
  forward: ([x], dims, keepdim) => {
    const sq = binaryRaw('mul', x, x);
    const r = unaryRaw('sqrt', reduceRaw('sum', sq, dims, x.dtype));
    return keepdim ? r.view(keepShape(x, dims)) : r;
  },
  backward: (g, c) => {
    const [x] = c.inputs;
    const [dims, keepdim] = c.args;
    const n = expandBack(c.out, x.shape, dims, keepdim);
    // zero norm has a zero subgradient, as PyTorch
    return [mul(expandBack(g, x.shape, dims, keepdim), where(eq(n, 0), 0, div(x, n)))];
  },
  save: () => ({ inputs: [0], output: true }),
};
/** Vector p-norm over dims (default: all; p=2). p may be 'fro', Infinity, -Infinity, 0, 1, any number. */
export function norm(x: Tensor, p?: number | 'fro' | null, dim?: Dims, keepdim = false): Tensor {
  checkT('norm', x);
  if (!isFloating(x.dtype)) throw new DTypeError('norm', `expected a floating point tensor, got ${x.dtype}`);
  const pp = p === undefined || p === null || p === 'fro' ? 2 : p;
  const dims = reducedDims('norm', x, dim);
  if (pp === 2) return apply(norm2Spec, [x], dims, keepdim);
  if (pp === Infinity) return amax(abs(x), dims, keepdim);
  if (pp === -Infinity) return amin(abs(x), dims, keepdim);
  if (pp === 0) return sum(toDtype(ne(x, 0), x.dtype), dims, keepdim);
  if (pp === 1) return sum(abs(x), dims, keepdim);
  return pow(sum(pow(abs(x), pp), dims, keepdim), 1 / pp);
}

export function logsumexp(x: Tensor, dim: Dims, keepdim = false): Tensor {
  checkT('logsumexp', x);
  const xf = isFloating(x.dtype) ? x : toDtype(x, 'float32');
  const dims = reducedDims('logsumexp', xf, dim);
  if (xf.numel() === 0) return log(sum(exp(xf), dims, keepdim));
  const m = amax(xf.detach(), dims, true);
  // an all -inf slice would give nan from inf - inf; shift by 0 there instead
  const shift = where(m.isfinite(), m, 0);
  const r = add(log(sum(exp(sub(xf, shift)), dims, true)), shift);
  return keepdim ? r : reshape(r, xf.shape.filter((_, i) => !dims.includes(i)));
}

// ---------------- scans ----------------

const cumsumSpec: OpSpec<[number]> = {
  name: 'cumsum',
  forward: ([x], d) => {
    const dt: DType = isFloating(x.dtype) ? x.dtype : 'int64';
    const xin = castRaw(x, dt);
    const out = empty_(x._backend, x.shape, dt);
    if (out.numel() > 0) x._backend.cumsum(xin._view, d, out._view);
    return out;
  },
  // reverse cumsum: total - cumsum + g
  backward: (g, c) => [add(sub(sum(g, c.args[0], true), cumsum(g, c.args[0])), g)],
  save: () => ({}),
};
export function cumsum(x: Tensor, dim: number): Tensor {
  checkT('cumsum', x);
  if (x.ndim === 0) return x.clone();
  return apply(cumsumSpec, [x], normDim('cumsum', dim, x.ndim));
}

// ---------------- softmax ----------------

/** The backend's fused softmax, when it has one for this layout (the composite is the reference). */
function fusedSoftmax(x: Tensor, d: number, log: boolean): Tensor | null {
  const be = x._backend;
  if (!be.softmax) return null;
  const out = empty_(be, x.shape, x.dtype, true);
  return be.softmax(x._view, d, out._view, log) ? out : null;
}
const softmaxSpec: OpSpec<[number]> = {
  name: 'softmax',
  forward: ([x], d) => {
    const fused = fusedSoftmax(x, d, false);
    if (fused) return fused;
    const m = reduceRaw('max', x, [d], x.dtype).view(keepShape(x, [d]));
    const e = unaryRaw('exp', binaryRaw('sub', x, m));
    const s = reduceRaw('sum', e, [d], x.dtype).view(keepShape(x, [d]));
    return binaryRaw('div', e, s);
  },
  backward: (g, c) => {
    const y = c.out, d = c.args[0];
    return [mul(y, sub(g, sum(mul(g, y), d, true)))];
  },
  save: () => ({ output: true }),
};
const logSoftmaxSpec: OpSpec<[number]> = {
  name: 'logSoftmax',
  forward: ([x], d) => {
    const fused = fusedSoftmax(x, d, true);
    if (fused) return fused;
    const m = reduceRaw('max', x, [d], x.dtype).view(keepShape(x, [d]));
    const shifted = binaryRaw('sub', x, m);
    const lse = unaryRaw('log', reduceRaw('sum', unaryRaw('exp', shifted), [d], x.dtype)).view(keepShape(x, [d]));
    return binaryRaw('sub', shifted, lse);
  },
  backward: (g, c) => [sub(g, mul(exp(c.out), sum(g, c.args[0], true)))],
  save: () => ({ output: true }),
};
function softmaxInput(op: string, x: Tensor, dim: number, dtype?: DType): [Tensor, number] {
  checkT(op, x);
  if (dim === undefined || dim === null) throw new TorchError(op, 'dim is required, e.g. x.softmax(-1)');
  let xf = dtype ? toDtype(x, dtype) : x;
  if (!isFloating(xf.dtype)) throw new DTypeError(op, `expected a floating point tensor, got ${x.dtype}; convert with .float()`);
  if (xf.ndim === 0) xf = xf.view([1]);
  return [xf, normDim(op, dim, x.ndim)];
}
export function softmax(x: Tensor, dim: number, opts?: { dtype?: DType }): Tensor {
  const [xf, d] = softmaxInput('softmax', x, dim, opts?.dtype);
  const r = xf.numel() === 0 ? xf.clone() : apply(softmaxSpec, [xf], d);
  return x.ndim === 0 ? r.view([]) : r;
}
export function logSoftmax(x: Tensor, dim: number, opts?: { dtype?: DType }): Tensor {
  const [xf, d] = softmaxInput('logSoftmax', x, dim, opts?.dtype);
  const r = xf.numel() === 0 ? xf.clone() : apply(logSoftmaxSpec, [xf], d);
  return x.ndim === 0 ? r.view([]) : r;
}

// ---------------- sorting ----------------

/** Stable sort along dim; values keep the graph (gathered from x). */
export function sort(x: Tensor, dim = -1, descending = false): { values: Tensor; indices: Tensor } {
  checkT('sort', x);
  if (x.ndim === 0) return { values: x.clone(), indices: zeros([], { dtype: 'int64', device: x.device }) };
  const d = normDim('sort', dim, x.ndim);
  const be = x._backend;
  const vals = empty_(be, x.shape, x.dtype), idx = empty_(be, x.shape, 'int64');
  if (x.numel() > 0) be.sort(x._view, d, !!descending, vals._view, idx._view);
  const values = x.requiresGrad ? gather(x, d, idx) : vals;
  return { values, indices: idx };
}
export function topk(x: Tensor, k: number, dim = -1, largest = true, _sorted = true): { values: Tensor; indices: Tensor } {
  checkT('topk', x);
  const d = x.ndim === 0 ? 0 : normDim('topk', dim, x.ndim);
  const n = x.ndim === 0 ? 1 : x.shape[d];
  if (!Number.isInteger(k) || k < 0 || k > n) throw new IndexError('topk', `k (${k}) is out of range for dimension ${d} of size ${n}`);
  const { indices } = sort(x, d, largest);
  const idx = x.ndim === 0 ? indices : narrow(indices, d, 0, k).contiguous();
  return { values: x.ndim === 0 ? x.clone() : gather(x, d, idx), indices: idx };
}

export { sumToShape, neg, scatter, ShapeError };
