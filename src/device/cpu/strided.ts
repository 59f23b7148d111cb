/**
 * Loop planning shared by the cpu kernels: classifying operand layouts (all-contiguous,
 * scalar-broadcast, general) and reducing general layouts to as few, as cache-friendly
 * dims as possible before a generated kernel walks them.
 */
import { coalesce } from '../../layout.js';

export function numelOf(shape: readonly number[]): number {
  let n = 1;
  for (let i = 0; i < shape.length; i++) n *= shape[i];
  return n;
}

/** Row-major contiguous (size-1 dims may have any stride). */
export function isContig(shape: readonly number[], strides: readonly number[]): boolean {
  let expected = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    const s = shape[i];
    if (s === 1) continue;
    if (strides[i] !== expected) return false;
    expected *= s;
  }
  return true;
}

/** Every element is the same storage element (all strides of non-size-1 dims are 0). */
export function isScalarLike(shape: readonly number[], strides: readonly number[]): boolean {
  for (let i = 0; i < shape.length; i++) if (shape[i] !== 1 && strides[i] !== 0) return false;
  return true;
}

export interface Plan {
  /** Dims after reordering and coalescing, outermost first (never empty; [1] for one element). */
  shape: number[];
  /** Per operand (same order as given), strides matching `shape`. */
  strides: number[][];
}

/**
 * Reorders dims so that the innermost has the smallest strides (judged by the first operand,
 * usually the output, then the others where it is ambiguous), then merges dims that are
 * jointly contiguous in every operand. Writing `out` in memory order is what matters most
 * for cache behaviour, which is why operand 0 decides first.
 */
export function planLoops(shape: readonly number[], stridesList: (readonly number[])[]): Plan {
  const perm: number[] = [];
  for (let d = 0; d < shape.length; d++) if (shape[d] !== 1) perm.push(d);
  // stable insertion sort: move a dim inward past another while its strides are smaller
  for (let i = 1; i < perm.length; i++) {
    for (let j = i; j > 0 && shouldBeInner(stridesList, perm[j - 1], perm[j]); j--) {
      const t = perm[j - 1];
      perm[j - 1] = perm[j];
      perm[j] = t;
    }
  }
  const pshape = perm.map((d) => shape[d]);
  const pstrides = stridesList.map((st) => perm.map((d) => st[d]));
  const c = coalesce(pshape, pstrides);
  if (c.shape.length === 0) return { shape: [1], strides: stridesList.map(() => [0]) };
  return c;
}

/** Whether dim `outer` (currently outside `inner`) should move inside it. */
function shouldBeInner(stridesList: (readonly number[])[], outer: number, inner: number): boolean {
  for (const st of stridesList) {
    const a = st[outer], b = st[inner];
    if (a === 0 || b === 0 || a === b) continue; // broadcast dims carry no order information
    return a < b;
  }
  return false;
}

/** Calls f(xOffset, outOffset) for every index of the given dims (odometer, last dim fastest). */
export function forEachIndex(size: number[], xs: number[], os: number[], x0: number, o0: number, f: (xo: number, oo: number) => void): void {
  const nd = size.length;
  const total = numelOf(size);
  const idx = new Array<number>(nd).fill(0);
  let xo = x0, oo = o0;
  for (let q = 0; q < total; q++) {
    f(xo, oo);
    for (let d = nd - 1; d >= 0; d--) {
      xo += xs[d];
      oo += os[d];
      if (++idx[d] < size[d]) break;
      idx[d] = 0;
      xo -= xs[d] * size[d];
      oo -= os[d] * size[d];
    }
  }
}

/** forEachIndex for three operands: f(offset0, offset1, offset2) at every index of `size`. */
export function forEachIndex3(size: readonly number[], s0: readonly number[], s1: readonly number[], s2: readonly number[],
  b0: number, b1: number, b2: number, f: (o0: number, o1: number, o2: number) => void): void {
  const nd = size.length;
  const total = numelOf(size);
  const idx = new Array<number>(nd).fill(0);
  for (let q = 0; q < total; q++) {
    f(b0, b1, b2);
    for (let d = nd - 1; d >= 0; d--) {
      b0 += s0[d];
      b1 += s1[d];
      b2 += s2[d];
      if (++idx[d] < size[d]) break;
      idx[d] = 0;
      b0 -= s0[d] * size[d];
      b1 -= s1[d] * size[d];
      b2 -= s2[d] * size[d];
    }
  }
}
