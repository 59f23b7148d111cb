/**
 * Fast math functions for the cpu kernels. V8's Math.exp/Math.tanh are calls into C (fdlibm),
 * ~15-25ns each; these inline into the generated loops.
 *
 * erf (gelu and its backward call it once per element): kernels.ts's JS_HELPERS.erf sums up to ~40 series terms (each with a division) per call,
 * about 100ns. Here the same function is approximated piecewise:
 * - |x| < 0.5: its Maclaurin series truncated at x^27 (terms fall below 1e-17 relative);
 * - 0.5 <= |x| < 6: on 22 intervals of width 1/4, a degree-11 polynomial in the interval's
 *   local coordinate t in [-1, 1], obtained by Chebyshev interpolation of JS_HELPERS.erf at
 *   load time (so both agree to ~1e-14 relative) and converted to monomial form;
 * - |x| >= 6: +-1 (1 - erf(6) < 3e-17).
 * Polynomials are evaluated with Estrin's scheme: short dependency chains, so successive
 * elements overlap in the CPU pipeline.
 */
import { JS_HELPERS } from '../kernels.js';

const LO = 0.5, HI = 6, W = 0.25, NC = 12; // NC coefficients: degree 11
const NI = Math.round((HI - LO) / W);
const POLY = new Float64Array(NI * NC);

/** Maclaurin coefficients of erf(x)/x in powers of x^2: 2/sqrt(pi) (-1)^n / (n! (2n + 1)). */
const S: number[] = [];
for (let n = 0, fact = 1; n < 14; n++) {
  if (n > 0) fact *= n;
  S.push(((n % 2 ? -1 : 1) / (fact * (2 * n + 1))) * (2 / Math.sqrt(Math.PI)));
}
const [S0, S1, S2, S3, S4, S5, S6, S7, S8, S9, S10, S11, S12, S13] = S;

for (let i = 0; i < NI; i++) {
  const mid = LO + (i + 0.5) * W;
  // Chebyshev interpolation at the NC Chebyshev nodes of the interval
  const f: number[] = [];
  for (let k = 0; k < NC; k++) f.push(JS_HELPERS.erf(mid + (W / 2) * Math.cos((Math.PI * (k + 0.5)) / NC)));
  const c: number[] = [];
  for (let j = 0; j < NC; j++) {
    let s = 0;
    for (let k = 0; k < NC; k++) s += f[k] * Math.cos((Math.PI * j * (k + 0.5)) / NC);
    c.push(((j === 0 ? 1 : 2) * s) / NC);
  }
  // sum c_j T_j(t) -> monomials, with T_{j+1} = 2t T_j - T_{j-1}
  const a = new Array<number>(NC).fill(0);
  let prev = new Array<number>(NC).fill(0), cur = new Array<number>(NC).fill(0);
  prev[0] = 1;
  cur[1] = 1;
  a[0] += c[0];
  a[1] += c[1];
  for (let j = 2; j < NC; j++) {
    const next = new Array<number>(NC).fill(0);
    for (let q = 0; q + 1 < NC; q++) next[q + 1] += 2 * cur[q];
    for (let q = 0; q < NC; q++) next[q] -= prev[q];
    for (let q = 0; q < NC; q++) a[q] += c[j] * next[q];
    prev = cur;
    cur = next;
  }
  POLY.set(a, i * NC);
}

export function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < LO) {
    const z = x * x, z2 = z * z, z4 = z2 * z2, z8 = z4 * z4;
    return x * ((S0 + z * S1) + z2 * (S2 + z * S3) + z4 * ((S4 + z * S5) + z2 * (S6 + z * S7))
      + z8 * ((S8 + z * S9) + z2 * (S10 + z * S11) + z4 * (S12 + z * S13)));
  }
  if (!(ax < HI)) return ax !== ax ? x : x > 0 ? 1 : -1;
  const i = ((ax - LO) * (1 / W)) | 0;
  const t = (ax - LO - (i + 0.5) * W) * (2 / W);
  const P = POLY, b = i * NC, t2 = t * t, t4 = t2 * t2, t8 = t4 * t4;
  const r = (P[b] + t * P[b + 1]) + t2 * (P[b + 2] + t * P[b + 3])
    + t4 * ((P[b + 4] + t * P[b + 5]) + t2 * (P[b + 6] + t * P[b + 7]))
    + t8 * ((P[b + 8] + t * P[b + 9]) + t2 * (P[b + 10] + t * P[b + 11]));
  return x < 0 ? -r : r;
}

// ---- exp and tanh for float32 results ----
//
// exp(x) = 2^(k/32) * e^r with k = round(32 x / ln2) and |r| <= ln2/64: 2^(k/32) comes from two
// tables (2^(k>>5) and 2^((k&31)/32)), e^r from a degree-6 polynomial (truncation < 1e-17).
// Measured within 2 ulp (4.5e-16) of Math.exp, so float32 results round identically except in
// vanishingly rare ties; float64 kernels keep Math.exp (below 1 ulp).
const EXP2_FRAC = new Float64Array(32);
for (let j = 0; j < 32; j++) EXP2_FRAC[j] = Math.exp((j * Math.LN2) / 32);
const EXP2_INT = new Float64Array(2048); // 2^(i - 1024), exact
for (let i = 0; i < 2048; i++) EXP2_INT[i] = Math.pow(2, i - 1024);
const INV_L = 32 / Math.LN2;
// ln2/32 split in two so that k * L_HI is exact and L_LO carries the bits beyond a double
const LN2_HI = Math.fround(Math.LN2), LN2_LO = Math.LN2 - LN2_HI + 2.319046813846299558e-17;
const L_HI = LN2_HI / 32, L_LO = LN2_LO / 32;
const ROUND = 6755399441055744; // 1.5 * 2^52: adding and subtracting it rounds to an integer

export function exp32(x: number): number {
  if (!(x > -700 && x < 700)) return Math.exp(x); // overflow, subnormal results, NaN
  const kd = x * INV_L + ROUND - ROUND;
  const k = kd | 0;
  const r = x - kd * L_HI - kd * L_LO;
  const r2 = r * r;
  const p = 1 + r + r2 * (0.5 + r * (1 / 6) + r2 * (1 / 24 + r * (1 / 120) + r2 * (1 / 720)));
  return EXP2_INT[(k >> 5) + 1024] * EXP2_FRAC[k & 31] * p;
}

/**
 * tanh for float32 results: 1 - 2 / (e^(2x) + 1), whose absolute error (~1e-16) is relative
 * error below 1e-12 for |x| >= 1e-4; smaller |x| use x (1 - x^2/3) (next term < 1e-20 relative).
 */
export function tanh32(x: number): number {
  if (x < 1e-4 && x > -1e-4) return x * (1 - (x * x) / 3); // keeps the sign of -0
  return 1 - 2 / (exp32(2 * x) + 1);
}
