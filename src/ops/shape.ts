/** Movement ops: views that share storage (reshape, permute, expand, narrow, ...) and copies (cat, flip). */
import { Tensor } from '../tensor.js';
import { apply, viewOf, empty_, broadcastView, type OpSpec } from './core.js';
import { viewStrides, inferShape, normDim, normDims, broadcastStrides, numelOf, checkShape } from '../layout.js';
import { ShapeError, IndexError, TorchError, fmtShape } from '../errors.js';
import { sum } from './reduce.js';
import { zeros } from './creation.js';
import { indexSelect } from './indexing.js';
import { arange } from './creation.js';
import { where, toDtype } from './elementwise.js';
import { scatterAdd } from './indexing.js';
import { promote, commonDevice } from './core.js';
import { toDevice } from './elementwise.js';

/** Normalises varargs or one array of sizes. */
export function shapeArg(args: readonly (number | readonly number[])[]): number[] {
  if (args.length === 1 && Array.isArray(args[0])) return [...(args[0] as number[])];
  return args as number[];
}

/**
 * A view op: geometry applied to a tensor. Its backward writes the gradient into the same
 * view of a zero tensor of the input's shape (overlapping views accumulate via scatterAdd).
 */
function viewOp<A extends unknown[]>(name: string, geometry: (x: Tensor, ...a: A) => Tensor, overlapping = false): (x: Tensor, ...a: A) => Tensor {
  const spec: OpSpec<A> = {
    name,
    forward: ([x], ...a) => geometry(x, ...a),
    backward: (g, c) => [viewBackward(g, c.inputs[0].shape, (z) => geometry(z, ...c.args), overlapping)],
    save: () => ({}),
  };
  return (x: Tensor, ...a: A) => {
    if (!(x instanceof Tensor)) throw new TorchError(name, `expected a Tensor, got ${typeof x}`);
    return apply(spec, [x], ...a);
  };
}

const viewBackSpec: OpSpec<[readonly number[], (z: Tensor) => Tensor]> = {
  name: 'viewBackward',
  forward: ([g], shape, geometry) => {
    // uninitialised, then zero-filled unless the region (never overlapping itself) is all of z,
    // as for transpose/permute
    const z = empty_(g._backend, shape, g.dtype, true);
    const region = geometry(z);
    if (region.numel() < z.numel()) g._backend.fill(z._view, 0);
    if (region.numel() > 0) g._backend.copy(broadcastView('viewBackward', g, region.shape), region._view);
    return z;
  },
  backward: (gg, c) => [apply(geomSpec, [gg], c.args[0], c.args[1])],
  save: () => ({}),
};
/** The geometry as an op of its own (the double backward of viewBackward). */
const geomSpec: OpSpec<[readonly number[], (z: Tensor) => Tensor]> = {
  name: 'view',
  forward: ([t], _shape, geometry) => geometry(t),
  backward: (g, c) => [apply(viewBackSpec, [g], c.args[0], c.args[1])],
  save: () => ({}),
};
function viewBackward(g: Tensor, shape: readonly number[], geometry: (z: Tensor) => Tensor, overlapping: boolean): Tensor {
  if (!overlapping) return apply(viewBackSpec, [g], shape, geometry);
  // overlapping windows (unfold): scatter-add through flat positions
  const n = numelOf(shape);
  const pos = geometry(arange(n, { device: g.device }).view(shape)).contiguous().view(-1);
  return scatterAdd(zeros([n], { dtype: g.dtype, device: g.device }), 0, pos, g.contiguous().view(-1)).view(shape);
}

// ---------------- reshape family ----------------

function viewGeom(x: Tensor, shape: number[]): Tensor {
  const st = viewStrides(x.shape, x._strides, shape);
  if (!st) throw new ShapeError('view', `view size ${fmtShape(shape)} is not compatible with the input's size ${fmtShape(x.shape)} and stride ${fmtShape(x._strides)} (at least one dimension spans across two contiguous subspaces); use .reshape(...) instead`);
  return viewOf(x, shape, st, x._offset);
}
// A view keeps the row-major element order, so its gradient is the output's gradient reshaped
// (a view when that is contiguous) instead of a copy into a fresh tensor.
const viewSpec: OpSpec<[number[]]> = {
  name: 'view',
  forward: ([x], shape) => viewGeom(x, shape),
  backward: (g, c) => [reshape(g, [...c.inputs[0].shape])],
  save: () => ({}),
};
function viewImpl(x: Tensor, shape: number[]): Tensor {
  if (!(x instanceof Tensor)) throw new TorchError('view', `expected a Tensor, got ${typeof x}`);
  return apply(viewSpec, [x], shape);
}
export function view(x: Tensor, shape: number[]): Tensor {
  return viewImpl(x, inferShape('view', checkShapeArgs('view', shape), x.numel()));
}
export function reshape(x: Tensor, shape: number[]): Tensor {
  const s = inferShape('reshape', checkShapeArgs('reshape', shape), x.numel());
  if (viewStrides(x.shape, x._strides, s)) return viewImpl(x, s);
  return viewImpl(x.contiguous(), s);
}
function checkShapeArgs(op: string, shape: readonly unknown[]): number[] {
  for (const s of shape) if (typeof s !== 'number' || !Number.isInteger(s) || s < -1) throw new ShapeError(op, `invalid shape ${JSON.stringify(shape)}; sizes must be integers >= 0 (or one -1)`);
  return shape as number[];
}
export function flatten(x: Tensor, start = 0, end = -1): Tensor {
  if (x.ndim === 0) return reshape(x, [1]);
  const s = normDim('flatten', start, x.ndim), e = normDim('flatten', end, x.ndim);
  if (s > e) throw new IndexError('flatten', `startDim (${start}) cannot come after endDim (${end})`);
  const shape = [...x.shape.slice(0, s), numelOf(x.shape.slice(s, e + 1)), ...x.shape.slice(e + 1)];
  return reshape(x, shape);
}
export function unflatten(x: Tensor, dim: number, sizes: number[]): Tensor {
  const d = normDim('unflatten', dim, x.ndim);
  const inner = inferShape('unflatten', sizes, x.shape[d]);
  return view(x, [...x.shape.slice(0, d), ...inner, ...x.shape.slice(d + 1)]);
}
export function squeeze(x: Tensor, dim?: number | number[]): Tensor {
  const dims = dim === undefined ? x.shape.map((_, i) => i) : normDims('squeeze', dim, x.ndim);
  const keep = x.shape.map((s, i) => !(s === 1 && dims.includes(i)));
  return viewImpl(x, x.shape.filter((_, i) => keep[i]));
}
export function unsqueeze(x: Tensor, dim: number): Tensor {
  const d = normDim('unsqueeze', dim, x.ndim, 1);
  return viewImpl(x, [...x.shape.slice(0, d), 1, ...x.shape.slice(d)]);
}

// ---------------- permutations ----------------

// The gradient of a permutation is the inverse permutation of the gradient: a view, not a copy
// (for linear's weight.t(), the weight's gradient then arrives in the weight's own layout).
const permuteSpec: OpSpec<[number[]]> = {
  name: 'permute',
  forward: ([x], dims) => viewOf(x, dims.map((d) => x.shape[d]), dims.map((d) => x._strides[d]), x._offset),
  backward: (g, c) => {
    const dims = c.args[0], inv = new Array<number>(dims.length);
    for (let i = 0; i < dims.length; i++) inv[dims[i]] = i;
    return [permuteImpl(g, inv)];
  },
  save: () => ({}),
};
function permuteImpl(x: Tensor, dims: number[]): Tensor {
  if (!(x instanceof Tensor)) throw new TorchError('permute', `expected a Tensor, got ${typeof x}`);
  return apply(permuteSpec, [x], dims);
}
export function permute(x: Tensor, dims: number[]): Tensor {
  if (dims.length !== x.ndim) throw new ShapeError('permute', `number of dims don't match: the input has ${x.ndim} dims but ${dims.length} were given (${fmtShape(dims)})`);
  const nd = dims.map((d) => normDim('permute', d, x.ndim));
  if (new Set(nd).size !== nd.length) throw new ShapeError('permute', `repeated dim in ${fmtShape(dims)}`);
  return permuteImpl(x, nd);
}
export function transpose(x: Tensor, d0: number, d1: number): Tensor {
  if (x.ndim === 0) return x;
  const a = normDim('transpose', d0, x.ndim), b = normDim('transpose', d1, x.ndim);
  const p = x.shape.map((_, i) => i);
  p[a] = b; p[b] = a;
  return permuteImpl(x, p);
}
export function t(x: Tensor): Tensor {
  if (x.ndim > 2) throw new ShapeError('t', `expects a tensor with <= 2 dimensions, but the input has ${x.ndim}; use transpose(d0, d1) or mT`);
  return x.ndim < 2 ? x : transpose(x, 0, 1);
}

// ---------------- expand ----------------

const expandSpec: OpSpec<[number[]]> = {
  name: 'expand',
  forward: ([x], shape) => viewOf(x, shape, broadcastStrides('expand', x.shape, x._strides, shape), x._offset),
  backward: (g, c) => [sumToShape(g, c.inputs[0].shape)],
  save: () => ({}),
};
export function expand(x: Tensor, shape: number[]): Tensor {
  if (shape.length < x.ndim) throw new ShapeError('expand', `the number of sizes provided (${shape.length}) must be greater or equal to the number of dimensions in the tensor (${x.ndim})`);
  const lead = shape.length - x.ndim;
  const target = shape.map((s, i) => (s === -1 ? (i < lead ? NaN : x.shape[i - lead]) : s));
  if (target.some((s) => !Number.isInteger(s) || s < 0)) throw new ShapeError('expand', `invalid size ${fmtShape(shape)} for a tensor of shape ${fmtShape(x.shape)} (-1 is only allowed for existing dims)`);
  return apply(expandSpec, [x], target);
}

/** Sums a tensor down to `shape` (the inverse of broadcasting). */
export function sumToShape(g: Tensor, shape: readonly number[]): Tensor {
  const lead = g.ndim - shape.length;
  const dims: number[] = [];
  for (let i = 0; i < g.ndim; i++) if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) dims.push(i);
  if (dims.length === 0) return g.ndim === shape.length ? g : reshape(g, [...shape]);
  const s = sum(g, dims, true);
  return reshape(s, [...shape]);
}

// ---------------- slicing ----------------

const sliceImpl = viewOp('slice', (x: Tensor, dim: number, start: number, length: number, step: number) => {
  const shape = [...x.shape], strides = [...x._strides];
  shape[dim] = length;
  strides[dim] = x._strides[dim] * step;
  return viewOf(x, shape, strides, x._offset + start * x._strides[dim]);
});
/** x[..., start:start+length*step:step, ...] along dim, as a view. */
export function slice(x: Tensor, dim: number, start: number, length: number, step = 1): Tensor {
  return sliceImpl(x, dim, start, length, step);
}
export function narrow(x: Tensor, dim: number, start: number, length: number): Tensor {
  if (x.ndim === 0) throw new IndexError('narrow', 'cannot be applied to a 0-dim tensor');
  const d = normDim('narrow', dim, x.ndim);
  const size = x.shape[d];
  if (!Number.isInteger(start) || start < -size || start > size) throw new IndexError('narrow', `start (${start}) is out of range for dim ${d} of size ${size}`);
  const s = start < 0 ? start + size : start;
  if (!Number.isInteger(length) || length < 0 || s + length > size) throw new IndexError('narrow', `start (${s}) + length (${length}) exceeds dimension size (${size})`);
  return sliceImpl(x, d, s, length, 1);
}
const selectImpl = viewOp('select', (x: Tensor, dim: number, i: number) => viewOf(x, x.shape.filter((_, k) => k !== dim), x._strides.filter((_, k) => k !== dim), x._offset + i * x._strides[dim]));
export function select(x: Tensor, dim: number, index: number): Tensor {
  if (x.ndim === 0) throw new IndexError('select', 'cannot be applied to a 0-dim tensor');
  const d = normDim('select', dim, x.ndim);
  const size = x.shape[d];
  if (!Number.isInteger(index) || index < -size || index >= size) throw new IndexError('select', `index ${index} is out of bounds for dimension ${d} with size ${size}`);
  return selectImpl(x, d, index < 0 ? index + size : index);
}
const unfoldImpl = viewOp('unfold', (x: Tensor, dim: number, size: number, step: number) => {
  const n = x.ndim === 0 ? 1 : x.shape[dim];
  const count = Math.floor((n - size) / step) + 1;
  const shape = [...x.shape], strides = [...x._strides];
  const st = x.ndim === 0 ? 1 : x._strides[dim];
  if (x.ndim === 0) return viewOf(x, [size], [1], x._offset);
  shape[dim] = count;
  strides[dim] = st * step;
  return viewOf(x, [...shape, size], [...strides, st], x._offset);
}, true);
export function unfold(x: Tensor, dim: number, size: number, step: number): Tensor {
  const d = normDim('unfold', dim, x.ndim);
  const n = x.ndim === 0 ? 1 : x.shape[d];
  if (!Number.isInteger(size) || size < 0 || size > n) throw new ShapeError('unfold', `maximum size for tensor at dimension ${d} is ${n} but size is ${size}`);
  if (!Number.isInteger(step) || step <= 0) throw new ShapeError('unfold', `step is ${step} but must be > 0`);
  return unfoldImpl(x, d, size, step);
}

export function split(x: Tensor, sizeOrSizes: number | number[], dim = 0): Tensor[] {
  const d = normDim('split', dim, x.ndim);
  const n = x.shape[d];
  let sizes: number[];
  if (typeof sizeOrSizes === 'number') {
    if (!Number.isInteger(sizeOrSizes) || sizeOrSizes <= 0) throw new ShapeError('split', `split size must be a positive integer, got ${sizeOrSizes}`);
    sizes = [];
    for (let s = 0; s < n; s += sizeOrSizes) sizes.push(Math.min(sizeOrSizes, n - s));
    if (n === 0) sizes.push(0);
  } else {
    sizes = sizeOrSizes;
    const total = sizes.reduce((a, b) => a + b, 0);
    if (total !== n) throw new ShapeError('split', `split sizes ${fmtShape(sizes)} sum to ${total} but the input has size ${n} at dim ${d}`);
  }
  const out: Tensor[] = [];
  let start = 0;
  for (const s of sizes) { out.push(narrow(x, d, start, s)); start += s; }
  return out;
}
export function chunk(x: Tensor, chunks: number, dim = 0): Tensor[] {
  if (!Number.isInteger(chunks) || chunks <= 0) throw new ShapeError('chunk', `chunks must be a positive integer, got ${chunks}`);
  const d = normDim('chunk', dim, x.ndim);
  const size = Math.ceil(x.shape[d] / chunks) || 1;
  return split(x, size, d);
}
export function unbind(x: Tensor, dim = 0): Tensor[] {
  const d = normDim('unbind', dim, x.ndim);
  return Array.from({ length: x.shape[d] }, (_, i) => select(x, d, i));
}

// ---------------- copies ----------------

const catSpec: OpSpec<[number]> = {
  name: 'cat',
  forward: (xs, dim) => {
    const shape = [...xs[0].shape];
    shape[dim] = xs.reduce((a, t) => a + t.shape[dim], 0);
    const out = empty_(xs[0]._backend, shape, xs[0].dtype);
    let off = 0;
    for (const t of xs) {
      if (t.numel() > 0) {
        const region = out._view;
        const st = region.strides;
        t._backend.copy(t._view, { ...region, shape: t.shape, offset: off * st[dim] });
      }
      off += t.shape[dim];
    }
    return out;
  },
  backward: (g, c) => {
    let off = 0;
    return c.inputs.map((t) => { const r = narrow(g, c.args[0], off, t.shape[c.args[0]]); off += t.shape[c.args[0]]; return r; });
  },
  save: () => ({}),
};
/** Concatenates along dim (1-d empty tensors are skipped, as PyTorch). */
export function cat(tensors: readonly Tensor[], dim = 0): Tensor {
  if (!Array.isArray(tensors) || tensors.length === 0) throw new TorchError('cat', 'expected a non-empty array of tensors');
  for (const x of tensors) if (!(x instanceof Tensor)) throw new TorchError('cat', 'expected an array of Tensors');
  const parts = tensors.filter((x) => !(x.ndim === 1 && x.shape[0] === 0));
  if (parts.length === 0) return tensors[0].clone();
  const ref = parts[0];
  if (ref.ndim === 0) throw new ShapeError('cat', 'zero-dimensional tensors cannot be concatenated; unsqueeze them or use stack');
  const d = normDim('cat', dim, ref.ndim);
  for (const x of parts) {
    if (x.ndim !== ref.ndim || x.shape.some((s: number, i: number) => i !== d && s !== ref.shape[i]))
      throw new ShapeError('cat', `sizes of tensors must match except in dimension ${d}: got ${fmtShape(ref.shape)} and ${fmtShape(x.shape)}`);
  }
  const dev = commonDevice('cat', parts);
  const dt = promote(parts.map((p) => ({ dtype: p.dtype, ndim: 1 }) as any));
  const conv = parts.map((p) => toDtype(toDevice(p, dev), dt));
  return apply(catSpec, conv, d);
}
export function stack(tensors: readonly Tensor[], dim = 0): Tensor {
  if (!Array.isArray(tensors) || tensors.length === 0) throw new TorchError('stack', 'expected a non-empty array of tensors');
  const ref = tensors[0];
  for (const x of tensors) if (!(x instanceof Tensor) || x.shape.length !== ref.shape.length || x.shape.some((s: number, i: number) => s !== ref.shape[i]))
    throw new ShapeError('stack', `stack expects each tensor to be equal size, but got ${fmtShape(ref.shape)} and ${x instanceof Tensor ? fmtShape(x.shape) : typeof x}`);
  const d = normDim('stack', dim, ref.ndim, 1);
  return cat(tensors.map((x) => unsqueeze(x, d)), d);
}
export function repeat(x: Tensor, sizes: number[]): Tensor {
  if (sizes.length < x.ndim) throw new ShapeError('repeat', `number of repeat dims (${sizes.length}) can not be smaller than number of tensor dims (${x.ndim})`);
  checkShape('repeat', sizes);
  const lead = sizes.length - x.ndim;
  const src = reshape(x, [...Array(lead).fill(1), ...x.shape]);
  // [a, b] repeated [r, s] -> expand to [r, a, s, b] -> reshape [r*a, s*b]
  const inter: number[] = [], expanded: number[] = [], final: number[] = [];
  src.shape.forEach((s, i) => { inter.push(1, s); expanded.push(sizes[i], s); final.push(sizes[i] * s); });
  return reshape(expand(reshape(src, inter), expanded).contiguous(), final);
}
export function flip(x: Tensor, dims: number | number[]): Tensor {
  let r = x;
  for (const d of normDims('flip', dims, x.ndim)) {
    const n = x.shape[d];
    r = indexSelect(r, d, arange(n - 1, -1, -1, { device: x.device }));
  }
  return r === x ? x.clone() : r;
}
export function roll(x: Tensor, shifts: number | number[], dims?: number | number[]): Tensor {
  if (dims === undefined) {
    if (typeof shifts !== 'number') throw new ShapeError('roll', 'without dims, shifts must be a single number');
    return reshape(roll(flatten(x), shifts, 0), [...x.shape]);
  }
  const sh = typeof shifts === 'number' ? [shifts] : shifts;
  const ds = typeof dims === 'number' ? [dims] : dims;
  if (sh.length !== ds.length) throw new ShapeError('roll', `shifts and dims must have the same length, got ${sh.length} and ${ds.length}`);
  let r = x;
  for (let i = 0; i < sh.length; i++) {
    const d = normDim('roll', ds[i], x.ndim);
    const n = x.shape[d];
    if (n === 0) continue;
    const s = ((sh[i] % n) + n) % n;
    if (s === 0) continue;
    r = cat([narrow(r, d, n - s, s), narrow(r, d, 0, n - s)], d);
  }
  return r;
}
function triangle(name: string, x: Tensor, k: number, lower: boolean): Tensor {
  if (x.ndim < 2) throw new ShapeError(name, `input tensor must have at least 2 dimensions, got shape ${fmtShape(x.shape)}`);
  const m = x.shape[x.ndim - 2], n = x.shape[x.ndim - 1];
  const rows = arange(m, { device: x.device }).view([m, 1]);
  const cols = arange(n, { device: x.device }).view([1, n]);
  const diff = cols.sub(rows); // j - i
  const mask = lower ? diff.le(k) : diff.ge(k);
  return where(mask, x, 0).to(x.dtype);
}
export function tril(x: Tensor, k = 0): Tensor { return triangle('tril', x, k, true); }
export function triu(x: Tensor, k = 0): Tensor { return triangle('triu', x, k, false); }

