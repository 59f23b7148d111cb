/**
 * Reductions (sum/prod/max/min/argmax/argmin over any dims) and cumsum.
 *
 * The input's dims are split into kept and reduced groups, each coalesced on its own. Then:
 * - inner mode (the reduced dims hold the smallest stride, e.g. sum over the last dim): every
 *   output element reduces its rows with a generated row kernel; float sums of long rows are
 *   pairwise, with four interleaved accumulators in the leaves, so long float sums stay accurate;
 * - outer mode (a kept dim is innermost in memory, e.g. sum over dim 0 of a matrix): a block
 *   of accumulators for that kept dim is updated slice by slice, so memory is read in order.
 * Everything accumulates in doubles; values are converted to out.dtype once, on store.
 */
import type { View, ReduceOp } from '../backend.js';
import { toStored, type DType, type HostArray } from '../../dtype.js';
import { IndexError } from '../../errors.js';
import { compile, kernelName, loadSrc, storeSrc, type Kernel } from './codegen.js';
import { forEachIndex, numelOf } from './strided.js';
import { fillView } from './copy.js';

const IDENTITY: Record<ReduceOp, number> = { sum: 0, prod: 1, max: -Infinity, min: Infinity, argmax: -Infinity, argmin: Infinity };

/** Pairwise leaves are this long: short enough to keep rounding error tiny, long enough to be fast. */
const LEAF = 2048;

/**
 * Row kernel: reduces n elements a[off], a[off + s], ... and returns the value (or, for
 * argmax/argmin, the position of the first max/min, NaN counting as both).
 */
function rowKernel(op: ReduceOp, dt: DType): Kernel {
  const ld = (i: string) => loadSrc(dt, 'a', i);
  const key = `red-row:${op}:${dt}`;
  switch (op) {
    case 'sum':
      return compile(key, ['a', 'off', 'n', 's'], `
if (n > ${LEAF}) {
  const h = Math.ceil(n / ${2 * LEAF}) * ${LEAF};
  return self(a, off, h, s) + self(a, off + h * s, n - h, s);
}
let s0 = 0, s1 = 0, s2 = 0, s3 = 0, p = off, i = 0;
if (s === 1) {
  for (; i + 3 < n; i += 4, p += 4) { s0 += ${ld('p')}; s1 += ${ld('p + 1')}; s2 += ${ld('p + 2')}; s3 += ${ld('p + 3')}; }
  for (; i < n; i++, p++) s0 += ${ld('p')};
} else {
  for (; i + 3 < n; i += 4, p += 4 * s) { s0 += ${ld('p')}; s1 += ${ld('p + s')}; s2 += ${ld('p + 2 * s')}; s3 += ${ld('p + 3 * s')}; }
  for (; i < n; i++, p += s) s0 += ${ld('p')};
}
return (s0 + s1) + (s2 + s3);`.replace(/self\(/g, kernelName(key) + '('));
    case 'prod':
      return compile(key, ['a', 'off', 'n', 's'], `
let r = 1;
for (let i = 0, p = off; i < n; i++, p += s) r *= ${ld('p')};
return r;`);
    case 'max': case 'min': {
      const better = op === 'max' ? '>' : '<';
      return compile(key, ['a', 'off', 'n', 's'], `
let r = ${IDENTITY[op]};
for (let i = 0, p = off; i < n; i++, p += s) {
  const v = ${ld('p')};
  if (v ${better} r) r = v;
  else if (v !== v) return v;
}
return r;`);
    }
    case 'argmax': case 'argmin': {
      const better = op === 'argmax' ? '>' : '<';
      return compile(key, ['a', 'off', 'n', 's'], `
let r = ${ld('off')}, ri = 0;
if (r !== r) return 0;
for (let i = 1, p = off + s; i < n; i++, p += s) {
  const v = ${ld('p')};
  if (v ${better} r) { r = v; ri = i; }
  else if (v !== v) return i;
}
return ri;`);
    }
  }
}

/**
 * Rows kernel: out[oo + r*os] = row(a, ao + r*as, n, s) for r < m (the common "reduce the
 * last dim(s) of a contiguous tensor" case, with the output store monomorphic too).
 */
function rowsKernel(op: ReduceOp, dt: DType, odt: DType): Kernel {
  const row = rowKernel(op, dt);
  const key = `red-rows:${op}:${dt}:${odt}`;
  const k = compile(key, ['row', 'o', 'oo', 'os', 'a', 'ao', 'as', 'm', 'n', 's'], `
for (let r = 0; r < m; r++) { const v = row(a, ao + r * as, n, s); o[oo + r * os] = ${storeSrc(odt, 'v', false)}; }`);
  return (o, oo, os, a, ao, as, m, n, s) => k(row, o, oo, os, a, ao, as, m, n, s);
}

/**
 * Column kernel: acc[j] = combine(acc[j], a[off + j*s]) for j < n (outer mode); for argmax/argmin
 * `idx` holds the best positions and `r` is the current position along the reduced dim.
 */
function colKernel(op: ReduceOp, dt: DType): Kernel {
  const key = `red-col:${op}:${dt}`;
  const ld = loadSrc(dt, 'a', 'p');
  const upd: Record<ReduceOp, string> = {
    sum: `acc[j] += ${ld};`,
    prod: `acc[j] *= ${ld};`,
    max: `const v = ${ld}; if (v > acc[j] || v !== v) acc[j] = v;`,
    min: `const v = ${ld}; if (v < acc[j] || v !== v) acc[j] = v;`,
    argmax: `const v = ${ld}, c = acc[j]; if (v > c || (v !== v && c === c)) { acc[j] = v; idx[j] = r; }`,
    argmin: `const v = ${ld}, c = acc[j]; if (v < c || (v !== v && c === c)) { acc[j] = v; idx[j] = r; }`,
  };
  return compile(key, ['acc', 'idx', 'r', 'a', 'off', 'n', 's'], `
for (let j = 0, p = off; j < n; j++, p += s) { ${upd[op]} }`);
}

const rowCache = new Map<string, Kernel>();
const rowsCache = new Map<string, Kernel>();
const colCache = new Map<string, Kernel>();
function cached(cache: Map<string, Kernel>, key: string, make: () => Kernel): Kernel {
  let k = cache.get(key);
  if (!k) cache.set(key, (k = make()));
  return k;
}

interface Group { size: number[]; xs: number[]; os: number[] }

/** Merges adjacent dims of a group whose strides (in x and, for kept dims, out) line up. */
function coalesceGroup(g: Group, withOut: boolean): Group {
  const r: Group = { size: [], xs: [], os: [] };
  for (let i = 0; i < g.size.length; i++) {
    if (g.size[i] === 1) continue;
    const L = r.size.length - 1;
    if (L >= 0 && r.xs[L] === g.xs[i] * g.size[i] && (!withOut || r.os[L] === g.os[i] * g.size[i])) {
      r.size[L] *= g.size[i];
      r.xs[L] = g.xs[i];
      r.os[L] = g.os[i];
    } else {
      r.size.push(g.size[i]);
      r.xs.push(g.xs[i]);
      r.os.push(g.os[i]);
    }
  }
  return r;
}

function combine(op: ReduceOp, acc: number, v: number): number {
  switch (op) {
    case 'sum': return acc + v;
    case 'prod': return acc * v;
    case 'max': return acc !== acc ? acc : v > acc || v !== v ? v : acc;
    default: return acc !== acc ? acc : v < acc || v !== v ? v : acc;
  }
}

/** Outer mode switches on once the innermost kept dim is at least this long. */
const MIN_OUTER_COLS = 16;

export function reduce(op: ReduceOp, x: View, dims: readonly number[], out: View): void {
  const isArg = op === 'argmax' || op === 'argmin';
  const nd = x.shape.length;
  const red = new Array<boolean>(nd).fill(false);
  for (const d of dims) red[d] = true;
  const kept: Group = { size: [], xs: [], os: [] }, rd: Group = { size: [], xs: [], os: [] };
  let od = 0;
  for (let d = 0; d < nd; d++) {
    if (red[d]) {
      rd.size.push(x.shape[d]); rd.xs.push(x.strides[d]); rd.os.push(0);
    } else {
      kept.size.push(x.shape[d]); kept.xs.push(x.strides[d]); kept.os.push(out.strides[od++]);
    }
  }
  if (numelOf(kept.size) === 0) return;
  if (numelOf(rd.size) === 0) {
    if (isArg) throw new IndexError(op, 'cannot reduce over an empty dim (the result has no defined index)');
    fillView(out, toStored(out.dtype, IDENTITY[op]));
    return;
  }
  const K = coalesceGroup(kept, true), R = coalesceGroup(rd, false);
  if (R.size.length === 0) { R.size.push(1); R.xs.push(0); R.os.push(0); }
  // inner-most reduced dim last: sort reduced dims by stride, descending
  const rOrder = R.size.map((_, i) => i).sort((i, j) => R.xs[j] - R.xs[i]);
  const Rs: Group = { size: rOrder.map((i) => R.size[i]), xs: rOrder.map((i) => R.xs[i]), os: rOrder.map(() => 0) };

  const a = x.handle as HostArray, o = out.handle as HostArray;
  const odt: DType = out.dtype;
  const xdt = x.dtype;

  // Outer mode when some kept dim has a smaller stride than every reduced dim.
  let kIn = -1;
  for (let i = 0; i < K.size.length; i++) if (kIn < 0 || K.xs[i] < K.xs[kIn]) kIn = i;
  const minR = Math.min(...Rs.xs);
  if (kIn >= 0 && K.xs[kIn] < minR && K.size[kIn] >= MIN_OUTER_COLS) {
    reduceOuter(op, xdt, a, x.offset, o, out.offset, odt, K, kIn, Rs);
    return;
  }

  const RL = Rs.size.length - 1;
  const n = Rs.size[RL], s = Rs.xs[RL];
  if (RL === 0) {
    // one reduced dim: rows kernel over the innermost kept dim, odometer over the rest
    const rows = cached(rowsCache, `${op}:${xdt}:${odt}`, () => rowsKernel(op, xdt, odt));
    const KL = K.size.length - 1;
    if (KL < 0) { rows(o, out.offset, 0, a, x.offset, 0, 1, n, s); return; }
    const m = K.size[KL], ks = K.xs[KL], kos = K.os[KL];
    forEachIndex(K.size.slice(0, KL), K.xs.slice(0, KL), K.os.slice(0, KL), x.offset, out.offset,
      (xo, oo) => rows(o, oo, kos, a, xo, ks, m, n, s));
    return;
  }
  // several non-adjacent reduced dims (never arg ops): combine row results per output element
  const row = cached(rowCache, `${op}:${xdt}`, () => rowKernel(op, xdt));
  const outer = { size: Rs.size.slice(0, RL), xs: Rs.xs.slice(0, RL), os: Rs.os.slice(0, RL) };
  const store = storer(odt);
  forEachIndex(K.size, K.xs, K.os, x.offset, out.offset, (xo, oo) => {
    let acc = IDENTITY[op];
    forEachIndex(outer.size, outer.xs, outer.os, xo, 0, (ro) => { acc = combine(op, acc, row(a, ro, n, s)); });
    o[oo] = store(acc);
  });
}

/** Outer mode: accumulators for the innermost kept dim, updated one reduced slice at a time. */
function reduceOuter(op: ReduceOp, xdt: DType, a: HostArray, xoff: number, o: HostArray, ooff: number, odt: DType,
  K: Group, kIn: number, R: Group): void {
  const isArg = op === 'argmax' || op === 'argmin';
  const col = cached(colCache, `${op}:${xdt}`, () => colKernel(op, xdt));
  const cols = K.size[kIn], cxs = K.xs[kIn], cos = K.os[kIn];
  const rest = { size: K.size.filter((_, i) => i !== kIn), xs: K.xs.filter((_, i) => i !== kIn), os: K.os.filter((_, i) => i !== kIn) };
  const acc = new Float64Array(cols);
  const idx = isArg ? new Float64Array(cols) : acc;
  const store = storer(odt);
  forEachIndex(rest.size, rest.xs, rest.os, xoff, ooff, (xo, oo) => {
    acc.fill(IDENTITY[op]);
    if (isArg) idx.fill(0);
    let r = 0;
    forEachIndex(R.size, R.xs, R.os, xo, 0, (ro) => { col(acc, idx, r++, a, ro, cols, cxs); });
    const res = isArg ? idx : acc;
    for (let j = 0, p = oo; j < cols; j++, p += cos) o[p] = store(res[j]);
  });
}

function storer(d: DType): (v: number) => number {
  switch (d) {
    case 'int64': return (v) => (v - v === 0 ? Math.trunc(v) + 0 : 0);
    case 'bool': return (v) => (v !== 0 ? 1 : 0);
    default: return (v) => v; // typed-array stores round/wrap the rest (16-bit floats never reach compute)
  }
}

/** Inclusive prefix sum along `dim`, accumulated in doubles. */
export function cumsum(x: View, dim: number, out: View): void {
  const n = numelOf(x.shape);
  if (n === 0) return;
  const L = x.shape[dim];
  const a = x.handle as HostArray, o = out.handle as HostArray;
  const store = storer(out.dtype);
  const others = x.shape.map((_, i) => i).filter((i) => i !== dim);
  const size = others.map((i) => x.shape[i]), xs = others.map((i) => x.strides[i]), os = others.map((i) => out.strides[i]);
  const sx = x.strides[dim], so = out.strides[dim];
  // scan each line along dim when it is the innermost dim in memory; else sweep slices in order
  let minOther = Infinity;
  for (let i = 0; i < others.length; i++) if (size[i] > 1) minOther = Math.min(minOther, xs[i]);
  if (L <= 1 || sx <= minOther) {
    forEachIndex(size, xs, os, x.offset, out.offset, (xo, oo) => {
      let acc = 0;
      for (let k = 0, p = xo, q = oo; k < L; k++, p += sx, q += so) { acc += a[p]; o[q] = store(acc); }
    });
    return;
  }
  // column sweep: a running sum per line, updated one slice along dim at a time, with a tight
  // loop over the other dim that is innermost in memory
  let q = 0;
  for (let i = 1; i < others.length; i++) if (size[i] > 1 && (size[q] === 1 || xs[i] < xs[q])) q = i;
  const nq = size[q], sxq = xs[q], soq = os[q];
  const rest = (arr: number[]) => arr.filter((_, i) => i !== q);
  const acc = new Float64Array(n / L);
  for (let k = 0; k < L; k++) {
    let j = 0;
    forEachIndex(rest(size), rest(xs), rest(os), x.offset + k * sx, out.offset + k * so, (xo, oo) => {
      for (let c = 0; c < nq; c++, j++, xo += sxq, oo += soq) o[oo] = store((acc[j] += a[xo]));
    });
  }
}
