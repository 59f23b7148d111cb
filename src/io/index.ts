/**
 * torch.save / torch.load: state dicts as safetensors, and PyTorch's own .pt/.pth files.
 * This is the thin layer between tensors and the file formats' raw records.
 *
 *   torch.save(model.stateDict(), 'model.safetensors');
 *   model.loadStateDict(torch.load('model.safetensors'));   // or a PyTorch 'model.pt'
 */
import { Tensor } from '../tensor.js';
import { fromBuffer } from '../ops/index.js';
import { TorchError } from '../errors.js';
import { f32ToBf16, f32ToF16, isFloating, type DType, type HostArray } from '../dtype.js';
import { type TensorRecord, fileSource, readRange } from './source.js';
import { readSafetensors, writeSafetensorsFile } from './safetensors.js';
import { isLegacyTorch, readTorch, type TensorInfo } from './torch_pt.js';
import { looksLikeZip } from './zip.js';

export type { TensorRecord } from './source.js';
export { readSafetensorsFile, writeSafetensorsFile, parseSafetensors, serializeSafetensors } from './safetensors.js';
export { readTorchFile, parseTorch } from './torch_pt.js';
export { readIdxFile, parseIdx } from './idx.js';

/** A state dict: tensors by name (what `Module.stateDict()` gives). */
export type StateDict = Record<string, Tensor>;

export interface LoadOptions {
  /** Where the tensors are created (PyTorch's map_location); the default device otherwise. */
  device?: string;
}

export interface SaveOptions {
  /** String metadata stored in the safetensors header (`__metadata__`). */
  metadata?: Record<string, string>;
}

/** A tensor's values in the host representation of dtype.ts (16-bit floats as raw bits). */
function hostData(op: string, name: string, dtype: DType, values: ArrayLike<number | bigint>): HostArray {
  if (dtype === 'float16' || dtype === 'bfloat16') {
    if (values instanceof Uint16Array) return values;
    // dataSync gives 16-bit floats widened to float32; narrowing an exactly representable value is exact.
    const enc = dtype === 'float16' ? f32ToF16 : f32ToBf16;
    const out = new Uint16Array(values.length);
    for (let i = 0; i < values.length; i++) out[i] = enc(values[i] as number);
    return out;
  }
  if (dtype === 'int64' && values instanceof BigInt64Array) return Float64Array.from(values, (v) => Number(v));
  const wants: Record<DType, Function> = {
    float32: Float32Array, float64: Float64Array, int64: Float64Array, int32: Int32Array,
    uint8: Uint8Array, bool: Uint8Array, float16: Uint16Array, bfloat16: Uint16Array,
  };
  if (values instanceof wants[dtype]) return values as HostArray;
  throw new TorchError(op, `"${name}": unexpected ${(values as object).constructor?.name} data for a ${dtype} tensor`);
}

/** The raw record of a tensor: a contiguous host copy. */
export function tensorToRecord(t: Tensor, name = 'tensor', op = 'save'): TensorRecord {
  const c = t.contiguous();
  const values = c.dataSync() as ArrayLike<number | bigint>;
  return { dtype: c.dtype, shape: [...c.shape], data: hostData(op, name, c.dtype, values) };
}

/** Like tensorToRecord, on every device (reads back asynchronously). */
export async function tensorToRecordAsync(t: Tensor, name = 'tensor', op = 'save'): Promise<TensorRecord> {
  const c = t.contiguous();
  const values = (await c.data()) as ArrayLike<number | bigint>;
  return { dtype: c.dtype, shape: [...c.shape], data: hostData(op, name, c.dtype, values) };
}

/** A tensor from a record (no copy on cpu). */
export function recordToTensor(r: TensorRecord, opts: LoadOptions & { requiresGrad?: boolean } = {}): Tensor {
  const t = fromBuffer(r.data, r.shape, { dtype: r.dtype, device: opts.device });
  if (opts.requiresGrad && isFloating(r.dtype)) t.requiresGrad_(true);
  return t;
}

function stateDictEntries(op: string, obj: unknown): [string, Tensor][] {
  if (obj instanceof Tensor) throw new TorchError(op, 'expected a state dict (an object of tensors by name), got a single Tensor; save { name: tensor } instead');
  if (obj === null || typeof obj !== 'object') throw new TorchError(op, `expected a state dict (an object of tensors by name), got ${obj === null ? 'null' : typeof obj}`);
  if (typeof (obj as { stateDict?: unknown }).stateDict === 'function')
    throw new TorchError(op, 'got a Module; save its weights with torch.save(model.stateDict(), path)');
  const entries: [string, unknown][] = obj instanceof Map ? [...obj.entries()] : Object.entries(obj);
  for (const [k, v] of entries) {
    if (!(v instanceof Tensor))
      throw new TorchError(op, `"${k}" is ${v === null ? 'null' : Array.isArray(v) ? 'an array' : `a ${typeof v}`}, not a Tensor: save writes safetensors, which holds a flat mapping of names to tensors`);
  }
  return entries as [string, Tensor][];
}

/**
 * Writes a state dict (tensors by name) to `path` as safetensors, readable by the
 * `safetensors` Python package and by `load`. Tensors on devices that only read back
 * asynchronously need `saveAsync`.
 */
export function save(obj: StateDict | Map<string, Tensor>, path: string, opts: SaveOptions = {}): void {
  const records = stateDictEntries('save', obj).map(([k, t]) => [k, tensorToRecord(t, k)] as [string, TensorRecord]);
  writeSafetensorsFile(path, records, opts.metadata ?? null);
}

/** `save` for tensors on any device. */
export async function saveAsync(obj: StateDict | Map<string, Tensor>, path: string, opts: SaveOptions = {}): Promise<void> {
  const records: [string, TensorRecord][] = [];
  for (const [k, t] of stateDictEntries('save', obj)) records.push([k, await tensorToRecordAsync(t, k)]);
  writeSafetensorsFile(path, records, opts.metadata ?? null);
}

/** Which format a file is in, from its first bytes. */
export function sniffFormat(head: Uint8Array): 'torch' | 'torch-legacy' | 'safetensors' {
  if (looksLikeZip(head)) return 'torch';
  if (isLegacyTorch(head)) return 'torch-legacy';
  return 'safetensors';
}

/**
 * Reads a state dict from a safetensors file or a PyTorch torch.save file (.pt/.pth, the zip
 * format), never running code from the file. A PyTorch file holding nested containers (an
 * optimizer's state dict, say) loads as nested objects and arrays with tensors as leaves.
 */
export function load<T = StateDict>(path: string, opts: LoadOptions = {}): T {
  const src = fileSource(path, 'load');
  try {
    const head = readRange('load', src, 0, Math.min(src.size, 32), 'the file header');
    const format = sniffFormat(head);
    if (format === 'safetensors') {
      const { tensors } = readSafetensors(src);
      const out: Record<string, Tensor> = {};
      for (const [k, r] of Object.entries(tensors))
        Object.defineProperty(out, k, { value: recordToTensor(r, opts), enumerable: true, writable: true, configurable: true });
      return out as T;
    }
    return readTorch(src, {
      tensor: (r: TensorRecord, info: TensorInfo) => recordToTensor(r, { ...opts, requiresGrad: info.isParameter && info.requiresGrad }),
    }) as T;
  } finally {
    src.close();
  }
}
