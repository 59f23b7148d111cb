/**
 * Elementwise loops (unary/binary/ternary ops, copies with dtype conversion, strided fills).
 *
 * Each (op, dtypes, loop class) gets its own generated function:
 * - flat: every operand is contiguous or a broadcast scalar and the output is contiguous, so
 *   one counted loop walks all of them; scalar inputs are loaded once before the loop.
 * - general: dims are reordered and coalesced (strided.ts), then an odometer walks the outer
 *   dims and a tight pointer-bumping loop runs the innermost one.
 */
import type { DType, HostArray } from '../../dtype.js';
import { compile, loadSrc, storeSrc, type Kernel } from './codegen.js';
import { isContig, isScalarLike, numelOf, planLoops, type Plan } from './strided.js';

/** One strided operand as the loops see it. */
export interface Operand {
  readonly handle: unknown;
  readonly dtype: DType;
  readonly strides: readonly number[];
  readonly offset: number;
}

/** What to compute: how to read each input, the expression over x0/y0/z0, how to store. */
export interface EwSpec {
  /** Per input: the dtype to decode it as, or null to use the stored value as is. */
  loads: (DType | null)[];
  expr: string;
  /** The output dtype to encode for, or null to store the expression's value as is. */
  store: DType | null;
  /** Whether expr is integral when the inputs are (int64 stores then skip truncation). */
  exactInt: boolean;
}

const ARR = ['a', 'b', 'c'];
const VAL = ['x0', 'y0', 'z0'];

function loadOf(spec: EwSpec, k: number, idx: string): string {
  const d = spec.loads[k];
  return d === null ? `${ARR[k]}[${idx}]` : loadSrc(d, ARR[k], idx);
}
function storeOf(spec: EwSpec): string {
  return spec.store === null ? spec.expr : storeSrc(spec.store, spec.expr, spec.exactInt);
}

/** Flat loop; bit k of `scalarMask` marks input k as a broadcast scalar. */
function flatKernel(key: string, spec: EwSpec, scalarMask: number): Kernel {
  const n = spec.loads.length;
  const params = ['o', 'oo', 'n'];
  for (let k = 0; k < n; k++) params.push(ARR[k], ARR[k] + 'o');
  let pre = '', loads = '';
  for (let k = 0; k < n; k++) {
    if (scalarMask & (1 << k)) pre += `const ${VAL[k]} = ${loadOf(spec, k, ARR[k] + 'o')};\n`;
    else loads += `const ${VAL[k]} = ${loadOf(spec, k, `${ARR[k]}o + i`)}; `;
  }
  const body = `${pre}for (let i = 0; i < n; i++) { ${loads}o[oo + i] = ${storeOf(spec)}; }`;
  return compile(`${key}/f${scalarMask}`, params, body);
}

/** Side of the square tiles used when an input is read against the output's memory order. */
const TILE = 32;

/**
 * Odometer over the outer dims, tight strided loop over the innermost one. With `tiled`, the
 * innermost two dims are walked in TILE x TILE blocks instead of row by row, so that an input
 * whose fast dim is the output's slow one (a transpose) reuses each cache line it loads.
 */
function generalKernel(key: string, spec: EwSpec, tiled: boolean): Kernel {
  const n = spec.loads.length;
  const ops = ['o', ...ARR.slice(0, n)];
  const params = ['o', 'oo'];
  for (let k = 0; k < n; k++) params.push(ARR[k], ARR[k] + 'o');
  params.push('shape', ...ops.map((p) => p + 's'));
  const each = (f: (p: string) => string, sep = ' ') => ops.map(f).join(sep);
  let loads = '';
  for (let k = 0; k < n; k++) loads += `const ${VAL[k]} = ${loadOf(spec, k, 'i' + ARR[k])}; `;
  // a run along the innermost dim from i = lo to hi, starting at offsets i<op> = <base expression>
  const run = (base: (p: string) => string, lo: string, hi: string) =>
    `{ let ${each((p) => `i${p} = ${base(p)}`, ', ')};\n` +
    `for (let i = ${lo}; i < ${hi}; i++) { ${loads}o[io] = ${storeOf(spec)}; ${each((p) => `i${p} += s${p}_;`)} } }`;
  // the innermost two dims ([m, n]) from the current base offsets <op>o
  const plane = tiled
    ? `for (let r0 = 0; r0 < m; r0 += ${TILE}) {
  const r1 = Math.min(r0 + ${TILE}, m);
  for (let c0 = 0; c0 < n; c0 += ${TILE}) {
    const c1 = Math.min(c0 + ${TILE}, n);
    for (let r = r0; r < r1; r++) ${run((p) => `${p}o + r * t${p} + c0 * s${p}_`, 'c0', 'c1')}
  }
}`
    : `for (let r = 0; r < m; r++) ${run((p) => `${p}o + r * t${p}`, '0', 'n')}`;
  const body = `
const nd = shape.length, L = nd - 1, n = shape[L];
const ${each((p) => `s${p}_ = ${p}s[L]`, ', ')};
if (nd === 1) { ${run((p) => `${p}o`, '0', 'n')} return; }
const m = shape[L - 1], ${each((p) => `t${p} = ${p}s[L - 1]`, ', ')};
if (nd === 2) { ${plane} return; }
let outer = 1;
for (let d = 0; d < L - 1; d++) outer *= shape[d];
const idx = new Array(L - 1).fill(0);
for (let q = 0; q < outer; q++) {
  ${plane}
  for (let d = L - 2; d >= 0; d--) {
    ${each((p) => `${p}o += ${p}s[d];`)}
    if (++idx[d] < shape[d]) break;
    idx[d] = 0;
    ${each((p) => `${p}o -= ${p}s[d] * shape[d];`)}
  }
}`;
  return compile(`${key}/${tiled ? 't' : 'g'}`, params, body);
}

/** Whether some input walks its innermost two dims against the output's order (see TILE). */
function wantsTiles(p: Plan): boolean {
  const L = p.shape.length - 1;
  if (L < 1 || p.shape[L] < TILE || p.shape[L - 1] < TILE) return false;
  for (let k = 1; k < p.strides.length; k++) {
    const inner = p.strides[k][L], outer = p.strides[k][L - 1];
    if (outer !== 0 && outer < inner) return true;
  }
  return false;
}

/**
 * The kernels of one spec (op and every dtype), compiled on first use. Backends keep entries
 * in their own lookup tables so the hot path builds no key strings.
 */
export interface EwEntry {
  readonly key: string;
  readonly makeSpec: () => EwSpec;
  spec: EwSpec | null;
  /** flat kernels by scalar mask */
  readonly flat: (Kernel | undefined)[];
  general: Kernel | null;
  tiled: Kernel | null;
}

const entries = new Map<string, EwEntry>();

/** The entry for `key` (which must identify the spec uniquely); `makeSpec` runs on first use only. */
export function ewEntry(key: string, makeSpec: () => EwSpec): EwEntry {
  let e = entries.get(key);
  if (!e) entries.set(key, (e = { key, makeSpec, spec: null, flat: [], general: null, tiled: null }));
  return e;
}
function specOf(e: EwEntry): EwSpec {
  return e.spec ?? (e.spec = e.makeSpec());
}

/**
 * Runs out[i] = spec(ins[i]...) over `shape`. `key` must identify the spec (op and every dtype)
 * uniquely; `makeSpec` is only called the first time a key is seen.
 */
export function runElementwise(key: string, makeSpec: () => EwSpec, shape: readonly number[], out: Operand, ins: Operand[]): void {
  runEntry(ewEntry(key, makeSpec), shape, out, ins);
}

/** runElementwise with the entry already looked up. */
export function runEntry(e: EwEntry, shape: readonly number[], out: Operand, ins: Operand[]): void {
  const n = numelOf(shape);
  if (n === 0) return;
  const nin = ins.length;
  // Fast classification without allocating: contiguous output, inputs contiguous or scalar.
  let mask = 0, flat = isContig(shape, out.strides);
  for (let k = 0; flat && k < nin; k++) {
    const st = ins[k].strides;
    if (isScalarLike(shape, st)) mask |= 1 << k;
    else if (!isContig(shape, st)) flat = false;
  }
  let plan: Plan | null = null;
  if (!flat) {
    plan = planLoops(shape, [out.strides, ...ins.map((o) => o.strides)]);
    if (plan.shape.length === 1 && plan.strides[0][0] === 1) {
      flat = true;
      mask = 0;
      for (let k = 0; k < nin && flat; k++) {
        const s = plan.strides[k + 1][0];
        if (s === 0) mask |= 1 << k;
        else if (s !== 1) flat = false;
      }
    }
  }
  const o = out.handle as HostArray;
  if (flat) {
    let kern = e.flat[mask];
    if (!kern) e.flat[mask] = kern = flatKernel(e.key, specOf(e), mask);
    if (nin === 1) kern(o, out.offset, n, ins[0].handle, ins[0].offset);
    else if (nin === 2) kern(o, out.offset, n, ins[0].handle, ins[0].offset, ins[1].handle, ins[1].offset);
    else kern(o, out.offset, n, ins[0].handle, ins[0].offset, ins[1].handle, ins[1].offset, ins[2].handle, ins[2].offset);
    return;
  }
  const p = plan!;
  const tiled = wantsTiles(p);
  let kern = tiled ? e.tiled : e.general;
  if (!kern) {
    kern = generalKernel(e.key, specOf(e), tiled);
    if (tiled) e.tiled = kern; else e.general = kern;
  }
  const st = p.strides;
  if (nin === 1) kern(o, out.offset, ins[0].handle, ins[0].offset, p.shape, st[0], st[1]);
  else if (nin === 2) kern(o, out.offset, ins[0].handle, ins[0].offset, ins[1].handle, ins[1].offset, p.shape, st[0], st[1], st[2]);
  else {
    kern(o, out.offset, ins[0].handle, ins[0].offset, ins[1].handle, ins[1].offset, ins[2].handle, ins[2].offset,
      p.shape, st[0], st[1], st[2], st[3]);
  }
}
