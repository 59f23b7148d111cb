/** Tensor: storage + layout (shape, strides, offset) + dtype + device + autograd fields. */
import type { Storage } from './storage.js';
import { NO_PRE_HOOKS, type Node } from './autograd/node.js';
import type { DType, HostArray } from './dtype.js';
import type { Backend, View } from './device/backend.js';
import { isContiguousLayout } from './layout.js';
import { AutogradError, TorchError } from './errors.js';
import * as ops from './ops/index.js';
import type { Spec } from './ops/indexing.js';
import { formatTensor } from './format.js';

export type Scalar = number | boolean;
export type TensorLike = Tensor | Scalar;
export type Hook = (grad: Tensor) => Tensor | void;
export type ToArg = string | DType | { device?: string; dtype?: DType };
type Dims = number | number[];
type ShapeArgs = (number | readonly number[])[];

/** The shared (never written) hook list of tensors without hooks: saves an array per tensor. */
const NO_HOOKS: Hook[] = [];

export class Tensor {
  /** @internal */ _storage: Storage;
  readonly shape: readonly number[];
  /** @internal */ readonly _strides: readonly number[];
  /** @internal */ readonly _offset: number;
  /** @internal */ _requiresGrad = false;
  grad: Tensor | null = null;
  gradFn: Node | null = null;
  /** @internal hooks on a leaf (non-leaf hooks live on gradFn); NO_HOOKS until the first */ _hooks: Hook[] = NO_HOOKS;
  /** @internal the tensor whose storage this view shares (null if not a view) */ _base: Tensor | null = null;

  /** @internal use the creation functions (tensor, zeros, fromBuffer, ...) */
  constructor(storage: Storage, shape: readonly number[], strides: readonly number[], offset: number) {
    this._storage = storage;
    this.shape = shape;
    this._strides = strides;
    this._offset = offset;
  }

  get dtype(): DType { return this._storage.dtype; }
  get device(): string { return this._storage.backend.name; }
  get ndim(): number { return this.shape.length; }
  get isLeaf(): boolean { return this.gradFn === null; }
  get requiresGrad(): boolean { return this._requiresGrad; }
  set requiresGrad(b: boolean) { this.requiresGrad_(b); }
  /** @internal */ get _version(): number { return this._storage.version; }
  /** @internal */ get _backend(): Backend { return this._storage.backend; }
  /** @internal the View last handed out (valid while the storage is not disposed: the layout never changes) */
  private _cachedView: View | null = null;
  /** @internal the (storage, layout) pair kernels take */
  get _view(): View {
    const v = this._cachedView;
    if (v !== null && !this._storage.disposed) return v;
    return (this._cachedView = { handle: this._storage.handle, dtype: this._storage.dtype, shape: this.shape, strides: this._strides, offset: this._offset });
  }

  size(): number[];
  size(dim: number): number;
  size(dim?: number): number[] | number {
    if (dim === undefined) return [...this.shape];
    return this.shape[ops.normDim('size', dim, this.ndim)];
  }
  numel(): number { let n = 1; for (const s of this.shape) n *= s; return n; }
  dim(): number { return this.shape.length; }
  stride(): number[];
  stride(dim: number): number;
  stride(dim?: number): number[] | number {
    if (dim === undefined) return [...this._strides];
    return this._strides[ops.normDim('stride', dim, this.ndim)];
  }
  storageOffset(): number { return this._offset; }
  isContiguous(): boolean { return isContiguousLayout(this.shape, this._strides); }
  contiguous(): Tensor { return this.isContiguous() ? this : ops.clone(this); }
  clone(): Tensor { return ops.clone(this); }
  detach(): Tensor { return ops.detach(this); }
  detach_(): this { this.gradFn = null; this._requiresGrad = false; return this; }

  requiresGrad_(b = true): this {
    if (!this.isLeaf) {
      if (!b) throw new AutogradError('requiresGrad_', 'you can only change requiresGrad of leaf tensors; use detach() to get a tensor that does not require grad');
      return this;
    }
    if (b && !(this.dtype === 'float32' || this.dtype === 'float64' || this.dtype === 'float16' || this.dtype === 'bfloat16'))
      throw new AutogradError('requiresGrad_', `only floating point tensors can require gradients, got dtype ${this.dtype}`);
    this._requiresGrad = b;
    return this;
  }
  retainGrad(): this {
    if (!this.requiresGrad) throw new AutogradError('retainGrad', "can't retainGrad on a tensor that has requiresGrad=false");
    if (this.gradFn) this.gradFn.retained = this;
    return this;
  }
  /** Registers fn(grad) to run when this tensor's gradient is computed; it may return a replacement. Returns a handle with remove(). */
  registerHook(fn: Hook): { remove(): void } {
    if (!this.requiresGrad) throw new AutogradError('registerHook', "cannot register a hook on a tensor that doesn't require gradient");
    const g = this.gradFn;
    const list = g ? (g.preHooks === NO_PRE_HOOKS ? (g.preHooks = []) : g.preHooks) : this._hooks === NO_HOOKS ? (this._hooks = []) : this._hooks;
    list.push(fn);
    return { remove: () => { const i = list.indexOf(fn); if (i >= 0) list.splice(i, 1); } };
  }
  backward(gradient?: Tensor | null, options: { retainGraph?: boolean; createGraph?: boolean; inputs?: Tensor[] } = {}): void {
    ops.backward(this, gradient ?? undefined, options);
  }

  // ---------- math ----------
  add(o: TensorLike, opts?: { alpha?: number }): Tensor { return ops.add(this, o, opts); }
  sub(o: TensorLike, opts?: { alpha?: number }): Tensor { return ops.sub(this, o, opts); }
  mul(o: TensorLike): Tensor { return ops.mul(this, o); }
  div(o: TensorLike, opts?: { roundingMode?: 'trunc' | 'floor' }): Tensor { return ops.div(this, o, opts); }
  pow(o: TensorLike): Tensor { return ops.pow(this, o); }
  remainder(o: TensorLike): Tensor { return ops.remainder(this, o); }
  fmod(o: TensorLike): Tensor { return ops.fmod(this, o); }
  atan2(o: TensorLike): Tensor { return ops.atan2(this, o); }
  neg(): Tensor { return ops.neg(this); }
  abs(): Tensor { return ops.abs(this); }
  sign(): Tensor { return ops.sign(this); }
  exp(): Tensor { return ops.exp(this); }
  log(): Tensor { return ops.log(this); }
  log1p(): Tensor { return ops.log1p(this); }
  expm1(): Tensor { return ops.expm1(this); }
  sqrt(): Tensor { return ops.sqrt(this); }
  rsqrt(): Tensor { return ops.rsqrt(this); }
  sin(): Tensor { return ops.sin(this); }
  cos(): Tensor { return ops.cos(this); }
  tanh(): Tensor { return ops.tanh(this); }
  sigmoid(): Tensor { return ops.sigmoid(this); }
  relu(): Tensor { return ops.relu(this); }
  gelu(opts?: { approximate?: 'none' | 'tanh' }): Tensor { return ops.gelu(this, opts); }
  silu(): Tensor { return ops.silu(this); }
  softplus(opts?: { beta?: number; threshold?: number }): Tensor { return ops.softplus(this, opts); }
  erf(): Tensor { return ops.erf(this); }
  clamp(min?: TensorLike | null, max?: TensorLike | null): Tensor { return ops.clamp(this, min, max); }
  clip(min?: TensorLike | null, max?: TensorLike | null): Tensor { return ops.clamp(this, min, max); }
  maximum(o: TensorLike): Tensor { return ops.maximum(this, o); }
  minimum(o: TensorLike): Tensor { return ops.minimum(this, o); }
  floor(): Tensor { return ops.floor(this); }
  ceil(): Tensor { return ops.ceil(this); }
  round(): Tensor { return ops.round(this); }
  trunc(): Tensor { return ops.trunc(this); }
  reciprocal(): Tensor { return ops.reciprocal(this); }
  square(): Tensor { return ops.square(this); }
  eq(o: TensorLike): Tensor { return ops.eq(this, o); }
  ne(o: TensorLike): Tensor { return ops.ne(this, o); }
  lt(o: TensorLike): Tensor { return ops.lt(this, o); }
  le(o: TensorLike): Tensor { return ops.le(this, o); }
  gt(o: TensorLike): Tensor { return ops.gt(this, o); }
  ge(o: TensorLike): Tensor { return ops.ge(this, o); }
  logicalNot(): Tensor { return ops.logicalNot(this); }
  logicalAnd(o: TensorLike): Tensor { return ops.logicalAnd(this, o); }
  logicalOr(o: TensorLike): Tensor { return ops.logicalOr(this, o); }
  isnan(): Tensor { return ops.isnan(this); }
  isfinite(): Tensor { return ops.isfinite(this); }
  matmul(o: Tensor): Tensor { return ops.matmul(this, o); }
  mm(o: Tensor): Tensor { return ops.mm(this, o); }
  bmm(o: Tensor): Tensor { return ops.bmm(this, o); }
  dot(o: Tensor): Tensor { return ops.dot(this, o); }
  outer(o: Tensor): Tensor { return ops.outer(this, o); }
  where(cond: Tensor, other: TensorLike): Tensor { return ops.where(cond, this, other); }
  maskedFill(mask: Tensor, value: TensorLike): Tensor { return ops.maskedFill(this, mask, value); }
  lerp(end: TensorLike, weight: TensorLike): Tensor { return ops.lerp(this, end, weight); }
  addcmul(t1: TensorLike, t2: TensorLike, opts?: { value?: number }): Tensor { return ops.addcmul(this, t1, t2, opts); }
  addcdiv(t1: TensorLike, t2: TensorLike, opts?: { value?: number }): Tensor { return ops.addcdiv(this, t1, t2, opts); }

  // ---------- reductions ----------
  sum(dim?: Dims | null, keepdim?: boolean, opts?: { dtype?: DType }): Tensor { return ops.sum(this, dim, keepdim, opts); }
  mean(dim?: Dims | null, keepdim?: boolean): Tensor { return ops.mean(this, dim, keepdim); }
  prod(dim?: number | null, keepdim?: boolean): Tensor { return ops.prod(this, dim, keepdim); }
  var(dim?: Dims | null, opts?: { correction?: number; keepdim?: boolean; unbiased?: boolean }): Tensor { return ops.variance(this, dim, opts); }
  std(dim?: Dims | null, opts?: { correction?: number; keepdim?: boolean; unbiased?: boolean }): Tensor { return ops.std(this, dim, opts); }
  norm(p?: number | 'fro' | null, dim?: Dims | null, keepdim?: boolean): Tensor { return ops.norm(this, p, dim, keepdim); }
  logsumexp(dim: Dims, keepdim?: boolean): Tensor { return ops.logsumexp(this, dim, keepdim); }
  amax(dim?: Dims | null, keepdim?: boolean): Tensor { return ops.amax(this, dim, keepdim); }
  amin(dim?: Dims | null, keepdim?: boolean): Tensor { return ops.amin(this, dim, keepdim); }
  argmax(dim?: number | null, keepdim?: boolean): Tensor { return ops.argmax(this, dim, keepdim); }
  argmin(dim?: number | null, keepdim?: boolean): Tensor { return ops.argmin(this, dim, keepdim); }
  all(dim?: Dims | null, keepdim?: boolean): Tensor { return ops.all(this, dim, keepdim); }
  any(dim?: Dims | null, keepdim?: boolean): Tensor { return ops.any(this, dim, keepdim); }
  cumsum(dim: number): Tensor { return ops.cumsum(this, dim); }
  softmax(dim: number): Tensor { return ops.softmax(this, dim); }
  logSoftmax(dim: number): Tensor { return ops.logSoftmax(this, dim); }
  max(): Tensor;
  max(other: Tensor): Tensor;
  max(dim: number, keepdim?: boolean): { values: Tensor; indices: Tensor };
  max(dim?: number | Tensor, keepdim?: boolean): any { return ops.max(this, dim as any, keepdim); }
  min(): Tensor;
  min(other: Tensor): Tensor;
  min(dim: number, keepdim?: boolean): { values: Tensor; indices: Tensor };
  min(dim?: number | Tensor, keepdim?: boolean): any { return ops.min(this, dim as any, keepdim); }
  sort(dim?: number, descending?: boolean): { values: Tensor; indices: Tensor } { return ops.sort(this, dim, descending); }
  argsort(dim?: number, descending?: boolean): Tensor { return ops.sort(this, dim, descending).indices; }
  topk(k: number, dim?: number, largest?: boolean, sorted?: boolean): { values: Tensor; indices: Tensor } { return ops.topk(this, k, dim, largest, sorted); }

  // ---------- shape and views ----------
  reshape(...shape: ShapeArgs): Tensor { return ops.reshape(this, ops.shapeArg(shape)); }
  view(...shape: ShapeArgs): Tensor { return ops.view(this, ops.shapeArg(shape)); }
  viewAs(o: Tensor): Tensor { return ops.view(this, [...o.shape]); }
  reshapeAs(o: Tensor): Tensor { return ops.reshape(this, [...o.shape]); }
  flatten(startDim = 0, endDim = -1): Tensor { return ops.flatten(this, startDim, endDim); }
  unflatten(dim: number, sizes: number[]): Tensor { return ops.unflatten(this, dim, sizes); }
  squeeze(dim?: Dims): Tensor { return ops.squeeze(this, dim); }
  unsqueeze(dim: number): Tensor { return ops.unsqueeze(this, dim); }
  transpose(d0: number, d1: number): Tensor { return ops.transpose(this, d0, d1); }
  swapaxes(d0: number, d1: number): Tensor { return ops.transpose(this, d0, d1); }
  t(): Tensor { return ops.t(this); }
  get T(): Tensor { return ops.permute(this, this.shape.map((_, i) => this.ndim - 1 - i)); }
  get mT(): Tensor { return ops.transpose(this, -2, -1); }
  permute(...dims: ShapeArgs): Tensor { return ops.permute(this, ops.shapeArg(dims)); }
  expand(...shape: ShapeArgs): Tensor { return ops.expand(this, ops.shapeArg(shape)); }
  expandAs(o: Tensor): Tensor { return ops.expand(this, [...o.shape]); }
  broadcastTo(...shape: ShapeArgs): Tensor { return ops.expand(this, ops.shapeArg(shape)); }
  narrow(dim: number, start: number, length: number): Tensor { return ops.narrow(this, dim, start, length); }
  select(dim: number, index: number): Tensor { return ops.select(this, dim, index); }
  unfold(dim: number, size: number, step: number): Tensor { return ops.unfold(this, dim, size, step); }
  split(sizeOrSizes: number | number[], dim = 0): Tensor[] { return ops.split(this, sizeOrSizes, dim); }
  chunk(chunks: number, dim = 0): Tensor[] { return ops.chunk(this, chunks, dim); }
  unbind(dim = 0): Tensor[] { return ops.unbind(this, dim); }
  repeat(...sizes: ShapeArgs): Tensor { return ops.repeat(this, ops.shapeArg(sizes)); }
  flip(dims: Dims): Tensor { return ops.flip(this, dims); }
  roll(shifts: number | number[], dims?: number | number[]): Tensor { return ops.roll(this, shifts, dims); }
  tril(k = 0): Tensor { return ops.tril(this, k); }
  triu(k = 0): Tensor { return ops.triu(this, k); }

  // ---------- indexing ----------
  index(...specs: Spec[]): Tensor { return ops.index(this, specs); }
  indexPut_(specs: Spec[], value: TensorLike, accumulate = false): this { ops.indexPut_(this, specs, value, accumulate); return this; }
  gather(dim: number, index: Tensor): Tensor { return ops.gather(this, dim, index); }
  scatter(dim: number, index: Tensor, src: TensorLike): Tensor { return ops.scatter(this, dim, index, src); }
  scatterAdd(dim: number, index: Tensor, src: Tensor): Tensor { return ops.scatterAdd(this, dim, index, src); }
  scatter_(dim: number, index: Tensor, src: TensorLike): this { return ops.inplace(this, 'scatter_', (s) => ops.scatter(s, dim, index, src)); }
  scatterAdd_(dim: number, index: Tensor, src: Tensor): this { return ops.inplace(this, 'scatterAdd_', (s) => ops.scatterAdd(s, dim, index, src)); }
  indexSelect(dim: number, index: Tensor): Tensor { return ops.indexSelect(this, dim, index); }
  maskedSelect(mask: Tensor): Tensor { return ops.maskedSelect(this, mask); }
  nonzero(): Tensor { return ops.nonzero(this); }

  // ---------- in place ----------
  add_(o: TensorLike, opts?: { alpha?: number }): this { return ops.inplace(this, 'add_', (s) => ops.add(s, o, opts)); }
  sub_(o: TensorLike, opts?: { alpha?: number }): this { return ops.inplace(this, 'sub_', (s) => ops.sub(s, o, opts)); }
  mul_(o: TensorLike): this { return ops.inplace(this, 'mul_', (s) => ops.mul(s, o)); }
  div_(o: TensorLike): this { return ops.inplace(this, 'div_', (s) => ops.div(s, o)); }
  pow_(o: TensorLike): this { return ops.inplace(this, 'pow_', (s) => ops.pow(s, o)); }
  neg_(): this { return ops.inplace(this, 'neg_', (s) => ops.neg(s)); }
  exp_(): this { return ops.inplace(this, 'exp_', (s) => ops.exp(s)); }
  sqrt_(): this { return ops.inplace(this, 'sqrt_', (s) => ops.sqrt(s)); }
  relu_(): this { return ops.inplace(this, 'relu_', (s) => ops.relu(s)); }
  sigmoid_(): this { return ops.inplace(this, 'sigmoid_', (s) => ops.sigmoid(s)); }
  tanh_(): this { return ops.inplace(this, 'tanh_', (s) => ops.tanh(s)); }
  abs_(): this { return ops.inplace(this, 'abs_', (s) => ops.abs(s)); }
  clamp_(min?: TensorLike | null, max?: TensorLike | null): this { return ops.inplace(this, 'clamp_', (s) => ops.clamp(s, min, max)); }
  lerp_(end: TensorLike, weight: TensorLike): this { return ops.inplace(this, 'lerp_', (s) => ops.lerp(s, end, weight)); }
  addcmul_(t1: TensorLike, t2: TensorLike, opts?: { value?: number }): this { return ops.inplace(this, 'addcmul_', (s) => ops.addcmul(s, t1, t2, opts)); }
  addcdiv_(t1: TensorLike, t2: TensorLike, opts?: { value?: number }): this { return ops.inplace(this, 'addcdiv_', (s) => ops.addcdiv(s, t1, t2, opts)); }
  maskedFill_(mask: Tensor, value: TensorLike): this { return ops.inplace(this, 'maskedFill_', (s) => ops.maskedFill(s, mask, value)); }
  zero_(): this { return ops.fill_(this, 0); }
  fill_(value: TensorLike): this { return ops.fill_(this, value); }
  copy_(src: TensorLike): this { return ops.copy_(this, src); }
  uniform_(low = 0, high = 1): this { return ops.uniform_(this, low, high); }
  normal_(mean = 0, std = 1): this { return ops.normal_(this, mean, std); }
  bernoulli_(p = 0.5): this { return ops.bernoulli_(this, p); }

  // ---------- conversion ----------
  to(arg: ToArg, opts?: { dtype?: DType; device?: string }): Tensor { return ops.to(this, arg, opts); }
  cpu(): Tensor { return ops.to(this, 'cpu'); }
  cuda(i?: number): Tensor { return ops.to(this, i === undefined ? 'cuda' : `cuda:${i}`); }
  float(): Tensor { return ops.to(this, 'float32'); }
  double(): Tensor { return ops.to(this, 'float64'); }
  half(): Tensor { return ops.to(this, 'float16'); }
  bfloat16(): Tensor { return ops.to(this, 'bfloat16'); }
  int(): Tensor { return ops.to(this, 'int32'); }
  long(): Tensor { return ops.to(this, 'int64'); }
  bool(): Tensor { return ops.to(this, 'bool'); }
  byte(): Tensor { return ops.to(this, 'uint8'); }
  type(dtype: DType): Tensor { return ops.to(this, dtype); }
  isFloatingPoint(): boolean { return this.dtype === 'float32' || this.dtype === 'float64' || this.dtype === 'float16' || this.dtype === 'bfloat16'; }

  // ---------- data ----------
  /** The single value of a one-element tensor. */
  item(): number { return ops.item(this); }
  /** Nested arrays of numbers (booleans for bool tensors). */
  tolist(): any { return ops.tolist(this); }
  /** A contiguous copy as a TypedArray (int64 as Float64Array, exact to 2^53; float16/bfloat16 as Float32Array). */
  dataSync(): HostArray { return ops.dataSync(this); }
  /** Like dataSync, on every device (GPU devices read back asynchronously). */
  data(): Promise<HostArray> { return ops.data(this); }
  /** Like tolist, on every device. */
  array(): Promise<any> { return ops.array(this); }

  // ---------- memory ----------
  /** Frees this tensor's device memory now (views of it become unusable). */
  dispose(): void {
    this._storage.dispose();
    this._cachedView = null;
    this.grad = null;
    this.gradFn = null;
  }
  [Symbol.dispose](): void { this.dispose(); }
  get isDisposed(): boolean { return this._storage.disposed; }

  toString(): string { return formatTensor(this); }
  [Symbol.for('nodejs.util.inspect.custom')](): string { return formatTensor(this); }
}

export function isTensor(x: unknown): x is Tensor { return x instanceof Tensor; }
export { TorchError };
