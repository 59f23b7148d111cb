/** Reading data back and converting tensors between dtypes and devices. */
import { Tensor, type ToArg } from '../tensor.js';
import { contiguousRaw } from './core.js';
import { type DType, type HostArray, isDType, fromStored } from '../dtype.js';
import { DeviceError, ShapeError, TorchError, fmtShape } from '../errors.js';
import { toDtype, toDevice } from './elementwise.js';

function hostValues(dtype: DType, raw: HostArray): HostArray {
  if (dtype !== 'float16' && dtype !== 'bfloat16') return raw;
  const out = new Float32Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = fromStored(dtype, raw[i]);
  return out;
}
function readSyncOf(x: Tensor, op: string): HostArray {
  if (x.isDisposed) throw new TorchError(op, 'this tensor was disposed; its memory has been released');
  const be = x._backend;
  if (!be.readSync) throw new DeviceError(op, `device '${x.device}' reads back asynchronously; use 'await t.data()' or 'await t.array()' instead of ${op}()`);
  if (x.numel() === 0) return hostValues(x.dtype, new (be.readSync({ ...x._view, shape: [0], strides: [1] }).constructor as any)(0));
  return be.readSync(contiguousRaw(x)._view);
}

/** A contiguous copy of the values (float16/bfloat16 as Float32Array; int64 as Float64Array, exact to 2^53). */
export function dataSync(x: Tensor): HostArray {
  return hostValues(x.dtype, readSyncOf(x, 'dataSync'));
}
export async function data(x: Tensor): Promise<HostArray> {
  if (x.numel() === 0) return dataSync(x.to('cpu'));
  return hostValues(x.dtype, await x._backend.read(contiguousRaw(x)._view));
}
export function item(x: Tensor): number {
  if (x.numel() !== 1) throw new ShapeError('item', `a Tensor with ${x.numel()} elements (shape ${fmtShape(x.shape)}) cannot be converted to a number; only one-element tensors can`);
  return dataSync(x)[0];
}
function nest(values: HostArray, shape: readonly number[], bool: boolean): any {
  const conv = (v: number) => (bool ? v !== 0 : v);
  if (shape.length === 0) return conv(values[0]);
  let pos = 0;
  const build = (d: number): any[] => {
    const n = shape[d];
    const out = new Array(n);
    if (d === shape.length - 1) for (let i = 0; i < n; i++) out[i] = conv(values[pos++]);
    else for (let i = 0; i < n; i++) out[i] = build(d + 1);
    return out;
  };
  return build(0);
}
export function tolist(x: Tensor): any { return nest(dataSync(x), x.shape, x.dtype === 'bool'); }
export async function array(x: Tensor): Promise<any> { return nest(await data(x), x.shape, x.dtype === 'bool'); }

/** t.to(device | dtype | { device?, dtype? }) */
export function to(x: Tensor, arg: ToArg, opts?: { dtype?: DType; device?: string }): Tensor {
  let device: string | undefined, dtype: DType | undefined;
  if (typeof arg === 'string') {
    if (isDType(arg)) dtype = arg;
    else device = arg;
  } else if (arg instanceof Tensor) {
    device = arg.device; dtype = arg.dtype;
  } else if (arg && typeof arg === 'object') {
    device = arg.device; dtype = arg.dtype;
  } else throw new TorchError('to', `expected a device string, a dtype or { device, dtype }, got ${String(arg)}`);
  if (opts) { device = opts.device ?? device; dtype = opts.dtype ?? dtype; }
  if (dtype !== undefined && !isDType(dtype)) throw new TorchError('to', `unknown dtype '${dtype}'`);
  let r = x;
  // cast where the data is if the target device cannot hold the source dtype
  if (device !== undefined && dtype !== undefined) { r = toDtype(r, dtype); r = toDevice(r, device); }
  else if (device !== undefined) r = toDevice(r, device);
  else if (dtype !== undefined) r = toDtype(r, dtype);
  return r;
}
