/** Printing as PyTorch does (torch/_tensor_str.py rules: int/fixed/sci modes, widths, summaries). */
import type { Tensor } from './tensor.js';
import { isFloating, getDefaultDtype } from './dtype.js';

const PRECISION = 4, THRESHOLD = 1000, EDGE = 3, LINEWIDTH = 80;

function sci(v: number, width = 0): string {
  if (!Number.isFinite(v)) return pad(fmtNonFinite(v), width);
  const s = v.toExponential(PRECISION).replace(/e([+-])(\d)$/, 'e$10$2');
  return pad(s, width);
}
function fmtNonFinite(v: number): string { return Number.isNaN(v) ? 'nan' : v > 0 ? 'inf' : '-inf'; }
function pad(s: string, w: number): string { return s.length >= w ? s : ' '.repeat(w - s.length) + s; }

class Formatter {
  private floating: boolean;
  private bool: boolean;
  private intMode = true;
  private sciMode = false;
  width = 1;
  constructor(values: ArrayLike<number>, floating: boolean, bool: boolean) {
    this.floating = floating;
    this.bool = bool;
    if (bool) { this.width = values.length && Array.prototype.some.call(values, (v: number) => v === 0) ? 5 : 4; return; }
    if (!floating) {
      for (let i = 0; i < values.length; i++) this.width = Math.max(this.width, String(values[i]).length);
      return;
    }
    const nz: number[] = [];
    for (let i = 0; i < values.length; i++) { const v = values[i]; if (Number.isFinite(v) && v !== 0) nz.push(v); }
    if (nz.length === 0) return;
    let mn = Infinity, mx = 0;
    for (const v of nz) { const a = Math.abs(v); mn = Math.min(mn, a); mx = Math.max(mx, a); if (v !== Math.ceil(v)) this.intMode = false; }
    if (this.intMode) {
      if (mx / mn > 1000 || mx > 1e8) { this.sciMode = true; for (const v of nz) this.width = Math.max(this.width, sci(v).length); }
      else for (const v of nz) this.width = Math.max(this.width, v.toFixed(0).length + 1);
    } else if (mx / mn > 1000 || mx > 1e8 || mn < 1e-4) {
      this.sciMode = true;
      for (const v of nz) this.width = Math.max(this.width, sci(v).length);
    } else for (const v of nz) this.width = Math.max(this.width, v.toFixed(PRECISION).length);
  }
  format(v: number): string {
    let s: string;
    if (this.bool) s = v ? 'True' : 'False';
    else if (!this.floating) s = String(v);
    else if (this.sciMode) s = sci(v);
    else if (this.intMode) s = Number.isFinite(v) ? `${(Object.is(v, -0) ? '-0' : v.toFixed(0))}.` : fmtNonFinite(v);
    else s = Number.isFinite(v) ? v.toFixed(PRECISION) : fmtNonFinite(v);
    return pad(s, this.width);
  }
}

/** Nested value access on a host copy in row-major order. */
interface Host { values: ArrayLike<number>; shape: readonly number[]; strides: number[] }

function summarizedValues(h: Host, summarize: boolean): number[] {
  const out: number[] = [];
  const rec = (d: number, off: number) => {
    if (d === h.shape.length) { out.push(h.values[off]); return; }
    const n = h.shape[d];
    const idx = summarize && n > 2 * EDGE ? [0, 1, 2, n - 3, n - 2, n - 1] : Array.from({ length: n }, (_, i) => i);
    for (const i of idx) rec(d + 1, off + i * h.strides[d]);
  };
  rec(0, 0);
  return out;
}

function vectorStr(h: Host, off: number, indent: number, summarize: boolean, f: Formatter): string {
  const n = h.shape[h.shape.length - 1];
  const st = h.strides[h.strides.length - 1];
  const elementLength = f.width + 2;
  const perLine = Math.max(1, Math.floor((LINEWIDTH - indent) / elementLength));
  let data: string[];
  if (summarize && n > 2 * EDGE) {
    data = [0, 1, 2].map((i) => f.format(h.values[off + i * st]));
    data.push(' ...');
    data.push(...[n - 3, n - 2, n - 1].map((i) => f.format(h.values[off + i * st])));
  } else data = Array.from({ length: n }, (_, i) => f.format(h.values[off + i * st]));
  const lines: string[] = [];
  for (let i = 0; i < data.length; i += perLine) lines.push(data.slice(i, i + perLine).join(', '));
  return `[${lines.join(`,\n${' '.repeat(indent + 1)}`)}]`;
}

function tensorStr(h: Host, d: number, off: number, indent: number, summarize: boolean, f: Formatter): string {
  const dim = h.shape.length - d;
  if (dim === 0) return f.format(h.values[off]);
  if (dim === 1) return vectorStr(h, off, indent, summarize, f);
  const n = h.shape[d];
  const sub = (i: number) => tensorStr(h, d + 1, off + i * h.strides[d], indent + 1, summarize, f);
  const slices = summarize && n > 2 * EDGE ? [sub(0), sub(1), sub(2), '...', sub(n - 3), sub(n - 2), sub(n - 1)] : Array.from({ length: n }, (_, i) => sub(i));
  return `[${slices.join(`,${'\n'.repeat(dim - 1)}${' '.repeat(indent + 1)}`)}]`;
}

/** tensor([...], dtype=..., device=..., requiresGrad=true | gradFn=<...>) */
export function formatTensor(t: Tensor): string {
  if (t.isDisposed) return 'tensor(<disposed>)';
  const prefix = 'tensor(';
  const suffixes: string[] = [];
  let body: string;
  if (!t._backend.readSync) {
    body = `<${t.shape.length ? t.shape.join('x') : 'scalar'} on ${t.device}: use 'await t.array()' to read>`;
  } else {
    const values = t.detach().dataSync() as ArrayLike<number>;
    const shape = t.shape;
    const strides = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
    const h: Host = { values, shape, strides };
    const numel = t.numel();
    const summarize = numel > THRESHOLD;
    if (numel === 0 && t.ndim > 0) {
      body = '[]';
      if (!(t.ndim === 1 && shape[0] === 0)) suffixes.push(`size=(${shape.join(', ')}${shape.length === 1 ? ',' : ''})`);
    } else {
      const f = new Formatter(summarize ? summarizedValues(h, true) : values, isFloating(t.dtype), t.dtype === 'bool');
      body = tensorStr(h, 0, 0, prefix.length, summarize, f);
    }
  }
  if (t.device !== 'cpu') suffixes.push(`device='${t.device}'`);
  const dflt = t.dtype === getDefaultDtype() || t.dtype === 'int64' || t.dtype === 'bool';
  if (!dflt || (t.numel() === 0 && t.dtype !== getDefaultDtype())) suffixes.push(`dtype=${t.dtype}`);
  if (t.gradFn) suffixes.push(`gradFn=<${t.gradFn.displayName}>`);
  else if (t.requiresGrad) suffixes.push('requiresGrad=true');
  return `${prefix}${body}${suffixes.length ? ', ' + suffixes.join(', ') : ''})`;
}
