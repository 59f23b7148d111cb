/** gather, scatter (set and accumulate) and stable sort for the cpu device. */
import type { View } from '../backend.js';
import type { DType, HostArray } from '../../dtype.js';
import { IndexError } from '../../errors.js';
import { forEachIndex3, numelOf } from './strided.js';

function badIndex(op: string, v: number, dim: number, size: number): IndexError {
  const range = size > 0 ? `valid indices are 0..${size - 1}` : 'the dim is empty, so no index is valid';
  return new IndexError(op, `index ${v} is out of bounds for dim ${dim} with size ${size} (${range})`);
}

/** Strides of `v` with `dim`'s stride zeroed: the offset of every index except along dim. */
function withoutDim(strides: readonly number[], dim: number): number[] {
  const s = strides.slice();
  s[dim] = 0;
  return s;
}

/** Splits a shape into (outer dims, innermost dim) for an odometer plus a tight inner loop. */
function splitLast(shape: readonly number[]): { outer: number[]; n: number } {
  return shape.length === 0 ? { outer: [], n: 1 } : { outer: shape.slice(0, -1), n: shape[shape.length - 1] };
}
const lastOf = (s: readonly number[]) => (s.length === 0 ? 0 : s[s.length - 1]);
const outerOf = (s: readonly number[]) => s.slice(0, -1);

/** Converts a number to what dtype d stores, for the few generic loops that write any dtype. */
function storeFn(d: DType): (v: number) => number {
  if (d === 'bool') return (v) => (v !== 0 ? 1 : 0);
  if (d === 'int64') return (v) => (v - v === 0 ? Math.trunc(v) + 0 : 0);
  return (v) => v;
}

export function gather(x: View, dim: number, index: View, out: View): void {
  if (numelOf(index.shape) === 0) return;
  const xa = x.handle as HostArray, ia = index.handle as HostArray, oa = out.handle as HostArray;
  const size = x.shape.length ? x.shape[dim] : 1, xd = x.shape.length ? x.strides[dim] : 0; // 0-d: index must be 0
  const xs = withoutDim(x.strides, dim);
  const { outer, n } = splitLast(index.shape);
  const sx = lastOf(xs), si = lastOf(index.strides), so = lastOf(out.strides);
  forEachIndex3(outer, outerOf(xs), outerOf(index.strides), outerOf(out.strides), x.offset, index.offset, out.offset,
    (xo, io, oo) => {
      for (let j = 0; j < n; j++, xo += sx, io += si, oo += so) {
        const v = ia[io];
        if (!(v >= 0 && v < size && Math.floor(v) === v)) throw badIndex('gather', v, dim, size);
        oa[oo] = xa[xo + v * xd];
      }
    });
}

/**
 * torch.scatter_ / scatter_add_. Every index is validated before anything is written, so an
 * out-of-range index leaves `out` untouched. With duplicate indices and accumulate=false the
 * last one (in row-major order of index) wins.
 */
export function scatter(out: View, dim: number, index: View, src: View, accumulate: boolean): void {
  if (numelOf(index.shape) === 0) return;
  const op = accumulate ? 'scatter_add' : 'scatter';
  const oa = out.handle as HostArray, ia = index.handle as HostArray, sa = src.handle as HostArray;
  const size = out.shape.length ? out.shape[dim] : 1, od = out.shape.length ? out.strides[dim] : 0;
  const os = withoutDim(out.strides, dim);
  const { outer, n } = splitLast(index.shape);
  const si = lastOf(index.strides);
  forEachIndex3(outer, outerOf(index.strides), outerOf(index.strides), outerOf(index.strides), index.offset, 0, 0, (io) => {
    for (let j = 0; j < n; j++, io += si) {
      const v = ia[io];
      if (!(v >= 0 && v < size && Math.floor(v) === v)) throw badIndex(op, v, dim, size);
    }
  });
  const sos = lastOf(os), sss = lastOf(src.strides);
  const store = storeFn(out.dtype);
  forEachIndex3(outer, outerOf(os), outerOf(index.strides), outerOf(src.strides), out.offset, index.offset, src.offset,
    (oo, io, so) => {
      if (accumulate) {
        for (let j = 0; j < n; j++, oo += sos, io += si, so += sss) {
          const p = oo + ia[io] * od;
          oa[p] = store(oa[p] + sa[so]);
        }
      } else {
        for (let j = 0; j < n; j++, oo += sos, io += si, so += sss) oa[oo + ia[io] * od] = sa[so];
      }
    });
}

/**
 * Stable sort of every line along dim. NaNs sort as the largest values (last ascending, first
 * descending, in their original order) and -0 ties with 0, as in PyTorch.
 *
 * Lines of RADIX_MIN or more elements are LSD radix sorted on order-preserving unsigned keys
 * (32-bit for float32/int32/uint8/bool, 64-bit for float64/int64), which is stable by
 * construction and about 3x faster than a comparison sort in JS. Shorter lines use a merge sort.
 */
export function sort(x: View, dim: number, descending: boolean, values: View, indices: View): void {
  if (numelOf(x.shape) === 0) return;
  const nd = x.shape.length;
  const d = nd === 0 ? -1 : dim;
  const L = d < 0 ? 1 : x.shape[d];
  const xa = x.handle as HostArray, va = values.handle as HostArray, ia = indices.handle as HostArray;
  const sx = d < 0 ? 0 : x.strides[d], sv = d < 0 ? 0 : values.strides[d], si = d < 0 ? 0 : indices.strides[d];
  const others = x.shape.map((_, i) => i).filter((i) => i !== d);
  const pick = (st: readonly number[]) => others.map((i) => st[i]);
  const perm = new Int32Array(L), tmp = new Int32Array(L);
  const radix = L >= RADIX_MIN ? new RadixKeys(x.dtype, L) : null;
  const keys = radix ? null : new Float64Array(L);
  forEachIndex3(others.map((i) => x.shape[i]), pick(x.strides), pick(values.strides), pick(indices.strides),
    x.offset, values.offset, indices.offset, (xo, vo, io) => {
      if (radix) {
        radix.load(xa, xo, sx, descending);
        radix.sort(perm, tmp);
      } else {
        for (let k = 0, p = xo; k < L; k++, p += sx) keys![k] = xa[p];
        sortLine(keys!, perm, tmp, L, descending);
      }
      for (let k = 0, p = vo, q = io; k < L; k++, p += sv, q += si) {
        const j = perm[k];
        va[p] = xa[xo + j * sx];
        ia[q] = j;
      }
    });
}

const RADIX_MIN = 128;

/**
 * Order-preserving unsigned keys for one line and their radix sort. IEEE floats map to keys by
 * flipping all bits of negatives and the sign bit of positives; NaN maps to the largest key;
 * descending order complements the keys (so ties still keep their original order).
 */
class RadixKeys {
  private readonly lo: Uint32Array;
  private readonly hi: Uint32Array | null;
  private readonly f32: Float32Array | null = null;
  private readonly f64: Float64Array | null = null;
  private readonly bits: Uint32Array | null = null;
  private readonly hist = new Int32Array(8 * 256);
  private readonly kind: 'f32' | 'f64' | 'i32' | 'u8';

  constructor(dtype: DType, private readonly n: number) {
    this.kind = dtype === 'float32' ? 'f32' : dtype === 'float64' || dtype === 'int64' ? 'f64' : dtype === 'int32' ? 'i32' : 'u8';
    if (this.kind === 'f32') {
      this.f32 = new Float32Array(n);
      this.bits = new Uint32Array(this.f32.buffer);
    } else if (this.kind === 'f64') {
      this.f64 = new Float64Array(n);
      this.bits = new Uint32Array(this.f64.buffer);
    }
    this.lo = this.kind === 'f64' ? new Uint32Array(n) : this.bits ?? new Uint32Array(n);
    this.hi = this.kind === 'f64' ? new Uint32Array(n) : null;
  }

  /** Computes the keys of the line xa[xo + k*sx], k < n. */
  load(xa: HostArray, xo: number, sx: number, desc: boolean): void {
    const n = this.n, lo = this.lo, flip = desc ? 0xffffffff : 0;
    if (this.kind === 'f32') {
      const f = this.f32!;
      for (let k = 0, p = xo; k < n; k++, p += sx) { const v = xa[p]; f[k] = v === 0 ? 0 : v; }
      for (let k = 0; k < n; k++) {
        const u = lo[k];
        const key = f[k] !== f[k] ? 0xffffffff : u & 0x80000000 ? ~u : u | 0x80000000;
        lo[k] = key ^ flip;
      }
    } else if (this.kind === 'f64') {
      const f = this.f64!, b = this.bits!, hi = this.hi!;
      for (let k = 0, p = xo; k < n; k++, p += sx) { const v = xa[p]; f[k] = v === 0 ? 0 : v; }
      for (let k = 0; k < n; k++) {
        let l = b[2 * k], h = b[2 * k + 1];
        if (f[k] !== f[k]) { l = 0xffffffff; h = 0xffffffff; } else if (h & 0x80000000) { l = ~l; h = ~h; } else h |= 0x80000000;
        lo[k] = l ^ flip;
        hi[k] = h ^ flip;
      }
    } else if (this.kind === 'i32') {
      for (let k = 0, p = xo; k < n; k++, p += sx) lo[k] = (xa[p] ^ 0x80000000) ^ flip;
    } else {
      for (let k = 0, p = xo; k < n; k++, p += sx) lo[k] = xa[p] ^ flip;
    }
  }

  /** perm = the stable order of the loaded keys (8-bit digits, least significant first). */
  sort(perm: Int32Array, tmp: Int32Array): void {
    const n = this.n, hist = this.hist, lo = this.lo, hi = this.hi;
    const passes = hi ? 8 : 4;
    hist.fill(0, 0, passes * 256);
    for (let i = 0; i < n; i++) {
      const a = lo[i];
      hist[a & 255]++; hist[256 + ((a >>> 8) & 255)]++; hist[512 + ((a >>> 16) & 255)]++; hist[768 + (a >>> 24)]++;
    }
    if (hi) {
      for (let i = 0; i < n; i++) {
        const a = hi[i];
        hist[1024 + (a & 255)]++; hist[1280 + ((a >>> 8) & 255)]++; hist[1536 + ((a >>> 16) & 255)]++; hist[1792 + (a >>> 24)]++;
      }
    }
    for (let i = 0; i < n; i++) perm[i] = i;
    let src = perm, dst = tmp;
    for (let p = 0; p < passes; p++) {
      const words = p < 4 ? lo : hi!, shift = (p & 3) * 8, h = p * 256;
      if (hist[h + ((words[0] >>> shift) & 255)] === n) continue; // one digit value: nothing moves
      for (let dgt = 0, sum = 0; dgt < 256; dgt++) { const c = hist[h + dgt]; hist[h + dgt] = sum; sum += c; }
      for (let i = 0; i < n; i++) { const e = src[i]; dst[hist[h + ((words[e] >>> shift) & 255)]++] = e; }
      const t = src; src = dst; dst = t;
    }
    if (src !== perm) perm.set(src);
  }
}

/** Fills perm with the stable sorting permutation of keys[0..n). */
function sortLine(keys: Float64Array, perm: Int32Array, tmp: Int32Array, n: number, desc: boolean): void {
  // stable NaN partition: non-NaN positions first (ascending) or last (descending)
  let m = 0, nanCount = 0;
  for (let i = 0; i < n; i++) if (keys[i] !== keys[i]) nanCount++;
  const numStart = desc ? nanCount : 0;
  let nanPos = desc ? 0 : n - nanCount;
  for (let i = 0; i < n; i++) {
    if (keys[i] !== keys[i]) perm[nanPos++] = i;
    else perm[numStart + m++] = i;
  }
  if (m > 1) mergeSort(keys, perm, tmp, numStart, numStart + m, desc);
}

const RUN = 16;

/** Bottom-up merge sort of perm[lo..hi) by keys (no NaNs there), insertion-sorting short runs first. */
function mergeSort(keys: Float64Array, perm: Int32Array, tmp: Int32Array, lo: number, hi: number, desc: boolean): void {
  for (let s = lo; s < hi; s += RUN) {
    const e = Math.min(s + RUN, hi);
    for (let i = s + 1; i < e; i++) {
      const pi = perm[i], k = keys[pi];
      let j = i - 1;
      // move strictly-after elements right; equal keys stay put (stability)
      if (desc) while (j >= s && keys[perm[j]] < k) { perm[j + 1] = perm[j]; j--; }
      else while (j >= s && keys[perm[j]] > k) { perm[j + 1] = perm[j]; j--; }
      perm[j + 1] = pi;
    }
  }
  let src = perm, dst = tmp;
  for (let w = RUN; w < hi - lo; w *= 2) {
    for (let s = lo; s < hi; s += 2 * w) {
      const mid = Math.min(s + w, hi), e = Math.min(s + 2 * w, hi);
      let i = s, j = mid, o = s;
      // take from the right run only when it is strictly before the left one (stability)
      if (desc) {
        while (i < mid && j < e) dst[o++] = keys[src[j]] > keys[src[i]] ? src[j++] : src[i++];
      } else {
        while (i < mid && j < e) dst[o++] = keys[src[j]] < keys[src[i]] ? src[j++] : src[i++];
      }
      while (i < mid) dst[o++] = src[i++];
      while (j < e) dst[o++] = src[j++];
    }
    const t = src; src = dst; dst = t;
  }
  if (src !== perm) perm.set(src.subarray(lo, hi), lo);
}
