/** Indexing: PyTorch-style index specs, gather/scatter, advanced (integer/bool tensor) indexing. */
import { Tensor, type TensorLike } from '../tensor.js';
import { apply, empty_, castRaw, contiguousRaw, named, type OpSpec } from './core.js';
import { normDim, numelOf } from '../layout.js';
import { IndexError, ShapeError, DTypeError, TorchError, DeviceError, fmtShape } from '../errors.js';
import { add, mul, where, lt, toDtype, operandOf } from './elementwise.js';
import { expand, reshape, slice, select, unsqueeze, permute, view } from './shape.js';
import { arange, zeros, tensor } from './creation.js';
import { inplace } from './inplace.js';

/** One index: a number, a slice string ('1:3', '::2', ':'), '...', null (new axis), or an int/bool tensor. */
export type Spec = number | string | null | Tensor | number[] | boolean[];

function checkIndex(op: string, index: Tensor): void {
  if (!(index instanceof Tensor)) throw new TorchError(op, 'index must be a Tensor');
  if (index.dtype !== 'int64' && index.dtype !== 'int32') throw new DTypeError(op, `expected an int64 index tensor, got ${index.dtype}`);
}
function checkGatherShapes(op: string, x: Tensor, d: number, index: Tensor, src?: Tensor) {
  if (index.ndim !== Math.max(x.ndim, 1) && !(x.ndim === 0 && index.ndim <= 1))
    throw new ShapeError(op, `index tensor must have the same number of dimensions as the input (${x.ndim}), got ${index.ndim}`);
  for (let i = 0; i < index.ndim; i++) {
    if (i !== d && x.ndim > 0 && index.shape[i] > x.shape[i]) throw new ShapeError(op, `size of index ${fmtShape(index.shape)} exceeds the input's ${fmtShape(x.shape)} at dim ${i} (only dim ${d} may be larger)`);
    if (src && src.ndim > 0 && index.shape[i] > src.shape[i]) throw new ShapeError(op, `size of index ${fmtShape(index.shape)} exceeds src's ${fmtShape(src.shape)} at dim ${i}`);
  }
}

// ---------------- gather / scatter ----------------

const gatherSpec: OpSpec<[number]> = {
  name: 'gather',
  forward: ([x, index], d) => {
    const out = empty_(x._backend, index.shape, x.dtype);
    if (out.numel() > 0) x._backend.gather(x._view, d, index._view, out._view);
    return out;
  },
  backward: (g, c) => [scatterAdd(zeros([...c.inputs[0].shape], { dtype: g.dtype, device: g.device }), c.args[0], c.inputs[1], g), null],
  save: () => ({ inputs: [1] }),
};
export function gather(x: Tensor, dim: number, index: Tensor): Tensor {
  checkIndex('gather', index);
  const d = normDim('gather', dim, x.ndim);
  checkGatherShapes('gather', x, d, index);
  if (index.device !== x.device) throw new DeviceError('gather', `index is on ${index.device} but the input is on ${x.device}`);
  return apply(gatherSpec, [x, index], d);
}

function scatterSpec(accumulate: boolean): OpSpec<[number]> {
  return {
    name: accumulate ? 'scatterAdd' : 'scatter',
    forward: ([x, index, src], d) => {
      const out = empty_(x._backend, x.shape, x.dtype);
      if (out.numel() > 0) x._backend.copy(x._view, out._view);
      if (index.numel() > 0) x._backend.scatter(out._view, d, index._view, contiguousRaw(src)._view, accumulate);
      return out;
    },
    backward: (g, c) => {
      const [, index] = c.inputs;
      const d = c.args[0];
      const gx = accumulate ? g : scatter(g, d, index, 0);
      return [gx, null, gather(g, d, index)];
    },
    save: () => ({ inputs: [1] }),
  };
}
const scatterS = scatterSpec(false), scatterAddS = scatterSpec(true);
function scatterImpl(op: string, spec: OpSpec<[number]>, x: Tensor, dim: number, index: Tensor, src: TensorLike): Tensor {
  checkIndex(op, index);
  const d = normDim(op, dim, x.ndim);
  let s: Tensor;
  if (src instanceof Tensor) {
    if (src.dtype !== x.dtype) throw new DTypeError(op, `expected src to have the same dtype as self (${x.dtype}), got ${src.dtype}`);
    s = src;
  } else s = expand(operandOf(src, x.dtype, x.device), [...index.shape]);
  checkGatherShapes(op, x, d, index, s);
  // src is read at index's positions: narrow it to index's shape
  if (s.ndim > 0 && s.shape.some((n, i) => n !== index.shape[i])) {
    let r = s;
    index.shape.forEach((n, i) => { r = slice(r, i, 0, n); });
    s = r;
  }
  return apply(spec, [x, index, s], d);
}
export function scatter(x: Tensor, dim: number, index: Tensor, src: TensorLike): Tensor { return scatterImpl('scatter', scatterS, x, dim, index, src); }
export function scatterAdd(x: Tensor, dim: number, index: Tensor, src: Tensor): Tensor { return scatterImpl('scatterAdd', scatterAddS, x, dim, index, src); }

/** x.indexSelect(dim, index): rows of x at the 1-D index along dim. */
export function indexSelect(x: Tensor, dim: number, index: Tensor): Tensor {
  checkIndex('indexSelect', index);
  if (index.ndim > 1) throw new ShapeError('indexSelect', `index must be 0-d or 1-d, got shape ${fmtShape(index.shape)}`);
  if (x.ndim === 0) return gather(x.view([1]), 0, index.view([-1])).view(index.ndim === 0 ? [] : [-1]);
  const d = normDim('indexSelect', dim, x.ndim);
  const n = index.numel();
  const shape = [...x.shape];
  shape[d] = n;
  const idxShape = x.shape.map((_, i) => (i === d ? n : 1));
  const idx = expand(reshape(index, idxShape), shape);
  return named('indexSelect', () => gather(x, d, idx));
}

// ---------------- index(...) ----------------

interface Parsed { kind: 'int' | 'slice' | 'ellipsis' | 'newaxis' | 'tensor'; value?: number; start?: string; stop?: string; step?: string; tensor?: Tensor }

function parseSpecs(specs: readonly Spec[]): Parsed[] {
  return specs.map((s): Parsed => {
    if (s === null) return { kind: 'newaxis' };
    if (typeof s === 'number') {
      if (!Number.isInteger(s)) throw new IndexError('index', `indices must be integers, got ${s}`);
      return { kind: 'int', value: s };
    }
    if (typeof s === 'string') {
      if (s === '...') return { kind: 'ellipsis' };
      const m = /^\s*(-?\d*)\s*:\s*(-?\d*)\s*(?::\s*(-?\d*)\s*)?$/.exec(s);
      if (!m) {
        if (/^\s*-?\d+\s*$/.test(s)) return { kind: 'int', value: Number(s) };
        throw new IndexError('index', `cannot parse the slice '${s}'; use 'start:stop:step' such as '1:3', '::2', '-1:' or ':'`);
      }
      return { kind: 'slice', start: m[1], stop: m[2], step: m[3] };
    }
    if (s instanceof Tensor) return { kind: 'tensor', tensor: s };
    if (Array.isArray(s)) return { kind: 'tensor', tensor: tensor(s as number[]) };
    throw new IndexError('index', `unsupported index ${String(s)}; use numbers, slice strings, '...', null or tensors`);
  });
}

/** Applies numbers, slices, '...' and null as views; returns advanced (tensor) indices with their dims in the result. */
function basicIndex(x: Tensor, specs: Parsed[]): { t: Tensor; adv: { dim: number; tensor: Tensor }[] } {
  const consumed = specs.reduce((n, s) => n + (s.kind === 'int' || s.kind === 'slice' ? 1 : s.kind === 'tensor' ? (s.tensor!.dtype === 'bool' ? Math.max(s.tensor!.ndim, 1) : 1) : 0), 0);
  const ellipses = specs.filter((s) => s.kind === 'ellipsis').length;
  if (ellipses > 1) throw new IndexError('index', "an index can only have a single ellipsis ('...')");
  if (consumed > x.ndim) throw new IndexError('index', `too many indices for a tensor of dimension ${x.ndim} (got ${consumed})`);
  let t = x;
  let dim = 0;
  const adv: { dim: number; tensor: Tensor }[] = [];
  for (const s of specs) {
    switch (s.kind) {
      case 'ellipsis': dim += x.ndim - consumed; break;
      case 'newaxis': t = unsqueeze(t, dim); dim++; break;
      case 'int': {
        const size = t.shape[dim];
        if (s.value! < -size || s.value! >= size) throw new IndexError('index', `index ${s.value} is out of bounds for dimension ${dim} with size ${size}`);
        t = select(t, dim, s.value!);
        break;
      }
      case 'slice': {
        const size = t.shape[dim];
        const step = s.step ? Number(s.step) : 1;
        if (step <= 0) throw new IndexError('index', `slice step must be positive, got ${step} (negative steps are not supported, as in PyTorch; use flip)`);
        const clampI = (v: number) => Math.min(Math.max(v < 0 ? v + size : v, 0), size);
        const start = s.start ? clampI(Number(s.start)) : 0;
        const stop = s.stop ? clampI(Number(s.stop)) : size;
        const len = stop > start ? Math.ceil((stop - start) / step) : 0;
        t = slice(t, dim, start, len, step);
        dim++;
        break;
      }
      case 'tensor': {
        const it = s.tensor!;
        if (it.dtype === 'bool' || it.dtype === 'uint8') {
          const b = it.dtype === 'bool' ? it : castRaw(it, 'bool');
          const nd = Math.max(b.ndim, 1);
          for (let i = 0; i < b.ndim; i++)
            if (b.shape[i] !== t.shape[dim + i]) throw new IndexError('index', `the shape of the mask ${fmtShape(b.shape)} at index ${i} does not match the shape of the indexed tensor ${fmtShape(t.shape)} at dim ${dim + i}`);
          if (b.ndim === 0) {
            t = unsqueeze(t, dim);
            adv.push({ dim, tensor: nonzero(b.view([1])).view([-1]) });
            dim++;
            break;
          }
          const nz = nonzero(b); // [n, nd]
          for (let i = 0; i < nd; i++) adv.push({ dim: dim + i, tensor: select(nz, 1, i) });
          dim += nd;
        } else if (it.dtype === 'int64' || it.dtype === 'int32') {
          adv.push({ dim, tensor: it });
          dim++;
        } else throw new IndexError('index', `tensors used as indices must be int64, int32 or bool, got ${it.dtype}`);
        break;
      }
    }
  }
  return { t, adv };
}

/** Linear positions over the advanced dims (broadcast together), with negative indices wrapped and bounds checked by gather. */
function advancedIndex(t: Tensor, adv: { dim: number; tensor: Tensor }[]): Tensor {
  const dims = adv.map((a) => a.dim);
  const adjacent = dims.every((d, i) => i === 0 || d === dims[i - 1] + 1);
  const rest = t.shape.map((_, i) => i).filter((i) => !dims.includes(i));
  const perm = [...dims, ...rest];
  const moved = permute(t, perm);
  const sizes = dims.map((d) => t.shape[d]);
  // broadcast index tensors, wrap negatives, combine into one flat index
  const bshape = adv.reduce<number[]>((s, a) => broadcastShape(s, a.tensor.shape), []);
  let linear: Tensor | null = null;
  for (let i = 0; i < adv.length; i++) {
    let idx = adv[i].tensor.device === t.device ? adv[i].tensor : adv[i].tensor.to(t.device);
    idx = castRaw(idx, 'int64');
    idx = where(lt(idx, 0), add(idx, sizes[i]), idx);
    checkBounds(idx, sizes[i], dims[i]);
    const scaled = mul(idx, sizes.slice(i + 1).reduce((a, b) => a * b, 1));
    linear = linear ? add(linear, scaled) : scaled;
  }
  const flatIdx = expand(linear!, bshape).contiguous().view([-1]);
  const flat = reshape(moved, [numelOf(sizes), ...rest.map((i) => t.shape[i])]);
  let r = indexSelect(flat, 0, flatIdx);
  r = reshape(r, [...bshape, ...rest.map((i) => t.shape[i])]);
  if (adjacent && dims[0] > 0) {
    // PyTorch keeps adjacent advanced dims in place
    const nb = bshape.length;
    const before = rest.filter((i) => i < dims[0]).length;
    const order = [...Array(before).keys()].map((i) => nb + i);
    const p = [...order, ...[...Array(nb).keys()], ...[...Array(rest.length - before).keys()].map((i) => nb + before + i)];
    r = permute(r, p);
  }
  return r;
}
function broadcastShape(a: readonly number[], b: readonly number[]): number[] {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const x = a[a.length - n + i] ?? 1, y = b[b.length - n + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) throw new IndexError('index', `shape mismatch: indexing tensors could not be broadcast together with shapes ${fmtShape(a)} and ${fmtShape(b)}`);
    out.push(x === 1 ? y : x);
  }
  return out;
}
function checkBounds(idx: Tensor, size: number, dim: number): void {
  if (!idx._backend.readSync || idx.numel() === 0) return; // devices that read asynchronously check in their kernels
  const data = idx._backend.readSync(contiguousRaw(idx)._view);
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v < 0 || v >= size) throw new IndexError('index', `index ${v < 0 ? v - size : v} is out of bounds for dimension ${dim} with size ${size}`);
  }
}

/** x.index(...specs): PyTorch's x[...] with numbers, slice strings, '...', null and int/bool tensors. */
export function index(x: Tensor, specs: readonly Spec[]): Tensor {
  if (!(x instanceof Tensor)) throw new TorchError('index', 'expected a Tensor');
  const { t, adv } = basicIndex(x, parseSpecs(specs));
  if (adv.length === 0) return t === x ? view(x, [...x.shape]) : t;
  return advancedIndex(t, adv);
}

/** x[specs] = value in place (accumulate adds, as index_put_ with accumulate=True). */
export function indexPut_(x: Tensor, specs: readonly Spec[], value: TensorLike, accumulate = false): Tensor {
  const n = x.numel();
  // the flat positions that x[specs] selects, computed on a position tensor of x's shape
  const positions = index(arange(n, { device: x.device }).view([...x.shape]), specs);
  const pos = positions.contiguous().view([-1]);
  const v = value instanceof Tensor ? toDtype(value, x.dtype) : operandOf(value, x.dtype, x.device);
  if (v instanceof Tensor && v.ndim > positions.ndim) throw new ShapeError('indexPut_', `value of shape ${fmtShape(v.shape)} cannot be broadcast to the indexed shape ${fmtShape(positions.shape)}`);
  const vals = expand(v, [...positions.shape]).contiguous().view([-1]);
  return inplace(x, 'indexPut_', (self) => {
    const flat = self.contiguous().view([-1]);
    const r = accumulate ? scatterAdd(flat, 0, pos, vals) : scatter(flat, 0, pos, vals);
    return r.view([...x.shape]);
  });
}

export function maskedSelect(x: Tensor, mask: Tensor): Tensor {
  if (!(mask instanceof Tensor) || mask.dtype !== 'bool') throw new DTypeError('maskedSelect', 'the mask must be a bool tensor');
  const shape = broadcastShape(x.shape, mask.shape);
  return index(expand(x, shape), [expand(mask, shape)]);
}

/** Indices of non-zero elements, shape [n, ndim] (reads the data: synchronous devices only). */
export function nonzero(x: Tensor): Tensor {
  if (!x._backend.readSync)
    throw new DeviceError('nonzero', `the result's size depends on the data, which device '${x.device}' can only read asynchronously; use 'await x.data()' and build the index on the host`);
  const data = x._backend.readSync(contiguousRaw(x)._view);
  const strides = x.shape.map((_, i) => x.shape.slice(i + 1).reduce((a, b) => a * b, 1));
  const hits: number[] = [];
  for (let i = 0; i < data.length; i++) if (data[i] !== 0) hits.push(i);
  const nd = x.ndim;
  const out = new Float64Array(hits.length * nd);
  hits.forEach((flat, k) => { let r = flat; for (let d = 0; d < nd; d++) { out[k * nd + d] = Math.floor(r / strides[d]); r %= strides[d]; } });
  const res = empty_(x._backend, [hits.length, nd], 'int64');
  if (out.length) x._backend.write(res._storage.handle, 'int64', out, 0);
  return res;
}

