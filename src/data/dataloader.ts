/**
 * torch.utils.data.DataLoader: batches of a dataset, optionally shuffled, collated as PyTorch's
 * default_collate (tensors stacked, numbers to tensors, arrays element-wise, objects key-wise).
 *
 *   const loader = new DataLoader(new TensorDataset(x, y), { batchSize: 64, shuffle: true });
 *   for (const [xb, yb] of loader) { ... }
 *
 * When the dataset has a batch fast path (`getBatch(indices)`, e.g. TensorDataset) and no custom
 * collate is given, each batch is built by the dataset directly (one indexSelect per tensor).
 */
import { Tensor } from '../tensor.js';
import { stack } from '../ops/shape.js';
import { tensor, fromBuffer } from '../ops/creation.js';
import { TorchError } from '../errors.js';
import { checkDataset, permutation, toRandomSource, type DatasetLike, type GeneratorArg } from './dataset.js';

/** The type default collate makes of a batch of T. */
export type Collated<T> =
  T extends Tensor ? Tensor :
  T extends number | boolean | bigint ? Tensor :
  T extends string ? string[] :
  T extends ArrayBufferView ? Tensor :
  T extends readonly unknown[] ? { -readonly [K in keyof T]: Collated<T[K]> } :
  T extends object ? { [K in keyof T]: Collated<T[K]> } :
  unknown;

function isPlainObject(x: unknown): x is Record<string, unknown> {
  if (x === null || typeof x !== 'object') return false;
  const proto = Object.getPrototypeOf(x);
  return proto === Object.prototype || proto === null;
}
function describe(x: unknown): string {
  if (x === null) return 'null';
  if (typeof x !== 'object') return typeof x;
  return (x as object).constructor?.name ?? 'object';
}

/**
 * PyTorch's default_collate: tensors are stacked along a new first dimension; numbers become a
 * tensor (int64 when all are integers, else float64), booleans a bool tensor; strings stay an
 * array; arrays/tuples are collated position-wise and plain objects key-wise (recursively);
 * TypedArrays are turned into tensors and stacked.
 */
export function defaultCollate<T>(batch: readonly T[]): Collated<T> {
  return collate(batch as readonly unknown[], 'defaultCollate') as Collated<T>;
}

function collate(batch: readonly unknown[], where: string): unknown {
  if (!Array.isArray(batch) || batch.length === 0) throw new TorchError('defaultCollate', 'expected a non-empty array of samples');
  const elem = batch[0];
  if (elem instanceof Tensor) {
    for (const b of batch) if (!(b instanceof Tensor)) throw new TorchError('defaultCollate', `${where}: mixed a Tensor with ${describe(b)} in one batch`);
    return stack(batch as Tensor[], 0);
  }
  if (typeof elem === 'number' || typeof elem === 'bigint') {
    let allInt = true;
    const vals = new Float64Array(batch.length);
    batch.forEach((b, i) => {
      if (typeof b !== 'number' && typeof b !== 'bigint') throw new TorchError('defaultCollate', `${where}: mixed a number with ${describe(b)} in one batch`);
      const v = Number(b);
      if (!Number.isInteger(v)) allInt = false;
      vals[i] = v;
    });
    return fromBuffer(vals, [vals.length], { dtype: allInt ? 'int64' : 'float64' });
  }
  if (typeof elem === 'boolean') {
    for (const b of batch) if (typeof b !== 'boolean') throw new TorchError('defaultCollate', `${where}: mixed a boolean with ${describe(b)} in one batch`);
    return tensor(batch as boolean[], { dtype: 'bool' });
  }
  if (typeof elem === 'string') return [...batch];
  if (ArrayBuffer.isView(elem) && !(elem instanceof DataView)) {
    return stack(batch.map((b) => {
      if (!ArrayBuffer.isView(b) || b instanceof DataView) throw new TorchError('defaultCollate', `${where}: mixed a TypedArray with ${describe(b)} in one batch`);
      return tensor(b as unknown as ArrayLike<number>);
    }), 0);
  }
  if (Array.isArray(elem)) {
    const n = elem.length;
    for (const b of batch) {
      if (!Array.isArray(b)) throw new TorchError('defaultCollate', `${where}: mixed an array with ${describe(b)} in one batch`);
      if (b.length !== n) throw new TorchError('defaultCollate', `${where}: each element in list of batch should be of equal size (got lengths ${n} and ${b.length})`);
    }
    const out = new Array(n);
    for (let j = 0; j < n; j++) out[j] = collate(batch.map((b) => (b as unknown[])[j]), `${where}[${j}]`);
    return out;
  }
  if (isPlainObject(elem)) {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(elem)) {
      out[key] = collate(batch.map((b) => {
        if (!isPlainObject(b) || !(key in b)) throw new TorchError('defaultCollate', `${where}: key '${key}' is missing from a sample (every sample needs the same keys)`);
        return b[key];
      }), `${where}.${key}`);
    }
    return out;
  }
  throw new TorchError('defaultCollate', `${where}: batch must contain tensors, numbers, booleans, strings, TypedArrays, arrays or plain objects; found ${describe(elem)}`);
}

export interface DataLoaderOptions<T, B> {
  /** Samples per batch (default 1); null yields the items one by one, uncollated. */
  batchSize?: number | null;
  /** Reshuffle the order at the start of every epoch (every iteration), using torch.manualSeed's generator. */
  shuffle?: boolean;
  /** Drop the last batch when it is smaller than batchSize. */
  dropLast?: boolean;
  /** Turns an array of items into a batch (default: defaultCollate). */
  collate?: (items: T[]) => B;
  /** Custom index order: an array, or an iterable that starts over each time it is iterated (one pass per epoch); excludes shuffle. */
  sampler?: Iterable<number>;
  /** Where shuffles draw from: a seed, `{ seed }`, or an object with randomInt(n); default the global generator. */
  generator?: GeneratorArg;
}

/** Batches over a dataset; iterate it (each `for ... of` is one epoch). */
export class DataLoader<T = unknown, B = Collated<T>> implements Iterable<B> {
  readonly dataset: DatasetLike<T>;
  readonly batchSize: number | null;
  readonly shuffle: boolean;
  readonly dropLast: boolean;
  readonly collate: ((items: T[]) => B) | null;
  readonly sampler: Iterable<number> | null;
  private readonly rng: ReturnType<typeof toRandomSource>;

  constructor(dataset: DatasetLike<T>, opts: DataLoaderOptions<T, B> = {}) {
    const op = 'DataLoader';
    checkDataset(op, dataset);
    this.dataset = dataset;
    const bs = opts.batchSize === undefined ? 1 : opts.batchSize;
    if (bs !== null && (typeof bs !== 'number' || !Number.isInteger(bs) || bs <= 0))
      throw new TorchError(op, `batchSize should be a positive integer value, but got batchSize=${String(bs)} (or null to disable batching)`);
    this.batchSize = bs;
    this.shuffle = opts.shuffle ?? false;
    this.dropLast = opts.dropLast ?? false;
    if (typeof this.shuffle !== 'boolean') throw new TorchError(op, `shuffle should be a boolean value, but got shuffle=${String(this.shuffle)}`);
    if (typeof this.dropLast !== 'boolean') throw new TorchError(op, `dropLast should be a boolean value, but got dropLast=${String(this.dropLast)}`);
    if (bs === null && this.dropLast) throw new TorchError(op, 'batchSize=null option disables auto-batching and is mutually exclusive with dropLast');
    if (opts.collate !== undefined && typeof opts.collate !== 'function') throw new TorchError(op, 'collate must be a function (items) => batch');
    this.collate = opts.collate ?? null;
    if (opts.sampler !== undefined) {
      if (this.shuffle) throw new TorchError(op, 'sampler option is mutually exclusive with shuffle');
      if (!opts.sampler || typeof (opts.sampler as Iterable<number>)[Symbol.iterator] !== 'function') throw new TorchError(op, 'sampler must be an iterable of indices');
    }
    this.sampler = opts.sampler ?? null;
    this.rng = toRandomSource(op, opts.generator);
  }

  /** Number of batches per epoch (items when batchSize is null). */
  get length(): number {
    const sl = this.sampler ? (this.sampler as { length?: unknown }).length : undefined;
    const n = !this.sampler ? this.dataset.length : typeof sl === 'number' ? sl : [...this.sampler].length;
    if (this.batchSize === null) return n;
    return this.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }

  /** The index order of one epoch. */
  private order(): number[] {
    if (this.sampler) return [...this.sampler];
    const n = this.dataset.length;
    if (this.shuffle) return permutation(n, this.rng);
    const idx = new Array<number>(n);
    for (let i = 0; i < n; i++) idx[i] = i;
    return idx;
  }

  /** Builds the batch of these dataset indices. */
  batchOf(indices: readonly number[]): B {
    const ds = this.dataset;
    if (!this.collate && typeof ds.getBatch === 'function') return ds.getBatch(indices) as B;
    const items = indices.map((i) => ds.getItem(i));
    return this.collate ? this.collate(items) : (defaultCollate(items) as B);
  }

  *[Symbol.iterator](): Iterator<B> {
    const order = this.order();
    if (this.batchSize === null) {
      for (const i of order) yield this.dataset.getItem(i) as unknown as B;
      return;
    }
    const bs = this.batchSize;
    const n = order.length;
    const end = this.dropLast ? n - (n % bs) : n;
    for (let start = 0; start < end; start += bs) yield this.batchOf(order.slice(start, Math.min(start + bs, end)));
  }
}
