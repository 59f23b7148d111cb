/**
 * The whole op table (test/optable/) on the webgpu device, every sample compared with the cpu
 * computing in float64 (the reference), at float32 tolerances (float16 ones for float16 samples).
 *
 * test/core-ops.test.ts runs the table on webgpu too, against PyTorch's fixtures, but only the
 * samples whose dtypes the device holds. Here every sample runs: float64 and bfloat16 tensors
 * (which webgpu does not hold) become float32, the cpu reference gets the very same (rounded)
 * values in float64, and outputs and gradients (for PyTorch's upstream gradient) are compared.
 * Error samples are left to core-ops (error parity is checked there on every device).
 * Samples not run are listed with the reason in EXCLUDED; a leak check wraps every entry.
 */
import t from 'tap';
import torch, { Tensor, DTypeError, type DType } from '../src/index.js';
import { getBackend, unavailableReason } from '../src/device/registry.js';
import { OP_TABLE, NA, API_TENSOR_OPS, type OpEntry } from './optable/table.js';
import { opFixtures, tensorOf, applyView, resultTensors, num, tolFor, type SampleRec, type TensorRec, type OutRec, type Tol } from './optable/fixtures.js';
import { forms } from './optable/runner.js';
import { leaked } from './optable/leak.js';

const DEVICE = 'webgpu';
const reason = unavailableReason('webgpu');

/**
 * Samples not run on webgpu, with the reason. Keys are `op/sampleId`. (Every op of API.md's
 * Tensor section runs; only these samples are left out.)
 */
const EXCLUDED: Record<string, string> = {
  'add/int64_large': 'int64 values beyond the int32 range: webgpu stores int64 as int32 (WGSL has no 64-bit integers); such a tensor is refused with a clear error',
  'sum/int64_large': 'int64 values beyond the int32 range: webgpu stores int64 as int32 (WGSL has no 64-bit integers); such a tensor is refused with a clear error',
};

const FLOATS: DType[] = ['float16', 'bfloat16', 'float32', 'float64'];
const isFloat = (d: DType): boolean => FLOATS.includes(d);

/** The dtype a sample's tensor has on webgpu: its own where the device holds it, else float32 for floats. */
function onDevice(d: DType): DType | null {
  if (getBackend(DEVICE).supportsDtype(d)) return d;
  return isFloat(d) ? 'float32' : null;
}

function mapArgs(a: Record<string, any>): Record<string, any> {
  return typeof a.dtype === 'string' ? { ...a, dtype: onDevice(a.dtype as DType) } : a;
}

function outDtypes(o: OutRec | undefined, acc: DType[] = []): DType[] {
  if (!o) return acc;
  if ('list' in o) o.list.forEach((q) => outDtypes(q, acc));
  else if ('tuple' in o) acc.push(o.tuple.values.dtype, o.tuple.indices.dtype);
  else if ('dtype' in o) acc.push(o.dtype);
  return acc;
}

/** The least precise floating dtype the webgpu run computes in (its tolerance applies). */
function tolDtype(s: SampleRec): DType {
  const ds = [...s.inputs.flatMap((r) => ('scalar' in r ? [] : [r.dtype])), ...outDtypes(s.out)];
  if (typeof s.args.dtype === 'string') ds.push(s.args.dtype);
  return ds.map(onDevice).includes('float16') ? 'float16' : 'float32';
}

interface Built { values: (Tensor | number | boolean | null)[]; leaves: (Tensor | null)[] }

/**
 * The sample's inputs on webgpu (dtypes mapped) and on the cpu (the same values; floats in
 * float64), views applied to both.
 */
function buildPair(s: SampleRec, diff: boolean): { dev: Built; ref: Built } {
  const dev: Built = { values: [], leaves: [] }, ref: Built = { values: [], leaves: [] };
  for (const r of s.inputs) {
    if ('scalar' in r) {
      const v = r.scalar === null ? null : typeof r.scalar === 'boolean' ? r.scalar : num(r.scalar);
      dev.values.push(v); ref.values.push(v);
      dev.leaves.push(null); ref.leaves.push(null);
      continue;
    }
    const dt = onDevice(r.dtype)!;
    const base = tensorOf({ ...r, dtype: dt } as TensorRec, DEVICE, dt);
    const host = base.cpu();
    const refBase = isFloat(dt) ? host.to('float64') : host;
    const grad = diff && !!r.grad;
    if (grad) { base.requiresGrad_(true); refBase.requiresGrad_(true); }
    dev.leaves.push(grad ? base : null);
    ref.leaves.push(grad ? refBase : null);
    dev.values.push(applyView(base, r.view));
    ref.values.push(applyView(refBase, r.view));
  }
  return { dev, ref };
}

/** First mismatch between a webgpu tensor and the cpu reference, or null. */
function diffTensors(a: unknown, e: unknown, tol: Tol, wantDtype?: DType | null): string | null {
  if (!(a instanceof Tensor)) return `expected a Tensor, got ${a === null ? 'null' : typeof a}`;
  if (!(e instanceof Tensor)) return 'the reference is not a tensor';
  if (a.device !== DEVICE) return `result on ${a.device}, expected ${DEVICE}`;
  if (wantDtype && a.dtype !== wantDtype) return `dtype ${a.dtype}, expected ${wantDtype}`;
  if (a.shape.length !== e.shape.length || a.shape.some((n, i) => n !== e.shape[i])) return `shape [${a.shape}], reference [${e.shape}]`;
  const got = Array.from(a.detach().dataSync() as ArrayLike<number>);
  const want = Array.from(e.detach().dataSync() as ArrayLike<number>);
  const exact = !isFloat(a.dtype);
  for (let i = 0; i < want.length; i++) {
    const x = got[i], y = want[i];
    if (Number.isNaN(x) || Number.isNaN(y)) {
      if (Number.isNaN(x) !== Number.isNaN(y)) return `element ${i}: ${x}, reference ${y}`;
      continue;
    }
    if (!Number.isFinite(x) || !Number.isFinite(y)) {
      // float32 overflows where float64 does not: compare as float32 would hold the reference
      if (x !== Math.fround(y)) return `element ${i}: ${x}, reference ${y}`;
      continue;
    }
    const bound = exact ? 0 : tol.atol + tol.rtol * Math.abs(y);
    if (Math.abs(x - y) > bound) return `element ${i}: ${x}, reference ${y} (|diff| ${Math.abs(x - y)})`;
  }
  return null;
}

/** Compares an op result with the reference result, following the fixture's output record. */
function diffResults(a: unknown, e: unknown, rec: OutRec, tol: Tol): string | null {
  if ('list' in rec) {
    if (!Array.isArray(a) || !Array.isArray(e)) return 'expected an array of results';
    if (a.length !== rec.list.length || e.length !== rec.list.length) return `got ${a.length} results, expected ${rec.list.length}`;
    for (let i = 0; i < rec.list.length; i++) {
      const d = diffResults(a[i], e[i], rec.list[i], tol);
      if (d) return `result ${i}: ${d}`;
    }
    return null;
  }
  if ('tuple' in rec) {
    const x = a as { values: unknown; indices: unknown }, y = e as { values: unknown; indices: unknown };
    if (!x || typeof x !== 'object' || !('values' in x)) return 'expected { values, indices }';
    const dv = diffTensors(x.values, y.values, tol, onDevice(rec.tuple.values.dtype));
    if (dv) return `values: ${dv}`;
    const di = diffTensors(x.indices, y.indices, tol, rec.tuple.indices.dtype);
    return di ? `indices: ${di}` : null;
  }
  if ('number' in rec) {
    const x = Number(a), y = Number(e);
    return Object.is(x, y) || Math.abs(x - y) <= tol.atol + tol.rtol * Math.abs(y) ? null : `${x}, reference ${y}`;
  }
  return diffTensors(a, e, tol, onDevice(rec.dtype));
}

function describe(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message.split('\n')[0]}` : String(e);
}

interface Stats { samples: number; compared: number; grads: number; excluded: string[]; refused: string[] }

function runEntry(tt: any, entry: OpEntry, stats: Stats): void {
  const rec = opFixtures()[entry.name];
  if (!rec) { tt.fail(`${entry.name}: no fixture rows`); return; }
  for (const s of rec.samples) {
    if (s.error !== undefined) continue;
    stats.samples++;
    const label0 = `${entry.name}/${s.id}`;
    // entry.skip / skipGrad list differences from PyTorch's fixtures; the cpu reference has none
    const why = EXCLUDED[label0];
    if (why) { stats.excluded.push(`${label0}: ${why}`); continue; }
    const diff = entry.diff && rec.diff;
    const tol = tolFor(tolDtype(s)), gtol = tolFor(tolDtype(s), true);
    const devArgs = mapArgs(s.args);
    for (const [form, call] of forms(entry)) {
      const label = `${label0} [${form}]`;
      const { dev, ref } = buildPair(s, diff);
      let out: unknown, want: unknown;
      try { want = call(ref.values, devArgs, 'cpu'); } catch (e) { tt.fail(`${label}: the cpu reference threw ${describe(e)}`); continue; }
      if (want === NA) continue;
      const unheld = outDtypes(s.out).filter((dt) => onDevice(dt) !== dt);
      try { out = call(dev.values, devArgs, DEVICE); } catch (e) {
        // a result dtype webgpu does not hold (x.double()): API.md asks for a clear error naming both
        const clear = e instanceof DTypeError && unheld.length > 0 && unheld.every((dt) => e.message.includes(dt)) && e.message.includes(DEVICE);
        if (clear) stats.refused.push(`${label}: ${e.message.split('\n')[0]}`);
        tt.ok(clear, `${label}: ${clear ? 'refused: the result dtype is not held by webgpu' : `threw ${describe(e)}`}`);
        continue;
      }
      stats.compared++;
      const d = diffResults(out, want, s.out!, tol);
      tt.ok(d === null, `${label}: output${d ? `: ${d}` : ''}`);
      if (d !== null || !diff || !s.gout) continue;
      const outs = resultTensors(out).filter((o) => o.requiresGrad);
      const refs = resultTensors(want).filter((o) => o.requiresGrad);
      if (outs.length !== refs.length) { tt.fail(`${label}: ${outs.length} differentiable outputs, the reference has ${refs.length}`); continue; }
      if (outs.length === 0 || outs.length !== s.gout.length) continue;
      const leaves = dev.leaves.filter((l): l is Tensor => l !== null);
      const refLeaves = ref.leaves.filter((l): l is Tensor => l !== null);
      let g: (Tensor | null)[], gr: (Tensor | null)[];
      try {
        gr = torch.autograd.grad(refs, refLeaves, { gradOutputs: s.gout.map((q) => tensorOf(q, 'cpu', 'float64').to(refs[0].dtype)), allowUnused: true });
      } catch (e) { tt.fail(`${label}: the cpu reference backward threw ${describe(e)}`); continue; }
      try {
        g = torch.autograd.grad(outs, leaves, { gradOutputs: s.gout.map((q, i) => tensorOf({ ...q, dtype: outs[i].dtype }, DEVICE, outs[i].dtype)), allowUnused: true });
      } catch (e) { tt.fail(`${label}: backward threw ${describe(e)}`); continue; }
      stats.grads++;
      g.forEach((gi, i) => {
        const ri = gr[i];
        let gd: string | null;
        if (!gi || !ri) gd = (gi === null) === (ri === null) ? null : `${gi ? 'a' : 'no'} gradient where the reference has ${ri ? 'one' : 'none'}`;
        else gd = diffTensors(gi, ri, gtol);
        tt.ok(gd === null, `${label}: gradient of input ${i}${gd ? `: ${gd}` : ''}`);
      });
    }
  }
}

if (reason !== null) t.comment(`webgpu op-table tests skipped: ${reason}`);
t.test('op table on webgpu vs the cpu in float64', { skip: reason ?? false }, async (t) => {
  const total: Stats = { samples: 0, compared: 0, grads: 0, excluded: [], refused: [] };
  const ran = new Set<string>();
  let live: number | undefined;
  // WEBGPU_OPS_ONLY=exp,sum runs only those entries (while debugging a kernel)
  const only = process.env.WEBGPU_OPS_ONLY?.split(',');
  for (const entry of OP_TABLE) {
    if (only && !only.includes(entry.name)) continue;
    await t.test(entry.name, async (tt) => {
      const r = await leaked(DEVICE, () => runEntry(tt, entry, total), live);
      live = r.after;
      tt.equal(r.leaked, 0, `${entry.name}: no tensors left alive on webgpu`);
    });
    entry.api.forEach((a) => ran.add(a));
  }
  const excludedOps = [...new Set(total.excluded.map((e) => e.split('/')[0]))];
  t.comment(`webgpu: ${OP_TABLE.length} ops, ${total.samples} samples, ${total.compared} outputs and ${total.grads} gradient sets compared with the cpu (float64)`);
  t.comment(`excluded samples (${total.excluded.length}):`);
  for (const e of total.excluded) t.comment(`  ${e}`);
  t.comment(`refused with a clear error, as API.md asks for a dtype the device does not hold (${total.refused.length}):`);
  for (const e of total.refused) t.comment(`  ${e}`);
  const missing = API_TENSOR_OPS.filter((a) => !ran.has(a));
  t.comment(`API.md Tensor ops without an op-table entry (covered in core-tensor): ${missing.join(', ') || 'none'}`);
  t.ok(excludedOps.every((o) => opFixtures()[o].samples.some((s) => !s.error && !total.excluded.some((e) => e.startsWith(`${o}/${s.id}:`)))),
    'every op has samples that run on webgpu (no op is excluded as a whole)');
});
