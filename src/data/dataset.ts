/**
 * torch.utils.data datasets: the abstract Dataset (`length`, `getItem(i)`), TensorDataset,
 * Subset, ConcatDataset and randomSplit.
 *
 * Any object with `length` and `getItem(i)` works as a dataset (DataLoader, Subset and
 * randomSplit take `DatasetLike`). A dataset may also implement `getBatch(indices)`, returning
 * what the default collate would make of those items; DataLoader then builds each batch with it
 * (TensorDataset does: one indexSelect per tensor instead of stacking items one by one).
 */
import { Tensor } from '../tensor.js';
import { fromBuffer } from '../ops/creation.js';
import { randomInt as globalRandomInt } from '../ops/random.js';
import { TorchError, IndexError, ShapeError } from '../errors.js';
import { allocHost, hostArrayCtor } from '../dtype.js';

/** What DataLoader, Subset and randomSplit need from a dataset. */
export interface DatasetLike<T = unknown> {
  readonly length: number;
  getItem(index: number): T;
  /** Optional fast path: the collated batch of these items (as the default collate would build it). */
  getBatch?(indices: readonly number[]): unknown;
}

/** Base class of map-style datasets: implement `length` and `getItem(i)`. */
export abstract class Dataset<T = unknown> implements DatasetLike<T> {
  abstract get length(): number;
  abstract getItem(index: number): T;
  /** Iterates over the items in order. */
  *[Symbol.iterator](): Iterator<T> {
    const n = this.length;
    for (let i = 0; i < n; i++) yield this.getItem(i);
  }
  /** `a.concat(b)`: PyTorch's `a + b` (a ConcatDataset). */
  concat<U>(other: DatasetLike<U>): ConcatDataset<T | U> { return new ConcatDataset<T | U>([this, other]); }
}

/** Normalises i (negative counts from the end) and checks it against n. */
export function checkIndex(op: string, i: number, n: number): number {
  if (typeof i !== 'number' || !Number.isInteger(i)) throw new IndexError(op, `dataset indices must be integers, got ${String(i)}`);
  if (i < -n || i >= n) throw new IndexError(op, `index ${i} is out of range for a dataset of ${n} items`);
  return i < 0 ? i + n : i;
}

/** An int64 index tensor on a device (no copy on cpu). */
function indexTensor(indices: readonly number[], device: string): Tensor {
  return fromBuffer(Float64Array.from(indices), [indices.length], { dtype: 'int64', device });
}
type HostTyped = ReturnType<typeof allocHost>;
/** Rows idx of a contiguous cpu tensor, copied from its host array (null when t is not such a tensor). */
function hostRows(t: Tensor, idx: readonly number[], run: boolean): Tensor | null {
  if (t._backend.type !== 'cpu' || !t.isContiguous() || t.isDisposed) return null;
  const h = t._storage.handle as HostTyped;
  if (!(h instanceof hostArrayCtor(t.dtype))) return null;
  const row = t.shape.length > 1 ? t.numel() / t.shape[0] : 1;
  const base = t._offset, b = idx.length;
  let out: HostTyped;
  if (run) out = h.slice(base + idx[0] * row, base + (idx[0] + b) * row);
  else {
    out = allocHost(t.dtype, b * row) as HostTyped;
    if (row === 1) for (let i = 0; i < b; i++) out[i] = h[base + idx[i]];
    else for (let i = 0; i < b; i++) { const s = base + idx[i] * row; out.set(h.subarray(s, s + row), i * row); }
  }
  return fromBuffer(out as unknown as ArrayBufferView, [b, ...t.shape.slice(1)], { dtype: t.dtype, device: 'cpu' });
}

/** Whether indices are start, start+1, ... (sequential batches take one slice). */
function isRun(indices: readonly number[]): boolean {
  for (let i = 1; i < indices.length; i++) if (indices[i] !== indices[0] + i) return false;
  return true;
}

/**
 * Rows of tensors that share their first dimension: item i is `[t0[i], t1[i], ...]`.
 * `new TensorDataset(images, labels)`.
 */
export class TensorDataset extends Dataset<Tensor[]> {
  readonly tensors: Tensor[];
  constructor(...tensors: Tensor[]) {
    super();
    if (tensors.length === 0) throw new TorchError('TensorDataset', 'expected at least one tensor');
    for (const t of tensors) {
      if (!(t instanceof Tensor)) throw new TorchError('TensorDataset', `expected Tensors, got ${t === null ? 'null' : typeof t}`);
      if (t.ndim === 0) throw new ShapeError('TensorDataset', 'tensors must have at least one dimension (the one indexed by items)');
    }
    const n = tensors[0].shape[0];
    if (tensors.some((t) => t.shape[0] !== n))
      throw new ShapeError('TensorDataset', `Size mismatch between tensors: first dimensions are ${tensors.map((t) => t.shape[0]).join(', ')}`);
    this.tensors = tensors;
  }
  get length(): number { return this.tensors[0].shape[0]; }
  getItem(index: number): Tensor[] {
    const i = checkIndex('TensorDataset.getItem', index, this.length);
    return this.tensors.map((t) => t.select(0, i));
  }
  /**
   * The batch of these rows, one new tensor per dataset tensor: contiguous cpu tensors copy whole
   * rows straight from their storage; others take one slice copy (a run of indices) or one
   * indexSelect.
   */
  getBatch(indices: readonly number[]): Tensor[] {
    const n = this.length;
    const idx = indices.map((i) => checkIndex('TensorDataset.getBatch', i, n));
    const run = idx.length > 0 && isRun(idx);
    const byDevice = new Map<string, Tensor>();
    return this.tensors.map((t) => {
      const fast = hostRows(t, idx, run);
      if (fast) return fast;
      if (run) return t.narrow(0, idx[0], idx.length).clone();
      let it = byDevice.get(t.device);
      if (!it) { it = indexTensor(idx, t.device); byDevice.set(t.device, it); }
      return t.indexSelect(0, it);
    });
  }
}

/** The items of a dataset at the given indices, in that order. */
export class Subset<T = unknown> extends Dataset<T> {
  readonly dataset: DatasetLike<T>;
  readonly indices: number[];
  constructor(dataset: DatasetLike<T>, indices: Iterable<number>) {
    super();
    checkDataset('Subset', dataset);
    this.dataset = dataset;
    this.indices = [...indices];
    const n = dataset.length;
    for (const i of this.indices) checkIndex('Subset', i, n);
  }
  get length(): number { return this.indices.length; }
  getItem(index: number): T {
    return this.dataset.getItem(this.indices[checkIndex('Subset.getItem', index, this.indices.length)]);
  }
  /** Present when the underlying dataset has a batch fast path. */
  get getBatch(): ((indices: readonly number[]) => unknown) | undefined {
    const inner = this.dataset;
    if (typeof inner.getBatch !== 'function') return undefined;
    return (indices: readonly number[]) => inner.getBatch!(indices.map((i) => this.indices[checkIndex('Subset.getBatch', i, this.indices.length)]));
  }
}

/** Datasets one after another. */
export class ConcatDataset<T = unknown> extends Dataset<T> {
  readonly datasets: DatasetLike<T>[];
  readonly cumulativeSizes: number[];
  constructor(datasets: Iterable<DatasetLike<T>>) {
    super();
    this.datasets = [...datasets];
    if (this.datasets.length === 0) throw new TorchError('ConcatDataset', 'datasets should not be an empty iterable');
    let total = 0;
    this.cumulativeSizes = this.datasets.map((d) => { checkDataset('ConcatDataset', d); total += d.length; return total; });
  }
  get length(): number { return this.cumulativeSizes[this.cumulativeSizes.length - 1]; }
  getItem(index: number): T {
    const i = checkIndex('ConcatDataset.getItem', index, this.length);
    let lo = 0, hi = this.cumulativeSizes.length - 1;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (this.cumulativeSizes[mid] > i) hi = mid; else lo = mid + 1; }
    return this.datasets[lo].getItem(lo === 0 ? i : i - this.cumulativeSizes[lo - 1]);
  }
}

export function checkDataset(op: string, d: unknown): asserts d is DatasetLike {
  if (!d || typeof d !== 'object' || typeof (d as DatasetLike).getItem !== 'function' || typeof (d as DatasetLike).length !== 'number')
    throw new TorchError(op, 'expected a dataset (an object with `length` and `getItem(i)`)');
}

// ------------------------------------------------------------------------------ randomness

/** Where shuffles draw from: torchlet's global generator (torch.manualSeed) by default. */
export interface RandomSource { randomInt(n: number): number }

/** A small seeded generator for reproducible splits/shuffles independent of the global one. */
export class SeededRandom implements RandomSource {
  private s0: number; private s1: number; private s2: number; private s3: number;
  constructor(seed: number) {
    let z = (seed >>> 0) ^ Math.imul(Math.floor(seed / 2 ** 32), 0x9e3779b1);
    const next = () => {
      z = (z + 0x6d2b79f5) >>> 0;
      let r = Math.imul(z ^ (z >>> 15), z | 1);
      r ^= r + Math.imul(r ^ (r >>> 7), r | 61);
      return (r ^ (r >>> 14)) >>> 0;
    };
    this.s0 = next(); this.s1 = next(); this.s2 = next(); this.s3 = next();
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }
  private nextU32(): number {
    // xoshiro128+ step
    const result = (this.s0 + this.s3) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0; this.s3 ^= this.s1; this.s1 ^= this.s2; this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = (this.s3 << 11) | (this.s3 >>> 21);
    return result;
  }
  randomInt(n: number): number {
    const u = ((this.nextU32() >>> 5) * 67108864 + (this.nextU32() >>> 6)) / 9007199254740992;
    return Math.floor(u * n);
  }
}

export const globalRandom: RandomSource = { randomInt: globalRandomInt };

/** A generator argument: a RandomSource, a seed number, `{ seed }`, or undefined (the global generator). */
export type GeneratorArg = RandomSource | number | { seed: number } | undefined;
export function toRandomSource(op: string, g: GeneratorArg): RandomSource {
  if (g === undefined || g === null) return globalRandom;
  if (typeof g === 'number') return new SeededRandom(g);
  if (typeof (g as RandomSource).randomInt === 'function') return g as RandomSource;
  if (typeof (g as { seed: number }).seed === 'number') return new SeededRandom((g as { seed: number }).seed);
  throw new TorchError(op, 'generator must be a seed number, { seed }, or an object with randomInt(n)');
}

/** A random permutation of 0..n-1 (Fisher-Yates). */
export function permutation(n: number, rng: RandomSource = globalRandom): number[] {
  const p = new Array<number>(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = rng.randomInt(i + 1);
    const tmp = p[i]; p[i] = p[j]; p[j] = tmp;
  }
  return p;
}

/**
 * Splits a dataset into non-overlapping random Subsets of the given lengths, or of the given
 * fractions (summing to 1; the rounding remainder is dealt round-robin, as PyTorch).
 * Reproducible after `torch.manualSeed(s)`, or pass a seed: `randomSplit(ds, [0.8, 0.2], 42)`.
 */
export function randomSplit<T>(dataset: DatasetLike<T>, lengths: readonly number[], generator?: GeneratorArg): Subset<T>[] {
  const op = 'randomSplit';
  checkDataset(op, dataset);
  if (!Array.isArray(lengths) || lengths.length === 0 || lengths.some((l) => typeof l !== 'number' || !Number.isFinite(l)))
    throw new TorchError(op, 'lengths must be a non-empty array of numbers (sizes, or fractions summing to 1)');
  const n = dataset.length;
  let sizes = [...lengths];
  const total = sizes.reduce((a, b) => a + b, 0);
  if (Math.abs(total - 1) <= 1e-9 && total <= 1) {
    sizes = lengths.map((frac, i) => {
      if (frac < 0 || frac > 1) throw new TorchError(op, `Fraction at index ${i} is not between 0 and 1: ${frac}`);
      return Math.floor(n * frac);
    });
    const remainder = n - sizes.reduce((a, b) => a + b, 0);
    for (let i = 0; i < remainder; i++) sizes[i % sizes.length] += 1;
    sizes.forEach((s, i) => { if (s === 0) process.emitWarning(`randomSplit: length of split at index ${i} is 0; this might result in an empty dataset`); });
  }
  if (sizes.some((s) => !Number.isInteger(s) || s < 0)) throw new TorchError(op, `lengths must be non-negative integers (or fractions summing to 1), got [${lengths.join(', ')}]`);
  const sum = sizes.reduce((a, b) => a + b, 0);
  if (sum !== n) throw new TorchError(op, `Sum of input lengths (${sum}) does not equal the length of the input dataset (${n})`);
  const perm = permutation(n, toRandomSource(op, generator));
  const out: Subset<T>[] = [];
  let offset = 0;
  for (const s of sizes) { out.push(new Subset(dataset, perm.slice(offset, offset + s))); offset += s; }
  return out;
}
