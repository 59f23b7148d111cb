/**
 * Fixture tensors for the nn tests (test/nn-layers.test.ts, nn-loss.test.ts, nn-rnn.test.ts):
 * decoding the {shape, dtype, data} encoding of scripts/gen_nn_*_fixtures.py into torchlet
 * tensors on a device, comparing results with it within tolerances, and running a fixture test
 * on the cpu and, where an adapter exists, on webgpu.
 *
 * Not a test file: tap runs test/**\/*.test.ts only (the "tap" section of package.json).
 */
import type { Test } from 'tap';
import * as torch from '../../src/index.js';
import { Tensor } from '../../src/index.js';
import { getBackend, unavailableReason } from '../../src/device/registry.js';
import { num } from './fixtures.js';

/** A fixture tensor: dtype, shape and the values flattened row-major (see num for non-finite ones). */
export type Enc = { shape: number[]; dtype: string; data: (number | string | boolean)[] } | null;

// ---------------------------------------------------------------- devices

/** Why webgpu cannot run here (null where an adapter exists). */
export const WEBGPU_REASON = unavailableReason('webgpu');
/** The devices the fixture tests run on: the cpu, and webgpu (float32 there). */
export const DEVICES = ['cpu', 'webgpu'];
/** Subtest options: the webgpu variant is skipped, with the reason, where there is no adapter. */
export const on = (device: string) => ({ skip: device === 'webgpu' ? WEBGPU_REASON ?? false : false });

// ---------------------------------------------------------------- decoding

/** A tensor from a fixture encoding (on a device; float32 where the device holds no float64). */
export function dec(e: Enc, requiresGrad = false, device = 'cpu'): Tensor {
  if (!e) throw new Error('missing fixture tensor');
  let x = e.dtype === 'bool'
    ? torch.tensor(e.data.map((v) => !!v) as boolean[]).reshape(e.shape)
    : torch.fromBuffer(Float64Array.from(e.data.map(num)), e.shape).to(e.dtype as torch.DType);
  if (device !== 'cpu') x = x.to({ device, dtype: x.dtype === 'float64' && !getBackend(device).supportsDtype('float64') ? 'float32' : x.dtype });
  return requiresGrad ? x.requiresGrad_(true) : x;
}

/** Options with their fixture tensors decoded (on a device), other values as they are. */
export function decOpts(o: Record<string, unknown>, device = 'cpu'): Record<string, any> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) out[k] = v && typeof v === 'object' && 'shape' in (v as object) ? dec(v as Enc, false, device) : v;
  return out;
}

/** A fixture state dict as tensors (on the cpu; modules are moved to the device after loading). */
export function decSD(sd: Record<string, Enc>): Record<string, Tensor> {
  return Object.fromEntries(Object.entries(sd).map(([k, v]) => [k, dec(v)]));
}

// ---------------------------------------------------------------- comparison

/** Asserts got is close to the fixture (NaN matches NaN, an infinity itself), reporting the worst
 * element; tolerances default to float32's. */
export function close(tt: Test, got: Tensor | null | undefined, want: Enc, what: string, atol = 1e-5, rtol = 1e-5): void {
  if (!got) { tt.fail(`${what}: missing`); return; }
  if (!want) { tt.fail(`${what}: no expected value`); return; }
  tt.same([...got.shape], want.shape, `${what} shape`);
  const g = got.cpu().to('float64').dataSync();
  const w = want.data.map(num);
  let worst = -1, at = -1;
  for (let i = 0; i < w.length; i++) {
    const a = g[i], b = w[i];
    if (Number.isNaN(b) && Number.isNaN(a)) continue;
    if (!Number.isFinite(b) && a === b) continue;
    const err = Math.abs(a - b) - (atol + rtol * Math.abs(b));
    if (!(err <= 0) && (Number.isNaN(err) || err > worst)) { worst = Number.isNaN(err) ? Infinity : err; at = i; }
  }
  tt.ok(worst < 0, `${what} values${worst >= 0 ? ` (element ${at}: got ${g[at]}, want ${w[at]})` : ''}`);
}

/** close with other default tolerances (a file's own). */
export function closeWithin(defaultAtol: number, defaultRtol: number): typeof close {
  return (tt, got, want, what, atol = defaultAtol, rtol = defaultRtol) => close(tt, got, want, what, atol, rtol);
}

/** Sum of out * weight over the pairs: the scalar whose gradients the fixtures hold. */
export function weighted(pairs: [Tensor, Enc][]): Tensor {
  return pairs.map(([x, w]) => torch.sum(torch.mul(x, dec(w, false, x.device)))).reduce((a, b) => torch.add(a, b));
}
