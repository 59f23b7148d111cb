/** Python-style formatting for module reprs (PyTorch's extra_repr texts print Python values). */

/** True / False */
export function pyBool(b: boolean): string { return b ? 'True' : 'False'; }

/** A float as Python's repr prints it: 1.0, 0.1, 1e-05, 1e+16. */
export function pyFloat(v: number | null | undefined): string {
  if (v === null || v === undefined) return 'None';
  if (Number.isNaN(v)) return 'nan';
  if (!Number.isFinite(v)) return v > 0 ? 'inf' : '-inf';
  if (v === 0) return Object.is(v, -0) ? '-0.0' : '0.0';
  // Python switches to exponent notation below 1e-4 and from 1e16
  const [mant, e] = v.toExponential().split('e');
  const ex = Number(e);
  if (ex < -4 || ex >= 16) return `${mant}e${ex < 0 ? '-' : '+'}${String(Math.abs(ex)).padStart(2, '0')}`;
  const s = String(v);
  return /[.e]/.test(s) ? s : `${s}.0`;
}

/** A tuple: (3, 3) or (3,) */
export function pyTuple(xs: readonly (number | null)[]): string {
  const items = xs.map((x) => (x === null ? 'None' : String(x)));
  return items.length === 1 ? `(${items[0]},)` : `(${items.join(', ')})`;
}

/** An int or a tuple, as given by the user (MaxPool2d(2) prints kernel_size=2, MaxPool2d((2, 2)) prints (2, 2)). */
export function pyIntOrTuple(v: number | null | readonly (number | null)[]): string {
  if (v === null) return 'None';
  return typeof v === 'number' ? String(v) : pyTuple(v);
}

/** A Python str repr: 'none' */
export function pyStr(s: string): string { return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`; }
