/**
 * Runs the op table (table.ts) on a device against the PyTorch fixtures: values, dtypes,
 * shapes, gradients for a fixed upstream gradient, storage sharing exactly where PyTorch's op
 * is a view (and a write through the view reaching the base), error parity, the entries'
 * own error inputs, and a leak check around every entry.
 */
import torch, { Tensor, TorchError } from '../../src/index.js';
import { getBackend } from '../../src/device/registry.js';
import type { DType } from '../../src/dtype.js';
import { OP_TABLE, NA, type OpEntry, type Call } from './table.js';
import {
  opFixtures, buildInputs, applyView, tensorOf, diffResult, diffTensor, resultTensors, isAllZero, tolFor,
  type SampleRec, type OutRec, type Operand,
} from './fixtures.js';
import { leaked } from './leak.js';

type Tap = any; // tap's Test (kept loose: the helpers only use ok/equal/test/comment)

/** dtypes a sample touches (inputs, output, creation dtype args). */
function sampleDtypes(s: SampleRec): DType[] {
  const out = new Set<DType>();
  for (const r of s.inputs) if (!('scalar' in r)) out.add(r.dtype);
  const walk = (o: OutRec | undefined) => {
    if (!o) return;
    if ('list' in o) o.list.forEach(walk);
    else if ('tuple' in o) { out.add(o.tuple.values.dtype); out.add(o.tuple.indices.dtype); }
    else if ('dtype' in o) out.add(o.dtype);
  };
  walk(s.out);
  if (typeof s.args.dtype === 'string') out.add(s.args.dtype as DType);
  return [...out];
}

/** The dtype whose tolerance applies: the least precise floating dtype the sample computes in. */
export function sampleTolDtype(s: SampleRec, fallback?: DType): DType | undefined {
  const order: DType[] = ['bfloat16', 'float16', 'float32', 'float64'];
  const ds = sampleDtypes(s);
  for (const d of order) if (ds.includes(d)) return d;
  return fallback;
}

/** Why a device cannot run a sample (a dtype it does not hold), or null. */
export function unsupportedReason(device: string, s: SampleRec): string | null {
  const be = getBackend(device);
  const bad = sampleDtypes(s).filter((d) => !be.supportsDtype(d));
  return bad.length ? `device ${device} does not support dtype ${bad.join(', ')}` : null;
}

export function forms(entry: OpEntry): [string, Call][] {
  const f: [string, Call][] = [];
  if (entry.method) f.push(['method', entry.method]);
  if (entry.fn) f.push(['function', entry.fn]);
  return f;
}

function describe(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message.split('\n')[0]}` : String(e);
}

/** A write through a view must show in its base (checked on one element, after all comparisons). */
function writeReachesBase(view: Tensor, base: Tensor): boolean {
  if (view.dtype === 'bool' || view.dtype === 'float16' || view.dtype === 'bfloat16' || view.numel() === 0) return true;
  const mark = view.dtype.startsWith('float') ? 1234.5 : 123;
  torch.noGrad(() => {
    let p = view.detach();
    while (p.ndim) p = p.select(0, 0);
    p.fill_(mark);
  });
  return Array.from(base.detach().dataSync() as ArrayLike<number>).includes(mark);
}

/**
 * Known failures of a device type (entry/sample -> reason), reported as TODO so the suite stays
 * green while the owner of that backend fixes them. Keep this list short and dated.
 */
export const KNOWN_DEVICE_FAILURES: Record<string, Record<string, string>> = {
  webgpu: {},
};

export interface EntryStats { samples: number; compared: number; skipped: string[] }

/** Runs one entry's fixture samples and error inputs on a device (synchronously; no awaits). */
export function runEntry(t: Tap, entry: OpEntry, device: string, stats: EntryStats): void {
  const rec = opFixtures()[entry.name];
  t.ok(rec, `${entry.name}: has fixture rows`);
  if (!rec) return;
  const diff = entry.diff && rec.diff;
  for (const s of rec.samples) {
    stats.samples++;
    const label0 = `${entry.name}/${s.id}`;
    const skip = entry.skip?.[s.id] ?? unsupportedReason(device, s);
    if (skip) { stats.skipped.push(`${label0}: ${skip}`); continue; }
    let first = true;
    for (const [form, call] of forms(entry)) {
      const label = `${label0} [${form}]`;
      let built: ReturnType<typeof buildInputs>;
      try {
        built = buildInputs(s, device, { grad: diff });
      } catch (e) {
        // the device cannot hold the sample's values (e.g. int64 beyond int32 on webgpu): a listed skip
        if (!(e instanceof TorchError)) throw e;
        if (first) stats.skipped.push(`${label0}: device ${device} cannot hold the inputs (${describe(e)})`);
        break;
      }
      const known = KNOWN_DEVICE_FAILURES[getBackend(device).type]?.[`${entry.name}/${s.id}`];
      const ok = (c: boolean, msg: string) => (known ? t.ok(c, msg, { todo: known }) : t.ok(c, msg));
      let result: unknown, err: unknown = null;
      try { result = call(built.values, s.args, device); } catch (e) { err = e; }
      if (result === NA) continue;
      stats.compared++;
      if (s.error !== undefined) {
        const lenient = entry.lenient?.[s.id]
          ?? (/not implemented for '(Half|BFloat16)'/.test(s.error) ? 'PyTorch 1.13 has no cpu kernel for this 16-bit float dtype; torchlet computes it in float32' : undefined);
        if (lenient) {
          t.ok(err === null || err instanceof TorchError, `${label}: accepted on purpose (${lenient})${err ? ` but threw ${describe(err)}` : ''}`);
          continue;
        }
        t.ok(err instanceof TorchError, `${label}: refused as PyTorch does ("${s.error}")${err ? (err instanceof TorchError ? '' : `; threw a non-TorchError ${describe(err)}`) : '; but it returned a result'}`);
        continue;
      }
      if (err) { t.fail(`${label}: threw ${describe(err)}`); continue; }
      const d = diffResult(result, s.out!, device, sampleTolDtype(s));
      ok(d === null, `${label}: output${d ? `: ${d}` : ''}`);
      if (d !== null) continue;
      const outs = resultTensors(result);
      // storage sharing exactly where PyTorch's op is a view
      const firstIn = built.values.find((v): v is Tensor => v instanceof Tensor);
      if (s.shares && firstIn) {
        s.shares.forEach((sh, i) => {
          if (sh === null || !outs[i]) return;
          const got = outs[i]._storage === firstIn._storage;
          t.ok(got === sh, `${label}: output ${i} ${sh ? 'shares storage with the input (a view, as PyTorch)' : 'is a copy (as PyTorch)'}${got === sh ? '' : `; torchlet ${got ? 'shares' : 'copies'}`}`);
        });
      }
      // gradients for PyTorch's upstream gradient
      const gradSkip = entry.skipGrad?.[s.id];
      if (gradSkip && first) stats.skipped.push(`${label0} gradient: ${gradSkip}`);
      if (diff && s.grads && s.gout && !gradSkip) {
        const douts = outs.filter((o) => o.requiresGrad);
        const zeroRef = s.grads.every((g) => !g || g.values.every((v) => v === 0));
        if (douts.length === 0 && zeroRef) {
          // PyTorch's output requires grad but its gradient is zero (e.g. norm p=0): nothing to compare
        } else if (douts.length !== s.gout.length) {
          t.fail(`${label}: ${douts.length} differentiable outputs, PyTorch has ${s.gout.length}`);
        } else {
          const leaves = built.leaves.filter((l): l is Tensor => l !== null);
          let grads: (Tensor | null)[] = [];
          try {
            grads = torch.autograd.grad(douts, leaves, { gradOutputs: s.gout.map((g) => tensorOf(g, device)), allowUnused: true });
          } catch (e) {
            t.fail(`${label}: backward threw ${describe(e)}`);
            grads = [];
          }
          if (grads.length) {
            let k = 0;
            built.leaves.forEach((leaf, i) => {
              if (!leaf) return;
              const g = grads[k++];
              const want = s.grads![i];
              let gd: string | null;
              if (!want) gd = g === null || isAllZero(g) ? null : 'PyTorch gives no gradient, torchlet a non-zero one';
              else if (g === null) gd = want.values.every((v) => v === 0) ? null : 'no gradient';
              else gd = diffTensor(g, want, { tol: tolFor(sampleTolDtype(s, want.dtype) ?? want.dtype, true) });
              t.ok(gd === null, `${label}: gradient of input ${i}${gd ? `: ${gd}` : ''}`);
            });
          }
        }
      }
      if (first && s.shares && firstIn) {
        s.shares.forEach((sh, i) => {
          if (sh && outs[i] && outs[i]._storage === firstIn._storage)
            t.ok(writeReachesBase(outs[i], firstIn), `${label}: a write through output ${i} is seen in the input`);
        });
      }
      first = false;
    }
  }
  const other = torch.availableDevices().find((d) => d !== device && getBackend(d) !== getBackend(device));
  for (const e of entry.errors ?? []) {
    if (e.needsOtherDevice && !other) { stats.skipped.push(`${entry.name} error (${e.what}): needs a second device`); continue; }
    let err: unknown = null;
    try { e.run(device, other!); } catch (x) { err = x; }
    const op = e.op ?? entry.api[0];
    const okType = err instanceof (e.type ?? TorchError);
    const msg = err instanceof Error ? err.message : '';
    const ok = okType && e.match.test(msg) && msg.startsWith(`${op}: `);
    t.ok(ok, `${entry.name} error (${e.what}): ${e.type?.name ?? 'TorchError'} "${op}: ...${e.match.source}..."${ok ? '' : `; got ${err ? describe(err) : 'no error'}`}`);
  }
}

export interface TableOptions {
  /** Only these entries (by name). */
  only?: string[];
  /** Check live tensors around every entry (default true). */
  leakCheck?: boolean;
}

/** Runs every op-table entry on a device, each as a subtest with a leak check around it. */
export async function runOpTable(t: Tap, device: string, opts: TableOptions = {}): Promise<{ entries: number; samples: number; compared: number; skipped: string[] }> {
  const total = { entries: 0, samples: 0, compared: 0, skipped: [] as string[] };
  let live: number | undefined;
  for (const entry of OP_TABLE) {
    if (opts.only && !opts.only.includes(entry.name)) continue;
    total.entries++;
    await t.test(`${entry.name} on ${device}`, async (tt: Tap) => {
      const stats: EntryStats = { samples: 0, compared: 0, skipped: [] };
      const r = await leaked(device, () => runEntry(tt, entry, device, stats), live);
      live = r.after;
      if (opts.leakCheck ?? true) tt.equal(r.leaked, 0, `${entry.name}: no tensors left alive on ${device} after the entry`);
      for (const s of stats.skipped) tt.comment(`skipped ${s}`);
      total.samples += stats.samples;
      total.compared += stats.compared;
      total.skipped.push(...stats.skipped);
    });
  }
  return total;
}

/** The inputs and call gradcheck uses for a sample (float64 bases; views replayed inside fn). */
export function gradcheckCase(entry: OpEntry, s: SampleRec, device: string): { fn: (...xs: Tensor[]) => Tensor[]; inputs: Tensor[] } | null {
  const call = entry.method ?? entry.fn;
  if (!call) return null;
  const scalars: Operand[] = [];
  const bases: Tensor[] = [];
  const slots: ({ tensor: number; view?: any } | { scalar: Operand })[] = [];
  const built = buildInputs({ ...s, inputs: s.inputs.map((r) => ('scalar' in r ? r : { ...r, view: undefined })) }, device, { grad: true, float64: true });
  s.inputs.forEach((r, i) => {
    if ('scalar' in r) { slots.push({ scalar: built.values[i] }); scalars.push(built.values[i]); return; }
    const base = built.values[i] as Tensor;
    slots.push({ tensor: bases.length, view: r.view });
    bases.push(base);
  });
  if (!bases.some((b) => b.requiresGrad)) return null;
  const views = (xs: Tensor[]) => slots.map((sl) => ('scalar' in sl ? sl.scalar : applyView(xs[sl.tensor], sl.view)));
  const fn = (...xs: Tensor[]) => resultTensors(call(views(xs), s.args, device)).filter((o) => o.dtype === 'float64' || o.dtype === 'float32');
  return { fn, inputs: bases };
}
