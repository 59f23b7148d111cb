/**
 * Reading the PyTorch fixtures (test/fixtures/core/*.json, written by scripts/gen_fixtures.py)
 * and turning their records into torchlet tensors and comparisons.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import torch, { Tensor, type DType } from '../../src/index.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const FIXTURES = path.join(HERE, '..', 'fixtures', 'core');

export type Num = number | 'nan' | 'inf' | '-inf';
export interface TensorRec { shape: number[]; dtype: DType; values: Num[]; view?: ViewStep[]; grad?: boolean }
export type ViewStep = [string, ...any[]];
export type InputRec = TensorRec | { scalar: Num | boolean | null };
export type OutRec = TensorRec | { list: OutRec[] } | { tuple: { values: TensorRec; indices: TensorRec } } | { number: Num };
export interface SampleRec {
  id: string;
  inputs: InputRec[];
  args: Record<string, any>;
  gc?: boolean;
  error?: string;
  out?: OutRec;
  shares?: (boolean | null)[];
  gout?: TensorRec[];
  grads?: (TensorRec | null)[];
}
export interface OpRec { diff: boolean; samples: SampleRec[] }

let cache: Record<string, OpRec> | null = null;
/** Every op's fixture rows, keyed by op name. */
export function opFixtures(): Record<string, OpRec> {
  if (!cache) cache = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'ops.json'), 'utf8')).ops;
  return cache!;
}
export function readFixture(name: string): any {
  return JSON.parse(fs.readFileSync(path.join(FIXTURES, name), 'utf8'));
}

export function num(v: Num | boolean): number {
  if (typeof v === 'boolean') return v ? 1 : 0;
  return v === 'nan' ? NaN : v === 'inf' ? Infinity : v === '-inf' ? -Infinity : v;
}

/** A contiguous tensor holding a record's values (dtype and shape as recorded). */
export function tensorOf(rec: TensorRec, device: string, dtype: DType = rec.dtype): Tensor {
  const vals = rec.values.map(num);
  let host: ArrayBufferView;
  switch (dtype) {
    case 'float64': case 'int64': host = Float64Array.from(vals); break;
    case 'int32': host = Int32Array.from(vals); break;
    case 'uint8': case 'bool': host = Uint8Array.from(vals); break;
    default: host = Float32Array.from(vals); // float32, and float16/bfloat16 converted by fromBuffer
  }
  if (dtype !== rec.dtype && (dtype === 'float64' || dtype === 'float32')) host = (dtype === 'float64' ? Float64Array : Float32Array).from(vals);
  return torch.fromBuffer(host, rec.shape, { dtype, device });
}

/** Replays a fixture's view recipe (transpose / slice / expand / permute / select / narrow / unsqueeze). */
export function applyView(x: Tensor, steps: readonly ViewStep[] | undefined): Tensor {
  for (const [op, ...a] of steps ?? []) {
    switch (op) {
      case 'transpose': x = x.transpose(a[0], a[1]); break;
      case 'slice': {
        const [dim, start, stop, step] = a;
        const specs: string[] = Array(dim).fill(':');
        specs.push(`${start ?? ''}:${stop ?? ''}:${step ?? ''}`);
        x = x.index(...specs);
        break;
      }
      case 'expand': x = x.expand(a[0]); break;
      case 'permute': x = x.permute(a[0]); break;
      case 'select': x = x.select(a[0], a[1]); break;
      case 'narrow': x = x.narrow(a[0], a[1], a[2]); break;
      case 'unsqueeze': x = x.unsqueeze(a[0]); break;
      default: throw new Error(`unknown view step ${op}`);
    }
  }
  return x;
}

export type Operand = Tensor | number | boolean | null;
export interface Built {
  /** What the op receives (views applied; scalars as JS numbers/booleans). */
  values: Operand[];
  /** The leaf each differentiable input was built from (null where no gradient is taken). */
  leaves: (Tensor | null)[];
}

/**
 * Builds a sample's inputs on a device. `dtypeOverride` (gradcheck) turns floating inputs into
 * float64; `grad` false builds every input without requiresGrad.
 */
export function buildInputs(s: SampleRec, device: string, opts: { grad?: boolean; float64?: boolean } = {}): Built {
  const values: Operand[] = [], leaves: (Tensor | null)[] = [];
  for (const r of s.inputs) {
    if ('scalar' in r) {
      const v = r.scalar;
      values.push(v === null ? null : typeof v === 'boolean' ? v : num(v));
      leaves.push(null);
      continue;
    }
    const floating = r.dtype.startsWith('float') || r.dtype === 'bfloat16';
    const dt: DType = opts.float64 && floating ? 'float64' : r.dtype;
    const base = tensorOf(r, device, dt);
    const grad = (opts.grad ?? true) && !!r.grad;
    if (grad) base.requiresGrad_(true);
    leaves.push(grad ? base : null);
    values.push(applyView(base, r.view));
  }
  return { values, leaves };
}

// ---------------------------------------------------------------- comparison

export interface Tol { rtol: number; atol: number }
export function tolFor(dtype: DType, grad = false): Tol {
  switch (dtype) {
    case 'float64': return { rtol: 1e-9, atol: 1e-10 };
    case 'float32': return grad ? { rtol: 1e-4, atol: 1e-5 } : { rtol: 2e-5, atol: 1e-5 };
    case 'float16': return { rtol: 2e-3, atol: 1e-3 };
    case 'bfloat16': return { rtol: 1e-2, atol: 1e-2 };
    default: return { rtol: 0, atol: 0 };
  }
}

/** The first mismatch between a tensor and a record, or null when they agree. */
export function diffTensor(actual: unknown, rec: TensorRec, opts: { tol?: Tol; checkDtype?: boolean; grad?: boolean } = {}): string | null {
  if (!(actual instanceof Tensor)) return `expected a Tensor, got ${actual === null ? 'null' : typeof actual}`;
  if ((opts.checkDtype ?? true) && actual.dtype !== rec.dtype) return `dtype ${actual.dtype}, expected ${rec.dtype}`;
  if (actual.shape.length !== rec.shape.length || actual.shape.some((s, i) => s !== rec.shape[i]))
    return `shape [${actual.shape.join(', ')}], expected [${rec.shape.join(', ')}]`;
  const got = Array.from(actual.detach().dataSync() as ArrayLike<number>);
  const want = rec.values.map(num);
  if (got.length !== want.length) return `numel ${got.length}, expected ${want.length}`;
  const tol = opts.tol ?? tolFor(rec.dtype, opts.grad);
  for (let i = 0; i < want.length; i++) {
    const a = got[i], e = want[i];
    if (Number.isNaN(e) || Number.isNaN(a)) {
      if (Number.isNaN(e) !== Number.isNaN(a)) return `element ${i}: ${a}, expected ${e}`;
      continue;
    }
    if (!Number.isFinite(e) || !Number.isFinite(a)) {
      if (a !== e) return `element ${i}: ${a}, expected ${e}`;
      continue;
    }
    if (Math.abs(a - e) > tol.atol + tol.rtol * Math.abs(e)) return `element ${i}: ${a}, expected ${e} (|diff| ${Math.abs(a - e)})`;
  }
  return null;
}

/** A record of all zeros of a shape (PyTorch's None gradient compares as zeros). */
export function isAllZero(t: Tensor): boolean {
  return Array.from(t.detach().dataSync() as ArrayLike<number>).every((v) => v === 0);
}

/** Flattens an op result to its tensors (tuple results: values only), as the fixture's gout is laid out. */
export function resultTensors(r: unknown): Tensor[] {
  if (r instanceof Tensor) return [r];
  if (Array.isArray(r)) return r.filter((x): x is Tensor => x instanceof Tensor);
  if (r && typeof r === 'object' && 'values' in r && 'indices' in r) return [(r as { values: Tensor }).values];
  return [];
}

/** The first mismatch between an op result and the fixture's output record. */
export function diffResult(actual: unknown, rec: OutRec, device: string, tolDtype?: DType): string | null {
  if ('list' in rec) {
    if (!Array.isArray(actual)) return `expected an array of ${rec.list.length} results, got ${typeof actual}`;
    if (actual.length !== rec.list.length) return `got ${actual.length} results, expected ${rec.list.length}`;
    for (let i = 0; i < rec.list.length; i++) {
      const d = diffResult(actual[i], rec.list[i], device, tolDtype);
      if (d) return `result ${i}: ${d}`;
    }
    return null;
  }
  if ('tuple' in rec) {
    if (!actual || typeof actual !== 'object' || !('values' in actual) || !('indices' in actual)) return 'expected { values, indices }';
    const a = actual as { values: unknown; indices: unknown };
    const dv = diffResult(a.values, rec.tuple.values, device, tolDtype);
    if (dv) return `values: ${dv}`;
    const di = diffResult(a.indices, rec.tuple.indices, device);
    return di ? `indices: ${di}` : null;
  }
  if ('number' in rec) {
    if (typeof actual !== 'number' && typeof actual !== 'boolean') return `expected a number, got ${typeof actual}`;
    const a = Number(actual), e = num(rec.number);
    return Object.is(a, e) || Math.abs(a - e) <= 1e-6 * Math.abs(e) ? null : `${a}, expected ${e}`;
  }
  if (actual instanceof Tensor && actual.device !== device) return `result on device ${actual.device}, expected ${device}`;
  const floating = rec.dtype.startsWith('float') || rec.dtype === 'bfloat16';
  return diffTensor(actual, rec, floating && tolDtype ? { tol: tolFor(tolDtype) } : {});
}
