/**
 * WGSL generation for the webgpu device. Elementwise kernels are rendered from the op table
 * in ../kernels.ts; the other kernels (reduce, cumsum, matmul, gather/scatter, sort) are
 * templates parameterised by dtype.
 *
 * Every kernel reads its parameters from binding 0, `P: array<u32>`. Strided operands are
 * described by an "index block": [count, ndim, shape[8], then per operand: offset,
 * strides[8]]; `decompose` turns a linear index into each operand's element offset.
 */
import { WGSL_PRELUDE, exprFor, render, wgslDialect, type Dialect, type Expr, type MathFn } from '../kernels.js';
import type { DType } from '../../dtype.js';
import type { ReduceOp } from '../backend.js';
import { computeOf, elemType, loadAs, storeAs, type ComputeType, type WgslElem } from './format.js';
import { MAX_DIMS } from './protocol.js';

export interface BindingSpec {
  /** WGSL element type of the array, or 'atomic' for array<atomic<u32>>. */
  elem: WgslElem | 'atomic';
  access: 'read' | 'read_write';
}
export interface KernelSpec {
  code: string;
  /** Bindings 1..n (binding 0 is always the parameter block). */
  bindings: BindingSpec[];
}

/** Threads per workgroup of the 1-D kernels. */
export const WG = 256;

/** u32 count of an index block with `nOps` operands. */
export const blockSize = (nOps: number): number => 2 + MAX_DIMS + nOps * (1 + MAX_DIMS);

/** Builds an index block (see the file comment). */
export function indexBlock(count: number, shape: readonly number[], ops: { offset: number; strides: readonly number[] }[]): number[] {
  const out = new Array<number>(blockSize(ops.length)).fill(0);
  out[0] = count;
  out[1] = shape.length;
  for (let d = 0; d < shape.length; d++) out[2 + d] = shape[d];
  ops.forEach((o, k) => {
    const b = 2 + MAX_DIMS + k * (1 + MAX_DIMS);
    out[b] = o.offset;
    for (let d = 0; d < o.strides.length; d++) out[b + 1 + d] = o.strides[d];
  });
  return out;
}

/**
 * WGSL: declares `${pfx}0..` = each operand's element offset for linear index `idx` of the
 * block at `base`. `flat` (the block has at most one dim) skips the div/mod walk: offset + idx * stride.
 */
function decompose(base: number, nOps: number, idx: string, pfx: string, flat = false): string {
  const opBase = (k: number) => base + 2 + MAX_DIMS + k * (1 + MAX_DIMS);
  if (flat) return Array.from({ length: nOps }, (_, k) => `  var ${pfx}${k} = P[${opBase(k)}u] + ${idx} * P[${opBase(k) + 1}u];`).join('\n');
  const decl = Array.from({ length: nOps }, (_, k) => `  var ${pfx}${k} = P[${opBase(k)}u];`).join('\n');
  const acc = Array.from({ length: nOps }, (_, k) => `      ${pfx}${k} = ${pfx}${k} + c * P[${opBase(k)}u + d];`).join('\n');
  return `${decl}
  {
    var rem = ${idx};
    for (var d = P[${base + 1}u]; d > 0u; d = d - 1u) {
      let s = P[${base + 1}u + d];
      let c = rem % s;
      rem = rem / s;
${acc}
    }
  }`;
}

/**
 * WGSL_PRELUDE builds NaN/Inf with `bitcast<f32>(const)`, which WGSL rejects as a
 * const-expression ("value nan cannot be represented as 'f32'"); routing the constant through
 * a function call makes it a runtime value. (A no-op once kernels.ts avoids the pattern.)
 */
const PRELUDE = WGSL_PRELUDE.replace(/bitcast<f32>\((0x[0-9a-f]+u)\)/gi, 'bitcast<f32>(tl_rt($1))');
const RUNTIME_HELPER = 'fn tl_rt(v: u32) -> u32 { return v; }';

/**
 * A kernel's storage arrays, bindings 1..n in the order the worker passes its buffers, with
 * the WGSL name each is declared under.
 */
class Bindings {
  readonly specs: BindingSpec[] = [];
  private readonly names: string[] = [];

  /** Declares array `name` as the next binding; returns the name for use in the template. */
  add(name: string, elem: BindingSpec['elem'], access: BindingSpec['access'] = 'read'): string {
    this.specs.push({ elem, access });
    this.names.push(name);
    return name;
  }

  /**
   * An input of dtype d that may be the output buffer itself. WebGPU rejects a buffer bound
   * both read-only and writable in one dispatch, so the worker then passes it once and the
   * kernel reads it through O; returns the array to read from.
   */
  input(name: string, d: DType, aliased: boolean): string {
    return aliased ? 'O' : this.add(name, elemType(d));
  }

  /** The preludes and the declarations of P and every array. */
  header(): string {
    const f16 = this.specs.some((b) => b.elem === 'f16');
    const lines = [f16 ? 'enable f16;' : '', RUNTIME_HELPER, PRELUDE, INT_PRELUDE, '@group(0) @binding(0) var<storage, read> P: array<u32>;'];
    this.specs.forEach((b, i) => {
      const t = b.elem === 'atomic' ? 'atomic<u32>' : b.elem;
      lines.push(`@group(0) @binding(${i + 1}) var<storage, ${b.access}> ${this.names[i]}: array<${t}>;`);
    });
    return lines.join('\n');
  }
}

/** Bindings whose first array is the output O, of dtype d (written, or atomic for scatter's accumulation). */
function withOutput(d: DType, atomic = false): Bindings {
  const b = new Bindings();
  b.add('O', atomic ? 'atomic' : elemType(d), 'read_write');
  return b;
}

/**
 * The 1-D kernels: the body handles item `i` (a `return` skips to the next item); the entry
 * point walks items in a grid-stride loop, so a dispatch may use fewer threads than items
 * (software adapters do several items per thread, which halves their per-item cost).
 * `pre` is module-scope WGSL the body calls; `count` the item count (default P[0]).
 */
function kernel1d(b: Bindings, body: string, opts: { pre?: string; count?: string } = {}): KernelSpec {
  const { pre, count = 'P[0]' } = opts;
  const code = `${b.header()}
${pre !== undefined ? `${pre}\n` : ''}fn tl_item(i: u32) {
${body}
}

@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let stride = nwg.x * nwg.y * ${WG}u;
  let n = ${count};
  for (var i = gid.x + gid.y * nwg.x * ${WG}u; i < n; i = i + stride) { tl_item(i); }
}`;
  return { code, bindings: b.specs };
}

/**
 * WGSL: item `v` of the index block at 0, returning past its count, then each of its `nOps`
 * operands' element offsets as `${pfx}0..` (see decompose).
 */
function stridedItem(v: string, nOps: number, pfx: string, flat = false): string {
  return `  if (${v} >= P[0]) { return; }
${decompose(0, nOps, v, pfx, flat)}`;
}

/**
 * Entry point of the one-workgroup-per-item kernels (reduce over many elements, cumsum): the
 * workgroup's number in the 2-D grid is item `row` of the [out, x] index block, whose offsets
 * are bound to `${pfx}0`, `${pfx}1`.
 */
function groupMain(row: string, pfx: string, flat = false): string {
  return `@compute @workgroup_size(${WG})
fn main(@builtin(local_invocation_index) t: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let ${row} = wid.x + wid.y * nwg.x;
${stridedItem(row, 2, pfx, flat)}`;
}

/** The WGSL zero of a compute type. */
const zeroOf = (c: ComputeType): string => (c === 'f32' ? '0.0' : '0i');

/**
 * The type to convert between two dtypes in: f32 if either is floating, so a float source
 * reaches the integer store (tl_f2i: truncation, non-finite -> 0) unconverted.
 */
const widerOf = (a: DType, b: DType): ComputeType => (computeOf(a) === 'f32' || computeOf(b) === 'f32' ? 'f32' : 'i32');

/** WGSL: stored element `e` of dtype `from` as dtype `to` stores it, converted through c (a plain copy for equal dtypes). */
function convert(from: DType, to: DType, e: string, c: ComputeType): string {
  return from === to ? e : storeAs(to, loadAs(from, e, c), c);
}

/** Integer helpers for kernels that compute in i32, and float -> int stores (non-finite -> 0, as toStored). */
const INT_PRELUDE = /* wgsl */ `
fn tl_f2i(v: f32) -> i32 {
  if ((bitcast<u32>(v) & 0x7f800000u) == 0x7f800000u) { return 0; }
  return i32(v);
}
fn tl_ipow(a: i32, b: i32) -> i32 {
  if (b < 0) {
    if (a == 1) { return 1; }
    if (a == -1) { return select(-1, 1, (b & 1) == 0); }
    return 0;
  }
  var r = 1i;
  var base = a;
  var e = b;
  loop {
    if (e == 0) { break; }
    if ((e & 1) == 1) { r = r * base; }
    base = base * base;
    e = e >> 1u;
  }
  return r;
}
`;

// ---------------- elementwise ----------------

class NotInteger extends Error {}

/** Renders table expressions in i32 (wrapping integer arithmetic); throws NotInteger when an op needs real math. */
const I32_DIALECT: Dialect = {
  lit: (n) => {
    if (!Number.isInteger(n) || Math.abs(n) > 2147483647) throw new NotInteger();
    return n < 0 ? `(${n}i)` : `${n}i`;
  },
  call: (fn: MathFn, a: string[]) => {
    switch (fn) {
      case 'abs': return `abs(${a[0]})`;
      case 'fmax': return `max(${a[0]}, ${a[1]})`;
      case 'fmin': return `min(${a[0]}, ${a[1]})`;
      case 'floor': case 'ceil': case 'rint': case 'trunc': return `(${a[0]})`;
      case 'pow': return `tl_ipow(${a[0]}, ${a[1]})`;
      case 'fmod': return `(${a[0]} % ${a[1]})`; // truncated remainder, like C's fmod; x % 0 is 0 in WGSL
      default: throw new NotInteger();
    }
  },
  sel: (c, a, b) => `select(${b}, ${a}, ${c})`,
  isnan: () => 'false',
  boolToNum: (a) => `select(0i, 1i, ${a})`,
};

function hasRealDivision(e: Expr): boolean {
  switch (e.t) {
    case 'bin': return e.sym === '/' || hasRealDivision(e.a) || hasRealDivision(e.b);
    case 'call': return e.args.some(hasRealDivision);
    case 'neg': case 'not': case 'isnan': case 'num': return hasRealDivision(e.a);
    case 'cmp': case 'logic': return hasRealDivision(e.a) || hasRealDivision(e.b);
    case 'sel': return hasRealDivision(e.c) || hasRealDivision(e.a) || hasRealDivision(e.b);
    default: return false;
  }
}

/**
 * WGSL lets implementations assume floats are never NaN, and some do (lavapipe folds
 * `NaN != 0` to false). Float comparisons are therefore rewritten to test NaN explicitly with
 * the bit-pattern tl_isnan: ordered comparisons are false and `!=` is true when an operand is NaN.
 */
function nanSafe(e: Expr): Expr {
  const isNanOf = (a: Expr): Expr | null => (a.t === 'lit' && !Number.isNaN(a.v) ? null : { t: 'isnan', a, kind: 'bool' });
  switch (e.t) {
    case 'cmp': {
      const a = nanSafe(e.a), b = nanSafe(e.b);
      const c: Expr = { ...e, a, b };
      const checks = [isNanOf(a), isNanOf(b)].filter((q): q is Expr => q !== null);
      if (checks.length === 0) return c;
      const anyNan = checks.length === 1 ? checks[0] : { t: 'logic', sym: '||', a: checks[0], b: checks[1], kind: 'bool' } as Expr;
      return e.sym === '!='
        ? { t: 'logic', sym: '||', a: anyNan, b: c, kind: 'bool' }
        : { t: 'logic', sym: '&&', a: { t: 'not', a: anyNan, kind: 'bool' }, b: c, kind: 'bool' };
    }
    default: return mapChildren(e, nanSafe);
  }
}

/**
 * Compilers that assume no NaN/Inf also fold `a - a` to 0, which breaks isfinite's
 * `(x - x) == 0`. When both sides of an arithmetic node are the same expression, the right
 * one reads its variables through tl_opaque (an identity the compiler cannot see through).
 */
function guardSelfCancel(e: Expr): Expr {
  const opaque = (q: Expr): Expr => {
    if (q.t === 'var') return { ...q, name: `${q.name}_o` as 'x' };
    return mapChildren(q, opaque);
  };
  if (e.t === 'bin' && JSON.stringify(e.a) === JSON.stringify(e.b)) return { ...e, b: opaque(e.b) };
  return mapChildren(e, guardSelfCancel);
}

function mapChildren(e: Expr, f: (q: Expr) => Expr): Expr {
  switch (e.t) {
    case 'call': return { ...e, args: e.args.map(f) };
    case 'bin': case 'cmp': case 'logic': return { ...e, a: f(e.a), b: f(e.b) } as Expr;
    case 'neg': case 'not': case 'isnan': case 'num': return { ...e, a: f(e.a) } as Expr;
    case 'sel': return { ...e, c: f(e.c), a: f(e.a), b: f(e.b) };
    default: return e;
  }
}

const VARS = { x: 'a0', y: 'a1', z: 'a2' };
const F32_VARS = { ...VARS, x_o: 'tl_opaque(a0)', y_o: 'tl_opaque(a1)', z_o: 'tl_opaque(a2)' };
/** An f32 identity the compiler cannot fold (P[1] is a dim count, so the shift gives 0). */
const OPAQUE_FN = 'fn tl_opaque(v: f32) -> f32 { return bitcast<f32>(bitcast<u32>(v) | (P[1] >> 31u)); }';

/** The compute type and WGSL expression (over a0, a1, a2) of a table op whose numeric operands have dtype d. */
export function renderElementwise(op: string, d: DType): { c: ComputeType; expr: string } {
  const e = exprFor(op);
  if (computeOf(d) === 'i32' && !hasRealDivision(e)) {
    try {
      const s = render(e, I32_DIALECT, VARS);
      return { c: 'i32', expr: e.kind === 'bool' ? I32_DIALECT.boolToNum(s) : s };
    } catch (err) {
      if (!(err instanceof NotInteger)) throw err;
    }
  }
  const F32 = wgslDialect('f32');
  const s = render(nanSafe(guardSelfCancel(e)), F32, F32_VARS);
  return { c: 'f32', expr: e.kind === 'bool' ? F32.boolToNum(s) : s };
}

/**
 * out[i] = op(ins[0][i], ...) over a strided index block [out, ins...]. `aliased[k]` means input k
 * is the output buffer (same layout) and is read through O.
 */
export function elementwiseKernel(op: string, ins: DType[], out: DType, aliased: boolean[], flat: boolean): KernelSpec {
  // `where`'s condition is bool; the numeric dtype is the last operand's.
  const { c, expr } = renderElementwise(op, ins[ins.length - 1]);
  const b = withOutput(out);
  const src = ins.map((d, k) => {
    const arr = b.input(`I${k}`, d, aliased[k]);
    return `  let a${k}: ${c} = ${loadAs(d, `${arr}[o${k + 1}]`, c)};`;
  });
  return kernel1d(b, `${stridedItem('i', ins.length + 1, 'o', flat)}
${src.join('\n')}
  O[o0] = ${storeAs(out, expr, c)};`, { pre: OPAQUE_FN });
}

/** dst[i] = cast(src[i]) (exact bit copy when the stored forms agree). */
export function copyKernel(src: DType, dst: DType, aliased: boolean, flat: boolean): KernelSpec {
  const b = withOutput(dst);
  const e = `${b.input('I0', src, aliased)}[o1]`;
  // dtypes stored alike (int32/int64, bool -> uint8) copy bits; only a non-bool -> bool copy must normalise to 0/1
  const direct = elemType(src) === elemType(dst) && !(dst === 'bool' && src !== 'bool');
  return kernel1d(b, `${stridedItem('i', 2, 'o', flat)}
  O[o0] = ${direct ? e : convert(src, dst, e, widerOf(src, dst))};`);
}

/** dst[i] = the stored value whose 32-bit pattern is P[FILL_BITS] (raw half in the low bits for f16). */
export const FILL_BITS = blockSize(1);
export function fillKernel(dst: DType, flat: boolean): KernelSpec {
  const t = elemType(dst);
  const bits = `P[${FILL_BITS}u]`;
  const value = t === 'u32' ? bits : t === 'f16' ? `bitcast<vec2<f16>>(${bits}).x` : `bitcast<${t}>(${bits})`;
  return kernel1d(withOutput(dst), `${stridedItem('i', 1, 'o', flat)}
  O[o0] = ${value};`);
}

// ---------------- reduce ----------------

/** Reductions with at most this many elements per output run one thread per output. */
export const REDUCE_SERIAL_MAX = 64;

/** The second index block (reduced dims) starts here; the first is [out, x] over the kept dims. */
export const REDUCE_RED_BASE = blockSize(2);

function reduceParts(op: ReduceOp, c: ComputeType) {
  const isF = c === 'f32';
  const nan = (v: string) => (isF ? `tl_isnan(${v})` : 'false');
  const lowest = isF ? '(-tl_inf())' : '(-2147483647i - 1i)';
  const highest = isF ? 'tl_inf()' : '2147483647i';
  const zero = zeroOf(c), one = isF ? '1.0' : '1i';
  const arg = op === 'argmax' || op === 'argmin';
  const ident = op === 'sum' ? zero : op === 'prod' ? one : op === 'max' || op === 'argmax' ? lowest : highest;
  let fns: string;
  if (arg) {
    const cmp = op === 'argmax' ? '>' : '<';
    fns = `
fn tl_better(v: ${c}, iv: u32, a: ${c}, ia: u32) -> bool {
  let vn = ${nan('v')};
  let an = ${nan('a')};
  if (vn || an) { return vn && (!an || iv < ia); }
  if (v ${cmp} a) { return true; }
  return v == a && iv < ia;
}`;
  } else {
    const body = op === 'sum' ? 'return a + v;' : op === 'prod' ? 'return a * v;'
      : isF ? `if (tl_isnan(a)) { return a; } if (tl_isnan(v)) { return v; } return ${op}(a, v);`
      : `return ${op}(a, v);`;
    fns = `\nfn tl_comb(a: ${c}, v: ${c}) -> ${c} { ${body} }`;
  }
  return { arg, ident, fns };
}

/**
 * Reduces x over the dims of the second index block into out. `perGroup` selects one
 * workgroup per output (tree reduction in workgroup memory) instead of one thread per output.
 */
export function reduceKernel(op: ReduceOp, x: DType, out: DType, perGroup: boolean, aliased: boolean, keptFlat: boolean, redFlat: boolean): KernelSpec {
  const c: ComputeType = op === 'sum' || op === 'prod' ? computeOf(out) : computeOf(x);
  const parts = reduceParts(op, c);
  const { arg } = parts;
  const b = withOutput(out);
  const X = b.input('X', x, aliased);
  const R = `P[${REDUCE_RED_BASE}u]`;
  const load = `${loadAs(x, `${X}[k1 + r0]`, c)}`;
  const step = arg
    ? `if (tl_better(v, r, acc, ai)) { acc = v; ai = r; }`
    : `acc = tl_comb(acc, v);`;
  const result = arg ? 'i32(ai)' : storeAs(out, 'acc', c);
  const loop = (start: string, inc: string) => `
  var acc: ${c} = ${parts.ident};
  var ai = 0xffffffffu;
  for (var r = ${start}; r < ${R}; r = r + ${inc}) {
${decompose(REDUCE_RED_BASE, 1, 'r', 'r', redFlat)}
    let v: ${c} = ${load};
    ${step}
  }`;
  if (!perGroup) {
    return kernel1d(b, `${stridedItem('i', 2, 'k', keptFlat)}
${loop('0u', '1u')}
  O[k0] = ${result};`, { pre: parts.fns });
  }
  const combine = arg
    ? `if (tl_better(sv[t + s], si[t + s], sv[t], si[t])) { sv[t] = sv[t + s]; si[t] = si[t + s]; }`
    : `sv[t] = tl_comb(sv[t], sv[t + s]);`;
  const code = `${b.header()}
${parts.fns}
var<workgroup> sv: array<${c}, ${WG}>;
var<workgroup> si: array<u32, ${WG}>;
${groupMain('o', 'k', keptFlat)}
${loop('t', `${WG}u`)}
  sv[t] = acc;
  si[t] = ai;
  workgroupBarrier();
  for (var s = ${WG / 2}u; s > 0u; s = s >> 1u) {
    if (t < s) { ${combine} }
    workgroupBarrier();
  }
  if (t == 0u) {
    let acc = sv[0];
    let ai = si[0];
    O[k0] = ${result};
  }
}`;
  return { code, bindings: b.specs };
}

// ---------------- cumsum ----------------

/** Extras after the [out, x] index block over the non-scanned dims: L, out dim stride, x dim stride. */
export const CUMSUM_EXTRA = blockSize(2);

/** One workgroup per row: each thread scans a contiguous chunk, chunk totals are scanned in workgroup memory. */
export function cumsumKernel(x: DType, out: DType, aliased: boolean): KernelSpec {
  const c = computeOf(out);
  const b = withOutput(out);
  const X = b.input('X', x, aliased);
  const E = CUMSUM_EXTRA;
  const zero = zeroOf(c);
  const code = `${b.header()}
var<workgroup> part: array<${c}, ${WG}>;
${groupMain('row', 'b')}
  let L = P[${E}u];
  let so = P[${E + 1}u];
  let sx = P[${E + 2}u];
  let chunk = (L + ${WG - 1}u) / ${WG}u;
  let lo = min(t * chunk, L);
  let hi = min(lo + chunk, L);
  var s: ${c} = ${zero};
  for (var j = lo; j < hi; j = j + 1u) { s = s + ${loadAs(x, `${X}[b1 + j * sx]`, c)}; }
  part[t] = s;
  workgroupBarrier();
  if (t == 0u) {
    var run: ${c} = ${zero};
    for (var q = 0u; q < ${WG}u; q = q + 1u) {
      let v = part[q];
      part[q] = run;
      run = run + v;
    }
  }
  workgroupBarrier();
  var run = part[t];
  for (var j = lo; j < hi; j = j + 1u) {
    run = run + ${loadAs(x, `${X}[b1 + j * sx]`, c)};
    O[b0 + j * so] = ${storeAs(out, 'run', c)};
  }
}`;
  return { code, bindings: b.specs };
}

// ---------------- matmul ----------------

/** Matmul parameters: M, N, K, batchBase, then offset/strides (batch, row, col) of a, b, out. */
export const MM_TILE = 64;

/** Bindings [O, A, B] of both matmul kernels. */
function matmulBindings(a: DType, b: DType, out: DType): Bindings {
  const bs = withOutput(out);
  bs.add('A', elemType(a));
  bs.add('B', elemType(b));
  return bs;
}

/** WGSL: the matmul parameters as lets, each operand's base offset moved to batch wid.z of this dispatch. */
const MM_PARAMS = `  let M = P[0]; let N = P[1]; let K = P[2];
  let batch = wid.z + P[3];
  let aBase = P[4] + batch * P[5]; let aRow = P[6]; let aCol = P[7];
  let bBase = P[8] + batch * P[9]; let bRow = P[10]; let bCol = P[11];
  let oBase = P[12] + batch * P[13]; let oRow = P[14]; let oCol = P[15];`;

export function matmulKernel(a: DType, b: DType, out: DType): KernelSpec {
  const c = computeOf(out);
  const bindings = matmulBindings(a, b, out);
  const zero = zeroOf(c);
  // Tiles: 64x16 of a, 16x64 of b; 16x16 threads, each computing 4x4 outputs spaced 16 apart.
  // The 4x4 block is unrolled into scalars so the compiler keeps it in registers.
  const R4 = [0, 1, 2, 3];
  const accDecl = R4.flatMap((r) => R4.map((q) => `var c${r}${q}: ${c} = ${zero};`)).join(' ');
  const loads = R4.map((q) => `
      {
        let e = t + ${q * 256}u;
        let am = m0 + e / 16u;
        let ak = k0 + e % 16u;
        var av: ${c} = ${zero};
        if (am < M && ak < K) { av = ${loadAs(a, 'A[aBase + am * aRow + ak * aCol]', c)}; }
        As[e] = av;
        let bk = k0 + e / 64u;
        let bn = n0 + e % 64u;
        var bv: ${c} = ${zero};
        if (bk < K && bn < N) { bv = ${loadAs(b, 'B[bBase + bk * bRow + bn * bCol]', c)}; }
        Bs[e] = bv;
      }`).join('');
  const fma = R4.map((r) => `
        let a${r} = As[(ty + ${16 * r}u) * 16u + k];`).join('') + R4.map((q) => `
        let b${q} = Bs[k * 64u + tx + ${16 * q}u];`).join('') + R4.flatMap((r) => R4.map((q) => `
        c${r}${q} = c${r}${q} + a${r} * b${q};`)).join('');
  const stores = R4.flatMap((r) => R4.map((q) => `
  if (m0 + ty + ${16 * r}u < M && n0 + tx + ${16 * q}u < N) { O[oBase + (m0 + ty + ${16 * r}u) * oRow + (n0 + tx + ${16 * q}u) * oCol] = ${storeAs(out, `c${r}${q}`, c)}; }`)).join('');
  const code = `${bindings.header()}
var<workgroup> As: array<${c}, 1024>;
var<workgroup> Bs: array<${c}, 1024>;
@compute @workgroup_size(16, 16)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
${MM_PARAMS}
  let m0 = wid.y * 64u;
  let n0 = wid.x * 64u;
  let tx = lid.x;
  let ty = lid.y;
  let t = ty * 16u + tx;
  ${accDecl}
  for (var k0 = 0u; k0 < K; k0 = k0 + 16u) {${loads}
    workgroupBarrier();
    for (var k = 0u; k < 16u; k = k + 1u) {${fma}
    }
    workgroupBarrier();
  }${stores}
}`;
  return { code, bindings: bindings.specs };
}

/** Outputs per thread (rows x cols) and threads per workgroup (x across cols, y across rows) of matmulKernelDirect. */
export const MM_DIRECT = { rows: 4, cols: 8, wx: 8, wy: 8 } as const;

/**
 * Matmul without workgroup memory, for software adapters (lavapipe, SwiftShader): there a
 * workgroup runs on one CPU thread, workgroup memory is ordinary memory and every barrier is a
 * coroutine switch, so the tiled kernel above is 3-4x slower than reading the operands straight
 * from the (CPU-cached) buffers. Each thread keeps a rows x cols block of outputs in registers;
 * its columns are `wx` apart, so neighbouring threads read neighbouring elements of b.
 * Same parameters and grid layout (z = batch) as matmulKernel.
 */
export function matmulKernelDirect(a: DType, b: DType, out: DType): KernelSpec {
  const c = computeOf(out);
  const { rows: TM, cols: TN, wx: WX, wy: WY } = MM_DIRECT;
  const bindings = matmulBindings(a, b, out);
  const zero = zeroOf(c);
  const R = Array.from({ length: TM }, (_, r) => r), Q = Array.from({ length: TN }, (_, q) => q);
  const acc = R.flatMap((r) => Q.map((q) => `var c${r}_${q}: ${c} = ${zero};`)).join(' ');
  // clamped indices keep every load in bounds; out-of-range rows/cols are simply not stored
  const rowIdx = R.map((r) => `  let ar${r} = aBase + min(m0 + ${r}u, M - 1u) * aRow;`).join('\n');
  const colIdx = Q.map((q) => `  let bc${q} = bBase + min(n0 + ${q * WX}u, N - 1u) * bCol;`).join('\n');
  const loads = R.map((r) => `    let a${r}: ${c} = ${loadAs(a, `A[ar${r} + k * aCol]`, c)};`).join('\n') + '\n'
    + Q.map((q) => `    let b${q}: ${c} = ${loadAs(b, `B[bc${q} + k * bRow]`, c)};`).join('\n');
  const fma = R.flatMap((r) => Q.map((q) => `c${r}_${q} = c${r}_${q} + a${r} * b${q};`)).join(' ');
  const stores = R.flatMap((r) => Q.map((q) => `
  if (m0 + ${r}u < M && n0 + ${q * WX}u < N) { O[oBase + (m0 + ${r}u) * oRow + (n0 + ${q * WX}u) * oCol] = ${storeAs(out, `c${r}_${q}`, c)}; }`)).join('');
  const code = `${bindings.header()}
@compute @workgroup_size(${WX}, ${WY})
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
${MM_PARAMS}
  let m0 = (wid.y * ${WY}u + lid.y) * ${TM}u;
  let n0 = wid.x * ${WX * TN}u + lid.x;
  if (m0 >= M) { return; }
${rowIdx}
${colIdx}
  ${acc}
  for (var k = 0u; k < K; k = k + 1u) {
${loads}
    ${fma}
  }${stores}
}`;
  return { code, bindings: bindings.specs };
}

// ---------------- fused optimizer updates ----------------

/** Adam parameter layout: n, offsets of param, grad, expAvg, expAvgSq, maxExpAvgSq, flags, then f32 bits. */
export const ADAM = { flags: 7, floats: 8 } as const;
export const ADAM_DECOUPLED = 1, ADAM_COUPLED = 2, ADAM_MAXIMIZE = 4, ADAM_SMALL_W1 = 8;
/** The f32 arguments, in order, after the flags. */
export const ADAM_FLOATS = ['decay', 'wd', 'w1', 'omw1', 'beta2', 'c2', 'nstep', 'bc2Sqrt', 'eps'] as const;

/**
 * One Adam/AdamW step in place over contiguous views (fused.ts adamKernel, operation by
 * operation, computing in f32; values are rounded to the stored dtype where the cpu stores).
 */
export function adamKernel(d: DType, amsgrad: boolean): KernelSpec {
  const t = elemType(d);
  const b = new Bindings();
  b.add('PA', t, 'read_write'); b.add('GR', t); b.add('MA', t, 'read_write'); b.add('VA', t, 'read_write');
  if (amsgrad) b.add('MX', t, 'read_write');
  const ld = (e: string) => loadAs(d, e, 'f32'), st = (e: string) => storeAs(d, e, 'f32');
  const rnd = (e: string) => (t === 'f16' ? `f32(f16(${e}))` : e);
  const f = (name: typeof ADAM_FLOATS[number]) => `bitcast<f32>(P[${ADAM.floats + ADAM_FLOATS.indexOf(name)}u])`;
  return kernel1d(b, `  if (i >= P[0]) { return; }
  let flags = P[${ADAM.flags}u];
  let ip = P[1] + i; let ig = P[2] + i; let im = P[3] + i; let iv = P[4] + i;
  var p = ${ld('PA[ip]')};
  if ((flags & ${ADAM_DECOUPLED}u) != 0u) { p = ${rnd(`p * ${f('decay')}`)}; }
  var d = ${ld('GR[ig]')};
  if ((flags & ${ADAM_MAXIMIZE}u) != 0u) { d = -d; }
  if ((flags & ${ADAM_COUPLED}u) != 0u) { d = d + ${f('wd')} * p; }
  let m0 = ${ld('MA[im]')};
  var m: f32;
  if ((flags & ${ADAM_SMALL_W1}u) != 0u) { m = m0 + ${f('w1')} * (d - m0); } else { m = d - (d - m0) * ${f('omw1')}; }
  MA[im] = ${st('m')};
  m = ${rnd('m')};
  var v = ${ld('VA[iv]')} * ${f('beta2')};
  v = ${rnd(`v + ${f('c2')} * d * d`)};
  VA[iv] = ${st('v')};
  var s = v;${amsgrad ? `
  let ix = P[5] + i;
  let old = ${ld('MX[ix]')};
  if (!tl_isnan(old) && (tl_isnan(v) || v > old)) { MX[ix] = ${st('v')}; } else { s = old; }` : ''}
  let denom = sqrt(s) / ${f('bc2Sqrt')} + ${f('eps')};
  PA[ip] = ${st(`p + ${f('nstep')} * m / denom`)};`);
}

// ---------------- gather / scatter ----------------

/**
 * Status codes kernels leave in the device status word S[0] (S[1]: an offending index). The
 * frontend-facing ops check indices first (indexCheckKernel), so the gather/scatter kernels'
 * own bounds guards only keep memory safe.
 */
export const STATUS_GATHER = 1, STATUS_SCATTER = 2, STATUS_CHECK = 3;

/**
 * WGSL: `idx` = IDX[`at`]; one outside [0, P[sizeSlot]) raises `status` in S[0] and runs the
 * `onBad` statements.
 */
function indexGuard(at: string, sizeSlot: number, status: number, onBad: string[]): string {
  return [
    `  let idx = i32(IDX[${at}]);`,
    `  if (idx < 0 || u32(idx) >= P[${sizeSlot}u]) {`,
    `    atomicMax(&S[0], ${status}u);`,
    ...onBad.map((l) => `    ${l}`),
    '  }',
  ].join('\n');
}

/** Flags any index outside [0, P[INDEX_CHECK_SIZE]) of a strided index view. */
export const INDEX_CHECK_SIZE = blockSize(1);
export function indexCheckKernel(index: DType, flat: boolean): KernelSpec {
  const b = new Bindings();
  b.add('IDX', elemType(index));
  b.add('S', 'atomic', 'read_write');
  return kernel1d(b, `${stridedItem('i', 1, 'o', flat)}
${indexGuard('o0', INDEX_CHECK_SIZE, STATUS_CHECK, ['atomicStore(&S[1], bitcast<u32>(idx));'])}`);
}

/** Extras after the index block: the indexed operand's stride and size along dim. */
export const GATHER_EXTRA = blockSize(3);

/**
 * WGSL shared by gather and scatter: item i's offsets o0..o2, its index (operand `idxOp`)
 * checked as `idx`, and `p` = the element it selects of operand 2, the indexed tensor (whose
 * block stride along dim is 0, so o2 is the start of the line along dim).
 */
function indexedItem(flat: boolean, idxOp: number, status: number, onBad: string[]): string {
  return `${stridedItem('i', 3, 'o', flat)}
${indexGuard(`o${idxOp}`, GATHER_EXTRA + 1, status, [...onBad, 'return;'])}
  let p = o2 + u32(idx) * P[${GATHER_EXTRA}u];`;
}

/** out[i] = x[... index[i] ...]; block operands [out, index, x (dim stride 0)]. */
export function gatherKernel(x: DType, index: DType, out: DType, xAliased: boolean, flat: boolean): KernelSpec {
  const b = withOutput(out);
  b.add('IDX', elemType(index));
  b.add('S', 'atomic', 'read_write');
  const X = b.input('X', x, xAliased);
  return kernel1d(b, `${indexedItem(flat, 1, STATUS_GATHER, [`O[o0] = ${elemType(out)}(0);`])}
  O[o0] = ${convert(x, out, `${X}[p]`, widerOf(x, out))};`);
}

/** out[... index[i] ...] = src[i] (or += with acc); block operands [index, src, out (dim stride 0)]. */
export function scatterKernel(out: DType, index: DType, src: DType, acc: boolean, flat: boolean): KernelSpec {
  const b = withOutput(out, acc);
  b.add('IDX', elemType(index));
  b.add('SRC', elemType(src));
  b.add('S', 'atomic', 'read_write');
  const c = computeOf(out);
  let body: string;
  if (!acc) {
    body = `O[p] = ${convert(src, out, 'SRC[o1]', c)};`;
  } else {
    const v = `let v: ${c} = ${loadAs(src, 'SRC[o1]', c)};`;
    switch (out) {
      case 'int32': case 'int64':
        body = `${v}\n  atomicAdd(&O[p], bitcast<u32>(v));`;
        break;
      case 'bool':
        body = `${v}\n  atomicOr(&O[p], select(0u, 1u, v != 0i));`;
        break;
      case 'float16':
        // two halves share a 32-bit word: compare-and-swap the whole word
        body = `${v}
  let w = p >> 1u;
  let hi = (p & 1u) == 1u;
  loop {
    let old = atomicLoad(&O[w]);
    var h = unpack2x16float(old);
    if (hi) { h.y = h.y + v; } else { h.x = h.x + v; }
    if (atomicCompareExchangeWeak(&O[w], old, pack2x16float(h)).exchanged) { break; }
  }`;
        break;
      default: {
        const next = out === 'float32' ? 'bitcast<u32>(bitcast<f32>(old) + v)' : '((old + bitcast<u32>(v)) & 0xffu)';
        body = `${v}
  loop {
    let old = atomicLoad(&O[p]);
    if (atomicCompareExchangeWeak(&O[p], old, ${next}).exchanged) { break; }
  }`;
      }
    }
  }
  return kernel1d(b, `${indexedItem(flat, 0, STATUS_SCATTER, [])}
  ${body}`);
}

// ---------------- sort ----------------

/**
 * Stable sort by bitonic networks over (key, original index) pairs, one padded row of
 * length Pp (a power of two) per sorted row. Parameters: an index block [x, values, indices]
 * over the other dims, then SORT_EXTRA: L, Pp, x dim stride, values dim stride, indices dim
 * stride, k, j (the bitonic stage).
 */
export const SORT_EXTRA = blockSize(3);

/** WGSL: tl_before, the order the step kernel sorts by. */
function sortBeforeFn(x: DType, desc: boolean): string {
  const c = computeOf(x);
  const isF = c === 'f32';
  const E = SORT_EXTRA;
  const nanA = isF ? 'tl_isnan(ka)' : 'false', nanB = isF ? 'tl_isnan(kb)' : 'false';
  const first = desc ? '>' : '<', second = desc ? '<' : '>';
  return `// whether (ka, ia) comes before (kb, ib); padding (index >= L) sorts last, NaN counts as the largest
fn tl_before(ka: ${c}, ia: u32, kb: ${c}, ib: u32) -> bool {
  let L = P[${E}u];
  if (ia >= L || ib >= L) { return ib >= L && (ia < L || ia < ib); }
  let an = ${nanA};
  let bn = ${nanB};
  if (an || bn) {
    if (an && bn) { return ia < ib; }
    return ${desc ? 'an' : 'bn'};
  }
  if (ka ${first} kb) { return true; }
  if (ka ${second} kb) { return false; }
  return ia < ib;
}`;
}

/** The key/index scratch rows (keys in x's compute type), bindings 1 and 2 of the init and step kernels. */
function sortScratch(x: DType): Bindings {
  const b = new Bindings();
  b.add('KEY', computeOf(x), 'read_write');
  b.add('IX', 'u32', 'read_write');
  return b;
}

/**
 * A sort kernel: one item per element of the P[0] rows, each of length `len` (the padded Pp
 * of the scratch rows, or L of the outputs), bound in `body`. With `rowOffsets`, the body
 * also has the item's `row`, its position `j` in the row, and the row's offsets b0..b2.
 */
function sortKernel(b: Bindings, len: 'Pp' | 'L', rowOffsets: boolean, body: string, pre?: string): KernelSpec {
  const slot = len === 'L' ? SORT_EXTRA : SORT_EXTRA + 1;
  const row = rowOffsets ? `
  let row = i / ${len};
  let j = i % ${len};
${decompose(0, 3, 'row', 'b')}` : '';
  return kernel1d(b, `  let ${len} = P[${slot}u];
  if (i >= P[0] * ${len}) { return; }${row}
${body}`, { pre, count: `P[0] * P[${slot}u]` });
}

/** Fills the key/index scratch rows from x. */
export function sortInitKernel(x: DType): KernelSpec {
  const c = computeOf(x);
  const b = sortScratch(x);
  b.add('X', elemType(x));
  const E = SORT_EXTRA;
  return sortKernel(b, 'Pp', true, `  IX[i] = j;
  if (j < P[${E}u]) { KEY[i] = ${loadAs(x, `X[b0 + j * P[${E + 2}u]]`, c)}; } else { KEY[i] = ${c}(0); }`);
}

/** One compare-exchange stage (k, j) of the bitonic network over every row. */
export function sortStepKernel(x: DType, desc: boolean): KernelSpec {
  const E = SORT_EXTRA;
  return sortKernel(sortScratch(x), 'Pp', false, `  let k = P[${E + 5}u];
  let jj = P[${E + 6}u];
  let e = i % Pp;
  let l = e ^ jj;
  if (l <= e) { return; }
  let q = i - e + l;
  let ka = KEY[i]; let ia = IX[i];
  let kb = KEY[q]; let ib = IX[q];
  let up = (e & k) == 0u;
  var swap: bool;
  if (up) { swap = tl_before(kb, ib, ka, ia); } else { swap = tl_before(ka, ia, kb, ib); }
  if (swap) {
    KEY[i] = kb; IX[i] = ib;
    KEY[q] = ka; IX[q] = ia;
  }`, sortBeforeFn(x, desc));
}

/** Writes the sorted values (copied from x, so exact) and the int64 indices. */
export function sortFinalKernel(x: DType, values: DType, indices: DType): KernelSpec {
  const b = new Bindings();
  b.add('V', elemType(values), 'read_write');
  b.add('VI', elemType(indices), 'read_write');
  b.add('IX', 'u32');
  b.add('X', elemType(x));
  const E = SORT_EXTRA;
  return sortKernel(b, 'L', true, `  let src = IX[row * P[${E + 1}u] + j];
  V[b1 + j * P[${E + 3}u]] = ${convert(x, values, `X[b0 + src * P[${E + 2}u]]`, computeOf(x))};
  VI[b2 + j * P[${E + 4}u]] = ${storeAs(indices, 'i32(src)', 'i32')};`);
}
