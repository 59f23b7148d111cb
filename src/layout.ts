/** Shapes, strides, offsets and broadcasting (pure functions, all checked as safe integers). */
import { ShapeError, IndexError, fmtShape } from './errors.js';

export type Shape = readonly number[];

/** A strided view of a storage: element strides and an element offset. */
export interface Layout {
  readonly shape: Shape;
  readonly strides: readonly number[];
  readonly offset: number;
}

export function numelOf(shape: Shape): number {
  let n = 1;
  for (const s of shape) n *= s;
  return n;
}

export function checkShape(op: string, shape: readonly unknown[]): number[] {
  const out: number[] = [];
  for (const s of shape) {
    if (typeof s !== 'number' || !Number.isSafeInteger(s) || s < 0)
      throw new ShapeError(op, `sizes must be non-negative integers, got ${fmtShape(shape as number[])}`);
    out.push(s);
  }
  if (!Number.isSafeInteger(numelOf(out)) || numelOf(out) > 2 ** 40)
    throw new ShapeError(op, `shape ${fmtShape(out)} has too many elements`);
  return out;
}

export function contiguousStrides(shape: Shape): number[] {
  const st = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    st[i] = acc;
    acc *= Math.max(shape[i], 1);
  }
  return st;
}

export function isContiguousLayout(shape: Shape, strides: readonly number[]): boolean {
  let expected = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    if (shape[i] === 1) continue;
    if (strides[i] !== expected) return false;
    expected *= shape[i];
  }
  return true;
}

/** Normalises a possibly negative dim; `ndim` of 0 accepts -1 and 0 as PyTorch does. */
export function normDim(op: string, dim: number, ndim: number, extra = 0): number {
  const n = Math.max(ndim + extra, 1);
  if (!Number.isInteger(dim) || dim < -n || dim >= n)
    throw new IndexError(op, `dimension ${dim} is out of range for a tensor with ${ndim} dims (expected in [${-n}, ${n - 1}])`);
  return dim < 0 ? dim + n : dim;
}

export function normDims(op: string, dims: number | readonly number[] | undefined | null, ndim: number): number[] {
  if (dims === undefined || dims === null) return Array.from({ length: ndim }, (_, i) => i);
  const list = typeof dims === 'number' ? [dims] : [...dims];
  const out = list.map((d) => normDim(op, d, ndim));
  if (new Set(out).size !== out.length) throw new IndexError(op, `dim ${JSON.stringify(list)} appears multiple times`);
  return out.sort((a, b) => a - b);
}

export function broadcastShapes(op: string, ...shapes: Shape[]): number[] {
  const nd = Math.max(0, ...shapes.map((s) => s.length));
  const out = new Array<number>(nd).fill(1);
  for (const s of shapes) {
    for (let i = 0; i < s.length; i++) {
      const o = nd - s.length + i;
      const a = out[o], b = s[i];
      if (a === b || b === 1) continue;
      if (a === 1) out[o] = b;
      else throw new ShapeError(op, `shapes ${shapes.map(fmtShape).join(' and ')} cannot be broadcast together (size ${a} vs ${b} at dim ${o})`);
    }
  }
  return out;
}

/** Strides that read a tensor of `shape`/`strides` as if expanded to `target` (stride 0 on broadcast dims). */
export function broadcastStrides(op: string, shape: Shape, strides: readonly number[], target: Shape): number[] {
  const nd = target.length;
  if (shape.length > nd) throw new ShapeError(op, `cannot expand ${fmtShape(shape)} to ${fmtShape(target)}`);
  const out = new Array<number>(nd).fill(0);
  for (let i = 0; i < shape.length; i++) {
    const o = nd - shape.length + i;
    if (shape[i] === target[o]) out[o] = strides[i];
    else if (shape[i] === 1) out[o] = 0;
    else throw new ShapeError(op, `the expanded size (${target[o]}) must match the existing size (${shape[i]}) at dim ${o}; cannot expand ${fmtShape(shape)} to ${fmtShape(target)}`);
  }
  return out;
}

/** Resolves a single -1 in a requested shape against a numel. */
export function inferShape(op: string, requested: readonly number[], numel: number): number[] {
  let neg = -1, known = 1;
  for (let i = 0; i < requested.length; i++) {
    const s = requested[i];
    if (s === -1) {
      if (neg >= 0) throw new ShapeError(op, `only one dimension can be inferred (-1), got ${fmtShape(requested)}`);
      neg = i;
    } else if (!Number.isSafeInteger(s) || s < 0) throw new ShapeError(op, `invalid shape dimension ${s} in ${fmtShape(requested)}`);
    else known *= s;
  }
  const out = [...requested];
  if (neg >= 0) {
    if (known === 0 || numel % known !== 0)
      throw new ShapeError(op, `shape ${fmtShape(requested)} is invalid for input of size ${numel}`);
    out[neg] = numel / known;
  } else if (known !== numel) throw new ShapeError(op, `shape ${fmtShape(requested)} is invalid for input of size ${numel}`);
  return out;
}

/**
 * Strides for viewing (shape, strides) as newShape without copying, or null when the
 * memory layout does not allow it (PyTorch's computeStride).
 */
export function viewStrides(shape: Shape, strides: readonly number[], newShape: Shape): number[] | null {
  const numel = numelOf(shape);
  if (numel === 0 || shape.length === 0) return contiguousStrides(newShape);
  const out = new Array<number>(newShape.length);
  let viewD = newShape.length - 1;
  let chunkBase = strides[strides.length - 1];
  let tensorNumel = 1, viewNumel = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    tensorNumel *= shape[d];
    if (d === 0 || (shape[d - 1] !== 1 && strides[d - 1] !== tensorNumel * chunkBase)) {
      while (viewD >= 0 && (viewNumel < tensorNumel || newShape[viewD] === 1)) {
        out[viewD] = viewNumel * chunkBase;
        viewNumel *= newShape[viewD];
        viewD--;
      }
      if (viewNumel !== tensorNumel) return null;
      if (d > 0) {
        chunkBase = strides[d - 1];
        tensorNumel = 1;
        viewNumel = 1;
      }
    }
  }
  if (viewD !== -1) return null;
  return out;
}

/** Merges adjacent dims that are jointly contiguous in every operand (for fast kernels). */
export function coalesce(shape: Shape, stridesList: (readonly number[])[]): { shape: number[]; strides: number[][] } {
  const nd = shape.length;
  const outShape: number[] = [];
  const outStrides: number[][] = stridesList.map(() => []);
  for (let d = 0; d < nd; d++) {
    if (shape[d] === 1) continue;
    const last = outShape.length - 1;
    if (last >= 0 && stridesList.every((st, k) => outStrides[k][last] === st[d] * shape[d])) {
      outShape[last] *= shape[d];
      stridesList.forEach((st, k) => (outStrides[k][last] = st[d]));
    } else {
      outShape.push(shape[d]);
      stridesList.forEach((st, k) => outStrides[k].push(st[d]));
    }
  }
  return { shape: outShape, strides: outStrides };
}

/** Largest element offset reachable + 1 (0 for empty views); used to bound-check views. */
export function extentOf(l: Layout): number {
  let lo = l.offset, hi = l.offset;
  for (let i = 0; i < l.shape.length; i++) {
    if (l.shape[i] === 0) return 0;
    const span = (l.shape[i] - 1) * l.strides[i];
    if (span > 0) hi += span; else lo += span;
  }
  if (lo < 0) return -1;
  return hi + 1;
}
