/**
 * The op machinery: raw primitives over the backend (no autograd), and `defineOp`, the one
 * place that converts numbers to tensors, checks devices, records tape nodes, and prefixes
 * errors with the op's name.
 */
import { Tensor, type TensorLike } from '../tensor.js';
import { Storage } from '../storage.js';
import { Node } from '../autograd/node.js';
import { isGradEnabled, setGradEnabled } from '../autograd/grad_mode.js';
import type { Backend, View } from '../device/backend.js';
import { getBackend } from '../device/registry.js';
import { type DType, isFloating, toStored, resultType, getDefaultDtype } from '../dtype.js';
import { contiguousStrides, broadcastShapes, broadcastStrides, numelOf, normDim as normDimRaw } from '../layout.js';
import { TorchError, DeviceError, DTypeError } from '../errors.js';
import { isBoolOp, type UnaryOp, type BinaryOp, type TernaryOp } from '../device/kernels.js';
import type { ReduceOp } from '../device/backend.js';

export const normDim = normDimRaw;

let defaultDevice = 'cpu';
export function getDefaultDevice(): string { return defaultDevice; }
export function setDefaultDevice(d: string): void { getBackend(d, 'setDefaultDevice'); defaultDevice = d; }

// ---------------- raw tensors ----------------

/**
 * A fresh contiguous tensor on a backend, zero-filled unless `uninit` (the caller then writes
 * every element before anything reads it, so a pooled buffer needs no clearing).
 */
export function empty_(be: Backend, shape: readonly number[], dtype: DType, uninit = false): Tensor {
  if (!be.supportsDtype(dtype))
    throw new DTypeError('alloc', `dtype ${dtype} is not supported on device '${be.name}'; convert first, e.g. t.to('float32')`);
  const n = numelOf(shape);
  return new Tensor(new Storage(be, dtype, n, undefined, uninit), [...shape], contiguousStrides(shape), 0);
}

/**
 * empty_(be, x.shape, dtype, true) for an op's output shaped like its input x: shares x's shape
 * array, and its strides when they are already the contiguous ones (both are never mutated).
 */
function emptyLike_(be: Backend, x: Tensor, dtype: DType): Tensor {
  if (!be.supportsDtype(dtype))
    throw new DTypeError('alloc', `dtype ${dtype} is not supported on device '${be.name}'; convert first, e.g. t.to('float32')`);
  const shape = x.shape, st = x._strides;
  let n = 1, acc = 1, canonical = true;
  for (let i = shape.length - 1; i >= 0; i--) {
    const d = shape[i];
    if (st[i] !== acc) canonical = false;
    acc *= d > 1 ? d : 1;
    n *= d;
  }
  return new Tensor(new Storage(be, dtype, n, undefined, true), shape, canonical ? st : contiguousStrides(shape), 0);
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A view sharing x's storage. */
export function viewOf(x: Tensor, shape: readonly number[], strides: readonly number[], offset: number): Tensor {
  const v = new Tensor(x._storage, shape, strides, offset);
  v._base = x._base ?? x;
  return v;
}

export function viewWithStrides(x: Tensor, shape: readonly number[], strides: readonly number[]): View {
  return { handle: x._storage.handle, dtype: x.dtype, shape, strides, offset: x._offset };
}

/** x read as if broadcast to shape (a View, no copy). */
export function broadcastView(op: string, x: Tensor, shape: readonly number[]): View {
  return viewWithStrides(x, shape, broadcastStrides(op, x.shape, x._strides, shape));
}

export function castRaw(x: Tensor, dtype: DType): Tensor {
  if (x.dtype === dtype) return x;
  const out = empty_(x._backend, x.shape, dtype, true);
  x._backend.copy(x._view, out._view);
  return out;
}

export function contiguousRaw(x: Tensor): Tensor {
  if (x.isContiguous()) return x;
  const out = empty_(x._backend, x.shape, x.dtype, true);
  x._backend.copy(x._view, out._view);
  return out;
}

export function fillRaw(be: Backend, shape: readonly number[], dtype: DType, value: number): Tensor {
  const out = empty_(be, shape, dtype);
  // -0 needs the fill too (empty_ gives +0)
  if (!Object.is(value, 0) && out.numel() > 0) be.fill(out._view, toStored(dtype, value));
  return out;
}

/** Runs an elementwise kernel with a float32 fallback for dtypes the device cannot compute in. */
function computeDtype(be: Backend, d: DType): DType {
  return be.supportsCompute(d) ? d : 'float32';
}

export function unaryRaw(op: UnaryOp, x: Tensor): Tensor {
  const be = x._backend;
  if (be.supportsCompute(x.dtype)) {
    // fast path: the device computes in x's dtype, so no casts
    const out = emptyLike_(be, x, isBoolOp(op) ? 'bool' : x.dtype);
    if (out._storage.numel > 0) be.unary(op, x._view, out._view);
    return out;
  }
  const cd = computeDtype(be, x.dtype);
  const xin = castRaw(x, cd);
  const out = empty_(be, x.shape, isBoolOp(op) ? 'bool' : cd, true);
  if (out.numel() > 0) be.unary(op, xin._view, out._view);
  return isBoolOp(op) ? out : castRaw(out, x.dtype);
}

/** a and b share one dtype (callers promote); broadcasting here. */
export function binaryRaw(op: BinaryOp, a: Tensor, b: Tensor, outShape?: readonly number[]): Tensor {
  const be = a._backend;
  if (outShape === undefined && sameShape(a.shape, b.shape) && be.supportsCompute(a.dtype)) {
    // fast path: no broadcasting, no casts
    const out = emptyLike_(be, a, isBoolOp(op) ? 'bool' : a.dtype);
    if (out._storage.numel > 0) be.binary(op, a._view, b._view, out._view);
    return out;
  }
  const shape = outShape ?? broadcastShapes(op, a.shape, b.shape);
  const cd = computeDtype(be, a.dtype);
  const ac = castRaw(a, cd), bc = castRaw(b, cd);
  const out = empty_(be, shape, isBoolOp(op) ? 'bool' : cd, true);
  if (out.numel() > 0) be.binary(op, broadcastView(op, ac, shape), broadcastView(op, bc, shape), out._view);
  return isBoolOp(op) || cd === a.dtype ? out : castRaw(out, a.dtype);
}

/** x, y, z: for `where`, x is bool and y/z share the output dtype; otherwise all share one dtype. */
export function ternaryRaw(op: TernaryOp, x: Tensor, y: Tensor, z: Tensor): Tensor {
  const be = y._backend;
  const shape = broadcastShapes(op, x.shape, y.shape, z.shape);
  const dt = y.dtype;
  const cd = computeDtype(be, dt);
  const xc = op === 'where' ? x : castRaw(x, cd);
  const out = empty_(be, shape, cd, true);
  if (out.numel() > 0)
    be.ternary(op, broadcastView(op, xc, shape), broadcastView(op, castRaw(y, cd), shape), broadcastView(op, castRaw(z, cd), shape), out._view);
  return castRaw(out, dt);
}

/** Writes a raw result into an existing (possibly strided) tensor and bumps its version. */
export function writeInto(dst: Tensor, src: Tensor): void {
  if (dst.numel() > 0) dst._backend.copy(broadcastView('copy_', src, dst.shape), dst._view);
  dst._storage.version++;
}

export function reduceRaw(op: ReduceOp, x: Tensor, dims: number[], outDtype: DType): Tensor {
  const be = x._backend;
  const cd = computeDtype(be, x.dtype);
  const xin = castRaw(x, cd);
  const outShape = x.shape.filter((_, i) => !dims.includes(i));
  const od = op === 'argmax' || op === 'argmin' ? 'int64' : computeDtype(be, outDtype);
  // every element is written, except by an arg op on a 0-d input, whose index 0 is the zero fill
  const out = empty_(be, outShape, od, !((op === 'argmax' || op === 'argmin') && x.ndim === 0));
  // a 0-d input reduces to itself (its index is 0: `out` is zero-filled)
  if (x.ndim === 0) { if (op !== 'argmax' && op !== 'argmin') be.copy(xin._view, out._view); }
  else if (out.numel() > 0) be.reduce(op, xin._view, dims, out._view);
  return castRaw(out, outDtype);
}

// ---------------- operands ----------------

/** Converts numbers/booleans to 0-d tensors of dtype on device. */
export function scalarTensor(v: number | boolean, dtype: DType, device: string): Tensor {
  return fillRaw(getBackend(device), [], dtype, typeof v === 'boolean' ? (v ? 1 : 0) : v);
}

export function isTensorLike(x: unknown): x is TensorLike {
  return x instanceof Tensor || typeof x === 'number' || typeof x === 'boolean';
}

/** The device of the first tensor operand; checks all tensors agree (0-d cpu tensors may join any device). */
export function commonDevice(op: string, xs: readonly TensorLike[]): string {
  let dev: string | null = null;
  let cpuScalar = false;
  for (const x of xs) {
    if (!(x instanceof Tensor)) continue;
    if (x.ndim === 0 && x.device === 'cpu') { cpuScalar = true; continue; }
    if (dev === null) dev = x.device;
    else if (x.device !== dev)
      throw new DeviceError(op, `expected all tensors to be on the same device, but found at least two devices, ${dev} and ${x.device}; move them with .to('${dev}')`);
  }
  return dev ?? (cpuScalar ? 'cpu' : defaultDevice);
}

/** Brings an operand to a tensor of dtype on device (numbers become 0-d tensors; tensors are cast/moved). */
export function operand(x: TensorLike, dtype: DType, device: string): Tensor {
  if (x instanceof Tensor) {
    let t = x;
    if (t.device !== device) t = toDeviceRaw(t, device);
    return castRaw(t, dtype);
  }
  return scalarTensor(x, dtype, device);
}

export function toDeviceRaw(x: Tensor, device: string): Tensor {
  const be = getBackend(device, 'to');
  if (be === x._backend) return x;
  if (!be.supportsDtype(x.dtype))
    throw new DTypeError('to', `dtype ${x.dtype} is not supported on device '${be.name}'; convert first, e.g. t.to({ device: '${be.name}', dtype: 'float32' })`);
  const src = contiguousRaw(x);
  const out = empty_(be, x.shape, x.dtype);
  if (!x._backend.readSync)
    throw new DeviceError('to', `cannot move a tensor from '${x.device}' to '${device}' synchronously; use 'await t.data()' and create the tensor on '${device}' instead`);
  if (out.numel() > 0) be.write(out._storage.handle, x.dtype, x._backend.readSync(src._view), 0);
  return out;
}

/** Result dtype of operands, as torch.result_type. */
export function promote(xs: readonly TensorLike[]): DType {
  return resultType(xs.map((x) => (x instanceof Tensor ? { dtype: x.dtype, ndim: x.ndim } : x)));
}

// ---------------- defineOp ----------------

export interface OpContext<A extends unknown[]> {
  /** Tensor inputs as the op saw them (after conversion); only those listed by `save` are safe to use. */
  inputs: Tensor[];
  out: Tensor;
  args: A;
  /** Which inputs need a gradient. */
  needs: boolean[];
}

export interface OpSpec<A extends unknown[]> {
  name: string;
  /** Computes the output from already-converted tensor inputs; runs with grad recording off. */
  forward: (inputs: Tensor[], ...args: A) => Tensor;
  /** Gradients of the inputs from the output's gradient, written with differentiable ops. */
  backward?: (grad: Tensor, ctx: OpContext<A>) => (Tensor | null | undefined)[];
  /** Which inputs (indices) and whether the output are read by backward (checked against in-place edits). Default: all inputs. */
  save?: (needs: boolean[]) => { inputs?: number[]; output?: boolean };
}

function prefixError(name: string, e: unknown): never {
  if (e instanceof TorchError) throw renameError(name, e);
  const err = new TorchError(name, e instanceof Error ? e.message : String(e));
  if (e instanceof Error && e.stack) err.stack = `${err.name}: ${err.message}\n${e.stack.split('\n').slice(1).join('\n')}`;
  throw err;
}

/**
 * The same error, named after the op the user called (a backend kernel or an inner op may
 * have thrown it under its own name, e.g. 'scatter_add' inside scatterAdd).
 */
export function renameError(name: string, e: TorchError): TorchError {
  if (e.op === name) return e;
  const body = e.message.startsWith(`${e.op}: `) ? e.message.slice(e.op.length + 2) : e.message;
  const Ctor = e.constructor as new (op: string, m: string) => TorchError;
  const r = new Ctor(name, body);
  if (e.stack) r.stack = `${r.name}: ${r.message}\n${e.stack.split('\n').slice(1).join('\n')}`;
  return r;
}
/** Runs fn, naming any TorchError it throws after `name` (for composite ops). */
export function named<T>(name: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw e instanceof TorchError ? renameError(name, e) : e;
  }
}

/** Runs an op spec on already-converted tensor inputs, recording a tape node when needed. */
export function apply<A extends unknown[]>(spec: OpSpec<A>, inputs: Tensor[], ...args: A): Tensor {
  let record = false;
  if (spec.backward && isGradEnabled()) for (const t of inputs) if (t && t._requiresGrad) { record = true; break; }
  let out: Tensor;
  if (record) {
    setGradEnabled(false);
    try { out = spec.forward(inputs, ...args); } catch (e) { setGradEnabled(true); prefixError(spec.name, e); } finally { setGradEnabled(true); }
    const needs = new Array<boolean>(inputs.length);
    for (let i = 0; i < inputs.length; i++) needs[i] = !!inputs[i] && inputs[i]._requiresGrad;
    const saved: Tensor[] = [];
    let sv: { inputs?: number[]; output?: boolean } | null = null;
    if (spec.save) {
      sv = spec.save(needs);
      const si = sv.inputs;
      if (si) for (let k = 0; k < si.length; k++) if (inputs[si[k]]) saved.push(inputs[si[k]]);
    } else {
      for (let i = 0; i < inputs.length; i++) if (inputs[i]) saved.push(inputs[i]);
    }
    const result = out!;
    const ctx: OpContext<A> = { inputs, out: result, args, needs };
    const savesOutput = sv !== null && sv.output === true;
    if (savesOutput) saved.push(result);
    // the node must not keep the output alive unless backward needs it
    else (ctx as { out: Tensor | null }).out = null as unknown as Tensor;
    const node = new Node(spec.name, inputs, (g) => spec.backward!(g, ctx), saved);
    result.gradFn = node;
    result._requiresGrad = true;
    return result;
  }
  try {
    return spec.forward(inputs, ...args);
  } catch (e) {
    prefixError(spec.name, e);
  }
}

/** Declares an op once (forward, backward, what it saves); returns a function of tensor inputs and extra args. */
export function defineOp<A extends unknown[]>(spec: OpSpec<A>): (inputs: Tensor[], ...args: A) => Tensor {
  return (inputs: Tensor[], ...args: A) => apply(spec, inputs, ...args);
}

export function floatOrDefault(d: DType): DType { return isFloating(d) ? d : getDefaultDtype(); }
export { isFloating };
