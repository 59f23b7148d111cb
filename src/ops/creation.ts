/** Tensor creation: tensor(), fromBuffer(), zeros/ones/full, ranges, random tensors. */
import { Tensor } from '../tensor.js';
import { Storage } from '../storage.js';
import { empty_, getDefaultDevice, fillRaw, castRaw } from './core.js';
import { getBackend } from '../device/registry.js';
import { type DType, type HostArray, isDType, allocHost, toStored, getDefaultDtype, hostArrayCtor, isFloating } from '../dtype.js';
import { checkShape, contiguousStrides, numelOf } from '../layout.js';
import { TorchError, ShapeError, DTypeError, fmtShape } from '../errors.js';
import { fillRandom, randomInt } from './random.js';

export interface CreateOptions { dtype?: DType; device?: string; requiresGrad?: boolean }
type ShapeAndOpts = (number | readonly number[] | CreateOptions | undefined)[];

function isOpts(x: unknown): x is CreateOptions {
  return typeof x === 'object' && x !== null && !Array.isArray(x) && !ArrayBuffer.isView(x);
}
/** Splits `zeros(2, 3)`, `zeros([2, 3])` and `zeros([2, 3], opts)`. */
export function parseShapeArgs(op: string, args: ShapeAndOpts): { shape: number[]; opts: CreateOptions } {
  let opts: CreateOptions = {};
  let rest = args;
  if (rest.length && (isOpts(rest[rest.length - 1]) || rest[rest.length - 1] === undefined)) {
    opts = (rest[rest.length - 1] as CreateOptions) ?? {};
    rest = rest.slice(0, -1);
  }
  const raw = rest.length === 1 && Array.isArray(rest[0]) ? (rest[0] as number[]) : (rest as number[]);
  return { shape: checkShape(op, raw), opts };
}

function checkDtype(op: string, d: DType | undefined): DType | undefined {
  if (d !== undefined && !isDType(d)) throw new DTypeError(op, `unknown dtype '${String(d)}'; expected one of float32, float64, float16, bfloat16, int32, int64, uint8, bool`);
  return d;
}

function finishCreate(t: Tensor, opts: CreateOptions): Tensor {
  if (opts.requiresGrad) t.requiresGrad_(true);
  return t;
}
function backendFor(op: string, opts: CreateOptions) {
  return getBackend(opts.device ?? getDefaultDevice(), op);
}
function fromHost(op: string, host: HostArray, shape: readonly number[], dtype: DType, opts: CreateOptions): Tensor {
  const be = backendFor(op, opts);
  const t = empty_(be, shape, dtype);
  if (host.length) be.write(t._storage.handle, dtype, host, 0);
  return finishCreate(t, opts);
}

// ---------------- tensor(data) ----------------

type Nested = number | boolean | bigint | Tensor | Nested[] | ArrayLike<number> | BigInt64Array | BigUint64Array;

function typedArrayDtype(a: ArrayBufferView): DType {
  if (a instanceof Float32Array) return 'float32';
  if (a instanceof Float64Array) return 'float64';
  if (a instanceof Int32Array || a instanceof Int16Array || a instanceof Int8Array || a instanceof Uint16Array) return 'int32';
  if (a instanceof BigInt64Array || a instanceof Uint32Array || a instanceof BigUint64Array) return 'int64';
  if (a instanceof Uint8Array || a instanceof Uint8ClampedArray) return 'uint8';
  throw new DTypeError('tensor', `unsupported TypedArray ${a.constructor.name}`);
}

/** A tensor from nested arrays, a number, or a TypedArray (dtype inferred as PyTorch: integers -> int64, other numbers -> float32, booleans -> bool). */
export function tensor(data: Nested, opts: CreateOptions = {}): Tensor {
  checkDtype('tensor', opts.dtype);
  if (data instanceof Tensor) return finishCreate(castRaw(data.detach().clone(), opts.dtype ?? data.dtype), opts);
  const shape: number[] = [];
  const flat: (number | boolean | bigint)[] = [];
  let sawFloat = false, sawBool = false, sawNumber = false, typedDtype: DType | null = null;
  // shape from the first path, then a full walk that checks every level
  let probe: any = data;
  while (Array.isArray(probe) || (ArrayBuffer.isView(probe) && !(probe instanceof DataView))) {
    shape.push((probe as ArrayLike<unknown>).length);
    if (ArrayBuffer.isView(probe)) { typedDtype = typedArrayDtype(probe); break; }
    probe = (probe as unknown[])[0];
  }
  const walk = (node: any, depth: number) => {
    if (depth === shape.length) {
      if (typeof node === 'number') { sawNumber = true; if (!Number.isInteger(node)) sawFloat = true; flat.push(node); }
      else if (typeof node === 'boolean') { sawBool = true; flat.push(node); }
      else if (typeof node === 'bigint') { sawNumber = true; flat.push(node); }
      else if (node instanceof Tensor && node.numel() === 1) { const v = node.item(); sawNumber = true; if (isFloating(node.dtype)) sawFloat = true; flat.push(v); }
      else throw new ShapeError('tensor', `expected a number or boolean at depth ${depth}, got ${node === null ? 'null' : Array.isArray(node) ? 'an array' : typeof node} (ragged nested arrays are not allowed; data must be rectangular)`);
      return;
    }
    if (!(Array.isArray(node) || ArrayBuffer.isView(node)) || (node as ArrayLike<unknown>).length !== shape[depth])
      throw new ShapeError('tensor', `expected a sequence of length ${shape[depth]} at depth ${depth}, got ${Array.isArray(node) || ArrayBuffer.isView(node) ? `length ${(node as ArrayLike<unknown>).length}` : typeof node}; nested arrays must be rectangular`);
    if (ArrayBuffer.isView(node)) {
      const arr = node as unknown as ArrayLike<number | bigint>;
      for (let i = 0; i < arr.length; i++) flat.push(arr[i]);
      sawNumber = true;
      if (node instanceof Float32Array || node instanceof Float64Array) sawFloat = true;
      return;
    }
    for (const c of node as unknown[]) walk(c, depth + 1);
  };
  walk(data, 0);
  let dtype: DType = opts.dtype ?? typedDtype ?? (sawFloat ? getDefaultDtype() : sawNumber ? 'int64' : sawBool ? 'bool' : getDefaultDtype());
  if (!opts.dtype && sawBool && sawNumber) dtype = sawFloat ? getDefaultDtype() : 'int64';
  const host = allocHost(dtype, flat.length);
  for (let i = 0; i < flat.length; i++) {
    const v = flat[i];
    host[i] = toStored(dtype, typeof v === 'bigint' ? Number(v) : typeof v === 'boolean' ? (v ? 1 : 0) : v);
  }
  return fromHost('tensor', host, shape, dtype, opts);
}

/**
 * Wraps a TypedArray as a tensor of `shape`; on cpu without a copy when the array matches the
 * dtype's host representation (Float32Array for float32, Float64Array for float64/int64, ...).
 */
export function fromBuffer(data: ArrayBufferView, shape: readonly number[], opts: CreateOptions = {}): Tensor {
  checkDtype('fromBuffer', opts.dtype);
  if (!ArrayBuffer.isView(data)) throw new TorchError('fromBuffer', 'expected a TypedArray');
  const s = checkShape('fromBuffer', shape as number[]);
  const n = numelOf(s);
  const dtype = opts.dtype ?? typedArrayDtype(data);
  const len = (data as unknown as ArrayLike<number>).length;
  if (len !== n) throw new ShapeError('fromBuffer', `the buffer has ${len} elements but shape ${fmtShape(s)} needs ${n}`);
  const be = backendFor('fromBuffer', opts);
  const Ctor = hostArrayCtor(dtype);
  if (be.type === 'cpu' && data instanceof (Ctor as unknown as typeof Float32Array)) {
    return finishCreate(new Tensor(new Storage(be, dtype, n, data), s, contiguousStrides(s), 0), opts);
  }
  const host = allocHost(dtype, n);
  const src = data as unknown as ArrayLike<number | bigint>;
  for (let i = 0; i < n; i++) { const v = src[i]; host[i] = toStored(dtype, typeof v === 'bigint' ? Number(v) : v); }
  return fromHost('fromBuffer', host, s, dtype, opts);
}

// ---------------- constant fills ----------------

export function full(shape: readonly number[], value: number | boolean, opts: CreateOptions = {}): Tensor {
  checkDtype('full', opts.dtype);
  const s = checkShape('full', shape as number[]);
  // -0 is a float (PyTorch's -0.0); other integral numbers give int64, as Python ints do
  const dtype = opts.dtype ?? (typeof value === 'boolean' ? 'bool' : Number.isInteger(value) && !Object.is(value, -0) ? 'int64' : getDefaultDtype());
  const v = typeof value === 'boolean' ? (value ? 1 : 0) : value;
  return finishCreate(fillRaw(backendFor('full', opts), s, dtype, v), opts);
}
export function zeros(...args: ShapeAndOpts): Tensor {
  const { shape, opts } = parseShapeArgs('zeros', args);
  return finishCreate(fillRaw(backendFor('zeros', opts), shape, checkDtype('zeros', opts.dtype) ?? getDefaultDtype(), 0), opts);
}
export function ones(...args: ShapeAndOpts): Tensor {
  const { shape, opts } = parseShapeArgs('ones', args);
  return finishCreate(fillRaw(backendFor('ones', opts), shape, checkDtype('ones', opts.dtype) ?? getDefaultDtype(), 1), opts);
}
/** Uninitialised in PyTorch; zero-filled here. */
export function empty(...args: ShapeAndOpts): Tensor {
  const { shape, opts } = parseShapeArgs('empty', args);
  return finishCreate(fillRaw(backendFor('empty', opts), shape, checkDtype('empty', opts.dtype) ?? getDefaultDtype(), 0), opts);
}
const likeOpts = (x: Tensor, opts: CreateOptions = {}): CreateOptions => ({ dtype: opts.dtype ?? x.dtype, device: opts.device ?? x.device, requiresGrad: opts.requiresGrad });
export function zerosLike(x: Tensor, opts?: CreateOptions): Tensor { return zeros([...x.shape], likeOpts(x, opts)); }
export function onesLike(x: Tensor, opts?: CreateOptions): Tensor { return ones([...x.shape], likeOpts(x, opts)); }
export function emptyLike(x: Tensor, opts?: CreateOptions): Tensor { return empty([...x.shape], likeOpts(x, opts)); }
export function fullLike(x: Tensor, value: number | boolean, opts?: CreateOptions): Tensor { return full([...x.shape], value, likeOpts(x, opts)); }
export function randLike(x: Tensor, opts?: CreateOptions): Tensor { return rand([...x.shape], likeOpts(x, opts)); }
export function randnLike(x: Tensor, opts?: CreateOptions): Tensor { return randn([...x.shape], likeOpts(x, opts)); }

// ---------------- ranges ----------------

/** arange(end) or arange(start, end, step?) with an options object last. */
export function arange(...args: (number | CreateOptions | undefined)[]): Tensor {
  let opts: CreateOptions = {};
  if (args.length && (isOpts(args[args.length - 1]) || args[args.length - 1] === undefined)) opts = (args.pop() as CreateOptions) ?? {};
  const nums = args as number[];
  if (nums.length < 1 || nums.length > 3 || nums.some((v) => typeof v !== 'number' || !Number.isFinite(v))) throw new TorchError('arange', `expected arange(end) or arange(start, end, step?) with finite numbers, got (${nums.join(', ')})`);
  const [start, end, step] = nums.length === 1 ? [0, nums[0], 1] : [nums[0], nums[1], nums[2] ?? 1];
  if (step === 0) throw new TorchError('arange', 'step must be nonzero');
  if ((end - start) / step < 0) throw new TorchError('arange', `upper bound and larger bound inconsistent with step sign (start ${start}, end ${end}, step ${step})`);
  const n = Math.ceil((end - start) / step);
  const dtype = checkDtype('arange', opts.dtype) ?? (nums.every((v) => Number.isInteger(v)) ? 'int64' : getDefaultDtype());
  const host = allocHost(dtype, n);
  for (let i = 0; i < n; i++) host[i] = toStored(dtype, start + i * step);
  return fromHost('arange', host, [n], dtype, opts);
}
export function linspace(start: number, end: number, steps: number, opts: CreateOptions = {}): Tensor {
  if (!Number.isInteger(steps) || steps < 0) throw new TorchError('linspace', `number of steps must be non-negative, got ${steps}`);
  const dtype = checkDtype('linspace', opts.dtype) ?? getDefaultDtype();
  const host = allocHost(dtype, steps);
  const step = steps > 1 ? (end - start) / (steps - 1) : 0;
  // symmetric evaluation from both ends, as PyTorch, so the last value is exactly `end`
  const half = Math.floor(steps / 2);
  for (let i = 0; i < steps; i++) host[i] = toStored(dtype, i < half || steps === 1 ? start + step * i : end - step * (steps - 1 - i));
  return fromHost('linspace', host, [steps], dtype, opts);
}
export function eye(n: number, m?: number | CreateOptions, opts: CreateOptions = {}): Tensor {
  if (isOpts(m)) { opts = m; m = undefined; }
  const cols = (m as number | undefined) ?? n;
  checkShape('eye', [n, cols]);
  const dtype = checkDtype('eye', opts.dtype) ?? getDefaultDtype();
  const host = allocHost(dtype, n * cols);
  for (let i = 0; i < Math.min(n, cols); i++) host[i * cols + i] = toStored(dtype, 1);
  return fromHost('eye', host, [n, cols], dtype, opts);
}

// ---------------- random ----------------

function randomTensor(op: string, args: ShapeAndOpts, kind: 'uniform' | 'normal'): Tensor {
  const { shape, opts } = parseShapeArgs(op, args);
  const dtype = checkDtype(op, opts.dtype) ?? getDefaultDtype();
  if (!isFloating(dtype)) throw new DTypeError(op, `${op} needs a floating point dtype, got ${dtype}`);
  const t = empty_(backendFor(op, opts), shape, dtype);
  fillRandom(t, kind, kind === 'uniform' ? 0 : 0, 1);
  return finishCreate(t, opts);
}
/** Uniform [0, 1). */
export function rand(...args: ShapeAndOpts): Tensor { return randomTensor('rand', args, 'uniform'); }
/** Standard normal. */
export function randn(...args: ShapeAndOpts): Tensor { return randomTensor('randn', args, 'normal'); }
/** Integers uniform in [low, high) (int64 by default). */
export function randint(low: number, high: number, shape: readonly number[], opts: CreateOptions = {}): Tensor {
  if (!Number.isInteger(low) || !Number.isInteger(high) || high <= low) throw new TorchError('randint', `expected integers low < high, got low=${low}, high=${high}`);
  const s = checkShape('randint', shape as number[]);
  const dtype = checkDtype('randint', opts.dtype) ?? 'int64';
  const t = empty_(backendFor('randint', opts), s, dtype);
  fillRandom(t, 'randint', low, high);
  return finishCreate(t, opts);
}
/** A random permutation of 0..n-1 (int64). */
export function randperm(n: number, opts: CreateOptions = {}): Tensor {
  if (!Number.isInteger(n) || n < 0) throw new TorchError('randperm', `n must be a non-negative integer, got ${n}`);
  const dtype = checkDtype('randperm', opts.dtype) ?? 'int64';
  const host = allocHost(dtype, n);
  for (let i = 0; i < n; i++) host[i] = i;
  for (let i = n - 1; i > 0; i--) { const j = randomInt(i + 1); const tmp = host[i]; host[i] = host[j]; host[j] = tmp; }
  return fromHost('randperm', host, [n], dtype, opts);
}
