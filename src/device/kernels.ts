/**
 * The elementwise op table: each op's expression is written once, as a small expression
 * tree, and rendered to JavaScript (cpu), C (CUDA via NVRTC, OpenCL C) and WGSL (webgpu).
 * Inputs are named x, y (and z for ternary ops). Expressions are evaluated in a compute type
 * T (f64 in JS; f32/f64/i32 on GPUs) and converted to the output dtype on store.
 */

export type ExprKind = 'num' | 'bool';
export type Expr =
  | { t: 'var'; name: 'x' | 'y' | 'z'; kind: 'num' }
  | { t: 'lit'; v: number; kind: 'num' }
  | { t: 'call'; fn: MathFn; args: Expr[]; kind: 'num' }
  | { t: 'bin'; sym: '+' | '-' | '*' | '/'; a: Expr; b: Expr; kind: 'num' }
  | { t: 'neg'; a: Expr; kind: 'num' }
  | { t: 'cmp'; sym: '<' | '<=' | '>' | '>=' | '==' | '!='; a: Expr; b: Expr; kind: 'bool' }
  | { t: 'logic'; sym: '&&' | '||'; a: Expr; b: Expr; kind: 'bool' }
  | { t: 'not'; a: Expr; kind: 'bool' }
  | { t: 'isnan'; a: Expr; kind: 'bool' }
  | { t: 'sel'; c: Expr; a: Expr; b: Expr; kind: 'num' }
  | { t: 'num'; a: Expr; kind: 'num' }; // bool -> 1/0

/** Math functions every target must provide (builtin or in its preamble). */
export type MathFn =
  | 'exp' | 'log' | 'log1p' | 'expm1' | 'sqrt' | 'sin' | 'cos' | 'tanh' | 'abs' | 'floor' | 'ceil'
  | 'rint' | 'trunc' | 'erf' | 'pow' | 'fmax' | 'fmin' | 'atan2' | 'fmod';

const v = (name: 'x' | 'y' | 'z'): Expr => ({ t: 'var', name, kind: 'num' });
const lit = (n: number): Expr => ({ t: 'lit', v: n, kind: 'num' });
const E = (e: Expr | number): Expr => (typeof e === 'number' ? lit(e) : e);
const call = (fn: MathFn, ...args: (Expr | number)[]): Expr => ({ t: 'call', fn, args: args.map(E), kind: 'num' });
const add = (a: Expr | number, b: Expr | number): Expr => ({ t: 'bin', sym: '+', a: E(a), b: E(b), kind: 'num' });
const sub = (a: Expr | number, b: Expr | number): Expr => ({ t: 'bin', sym: '-', a: E(a), b: E(b), kind: 'num' });
const mul = (a: Expr | number, b: Expr | number): Expr => ({ t: 'bin', sym: '*', a: E(a), b: E(b), kind: 'num' });
const div = (a: Expr | number, b: Expr | number): Expr => ({ t: 'bin', sym: '/', a: E(a), b: E(b), kind: 'num' });
const neg = (a: Expr): Expr => ({ t: 'neg', a, kind: 'num' });
const cmp = (sym: '<' | '<=' | '>' | '>=' | '==' | '!=', a: Expr | number, b: Expr | number): Expr => ({ t: 'cmp', sym, a: E(a), b: E(b), kind: 'bool' });
const sel = (c: Expr, a: Expr | number, b: Expr | number): Expr => ({ t: 'sel', c, a: E(a), b: E(b), kind: 'num' });
const isnan = (a: Expr): Expr => ({ t: 'isnan', a, kind: 'bool' });
const truthy = (a: Expr): Expr => cmp('!=', a, 0);

const x = v('x'), y = v('y'), z = v('z');
const SQRT1_2 = Math.SQRT1_2, INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);
const sigmoidOf = (a: Expr) => div(1, add(1, call('exp', neg(a))));

/** Unary ops: x -> expr. Kind 'bool' results are stored as 0/1. */
export const UNARY = {
  neg: neg(x),
  abs: call('abs', x),
  sign: sel(cmp('>', x, 0), 1, sel(cmp('<', x, 0), -1, 0)), // NaN -> 0, as PyTorch
  exp: call('exp', x),
  log: call('log', x),
  log1p: call('log1p', x),
  expm1: call('expm1', x),
  sqrt: call('sqrt', x),
  rsqrt: div(1, call('sqrt', x)),
  sin: call('sin', x),
  cos: call('cos', x),
  tanh: call('tanh', x),
  sigmoid: sigmoidOf(x),
  relu: sel(cmp('>', x, 0), x, sel(isnan(x), x, 0)),
  gelu: mul(mul(0.5, x), add(1, call('erf', mul(x, SQRT1_2)))),
  silu: mul(x, sigmoidOf(x)),
  softplus: sel(cmp('>', x, 20), x, call('log1p', call('exp', x))),
  erf: call('erf', x),
  floor: call('floor', x),
  ceil: call('ceil', x),
  round: call('rint', x),
  trunc: call('trunc', x),
  reciprocal: div(1, x),
  square: mul(x, x),
  logicalNot: { t: 'not', a: truthy(x), kind: 'bool' } as Expr,
  isnan: isnan(x),
  isfinite: cmp('==', sub(x, x), 0),
} satisfies Record<string, Expr>;
export type UnaryOp = keyof typeof UNARY;

/** Binary ops: (x, y) -> expr. Also the backward helpers (grad g is x, saved value is y). */
export const BINARY = {
  add: add(x, y),
  sub: sub(x, y),
  mul: mul(x, y),
  div: div(x, y),
  pow: call('pow', x, y),
  maximum: sel(isnan(x), x, sel(isnan(y), y, call('fmax', x, y))),
  minimum: sel(isnan(x), x, sel(isnan(y), y, call('fmin', x, y))),
  atan2: call('atan2', x, y),
  fmod: call('fmod', x, y),
  // Python's modulo as PyTorch computes it: fmod, moved into the divisor's sign (exact, and
  // finite x with an infinite divisor keeps x)
  remainder: sel({ t: 'logic', sym: '&&', a: cmp('!=', call('fmod', x, y), 0),
    b: cmp('!=', { t: 'num', a: cmp('<', y, 0), kind: 'num' }, { t: 'num', a: cmp('<', call('fmod', x, y), 0), kind: 'num' }), kind: 'bool' },
  add(call('fmod', x, y), y), call('fmod', x, y)),
  eq: cmp('==', x, y),
  ne: cmp('!=', x, y),
  lt: cmp('<', x, y),
  le: cmp('<=', x, y),
  gt: cmp('>', x, y),
  ge: cmp('>=', x, y),
  logicalAnd: { t: 'logic', sym: '&&', a: truthy(x), b: truthy(y), kind: 'bool' } as Expr,
  logicalOr: { t: 'logic', sym: '||', a: truthy(x), b: truthy(y), kind: 'bool' } as Expr,
  // backward helpers: x = incoming gradient, y = saved input or output
  reluBackward: sel(cmp('<=', y, 0), 0, x), // as PyTorch's threshold_backward: NaN passes the gradient
  sigmoidBackward: mul(x, mul(y, sub(1, y))), // y = sigmoid output
  tanhBackward: mul(x, sub(1, mul(y, y))), // y = tanh output
  geluBackward: mul(x, add(mul(0.5, add(1, call('erf', mul(y, SQRT1_2)))), mul(mul(y, INV_SQRT_2PI), call('exp', mul(-0.5, mul(y, y)))))),
  siluBackward: mul(x, mul(sigmoidOf(y), add(1, mul(y, sub(1, sigmoidOf(y)))))),
  softplusBackward: sel(cmp('>', y, 20), x, mul(x, sigmoidOf(y))),
} satisfies Record<string, Expr>;
export type BinaryOp = keyof typeof BINARY;

/** Ternary ops: (x, y, z) -> expr. */
export const TERNARY = {
  where: sel(truthy(x), y, z),
  lerp: add(x, mul(z, sub(y, x))),
  addcmul: add(x, mul(y, z)),
} satisfies Record<string, Expr>;
export type TernaryOp = keyof typeof TERNARY;

export function exprFor(op: string): Expr {
  const e = (UNARY as Record<string, Expr>)[op] ?? (BINARY as Record<string, Expr>)[op] ?? (TERNARY as Record<string, Expr>)[op];
  if (!e) throw new Error(`kernels: no elementwise op named ${op}`);
  return e;
}
export function arityOf(op: string): 1 | 2 | 3 {
  if (op in UNARY) return 1;
  if (op in BINARY) return 2;
  if (op in TERNARY) return 3;
  throw new Error(`kernels: no elementwise op named ${op}`);
}
/** Whether an op's result is a boolean (stored as 0/1, dtype bool). */
export function isBoolOp(op: string): boolean { return exprFor(op).kind === 'bool'; }

// ---------------- renderers ----------------

/** How one target language spells literals, math calls and selects. */
export interface Dialect {
  lit(v: number): string;
  call(fn: MathFn, args: string[]): string;
  sel(c: string, a: string, b: string): string;
  isnan(a: string): string;
  boolToNum(a: string): string;
}

export function render(e: Expr, d: Dialect, vars: Record<string, string>): string {
  const r = (q: Expr): string => render(q, d, vars);
  switch (e.t) {
    case 'var': return vars[e.name] ?? e.name;
    case 'lit': return d.lit(e.v);
    case 'call': return d.call(e.fn, e.args.map(r));
    case 'bin': return `(${r(e.a)} ${e.sym} ${r(e.b)})`;
    case 'neg': return `(-${r(e.a)})`;
    case 'cmp': return `(${r(e.a)} ${e.sym} ${r(e.b)})`;
    case 'logic': return `(${r(e.a)} ${e.sym} ${r(e.b)})`;
    case 'not': return `(!${r(e.a)})`;
    case 'isnan': return d.isnan(r(e.a));
    case 'sel': return d.sel(r(e.c), r(e.a), r(e.b));
    case 'num': return d.boolToNum(r(e.a));
  }
}

/** Renders an op to a numeric expression (bool results become 1/0). */
export function renderOp(op: string, d: Dialect, vars: Record<string, string> = {}): string {
  const e = exprFor(op);
  const s = render(e, d, vars);
  return e.kind === 'bool' ? d.boolToNum(s) : s;
}

const fmtNum = (v: number): string => {
  if (Number.isInteger(v)) return `${v}.0`;
  const s = v.toPrecision(17);
  return s.includes('e') || s.includes('.') ? s : `${s}.0`;
};

/** JavaScript: computes in doubles; helpers come from JS_PRELUDE's names. */
export const JS: Dialect = {
  lit: (n) => `(${n})`,
  call: (fn, a) => {
    const m: Record<MathFn, string> = {
      exp: 'Math.exp', log: 'Math.log', log1p: 'Math.log1p', expm1: 'Math.expm1', sqrt: 'Math.sqrt', sin: 'Math.sin',
      cos: 'Math.cos', tanh: 'Math.tanh', abs: 'Math.abs', floor: 'Math.floor', ceil: 'Math.ceil', rint: 'rint',
      trunc: 'Math.trunc', erf: 'erf', pow: 'Math.pow', fmax: 'Math.max', fmin: 'Math.min', atan2: 'Math.atan2', fmod: 'fmod',
    };
    return `${m[fn]}(${a.join(', ')})`;
  },
  sel: (c, a, b) => `(${c} ? ${a} : ${b})`,
  isnan: (a) => `(${a} !== ${a})`,
  boolToNum: (a) => `(${a} ? 1 : 0)`,
};

/** Helper functions the JS kernels close over. */
export const JS_HELPERS = {
  rint(v: number): number {
    const r = Math.round(v);
    return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
  },
  fmod(a: number, b: number): number { return a % b; },
  /** erf to ~1e-16 relative error (series for small |x|, continued fraction erfc beyond). */
  erf(xv: number): number {
    const ax = Math.abs(xv);
    if (ax !== ax) return xv;
    if (ax < 2.5) {
      // Maclaurin series: erf x = 2/sqrt(pi) * sum (-1)^n x^(2n+1) / (n! (2n+1))
      let term = xv, sum = xv;
      const x2 = xv * xv;
      for (let n = 1; n < 80; n++) {
        term *= -x2 / n;
        const t = term / (2 * n + 1);
        sum += t;
        if (Math.abs(t) < 1e-17 * Math.abs(sum)) break;
      }
      return sum * 1.1283791670955126;
    }
    if (ax > 6) return xv > 0 ? 1 : -1;
    // Lentz continued fraction for erfc
    const x2 = ax * ax;
    let f = ax, c = ax, dd = 0;
    for (let n = 1; n < 200; n++) {
      const an = n / 2;
      dd = ax + an * dd; dd = dd === 0 ? 1e-300 : dd; dd = 1 / dd;
      c = ax + an / c; c = c === 0 ? 1e-300 : c;
      const delta = c * dd;
      f *= delta;
      if (Math.abs(delta - 1) < 1e-16) break;
    }
    const erfc = Math.exp(-x2) / (f * Math.sqrt(Math.PI));
    return xv > 0 ? 1 - erfc : erfc - 1;
  },
};

/** C for CUDA (NVRTC, C++ overloads) and OpenCL C: T is the compute type. */
export function cDialect(T: string, flavor: 'cuda' | 'opencl'): Dialect {
  return {
    lit: (n) => (Number.isFinite(n) ? `((${T})${fmtNum(n)})` : n !== n ? `((${T})NAN)` : `((${T})${n > 0 ? '' : '-'}INFINITY)`),
    call: (fn, a) => {
      const m: Record<MathFn, string> = {
        exp: 'exp', log: 'log', log1p: 'log1p', expm1: 'expm1', sqrt: 'sqrt', sin: 'sin', cos: 'cos', tanh: 'tanh',
        abs: 'fabs', floor: 'floor', ceil: 'ceil', rint: 'rint', trunc: 'trunc', erf: 'erf', pow: 'pow',
        fmax: 'fmax', fmin: 'fmin', atan2: 'atan2', fmod: 'fmod',
      };
      return `${m[fn]}(${a.map((s) => `(${T})(${s})`).join(', ')})`;
    },
    sel: (c, a, b) => `((${c}) ? (${T})(${a}) : (${T})(${b}))`,
    isnan: (a) => (flavor === 'cuda' ? `isnan((${T})(${a}))` : `isnan((${T})(${a}))`),
    boolToNum: (a) => `((${a}) ? (${T})1 : (${T})0)`,
  };
}

/** WGSL: T is f32 (or f16); erf, rint and fmod come from WGSL_PRELUDE. */
export function wgslDialect(T: string): Dialect {
  return {
    lit: (n) => (Number.isFinite(n) ? `${T}(${fmtNum(n)})` : n !== n ? `tl_nan()` : n > 0 ? `tl_inf()` : `(-tl_inf())`),
    call: (fn, a) => {
      const m: Record<MathFn, string> = {
        exp: 'exp', log: 'log', log1p: 'tl_log1p', expm1: 'tl_expm1', sqrt: 'sqrt', sin: 'sin', cos: 'cos', tanh: 'tl_tanh',
        abs: 'abs', floor: 'floor', ceil: 'ceil', rint: 'round', trunc: 'trunc', erf: 'tl_erf', pow: 'tl_pow',
        fmax: 'max', fmin: 'min', atan2: 'atan2', fmod: 'tl_fmod',
      };
      return `${m[fn]}(${a.join(', ')})`;
    },
    sel: (c, a, b) => `select(${T}(${b}), ${T}(${a}), ${c})`,
    isnan: (a) => `tl_isnan(${a})`,
    boolToNum: (a) => `select(${T}(0), ${T}(1), ${a})`,
  };
}

/** Helper functions WGSL kernels need (WGSL lacks erf, log1p, NaN literals). */
export const WGSL_PRELUDE = /* wgsl */ `
// a var keeps Tint from folding these as (invalid) const-expressions
fn tl_nan() -> f32 { var u = 0x7fc00000u; return bitcast<f32>(u); }
fn tl_inf() -> f32 { var u = 0x7f800000u; return bitcast<f32>(u); }
fn tl_isnan(v: f32) -> bool { return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u; }
fn tl_log1p(v: f32) -> f32 {
  let u = 1.0 + v;
  if (u == 1.0) { return v; }
  if (abs(v) > 1e4) { return log(u); } // also keeps log1p(inf) = inf
  return log(u) * v / (u - 1.0);
}
fn tl_expm1(v: f32) -> f32 { if (abs(v) < 1e-5) { return v + 0.5 * v * v; } return exp(v) - 1.0; }
fn tl_tanh(v: f32) -> f32 { if (abs(v) > 15.0) { return sign(v); } return tanh(v); }
fn tl_fmod(a: f32, b: f32) -> f32 {
  // as C's fmod: NaN for a NaN operand, an infinite dividend or a zero divisor; an infinite
  // divisor leaves a finite a unchanged (bit tests: compilers may assume no NaN/Inf)
  let ea = bitcast<u32>(a) & 0x7fffffffu;
  let eb = bitcast<u32>(b) & 0x7fffffffu;
  if (ea >= 0x7f800000u || eb > 0x7f800000u || eb == 0u) { return tl_nan(); }
  if (eb == 0x7f800000u) { return a; }
  return a - b * trunc(a / b);
}
fn tl_pow(a: f32, b: f32) -> f32 {
  if (b == 0.0) { return 1.0; }
  if (a < 0.0 && b == floor(b)) {
    let m = pow(-a, b);
    if (abs(b % 2.0) == 1.0) { return -m; }
    return m;
  }
  if (a == 0.0 && b > 0.0) { return 0.0; }
  return pow(a, b);
}
fn tl_erf(v: f32) -> f32 {
  // Abramowitz-Stegun 7.1.26 refined: max abs error ~1.2e-7
  let ax = abs(v);
  let t = 1.0 / (1.0 + 0.5 * ax);
  let y = 1.0 - t * exp(-ax * ax - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
    t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return select(-y, y, v >= 0.0);
}
`;
