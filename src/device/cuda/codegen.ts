/**
 * CUDA C sources for every kernel the cuda backend launches, generated (elementwise bodies come
 * from the shared expression table in ../kernels.ts via cDialect(T, 'cuda')). Pure functions:
 * no native code is touched here, so tests can render and compile-check every kernel with nvcc.
 *
 * Sources are self-contained (no #include): NVRTC has no system headers, so the preamble brings
 * its own half/bfloat16 conversions, INFINITY/NAN and isnan. Under -DTL_HOST_EMU the same source
 * compiles as plain C++ (with an emulation header supplying threadIdx & co.), which the test
 * suite uses to run the whole backend on the CPU; every kernel therefore also emits a small
 * `tl_emu_<name>` trampoline inside #ifdef TL_HOST_EMU, which NVRTC never sees.
 *
 * Kernel parameter structs hold only `long long` fields so their layout is a flat int64 array.
 */
import type { DType } from '../../dtype.js';
import type { ReduceOp } from '../backend.js';
import { UNARY, BINARY, TERNARY, renderOp, cDialect, isBoolOp, arityOf } from '../kernels.js';

/** Maximum tensor rank a single kernel launch handles (after coalescing). */
export const MAXD = 8;
/** Block size of reduction/scan kernels (a power of two; shared arrays are sized by it). */
export const RED_THREADS = 256;

export const STORAGE: Record<DType, string> = {
  float32: 'float', float64: 'double', float16: 'unsigned short', bfloat16: 'unsigned short',
  int32: 'int', int64: 'long long', uint8: 'unsigned char', bool: 'unsigned char',
};
export const SHORT: Record<DType, string> = {
  float32: 'f32', float64: 'f64', float16: 'f16', bfloat16: 'bf16', int32: 'i32', int64: 'i64', uint8: 'u8', bool: 'b8',
};
export const ALL_DTYPES: DType[] = ['float32', 'float64', 'float16', 'bfloat16', 'int32', 'int64', 'uint8', 'bool'];

/** Elementwise compute type: float for 32/16-bit floats, double for float64 and the integer types. */
export function computeType(d: DType): 'float' | 'double' {
  return d === 'float32' || d === 'float16' || d === 'bfloat16' ? 'float' : 'double';
}
const isInt = (d: DType) => d === 'int32' || d === 'int64' || d === 'uint8' || d === 'bool';

/** Accumulator type of a reduction into `od` from `xd`. */
export function reduceAcc(op: ReduceOp, xd: DType, od: DType): 'float' | 'double' | 'long long' {
  if (op === 'sum' || op === 'prod') return isInt(od) ? 'long long' : computeType(od);
  return computeType(xd);
}
/** Scan (cumsum) accumulator type. */
export function scanAcc(od: DType): 'float' | 'double' | 'long long' {
  return isInt(od) ? 'long long' : computeType(od);
}
/** Key type of the sort passes for a dtype. */
export function sortKey(d: DType): 'float32' | 'float64' {
  return computeType(d) === 'float' ? 'float32' : 'float64';
}

export type KernelSpec =
  | { kind: 'ew'; op: string; dtypes: DType[]; od: DType }
  | { kind: 'copy'; sd: DType; dd: DType }
  | { kind: 'fill'; size: 1 | 2 | 4 | 8 }
  | { kind: 'reduce'; op: ReduceOp; xd: DType; od: DType }
  | { kind: 'cumsum'; xd: DType; od: DType }
  | { kind: 'gather'; xd: DType; id: DType }
  | { kind: 'scatter'; xd: DType; id: DType; accumulate: boolean }
  | { kind: 'sort'; kd: 'float32' | 'float64' }
  | { kind: 'matmul'; dt: DType }
  | { kind: 'conv2d'; dt: DType };

/** The elementwise spec for an op on operands of dtype d (where: condition bool, y/z d). */
export function ewSpec(op: string, d: DType): KernelSpec {
  const n = arityOf(op);
  const dtypes: DType[] = op === 'where' ? ['bool', d, d] : Array.from({ length: n }, () => d);
  return { kind: 'ew', op, dtypes, od: isBoolOp(op) ? 'bool' : d };
}

/** A unique module key (also the kernel name stem). */
export function specKey(s: KernelSpec): string {
  switch (s.kind) {
    case 'ew': return `tl_ew_${s.op}_${s.dtypes.map((d) => SHORT[d]).join('_')}_${SHORT[s.od]}`;
    case 'copy': return `tl_copy_${SHORT[s.sd]}_${SHORT[s.dd]}`;
    case 'fill': return `tl_fill_${s.size}`;
    case 'reduce': return `tl_red_${s.op}_${SHORT[s.xd]}_${SHORT[s.od]}`;
    case 'cumsum': return `tl_cumsum_${SHORT[s.xd]}_${SHORT[s.od]}`;
    case 'gather': return `tl_gather_${SHORT[s.xd]}_${SHORT[s.id]}`;
    case 'scatter': return `tl_scatter_${s.accumulate ? 'add' : 'set'}_${SHORT[s.xd]}_${SHORT[s.id]}`;
    case 'sort': return `tl_sort_${SHORT[s.kd]}`;
    case 'matmul': return `tl_mm_${SHORT[s.dt]}`;
    case 'conv2d': return `tl_conv2d_${SHORT[s.dt]}`;
  }
}

/** Kernel entry names a module defines (first is the main one). */
export function kernelNames(s: KernelSpec): string[] {
  const k = specKey(s);
  if (s.kind === 'reduce') return [`${k}_s1`, `${k}_s2`];
  if (s.kind === 'sort') return [`${k}_pass`, `${k}_iota`];
  return [k];
}

// ---------------- preamble ----------------

/**
 * float <-> IEEE half in plain C, rounding to nearest even, for where there is no cvt
 * instruction: the kernels under the host emulator, and the emulator's cuBLAS/cuDNN stand-ins
 * (testing/emu-sources.ts), which so round exactly as the kernels do. Bit casts are CUDA's
 * __uint_as_float/__float_as_uint (the emulator defines them); `decl` qualifies each function
 * and `prefix` starts its name.
 */
export const softHalfC = (decl: string, prefix: string): string => String.raw`${decl} float ${prefix}h2f(unsigned short h) {
  unsigned int s = (unsigned int)(h & 0x8000) << 16, e = (h >> 10) & 0x1f, m = h & 0x3ff, u;
  if (e == 0) { float f = (float)m * 5.9604644775390625e-8f; return s ? -f : f; }
  if (e == 31) u = s | 0x7f800000u | (m << 13);
  else u = s | ((e + 112) << 23) | (m << 13);
  return __uint_as_float(u);
}
${decl} unsigned short ${prefix}f2h(float f) {
  unsigned int x = __float_as_uint(f), sign = (x >> 16) & 0x8000, mant = x & 0x7fffff;
  int e = (int)((x >> 23) & 0xff);
  if (e == 0xff) return (unsigned short)(sign | 0x7c00 | (mant ? 0x200 : 0));
  e = e - 127 + 15;
  if (e >= 0x1f) return (unsigned short)(sign | 0x7c00);
  if (e <= 0) {
    if (e < -10) return (unsigned short)sign;
    mant |= 0x800000;
    unsigned int shift = (unsigned int)(14 - e), h = mant >> shift, rem = mant & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (h & 1))) h++;
    return (unsigned short)(sign | h);
  }
  unsigned int h = sign | ((unsigned int)e << 10) | (mant >> 13), rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) h++;
  return (unsigned short)h;
}`;
/** float <-> bfloat16 in C (round to nearest even; a NaN stays a quiet NaN), shared as softHalfC is. */
export const bfloat16C = (decl: string, prefix: string): string => String.raw`${decl} float ${prefix}bf2f(unsigned short b) { return __uint_as_float(((unsigned int)b) << 16); }
${decl} unsigned short ${prefix}f2bf(float f) {
  unsigned int u = __float_as_uint(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (unsigned short)((u >> 16) | 0x40);
  u += 0x7fffu + ((u >> 16) & 1u);
  return (unsigned short)(u >> 16);
}`;

const storeOverloads = (name: string, body: (v: string, from: 'float' | 'double' | 'long long') => string, ret: string) =>
  (['float', 'double', 'long long'] as const)
    .map((t) => `__device__ __forceinline__ ${ret} tl_st_${name}(${t} v) { ${body('v', t)} }`)
    .join('\n');

export const PREAMBLE = String.raw`// torchlet cuda kernels (generated)
#ifndef INFINITY
#define INFINITY __int_as_float(0x7f800000)
#endif
#ifndef NAN
#define NAN __int_as_float(0x7fc00000)
#endif
__device__ __forceinline__ bool tl_isnan(float v) { return v != v; }
__device__ __forceinline__ bool tl_isnan(double v) { return v != v; }
#undef isnan
#define isnan(v) tl_isnan(v)

struct TLIdx { long long ndim, n, shape[${MAXD}], st[4][${MAXD}], off[4]; };
struct TLRed { long long nOut, R, splits, chunk, kd, rd, kshape[${MAXD}], kstx[${MAXD}], ksto[${MAXD}], rshape[${MAXD}], rstx[${MAXD}], xoff, ooff; };
struct TLScan { long long rows, n, od, oshape[${MAXD}], ostx[${MAXD}], osto[${MAXD}], dstx, dsto, xoff, ooff; };
struct TLMM { long long B, M, N, K, sab, sam, sak, sbb, sbk, sbn, aoff, boff, ooff; };
struct TLConv { long long N, C, H, W, OC, OH, OW, KH, KW, sh, sw, ph, pw, dh, dw, groups, xs[4], ws[4], os[4], xoff, woff, ooff; };

__device__ __forceinline__ long long tl_minll(long long a, long long b) { return a < b ? a : b; }
// index errors: flag 0 (gather) / 1 (scatter), then the offending index, the dim size and the dim
#define TL_INDEX_ERROR(which) do { err[which] = 1; ((long long*)err)[1] = v; ((long long*)err)[2] = size; ((long long*)err)[3] = dim; } while (0)

// ---- 16-bit floats (stored as raw unsigned short) ----
#ifdef TL_HOST_EMU
${softHalfC('__device__ __forceinline__', 'tl_')}
#else
__device__ __forceinline__ float tl_h2f(unsigned short h) { float f; asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h)); return f; }
__device__ __forceinline__ unsigned short tl_f2h(float f) { unsigned short h; asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f)); return h; }
#endif
${bfloat16C('__device__ __forceinline__', 'tl_')}

// ---- loads: storage -> compute value ----
__device__ __forceinline__ float tl_ld_f32(float v) { return v; }
__device__ __forceinline__ double tl_ld_f64(double v) { return v; }
__device__ __forceinline__ float tl_ld_f16(unsigned short v) { return tl_h2f(v); }
__device__ __forceinline__ float tl_ld_bf16(unsigned short v) { return tl_bf2f(v); }
__device__ __forceinline__ double tl_ld_i32(int v) { return (double)v; }
__device__ __forceinline__ double tl_ld_i64(long long v) { return (double)v; }
__device__ __forceinline__ double tl_ld_u8(unsigned char v) { return (double)v; }
__device__ __forceinline__ double tl_ld_b8(unsigned char v) { return v ? 1.0 : 0.0; }
// integer loads for integer accumulators
__device__ __forceinline__ long long tl_ldi_i32(int v) { return (long long)v; }
__device__ __forceinline__ long long tl_ldi_i64(long long v) { return v; }
__device__ __forceinline__ long long tl_ldi_u8(unsigned char v) { return (long long)v; }
__device__ __forceinline__ long long tl_ldi_b8(unsigned char v) { return v ? 1 : 0; }

// ---- stores: value -> storage, with the casts torchlet's host side uses (dtype.ts toStored) ----
__device__ __forceinline__ int tl_wrap_i32(double v) {
  if (!(v - v == 0.0)) return 0;
  double t = trunc(v);
  if (t >= -2147483648.0 && t <= 2147483647.0) return (int)t;
  t = fmod(t, 4294967296.0);
  return (int)(unsigned int)(long long)t;
}
__device__ __forceinline__ long long tl_wrap_i64(double v) {
  if (!(v - v == 0.0)) return 0;
  double t = trunc(v);
  if (t >= 9.2233720368547758e18) return 0x7fffffffffffffffLL;
  if (t <= -9.2233720368547758e18) return (-0x7fffffffffffffffLL - 1);
  return (long long)t;
}
__device__ __forceinline__ unsigned char tl_wrap_u8(double v) {
  if (!(v - v == 0.0)) return 0;
  double t = fmod(trunc(v), 256.0);
  return (unsigned char)((int)t & 255);
}
${storeOverloads('f32', (v) => `return (float)${v};`, 'float')}
${storeOverloads('f64', (v) => `return (double)${v};`, 'double')}
${storeOverloads('f16', (v) => `return tl_f2h((float)${v});`, 'unsigned short')}
${storeOverloads('bf16', (v) => `return tl_f2bf((float)${v});`, 'unsigned short')}
${storeOverloads('i32', (v, t) => (t === 'long long' ? `return (int)(unsigned int)(unsigned long long)${v};` : `return tl_wrap_i32((double)${v});`), 'int')}
${storeOverloads('i64', (v, t) => (t === 'long long' ? `return ${v};` : `return tl_wrap_i64((double)${v});`), 'long long')}
${storeOverloads('u8', (v, t) => (t === 'long long' ? `return (unsigned char)(${v} & 255);` : `return tl_wrap_u8((double)${v});`), 'unsigned char')}
${storeOverloads('b8', (v) => `return (unsigned char)(${v} != 0 ? 1 : 0);`, 'unsigned char')}

// ---- exact integer arithmetic (integer dtypes compute in double; these match the cpu backend) ----
__device__ __forceinline__ double tl_i32(double v) { return (double)(int)(unsigned int)(long long)v; }
__device__ __forceinline__ double tl_imul(double a, double b) { return (double)(int)((unsigned int)(long long)a * (unsigned int)(long long)b); }
__device__ __forceinline__ double tl_ipow_neg(double a, double b) { return a == 1.0 ? 1.0 : a == -1.0 ? (fmod(b, 2.0) == 0.0 ? 1.0 : -1.0) : 0.0; }
__device__ __forceinline__ double tl_ipow32(double a, double b) {
  if (b < 0.0) return tl_ipow_neg(a, b);
  unsigned int r = 1u, base = (unsigned int)(long long)a;
  for (long long e = (long long)b; e > 0; e >>= 1) { if (e & 1) r *= base; base *= base; }
  return (double)(int)r;
}
__device__ __forceinline__ double tl_ipow64(double a, double b) {
  if (b < 0.0) return tl_ipow_neg(a, b);
  double r = 1.0, base = a;
  for (long long e = (long long)b; e > 0;) { if (e & 1) r *= base; e >>= 1; if (e > 0) base *= base; }
  return r;
}

// ---- atomic accumulation (scatter with accumulate) ----
__device__ __forceinline__ void tl_atomic_add_f32(float* p, float v) { atomicAdd(p, v); }
__device__ __forceinline__ void tl_atomic_add_f64(double* p, double v) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 600
  unsigned long long* a = (unsigned long long*)p;
  unsigned long long old = *a, assumed;
  do { assumed = old; old = atomicCAS(a, assumed, (unsigned long long)__double_as_longlong(__longlong_as_double((long long)assumed) + v)); } while (assumed != old);
#else
  atomicAdd(p, v);
#endif
}
__device__ __forceinline__ void tl_atomic_add_i32(int* p, int v) { atomicAdd(p, v); }
__device__ __forceinline__ void tl_atomic_add_i64(long long* p, long long v) { atomicAdd((unsigned long long*)p, (unsigned long long)v); }
// 8/16-bit element: compare-and-swap on the aligned 32-bit word holding it (buffers are padded to 256 bytes)
template <int BITS, typename F>
__device__ __forceinline__ void tl_atomic_sub32(void* p, F update) {
  unsigned long long addr = (unsigned long long)p;
  unsigned int* word = (unsigned int*)(addr & ~3ULL);
  unsigned int shift = (unsigned int)(addr & 3ULL) * 8u;
  unsigned int mask = (BITS == 16 ? 0xffffu : 0xffu) << shift;
  unsigned int old = *word, assumed;
  do {
    assumed = old;
    unsigned int cur = (assumed & mask) >> shift;
    unsigned int nv = ((unsigned int)update(cur) << shift) & mask;
    old = atomicCAS(word, assumed, (assumed & ~mask) | nv);
  } while (assumed != old);
}
struct TLAddF16 { float v; __device__ unsigned short operator()(unsigned int c) const { return tl_f2h(tl_h2f((unsigned short)c) + v); } };
struct TLAddBF16 { float v; __device__ unsigned short operator()(unsigned int c) const { return tl_f2bf(tl_bf2f((unsigned short)c) + v); } };
struct TLAddU8 { unsigned int v; __device__ unsigned int operator()(unsigned int c) const { return (c + v) & 255u; } };
struct TLOrB8 { unsigned int v; __device__ unsigned int operator()(unsigned int c) const { return (c | v) ? 1u : 0u; } };
__device__ __forceinline__ void tl_atomic_add_f16(unsigned short* p, unsigned short v) { TLAddF16 f = { tl_h2f(v) }; tl_atomic_sub32<16>(p, f); }
__device__ __forceinline__ void tl_atomic_add_bf16(unsigned short* p, unsigned short v) { TLAddBF16 f = { tl_bf2f(v) }; tl_atomic_sub32<16>(p, f); }
__device__ __forceinline__ void tl_atomic_add_u8(unsigned char* p, unsigned char v) { TLAddU8 f = { (unsigned int)v }; tl_atomic_sub32<8>(p, f); }
__device__ __forceinline__ void tl_atomic_add_b8(unsigned char* p, unsigned char v) { TLOrB8 f = { v ? 1u : 0u }; tl_atomic_sub32<8>(p, f); }
`;

// ---------------- kernel emission helpers ----------------

type Param = [type: string, name: string];

/** A kernel plus (for host emulation) its trampoline. `barrier` marks kernels using __syncthreads. */
function kernel(name: string, params: Param[], body: string, barrier = false): string {
  const sig = params.map(([t, n]) => `${t} ${n}`).join(', ');
  const call = params.map(([t], i) => `*(${t.replace(/__restrict__/g, '').trim()}*)p[${i}]`).join(', ');
  return `extern "C" __global__ void ${name}(${sig}) {
${body}
}
#ifdef TL_HOST_EMU
static void tl_emuk_${name}(void** p) { ${name}(${call}); }
extern "C" void tl_emu_${name}(const unsigned* g, const unsigned* b, void** p) { tl_emu_grid(g, b, p, tl_emuk_${name}, ${barrier ? 1 : 0}); }
#endif
`;
}

const GRID_LOOP = (n: string, i = 'i') =>
  `for (long long ${i} = (long long)blockIdx.x * blockDim.x + threadIdx.x; ${i} < ${n}; ${i} += (long long)blockDim.x * gridDim.x)`;

type Term = [target: string, stride: (d: string) => string, guard?: (d: string) => string];

/**
 * Decomposes linear index `lin` (< `bound`) over the `nd` innermost-last dims of `shape(d)`,
 * adding q * stride(d) to every target. Rank <= 1 needs no division at all; index spaces below
 * 2^32 use 32-bit division (64-bit division is many instructions on GPUs). Unrolled to MAXD so
 * parameter arrays are indexed with constants.
 */
function decomp(lin: string, nd: string, bound: string, shape: (d: string) => string, terms: Term[]): string {
  const add = (q: string, d: string) => terms.map(([t, st, g]) => `${g ? `if (${g(d)}) ` : ''}${t} += ${q} * ${st(d)};`).join(' ');
  const loop = (T: string) => `{ ${T} r_ = (${T})(${lin});
#pragma unroll
        for (int d = ${MAXD - 1}; d >= 0; --d) {
          if (d < ${nd}) { ${T} s_ = (${T})${shape('d')}; ${T} q_ = r_ % s_; r_ /= s_; ${add('(long long)q_', 'd')} }
        } }`;
  return `if (${nd} <= 1) { ${add(`(long long)(${lin})`, '0')} }
      else if (${bound} <= 4294967295LL) ${loop('unsigned int')}
      else ${loop('long long')}`;
}

/** decomp over a TLIdx: offsets named in `offs` take strides from ix.st[slot]. */
function decompose(ix: string, lin: string, offs: [name: string, slot: number][], skip?: { slot: number; dim: string }): string {
  return decomp(lin, `${ix}.ndim`, `${ix}.n`, (d) => `${ix}.shape[${d}]`,
    offs.map(([o, k]) => [o, (d: string) => `${ix}.st[${k}][${d}]`, skip && skip.slot === k ? (d: string) => `${d} != ${skip.dim}` : undefined] as Term));
}

// ---------------- per-kind bodies ----------------

/**
 * Integer-dtype ops that must be exact (as on the cpu backend): products wrap like int32
 * (Math.imul) for int32/uint8/bool, and pow is an integer power. Others use the table in double.
 */
function intExpr(op: string, d: DType): string | null {
  if (!isInt(d)) return null;
  if (op === 'pow') return d === 'int64' ? 'tl_ipow64(xv, yv)' : 'tl_ipow32(xv, yv)';
  if (d === 'int64') return null;
  switch (op) {
    case 'mul': return 'tl_imul(xv, yv)';
    case 'square': return 'tl_imul(xv, xv)';
    case 'addcmul': return 'tl_i32(xv + tl_imul(yv, zv))';
    case 'lerp': return 'tl_i32(xv + tl_imul(zv, tl_i32(yv - xv)))';
    default: return null;
  }
}

function ewBody(s: Extract<KernelSpec, { kind: 'ew' }>): string {
  const name = specKey(s);
  const n = arityOf(s.op);
  if (s.dtypes.length !== n) throw new Error(`codegen: ${s.op} takes ${n} operands`);
  const main = s.op === 'where' ? s.dtypes[1] : s.dtypes[0];
  const T = computeType(main);
  const names = ['x', 'y', 'z'].slice(0, n);
  const params: Param[] = names.map((v, k) => [`const ${STORAGE[s.dtypes[k]]}*`, v] as Param);
  params.push([`${STORAGE[s.od]}*`, 'out'], ['TLIdx', 'ix']);
  const loads = names.map((v, k) => `${T} ${v}v = (${T})tl_ld_${SHORT[s.dtypes[k]]}(${v}[o${k}]);`).join(' ');
  const expr = intExpr(s.op, main) ?? renderOp(s.op, cDialect(T, 'cuda'), { x: 'xv', y: 'yv', z: 'zv' });
  const body = `  ${GRID_LOOP('ix.n')} {
    long long ${names.map((_, k) => `o${k} = ix.off[${k}]`).join(', ')}, o3 = ix.off[3];
    ${decompose('ix', 'i', names.map((_, k) => [`o${k}`, k] as [string, number]).concat([['o3', 3]]))}
    ${loads}
    out[o3] = tl_st_${SHORT[s.od]}((${T})(${expr}));
  }`;
  return kernel(name, params, body);
}

function copyBody(s: Extract<KernelSpec, { kind: 'copy' }>): string {
  const val = s.sd === s.dd ? 'x[o0]' : `tl_st_${SHORT[s.dd]}(tl_ld_${SHORT[s.sd]}(x[o0]))`;
  const body = `  ${GRID_LOOP('ix.n')} {
    long long o0 = ix.off[0], o3 = ix.off[3];
    ${decompose('ix', 'i', [['o0', 0], ['o3', 3]])}
    out[o3] = ${val};
  }`;
  return kernel(specKey(s), [[`const ${STORAGE[s.sd]}*`, 'x'], [`${STORAGE[s.dd]}*`, 'out'], ['TLIdx', 'ix']], body);
}

const FILL_T: Record<1 | 2 | 4 | 8, string> = { 1: 'unsigned char', 2: 'unsigned short', 4: 'unsigned int', 8: 'unsigned long long' };
function fillBody(s: Extract<KernelSpec, { kind: 'fill' }>): string {
  const T = FILL_T[s.size];
  const body = `  ${GRID_LOOP('ix.n')} {
    long long o3 = ix.off[3];
    ${decompose('ix', 'i', [['o3', 3]])}
    out[o3] = (${T})bits;
  }`;
  return kernel(specKey(s), [[`${T}*`, 'out'], ['TLIdx', 'ix'], ['unsigned long long', 'bits']], body);
}

function reduceBody(s: Extract<KernelSpec, { kind: 'reduce' }>): string {
  const key = specKey(s);
  const ACC = reduceAcc(s.op, s.xd, s.od);
  const XS = STORAGE[s.xd], OS = STORAGE[s.od];
  const arg = s.op === 'argmax' || s.op === 'argmin';
  const load = (raw: string) =>
    ACC === 'long long'
      ? isInt(s.xd) ? `tl_ldi_${SHORT[s.xd]}(${raw})` : `tl_wrap_i64((double)tl_ld_${SHORT[s.xd]}(${raw}))`
      : `(${ACC})tl_ld_${SHORT[s.xd]}(${raw})`;
  const ident =
    s.op === 'sum' ? `(${ACC})0` : s.op === 'prod' ? `(${ACC})1`
      : s.op === 'max' || s.op === 'argmax' ? `(${ACC})(-INFINITY)` : `(${ACC})INFINITY`;
  // (a, ai) <- combine(a, ai, b, bi); arg ops skip empty partners (bi < 0)
  const better = s.op === 'argmax' ? '>' : '<';
  const combine = (a: string, ai: string, b: string, bi: string): string => {
    switch (s.op) {
      case 'sum': return `${a} = ${a} + ${b};`;
      case 'prod': return `${a} = ${a} * ${b};`;
      case 'max': return `if (!(isnan(${a}) || ${a} >= ${b})) ${a} = ${b};`;
      case 'min': return `if (!(isnan(${a}) || ${a} <= ${b})) ${a} = ${b};`;
      default:
        // first occurrence wins; NaN beats any number (as torch: max/min and their arg forms propagate NaN)
        return `if (${bi} >= 0 && (${ai} < 0 || (isnan(${b}) ? (!isnan(${a}) || ${bi} < ${ai}) : (!isnan(${a}) && (${b} ${better} ${a} || (${b} == ${a} && ${bi} < ${ai})))))) { ${a} = ${b}; ${ai} = ${bi}; }`;
    }
  };
  const store = (v: string, vi: string) => (arg ? `(long long)${vi}` : `tl_st_${SHORT[s.od]}(${v})`);
  // index bookkeeping only for argmax/argmin
  const I = (code: string) => (arg ? code : '');
  const ai0 = I(' long long ai = -1;');
  const shared = `  __shared__ ${ACC} sv[${RED_THREADS}];${I(`\n  __shared__ long long si[${RED_THREADS}];`)}`;
  const tree = `    sv[threadIdx.x] = acc;${I(' si[threadIdx.x] = ai;')}
    __syncthreads();
    for (unsigned w = blockDim.x >> 1; w > 0; w >>= 1) {
      if (threadIdx.x < w) { ${ACC} a = sv[threadIdx.x]; ${ACC} b = sv[threadIdx.x + w];${I(' long long aI = si[threadIdx.x]; long long bI = si[threadIdx.x + w];')} ${combine('a', 'aI', 'b', 'bI')} sv[threadIdx.x] = a;${I(' si[threadIdx.x] = aI;')} }
      __syncthreads();
    }`;
  const outOffset = `long long xo = r.xoff, oo = r.ooff;
    ${decomp('o', 'r.kd', 'r.nOut', (d) => `r.kshape[${d}]`, [['xo', (d) => `r.kstx[${d}]`], ['oo', (d) => `r.ksto[${d}]`]])}`;
  const s1 = kernel(`${key}_s1`, [[`const ${XS}*`, 'x'], [`${OS}*`, 'out'], [`${ACC}*`, 'pv'], ['long long*', 'pi'], ['TLRed', 'r']], `${shared}
  long long total = r.nOut * r.splits;
  for (long long blk = blockIdx.x; blk < total; blk += gridDim.x) {
    long long o = blk / r.splits, sp = blk - o * r.splits;
    ${outOffset}
    long long beg = sp * r.chunk, end = tl_minll(beg + r.chunk, r.R);
    ${ACC} acc = ${ident};${ai0}
    for (long long j = beg + threadIdx.x; j < end; j += blockDim.x) {
      long long xr = xo;
      ${decomp('j', 'r.rd', 'r.R', (d) => `r.rshape[${d}]`, [['xr', (d) => `r.rstx[${d}]`]])}
      ${ACC} v = ${load('x[xr]')};${I(' long long vi = j;')}
      ${combine('acc', 'ai', 'v', 'vi')}
    }
${tree}
    if (threadIdx.x == 0) {
      if (r.splits == 1) out[oo] = ${store('sv[0]', 'si[0]')};
      else { pv[blk] = sv[0];${I(' pi[blk] = si[0];')} }
    }
    __syncthreads();
  }`, true);
  const s2 = kernel(`${key}_s2`, [[`const ${ACC}*`, 'pv'], ['const long long*', 'pi'], [`${OS}*`, 'out'], ['TLRed', 'r']], `${shared}
  for (long long o = blockIdx.x; o < r.nOut; o += gridDim.x) {
    ${outOffset}
    ${ACC} acc = ${ident};${ai0}
    for (long long j = threadIdx.x; j < r.splits; j += blockDim.x) {
      ${ACC} v = pv[o * r.splits + j];${I(' long long vi = pi[o * r.splits + j];')}
      ${combine('acc', 'ai', 'v', 'vi')}
    }
${tree}
    if (threadIdx.x == 0) out[oo] = ${store('sv[0]', 'si[0]')};
    __syncthreads();
  }`, true);
  return s1 + s2;
}

function cumsumBody(s: Extract<KernelSpec, { kind: 'cumsum' }>): string {
  const ACC = scanAcc(s.od);
  const load = (raw: string) =>
    ACC === 'long long'
      ? isInt(s.xd) ? `tl_ldi_${SHORT[s.xd]}(${raw})` : `tl_wrap_i64((double)tl_ld_${SHORT[s.xd]}(${raw}))`
      : `(${ACC})tl_ld_${SHORT[s.xd]}(${raw})`;
  const body = `  __shared__ ${ACC} buf[${RED_THREADS}];
  for (long long row = blockIdx.x; row < sc.rows; row += gridDim.x) {
    long long xo = sc.xoff, oo = sc.ooff;
    ${decomp('row', 'sc.od', 'sc.rows', (d) => `sc.oshape[${d}]`, [['xo', (d) => `sc.ostx[${d}]`], ['oo', (d) => `sc.osto[${d}]`]])}
    ${ACC} carry = (${ACC})0;
    for (long long base = 0; base < sc.n; base += blockDim.x) {
      long long k = base + threadIdx.x;
      buf[threadIdx.x] = k < sc.n ? ${load('x[xo + k * sc.dstx]')} : (${ACC})0;
      __syncthreads();
      for (unsigned off = 1; off < blockDim.x; off <<= 1) {
        ${ACC} add = threadIdx.x >= off ? buf[threadIdx.x - off] : (${ACC})0;
        __syncthreads();
        buf[threadIdx.x] = buf[threadIdx.x] + add;
        __syncthreads();
      }
      if (k < sc.n) out[oo + k * sc.dsto] = tl_st_${SHORT[s.od]}((${ACC})(carry + buf[threadIdx.x]));
      carry = carry + buf[blockDim.x - 1];
      __syncthreads();
    }
  }`;
  return kernel(specKey(s), [[`const ${STORAGE[s.xd]}*`, 'x'], [`${STORAGE[s.od]}*`, 'out'], ['TLScan', 'sc']], body, true);
}

function gatherBody(s: Extract<KernelSpec, { kind: 'gather' }>): string {
  const XS = STORAGE[s.xd];
  const body = `  ${GRID_LOOP('ix.n')} {
    long long o0 = ix.off[0], o1 = ix.off[1], o2 = ix.off[2];
    ${decompose('ix', 'i', [['o0', 0], ['o1', 1], ['o2', 2]], { slot: 0, dim: 'dim' })}
    long long v = (long long)idx[o1];
    if (v < 0 || v >= size) { TL_INDEX_ERROR(0); out[o2] = (${XS})0; }
    else out[o2] = x[o0 + v * ix.st[0][dim]];
  }`;
  return kernel(specKey(s), [[`const ${XS}*`, 'x'], [`const ${STORAGE[s.id]}*`, 'idx'], [`${XS}*`, 'out'], ['TLIdx', 'ix'], ['long long', 'dim'], ['long long', 'size'], ['int*', 'err']], body);
}

function scatterBody(s: Extract<KernelSpec, { kind: 'scatter' }>): string {
  const XS = STORAGE[s.xd];
  const write = s.accumulate ? `tl_atomic_add_${SHORT[s.xd]}(out + p, src[o2]);` : `out[p] = src[o2];`;
  const body = `  ${GRID_LOOP('ix.n')} {
    long long o0 = ix.off[0], o1 = ix.off[1], o2 = ix.off[2];
    ${decompose('ix', 'i', [['o0', 0], ['o1', 1], ['o2', 2]], { slot: 0, dim: 'dim' })}
    long long v = (long long)idx[o1];
    if (v < 0 || v >= size) { TL_INDEX_ERROR(1); continue; }
    long long p = o0 + v * ix.st[0][dim];
    ${write}
  }`;
  return kernel(specKey(s), [[`${XS}*`, 'out'], [`const ${STORAGE[s.id]}*`, 'idx'], [`const ${XS}*`, 'src'], ['TLIdx', 'ix'], ['long long', 'dim'], ['long long', 'size'], ['int*', 'err']], body);
}

function sortBody(s: Extract<KernelSpec, { kind: 'sort' }>): string {
  const K = STORAGE[s.kd];
  const key = specKey(s);
  // stable bottom-up merge pass: each element finds its rank in the merged run by binary search
  const less = (a: string, b: string) => `(desc ? ((${a} > ${b}) || (isnan(${a}) && !isnan(${b}))) : ((${a} < ${b}) || (isnan(${b}) && !isnan(${a}))))`;
  const pass = kernel(`${key}_pass`, [[`const ${K}*`, 'kin'], ['const long long*', 'iin'], [`${K}*`, 'kout'], ['long long*', 'iout'], ['long long', 'n'], ['long long', 'total'], ['long long', 'w'], ['long long', 'desc']], `  ${GRID_LOOP('total')} {
    long long row = i / n, k = i - row * n, base = row * n;
    long long start = (k / (2 * w)) * (2 * w);
    long long mid = tl_minll(start + w, n), end = tl_minll(start + 2 * w, n);
    ${K} v = kin[i];
    long long pos;
    if (k < mid) {
      long long lo = mid, hi = end;
      while (lo < hi) { long long m = (lo + hi) >> 1; ${K} b = kin[base + m]; if (${less('b', 'v')}) lo = m + 1; else hi = m; }
      pos = (k - start) + (lo - mid);
    } else {
      long long lo = start, hi = mid;
      while (lo < hi) { long long m = (lo + hi) >> 1; ${K} a = kin[base + m]; if (!${less('v', 'a')}) lo = m + 1; else hi = m; }
      pos = (k - mid) + (lo - start);
    }
    kout[base + start + pos] = v;
    iout[base + start + pos] = iin[i];
  }`);
  const iota = kernel(`${key}_iota`, [['long long*', 'out'], ['long long', 'n'], ['long long', 'total']], `  ${GRID_LOOP('total')} out[i] = i % n;`);
  return pass + iota;
}

function matmulBody(s: Extract<KernelSpec, { kind: 'matmul' }>): string {
  const S = STORAGE[s.dt], ACC = computeType(s.dt), ld = `tl_ld_${SHORT[s.dt]}`;
  const body = `  __shared__ ${ACC} ta[16][17];
  __shared__ ${ACC} tb[16][17];
  long long rowBlocks = (p.M + 15) / 16;
  long long col = (long long)blockIdx.x * 16 + threadIdx.x;
  for (long long bt = blockIdx.z; bt < p.B; bt += gridDim.z) {
    for (long long rb = blockIdx.y; rb < rowBlocks; rb += gridDim.y) {
      long long row = rb * 16 + threadIdx.y;
      ${ACC} acc = (${ACC})0;
      for (long long k0 = 0; k0 < p.K; k0 += 16) {
        long long ka = k0 + threadIdx.x, kb = k0 + threadIdx.y;
        ta[threadIdx.y][threadIdx.x] = (row < p.M && ka < p.K) ? (${ACC})${ld}(a[p.aoff + bt * p.sab + row * p.sam + ka * p.sak]) : (${ACC})0;
        tb[threadIdx.y][threadIdx.x] = (kb < p.K && col < p.N) ? (${ACC})${ld}(b[p.boff + bt * p.sbb + kb * p.sbk + col * p.sbn]) : (${ACC})0;
        __syncthreads();
#pragma unroll
        for (int kk = 0; kk < 16; ++kk) acc += ta[threadIdx.y][kk] * tb[kk][threadIdx.x];
        __syncthreads();
      }
      if (row < p.M && col < p.N) out[p.ooff + (bt * p.M + row) * p.N + col] = tl_st_${SHORT[s.dt]}(acc);
    }
  }`;
  return kernel(specKey(s), [[`const ${S}*`, 'a'], [`const ${S}*`, 'b'], [`${S}*`, 'out'], ['TLMM', 'p']], body, true);
}

function conv2dBody(s: Extract<KernelSpec, { kind: 'conv2d' }>): string {
  const S = STORAGE[s.dt], ACC = computeType(s.dt), ld = `tl_ld_${SHORT[s.dt]}`;
  const body = `  long long total = c.N * c.OC * c.OH * c.OW;
  long long ocpg = c.OC / c.groups, cpg = c.C / c.groups;
  ${GRID_LOOP('total')} {
    long long t = i;
    long long ow = t % c.OW; t /= c.OW;
    long long oh = t % c.OH; t /= c.OH;
    long long oc = t % c.OC; long long n = t / c.OC;
    long long g = oc / ocpg;
    ${ACC} acc = (${ACC})0;
    for (long long ic = 0; ic < cpg; ++ic) {
      long long ch = g * cpg + ic;
      for (long long kh = 0; kh < c.KH; ++kh) {
        long long ih = oh * c.sh - c.ph + kh * c.dh;
        if (ih < 0 || ih >= c.H) continue;
        for (long long kw = 0; kw < c.KW; ++kw) {
          long long iw = ow * c.sw - c.pw + kw * c.dw;
          if (iw < 0 || iw >= c.W) continue;
          acc += (${ACC})${ld}(x[c.xoff + n * c.xs[0] + ch * c.xs[1] + ih * c.xs[2] + iw * c.xs[3]]) *
                 (${ACC})${ld}(w[c.woff + oc * c.ws[0] + ic * c.ws[1] + kh * c.ws[2] + kw * c.ws[3]]);
        }
      }
    }
    out[c.ooff + n * c.os[0] + oc * c.os[1] + oh * c.os[2] + ow * c.os[3]] = tl_st_${SHORT[s.dt]}(acc);
  }`;
  return kernel(specKey(s), [[`const ${S}*`, 'x'], [`const ${S}*`, 'w'], [`${S}*`, 'out'], ['TLConv', 'c']], body);
}

/** The kernels of one module (without the preamble). */
export function kernelBody(s: KernelSpec): string {
  switch (s.kind) {
    case 'ew': return ewBody(s);
    case 'copy': return copyBody(s);
    case 'fill': return fillBody(s);
    case 'reduce': return reduceBody(s);
    case 'cumsum': return cumsumBody(s);
    case 'gather': return gatherBody(s);
    case 'scatter': return scatterBody(s);
    case 'sort': return sortBody(s);
    case 'matmul': return matmulBody(s);
    case 'conv2d': return conv2dBody(s);
  }
}

/** A complete NVRTC translation unit for one spec. */
export function moduleSource(s: KernelSpec): string {
  return `${PREAMBLE}\n${kernelBody(s)}`;
}

/** Every kernel spec the backend can request for the given dtypes (for compile checks). */
export function allKernelSpecs(dtypes: DType[] = ALL_DTYPES): KernelSpec[] {
  const out: KernelSpec[] = [];
  const ops = [...Object.keys(UNARY), ...Object.keys(BINARY), ...Object.keys(TERNARY)];
  for (const d of dtypes) for (const op of ops) out.push(ewSpec(op, d));
  for (const a of ALL_DTYPES) for (const b of ALL_DTYPES) out.push({ kind: 'copy', sd: a, dd: b });
  for (const size of [1, 2, 4, 8] as const) out.push({ kind: 'fill', size });
  for (const d of dtypes) {
    for (const op of ['sum', 'prod', 'max', 'min', 'argmax', 'argmin'] as ReduceOp[]) {
      const od: DType = op === 'argmax' || op === 'argmin' ? 'int64' : (op === 'sum' || op === 'prod') && isInt(d) ? 'int64' : d;
      out.push({ kind: 'reduce', op, xd: d, od });
    }
    out.push({ kind: 'cumsum', xd: d, od: isInt(d) ? 'int64' : d });
    for (const id of ['int64', 'int32'] as DType[]) {
      out.push({ kind: 'gather', xd: d, id });
      out.push({ kind: 'scatter', xd: d, id, accumulate: false });
      out.push({ kind: 'scatter', xd: d, id, accumulate: true });
    }
    out.push({ kind: 'matmul', dt: d });
    out.push({ kind: 'conv2d', dt: d });
  }
  out.push({ kind: 'sort', kd: 'float32' }, { kind: 'sort', kd: 'float64' });
  const seen = new Set<string>();
  return out.filter((s) => (seen.has(specKey(s)) ? false : (seen.add(specKey(s)), true)));
}
