/**
 * The cuda backend.
 *
 * 1. Discovery: here (no NVIDIA driver) the device reports unavailable with a reason naming the
 *    missing library, getBackend('cuda') throws a DeviceError saying so, and the search honours
 *    LD_LIBRARY_PATH / CUDA_HOME / python site-packages (fake files in a temp dir).
 * 2. Kernel sources: every generated kernel (all ops x dtypes) compiles with nvcc when
 *    /usr/local/cuda/bin/nvcc exists (batched into a few .cu files compiled in parallel).
 * 3. The backend suite (ops vs plain JS references, views built by hand: contiguous, broadcast,
 *    transposed, offset) runs twice when possible:
 *    - on a real GPU through the registry, when isDeviceAvailable('cuda');
 *    - on the host emulator (fake libcuda/NVRTC/cuBLAS/cuDNN built with gcc, kernels compiled
 *      with g++; see src/device/cuda/testing/emulator.ts), when gcc/g++ exist.
 *    Each is skipped with the reason printed otherwise.
 */
import t, { type Test } from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { getBackend, isDeviceAvailable, registerBackend, unavailableReason } from '../src/device/registry.js';
import torch, { nn } from '../src/index.js';
import { cudaFactory, createCudaFactory } from '../src/device/cuda/index.js';
import { searchDirs, findCandidates, LIBS, pythonSitePackages } from '../src/device/cuda/loader.js';
import { allKernelSpecs, PREAMBLE, kernelBody, kernelNames, specKey, moduleSource, ALL_DTYPES } from '../src/device/cuda/codegen.js';
import { buildEmulator } from '../src/device/cuda/testing/emulator.js';
import { bucketBytes, fillBits, gemmOperand, type CudaBackend } from '../src/device/cuda/backend.js';
import { UNARY, BINARY, TERNARY, JS, JS_HELPERS, renderOp, isBoolOp } from '../src/device/kernels.js';
import { allocHost, fromStored, toStored, type DType } from '../src/dtype.js';
import { DeviceError, IndexError, DTypeError } from '../src/errors.js';
import type { Backend, Handle, View, ReduceOp, Conv2dParams } from '../src/device/backend.js';
import { contiguous, numel, indices, offsetOf, mismatch } from './helpers/strided.js';

const F = nn.functional;

const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'torchlet-cuda-test-'));
t.teardown(() => fs.rmSync(tmpRoot, { recursive: true, force: true }));

// ================================================================== 1. discovery

t.test('discovery without a GPU reports a one-line reason and never throws', async (t) => {
  const reason = cudaFactory.unavailableReason();
  const driverFiles = findCandidates(LIBS.cuda).filter((c) => c.path.includes('/'));
  if (reason === null) {
    t.ok(isDeviceAvailable('cuda'), 'a usable CUDA device is present');
    t.ok(cudaFactory.deviceCount() > 0);
    return;
  }
  t.type(reason, 'string');
  t.notOk(reason.includes('\n'), 'one line');
  t.equal(cudaFactory.deviceCount(), 0);
  t.equal(isDeviceAvailable('cuda'), false);
  t.equal(unavailableReason('cuda'), reason, 'the registry reports the factory reason');
  if (driverFiles.length === 0) {
    t.match(reason, /^libcuda\.so\.1 \(the NVIDIA driver\) was not found; searched: /);
    t.match(reason, /system library path/);
  }
  t.comment(`cuda unavailable: ${reason}`);
});

t.test('importing the cuda module loads nothing native (not even koffi) until the first probe', async (t) => {
  const script = `
    import { createRequire } from 'node:module';
    const m = await import(${JSON.stringify(new URL('../src/device/cuda/index.ts', import.meta.url).href)});
    const loaded = () => Object.keys(createRequire(import.meta.url).cache).filter((k) => /koffi/.test(k)).length;
    const before = loaded();
    m.cudaFactory.unavailableReason();
    console.log(JSON.stringify({ before, after: loaded() }));`;
  const r = spawnSync(process.execPath, ['--import=tsx', '--input-type=module', '-e', script], { encoding: 'utf8', cwd: path.dirname(new URL(import.meta.url).pathname) });
  t.equal(r.status, 0, r.stderr);
  const { before, after } = JSON.parse(r.stdout.trim().split('\n').pop()!);
  t.equal(before, 0, 'koffi is not loaded by the import');
  t.ok(after > 0, 'the first probe loads it');
});

t.test("getBackend('cuda') throws a DeviceError naming what is missing", async (t) => {
  if (isDeviceAvailable('cuda')) return t.pass('a GPU is present; nothing to check');
  for (const dev of ['cuda', 'cuda:0', 'cuda:1']) {
    t.throws(() => getBackend(dev), DeviceError, `${dev} throws DeviceError`);
    try {
      getBackend(dev);
    } catch (e) {
      t.match((e as Error).message, new RegExp(`device '${dev}' is not available: `));
      t.match((e as Error).message, /libcuda\.so\.1|NVRTC|cuInit|no CUDA devices/);
    }
  }
});

t.test('the search honours TORCHLET_CUDA_LIB_DIRS, LD_LIBRARY_PATH, CUDA_HOME and python site-packages', async (t) => {
  const root = path.join(tmpRoot, 'search');
  const ld1 = path.join(root, 'ld1'), ld2 = path.join(root, 'ld2'), home = path.join(root, 'cuda');
  const venv = path.join(root, 'venv'), sp = path.join(venv, 'lib', 'python3.12', 'site-packages');
  const stubs = path.join(home, 'lib64', 'stubs');
  for (const d of [ld1, ld2, path.join(home, 'lib64'), stubs, path.join(sp, 'nvidia', 'cu13', 'lib'), path.join(sp, 'nvidia', 'cudnn', 'lib'), path.join(root, 'extra')])
    fs.mkdirSync(d, { recursive: true });
  const touch = (p: string) => fs.writeFileSync(p, 'not an ELF file\n');
  touch(path.join(ld2, 'libcuda.so.1'));
  touch(path.join(stubs, 'libcuda.so.1')); // stubs never count
  touch(path.join(home, 'lib64', 'libnvrtc.so.12'));
  touch(path.join(ld1, 'libnvrtc.so.13'));
  touch(path.join(sp, 'nvidia', 'cu13', 'lib', 'libcublas.so.13'));
  touch(path.join(sp, 'nvidia', 'cudnn', 'lib', 'libcudnn.so.9'));
  touch(path.join(root, 'extra', 'libcuda.so.1'));
  const env = { LD_LIBRARY_PATH: `${ld1}:${ld2}`, CUDA_HOME: home, VIRTUAL_ENV: venv, TORCHLET_CUDA_LIB_DIRS: path.join(root, 'extra'), PATH: '' };

  const dirs = searchDirs({ env, envOnly: true }).map((d) => `${d.source}:${d.dir}`);
  t.same(dirs.slice(0, 4), [`TORCHLET_CUDA_LIB_DIRS:${path.join(root, 'extra')}`, `LD_LIBRARY_PATH:${ld1}`, `LD_LIBRARY_PATH:${ld2}`, `CUDA_HOME:${path.join(home, 'lib64')}`]);
  t.notOk(dirs.some((d) => d.includes('stubs')), 'stub dirs are skipped');

  const cuda = findCandidates(LIBS.cuda, { env, envOnly: true });
  t.same(cuda.map((c) => c.path), [path.join(root, 'extra', 'libcuda.so.1'), path.join(ld2, 'libcuda.so.1')], 'libcuda: override dir, then LD_LIBRARY_PATH');
  const nvrtc = findCandidates(LIBS.nvrtc, { env, envOnly: true });
  t.same(nvrtc.map((c) => c.path), [path.join(ld1, 'libnvrtc.so.13'), path.join(home, 'lib64', 'libnvrtc.so.12')], 'nvrtc: LD_LIBRARY_PATH before CUDA_HOME');
  const withSys = findCandidates(LIBS.cuda, { env });
  t.same(withSys.slice(-2).map((c) => c.path), ['libcuda.so.1', 'libcuda.so'], 'plain sonames for the system loader come last');

  t.ok(pythonSitePackages({ env }).includes(sp), 'VIRTUAL_ENV site-packages found');
  const cublas = findCandidates(LIBS.cublas, { env });
  t.ok(cublas.some((c) => c.path === path.join(sp, 'nvidia', 'cu13', 'lib', 'libcublas.so.13')), 'nvidia/cu13/lib of a venv');
  t.ok(findCandidates(LIBS.cudnn, { env }).some((c) => c.path === path.join(sp, 'nvidia', 'cudnn', 'lib', 'libcudnn.so.9')), 'nvidia/cudnn/lib');

  // existence is checked before dlopen: the fake file is found, and its load failure is reported
  const f = createCudaFactory({ env, envOnly: true });
  const reason = f.unavailableReason()!;
  t.match(reason, /^libcuda\.so\.1 \(the NVIDIA driver\) could not be loaded: /);
  t.match(reason, path.join(root, 'extra', 'libcuda.so.1'));
  t.equal(f.deviceCount(), 0);
  t.throws(() => f.create(0), DeviceError);

  const none = createCudaFactory({ env: { LD_LIBRARY_PATH: path.join(root, 'nothing-here') }, envOnly: true });
  t.match(none.unavailableReason()!, new RegExp(`libcuda\\.so\\.1 \\(the NVIDIA driver\\) was not found; searched: ${path.join(root, 'nothing-here')}`));
});

t.test('pure helpers: buckets, fill bits, GEMM operand layouts', async (t) => {
  t.equal(bucketBytes(1), 512);
  t.equal(bucketBytes(513), 1024);
  t.equal(bucketBytes(1 << 20), 1 << 20);
  t.equal(bucketBytes((1 << 20) + 1), 2 << 20, 'large sizes round to 2 MiB steps');
  t.equal(bucketBytes(100 << 20), 104 << 20, 'then to 1/8 of the power of two');
  t.equal(fillBits('float32', 1), 0x3f800000n);
  t.equal(fillBits('float64', -2), 0xc000000000000000n);
  t.equal(fillBits('float16', 0x3c00), 0x3c00n);
  t.equal(fillBits('int32', -1), 0xffffffffn);
  t.equal(fillBits('int64', -1), 0xffffffffffffffffn);
  t.equal(fillBits('bool', 1), 1n);
  // row-major [rows, cols] seen column-major
  t.same(gemmOperand(3, 4, 4, 1), { op: 0, ld: 4 }, 'contiguous: op N, ld = row stride');
  t.same(gemmOperand(3, 4, 1, 3), { op: 1, ld: 3 }, 'transposed: op T, ld = col stride');
  t.same(gemmOperand(3, 4, 8, 1), { op: 0, ld: 8 }, 'padded rows');
  t.equal(gemmOperand(3, 4, 8, 2), null, 'no unit stride: needs a copy');
  t.equal(gemmOperand(3, 4, 0, 1), null, 'broadcast rows: needs a copy');
  t.same(gemmOperand(1, 4, 0, 1), { op: 0, ld: 4 }, 'one row: any row stride');
  t.same(gemmOperand(3, 1, 1, 0), { op: 0, ld: 1 }, 'one column');
});

// ================================================================== 2. kernel sources

const NVCC = process.env.NVCC ?? '/usr/local/cuda/bin/nvcc';
const COMPILE_DTYPES: DType[] = ['float32', 'float64', 'float16', 'bfloat16', 'int32'];

t.test('kernel sources: every op x dtype renders, with unique kernel names', async (t) => {
  const specs = allKernelSpecs(ALL_DTYPES);
  const names = specs.flatMap(kernelNames);
  t.equal(new Set(names).size, names.length, `${names.length} kernel names are unique`);
  const ops = Object.keys(UNARY).length + Object.keys(BINARY).length + Object.keys(TERNARY).length;
  t.equal(specs.filter((s) => s.kind === 'ew').length, ops * ALL_DTYPES.length, 'one elementwise kernel per op and dtype');
  for (const s of specs) {
    const src = moduleSource(s);
    if (!src.includes(`extern "C" __global__ void ${kernelNames(s)[0]}(`)) t.fail(`${specKey(s)}: entry missing`);
    if (/#include/.test(src)) t.fail(`${specKey(s)}: NVRTC sources must not #include`);
  }
  t.pass('rendered');
});

function nvcc(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((res) => {
    const c = spawn(NVCC, args);
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (out += d));
    c.on('close', (code) => res({ code, out }));
    c.on('error', (e) => res({ code: -1, out: String(e) }));
  });
}

t.test('kernel sources compile with nvcc', { skip: fs.existsSync(NVCC) ? false : `${NVCC} not found (set NVCC=/path/to/nvcc)` }, async (t) => {
  const specs = allKernelSpecs(COMPILE_DTYPES);
  const dir = path.join(tmpRoot, 'nvcc');
  fs.mkdirSync(dir, { recursive: true });
  // every kernel to PTX (front end + NVVM), split over the cores
  const files = Math.max(1, Math.min(4, os.cpus().length));
  const jobs: Promise<{ name: string; code: number | null; out: string }>[] = [];
  for (let p = 0; p < files; p++) {
    const file = path.join(dir, `kernels${p}.cu`);
    fs.writeFileSync(file, `${PREAMBLE}\n${specs.filter((_, i) => i % files === p).map(kernelBody).join('\n')}`);
    jobs.push(nvcc(['--ptx', '-arch=sm_75', '-o', file.replace(/\.cu$/, '.ptx'), file]).then((r) => ({ name: path.basename(file), ...r })));
  }
  // and a representative subset all the way through ptxas (registers, resource limits): every
  // non-elementwise kernel for two dtypes, plus the heaviest elementwise kernels for each dtype
  const subset = specs.filter((s) =>
    s.kind === 'ew' ? ['add', 'gelu', 'geluBackward', 'where', 'maximum', 'pow'].includes(s.op)
      : s.kind === 'copy' ? s.sd === 'float16' || s.dd === 'float16'
        : s.kind === 'sort' || s.kind === 'fill' || ('dt' in s ? ['float32', 'float16'].includes(s.dt) : ['float32', 'float16'].includes((s as { xd: DType }).xd)));
  const full = path.join(dir, 'subset.cu');
  fs.writeFileSync(full, `${PREAMBLE}\n${subset.map(kernelBody).join('\n')}`);
  jobs.push(nvcc(['-c', '-arch=sm_75', '-o', path.join(dir, 'subset.o'), full]).then((r) => ({ name: 'subset.cu (-c)', ...r })));
  for (const r of await Promise.all(jobs)) {
    t.equal(r.code, 0, `${r.name} compiles`);
    t.notMatch(r.out, /error|warning/i, `${r.name}: no errors or warnings${r.out ? `\n${r.out.slice(0, 2000)}` : ''}`);
  }
  t.comment(`${specs.length} modules (${specs.flatMap(kernelNames).length} kernels) compiled to PTX with nvcc -arch=sm_75; ${subset.length} of them also through ptxas`);
});

// ================================================================== 3. backend suite

let seed = 20240611;
function rand(): number {
  seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
  return seed / 4294967296;
}
const randIn = (lo: number, hi: number) => lo + (hi - lo) * rand();
const randInt = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));

const TOL: Record<DType, [number, number]> = {
  float32: [3e-5, 3e-6], float64: [1e-12, 1e-13], float16: [4e-3, 2e-3], bfloat16: [3e-2, 1e-2],
  int32: [0, 0], int64: [0, 0], uint8: [0, 0], bool: [0, 0],
};

/** The device under test plus host mirrors of what was written. */
class Harness {
  constructor(readonly be: Backend) {}
  buf(dtype: DType, vals: readonly number[]): { handle: Handle; dtype: DType; vals: number[] } {
    const handle = this.be.alloc(vals.length, dtype);
    const host = allocHost(dtype, vals.length);
    vals.forEach((v, i) => { host[i] = toStored(dtype, v); });
    if (vals.length) this.be.write(handle, dtype, host, 0);
    return { handle, dtype, vals: [...host].map((x) => fromStored(dtype, x)) };
  }
  /** A tensor view over a fresh buffer of `vals`, optionally a permuted/offset/broadcast view. */
  tensor(dtype: DType, shape: number[], vals: readonly number[]): TV {
    const b = this.buf(dtype, vals);
    return { handle: b.handle, dtype, shape, strides: contiguous(shape), offset: 0, host: b.vals };
  }
  empty(dtype: DType, shape: number[]): TV {
    const n = numel(shape);
    return { handle: this.be.alloc(n, dtype), dtype, shape, strides: contiguous(shape), offset: 0, host: new Array(n).fill(0) };
  }
  read(v: View): number[] {
    return [...this.be.readSync!(v)].map((x) => fromStored(v.dtype, x));
  }
  async readAsync(v: View): Promise<number[]> {
    return [...(await this.be.read(v))].map((x) => fromStored(v.dtype, x));
  }
}
interface TV extends View { host: number[] }
const logical = (v: TV) => [...indices(v.shape)].map((i) => v.host[offsetOf(v, i)]);
const permute = (v: TV, perm: number[]): TV => ({ ...v, shape: perm.map((p) => v.shape[p]), strides: perm.map((p) => v.strides[p]) });
const expand = (v: TV, shape: number[]): TV => {
  const nd = shape.length, off = nd - v.shape.length;
  return { ...v, shape, strides: shape.map((s, i) => (i < off || v.shape[i - off] === 1 ? 0 : v.strides[i - off])) };
};

const jsFns = new Map<string, (x: number, y: number, z: number) => number>();
function jsOp(op: string): (x: number, y: number, z: number) => number {
  let f = jsFns.get(op);
  if (!f) {
    const body = `return ${renderOp(op, JS, { x: 'x', y: 'y', z: 'z' })};`;
    f = new Function('rint', 'erf', 'fmod', 'x', 'y', 'z', body).bind(null, JS_HELPERS.rint, JS_HELPERS.erf, JS_HELPERS.fmod) as (x: number, y: number, z: number) => number;
    jsFns.set(op, f);
  }
  return f;
}
/** Reference for integer dtypes: products wrap (Math.imul) for int32, pow is an integer power. */
function intRef(op: string, x: number, y: number, z: number): number | null {
  const ipow = (a: number, b: number) => {
    if (b < 0) return a === 1 ? 1 : a === -1 ? (b % 2 === 0 ? 1 : -1) : 0;
    let r = 1;
    for (let e = 0; e < b; e++) r = Math.imul(r, a);
    return r;
  };
  switch (op) {
    case 'mul': return Math.imul(x, y);
    case 'square': return Math.imul(x, x);
    case 'pow': return ipow(x, y);
    case 'addcmul': return (x + Math.imul(y, z)) | 0;
    default: return null;
  }
}

/** Input domains keeping references well conditioned. */
function domain(op: string, k: number): [number, number] {
  if (['log', 'sqrt', 'rsqrt', 'log1p'].includes(op)) return [0.1, 4];
  if (op === 'pow') return k === 0 ? [0.5, 2] : [-2, 2];
  if (['div', 'fmod', 'remainder', 'atan2'].includes(op) && k === 1) return [0.5, 3];
  if (op === 'reciprocal') return [0.5, 3];
  if (op === 'exp' || op === 'expm1') return [-4, 4];
  return [-3, 3];
}
const randVals = (n: number, [lo, hi]: [number, number], dtype: DType) =>
  Array.from({ length: n }, () => (dtype === 'bool' ? randInt(0, 1) : dtype === 'uint8' ? randInt(0, 20) : dtype === 'int32' || dtype === 'int64' ? randInt(Math.ceil(lo * 3), Math.floor(hi * 3)) : randIn(lo, hi)));

function reduceRef(op: ReduceOp, vals: number[], shape: number[], dims: number[]): number[] {
  const kept = shape.map((_, i) => i).filter((i) => !dims.includes(i));
  const kshape = kept.map((i) => shape[i]);
  const out: number[] = [];
  for (const k of indices(kshape)) {
    let acc = op === 'sum' ? 0 : op === 'prod' ? 1 : NaN, best = -1, pos = 0;
    for (const r of indices(dims.map((d) => shape[d]))) {
      const full = new Array(shape.length);
      kept.forEach((d, i) => (full[d] = k[i]));
      dims.forEach((d, i) => (full[d] = r[i]));
      const v = vals[full.reduce((o, x, d) => o * shape[d] + x, 0)];
      if (op === 'sum') acc += v;
      else if (op === 'prod') acc *= v;
      else if (op === 'max' || op === 'min') {
        if (Number.isNaN(acc) && pos > 0) { /* stays NaN */ } else if (pos === 0 || Number.isNaN(v) || (op === 'max' ? v > acc : v < acc)) acc = v;
      } else if (best < 0 || (!Number.isNaN(acc) && (Number.isNaN(v) || (op === 'argmax' ? v > acc : v < acc)))) { acc = v; best = pos; }
      pos++;
    }
    out.push(op === 'argmax' || op === 'argmin' ? best : acc);
  }
  return out;
}

function sortRef(vals: number[], desc: boolean): number[] {
  const nan = (v: number) => Number.isNaN(v);
  return vals.map((_, i) => i).sort((a, b) => {
    const x = vals[a], y = vals[b];
    if (nan(x) || nan(y)) return nan(x) && nan(y) ? 0 : nan(x) ? (desc ? -1 : 1) : desc ? 1 : -1;
    return desc ? y - x : x - y;
  });
}

/** The full backend suite on `be`. `compileHeavy` false trims dtype sweeps (the emulator compiles with g++). */
async function backendSuite(t: Test, be: Backend, opts: { full: boolean }): Promise<void> {
  const h = new Harness(be);
  t.equal(be.type, 'cuda');
  t.match(be.name, /^cuda:\d+$/);
  t.equal(be.canReadSync, true);
  for (const d of ALL_DTYPES) t.ok(be.supportsDtype(d) && be.supportsCompute(d), `${d} storage and compute`);

  await t.test('write/read round trips every dtype (sync and async, offsets, int64 beyond 2^32)', async (t) => {
    const cases: [DType, number[]][] = [
      ['float32', [1.5, -2.25, 3e-8, 1e30, NaN, -Infinity]], ['float64', [Math.PI, -1e-300, 1e300, NaN, Infinity, -0.5]],
      ['float16', [1, -2.5, 65504, 6e-8, NaN, -Infinity]], ['bfloat16', [1, -3.140625, 1e30, -1e-30, NaN, Infinity]],
      ['int32', [0, -1, 2147483647, -2147483648, 12345, -99]], ['int64', [0, -1, 2 ** 40 + 3, -(2 ** 45) - 7, 2 ** 53 - 1, -(2 ** 53) + 1]],
      ['uint8', [0, 1, 127, 128, 255, 42]], ['bool', [1, 0, 1, 1, 0, 0]],
    ];
    for (const [dt, vals] of cases) {
      const v = h.tensor(dt, [6], vals);
      t.same(h.read(v), v.host, `${dt} readSync`);
      t.same(await h.readAsync(v), v.host, `${dt} read`);
      const slice = { ...v, shape: [3], strides: [2], offset: 1 };
      t.same(h.read(slice), [v.host[1], v.host[3], v.host[5]], `${dt} strided view`);
      t.same(await h.readAsync(slice), [v.host[1], v.host[3], v.host[5]], `${dt} strided view async`);
      // write at an element offset
      const host = allocHost(dt, 2);
      host[0] = toStored(dt, vals[5]); host[1] = toStored(dt, vals[4]);
      be.write(v.handle, dt, host, 2);
      const r = h.read(v);
      t.same([r[2], r[3]], [v.host[5], v.host[4]], `${dt} write at offset`);
    }
    const many = await Promise.all(cases.map(([dt, vals]) => h.readAsync(h.tensor(dt, [6], vals))));
    t.same(many.map((r) => r.length), cases.map(() => 6), 'concurrent async reads');
    const z = h.empty('float64', [1000]);
    t.ok(h.read(z).every((x) => x === 0), 'alloc zero-fills');
    t.same(h.read({ ...z, shape: [0], strides: [1] }), [], 'empty read');
    const big = Array.from({ length: 1_200_000 }, (_, i) => (i % 977) - 400);
    const bv = h.tensor('int64', [big.length], big);
    const back = h.read(bv);
    t.equal(mismatch(back, big), null, 'int64 write/read larger than one staging chunk');
    be.free(bv.handle, big.length, 'int64');
    await be.synchronize!();
  });

  await t.test('copy casts between dtypes over strided views', async (t) => {
    const src = [-3.7, -1.5, -0.5, 0, 0.5, 1.5, 2.5, 300.25, -129.5, 65504.5, NaN, Infinity];
    const pairs: [DType, DType][] = opts.full
      ? ALL_DTYPES.flatMap((a) => ALL_DTYPES.map((b) => [a, b] as [DType, DType]))
      : [['float32', 'int32'], ['float32', 'float16'], ['float32', 'bfloat16'], ['float64', 'float32'], ['float32', 'uint8'], ['float32', 'bool'],
        ['int64', 'float32'], ['int32', 'int64'], ['float16', 'float32'], ['bfloat16', 'float64'], ['bool', 'float32'], ['float32', 'int64'], ['uint8', 'int32'], ['float32', 'float32']];
    for (const [a, b] of pairs) {
      const x = h.tensor(a, [3, 4], src);
      const xt = permute(x, [1, 0]);
      const out = h.empty(b, [4, 3]);
      be.copy(xt, out);
      const expected = logical(xt).map((v) => fromStored(b, toStored(b, v)));
      t.equal(mismatch(h.read(out), expected), null, `${a} -> ${b}`);
    }
    // same dtype, contiguous, offset: memcpy path
    const x = h.tensor('float32', [10], Array.from({ length: 10 }, (_, i) => i));
    const y = h.empty('float32', [10]);
    be.copy({ ...x, shape: [4], offset: 3 }, { ...y, shape: [4], offset: 5 });
    t.same(h.read(y), [0, 0, 0, 0, 0, 3, 4, 5, 6, 0]);
    // overlapping views of one buffer (x[1:] = x[:-1]) behave like a copy through a temporary
    const ov = h.tensor('float32', [8], [0, 1, 2, 3, 4, 5, 6, 7]);
    be.copy({ ...ov, shape: [7], offset: 0 }, { ...ov, shape: [7], offset: 1 });
    t.same(h.read(ov), [0, 0, 1, 2, 3, 4, 5, 6], 'overlapping shift right');
    const ov2 = h.tensor('int32', [2, 4], [0, 1, 2, 3, 4, 5, 6, 7]);
    be.copy(permute(ov2, [1, 0]), { ...ov2, shape: [4, 2], strides: [2, 1] });
    t.same(h.read(ov2), [0, 4, 1, 5, 2, 6, 3, 7], 'in-place transpose copy');
    // broadcast source (stride 0)
    const one = h.tensor('float32', [1], [7]);
    const m = h.empty('float32', [2, 3]);
    be.copy(expand(one, [2, 3]), m);
    t.same(h.read(m), [7, 7, 7, 7, 7, 7]);
  });

  await t.test('fill every dtype, contiguous and strided (16-bit floats take raw bits)', async (t) => {
    for (const dt of ALL_DTYPES) {
      const v = h.empty(dt, [3, 4]);
      const value = dt === 'bool' ? 1 : dt === 'uint8' ? 200 : dt === 'int32' || dt === 'int64' ? -5 : 2.5;
      be.fill(v, toStored(dt, value));
      t.ok(h.read(v).every((x) => x === value), `${dt} contiguous`);
      const w = h.empty(dt, [3, 4]);
      be.fill({ ...w, shape: [3, 2], strides: [4, 2], offset: 1 }, toStored(dt, value));
      t.same(h.read(w), [0, value, 0, value, 0, value, 0, value, 0, value, 0, value], `${dt} strided`);
    }
    const big = h.empty('int64', [5, 7]);
    be.fill(big, 2 ** 40 + 1);
    t.ok(h.read(big).every((x) => x === 2 ** 40 + 1), 'int64 fill beyond 2^32');
  });

  await t.test('unary ops vs the JS reference', async (t) => {
    const sweep: DType[] = opts.full ? ['float32', 'float64', 'float16', 'bfloat16'] : ['float32'];
    for (const dt of sweep) {
      for (const op of Object.keys(UNARY)) {
        const x = h.tensor(dt, [4, 5], randVals(20, domain(op, 0), dt));
        const xv = permute(x, [1, 0]);
        const outDt: DType = isBoolOp(op) ? 'bool' : dt;
        const out = h.empty(outDt, [5, 4]);
        be.unary(op as keyof typeof UNARY, xv, out);
        const f = jsOp(op);
        const expected = logical(xv).map((v) => fromStored(outDt, toStored(outDt, f(v, 0, 0))));
        const [rtol, atol] = TOL[outDt];
        const bad = mismatch(h.read(out), expected, rtol, atol);
        if (bad) t.fail(`${op} ${dt}: ${bad}`);
      }
      t.pass(`${dt}: ${Object.keys(UNARY).length} unary ops`);
    }
    // special values (exact semantics): NaN propagation, signed zero, infinities
    const sv = [NaN, -Infinity, -2.5, -0, 0, 0.5, 2.5, Infinity];
    const x = h.tensor('float32', [8], sv);
    for (const op of ['relu', 'sign', 'isnan', 'isfinite', 'abs', 'neg', 'floor', 'ceil', 'round', 'trunc', 'logicalNot'] as const) {
      const outDt: DType = isBoolOp(op) ? 'bool' : 'float32';
      const out = h.empty(outDt, [8]);
      be.unary(op, x, out);
      const expected = sv.map((v) => fromStored(outDt, toStored(outDt, jsOp(op)(v, 0, 0))));
      t.equal(mismatch(h.read(out), expected), null, `${op} on special values`);
    }
    // integer dtypes
    for (const dt of ['int32', 'int64'] as DType[]) {
      const vals = [-7, -3, -1, 0, 1, 2, 5, 46341];
      const xi = h.tensor(dt, [8], vals);
      for (const op of ['neg', 'abs', 'sign', 'square', 'relu', 'floor', 'round'] as const) {
        const out = h.empty(dt, [8]);
        be.unary(op, xi, out);
        const expected = vals.map((v) => toStored(dt, (dt === 'int32' ? intRef(op, v, 0, 0) : null) ?? jsOp(op)(v, 0, 0)));
        t.equal(mismatch(h.read(out), expected), null, `${op} ${dt}`);
      }
    }
  });

  await t.test('binary ops vs the JS reference (broadcast, transposed, in place)', async (t) => {
    const sweep: DType[] = opts.full ? ['float32', 'float64', 'float16', 'bfloat16'] : ['float32'];
    for (const dt of sweep) {
      for (const op of Object.keys(BINARY)) {
        const x = h.tensor(dt, [3, 4], randVals(12, domain(op, 0), dt));
        const y = h.tensor(dt, [4], randVals(4, domain(op, 1), dt));
        const xv = x, yv = expand(y, [3, 4]);
        const outDt: DType = isBoolOp(op) ? 'bool' : dt;
        const out = h.empty(outDt, [3, 4]);
        be.binary(op as keyof typeof BINARY, xv, yv, out);
        const f = jsOp(op);
        const yl = logical(yv);
        const expected = logical(xv).map((v, i) => fromStored(outDt, toStored(outDt, f(v, yl[i], 0))));
        const [rtol, atol] = TOL[outDt];
        const bad = mismatch(h.read(out), expected, rtol, atol);
        if (bad) t.fail(`${op} ${dt}: ${bad}`);
      }
      t.pass(`${dt}: ${Object.keys(BINARY).length} binary ops`);
    }
    // in place: out aliases x
    const x = h.tensor('float32', [2, 3], [1, 2, 3, 4, 5, 6]);
    const y = h.tensor('float32', [2, 3], [10, 20, 30, 40, 50, 60]);
    be.binary('add', x, y, x);
    t.same(h.read(x), [11, 22, 33, 44, 55, 66], 'in place add');
    // NaN semantics of maximum/minimum
    const a = h.tensor('float32', [4], [NaN, 1, 2, -0]);
    const b = h.tensor('float32', [4], [1, NaN, 3, 0]);
    const o = h.empty('float32', [4]);
    be.binary('maximum', a, b, o);
    t.equal(mismatch(h.read(o), [NaN, NaN, 3, 0]), null, 'maximum propagates NaN');
    be.binary('minimum', a, b, o);
    t.equal(mismatch(h.read(o), [NaN, NaN, 2, -0]), null, 'minimum propagates NaN');
    // integers (exact, wrapping products like the cpu backend)
    for (const dt of ['int32', 'int64'] as DType[]) {
      const xs = [-7, -3, 0, 5, 7, 65536, 3, -2];
      const ys = [2, -2, 3, 3, -3, 65536, 4, 5];
      const xi = h.tensor(dt, [8], xs), yi = h.tensor(dt, [8], ys);
      for (const op of ['add', 'sub', 'mul', 'maximum', 'minimum', 'remainder', 'fmod', 'pow', 'eq', 'lt', 'ge', 'logicalAnd'] as const) {
        const outDt: DType = isBoolOp(op) ? 'bool' : dt;
        const out = h.empty(outDt, [8]);
        be.binary(op, xi, yi, out);
        const expected = xs.map((v, i) => {
          const special = dt === 'int32' ? intRef(op, v, ys[i], 0) : op === 'pow' ? (ys[i] < 0 ? (v === 1 ? 1 : v === -1 ? (ys[i] % 2 === 0 ? 1 : -1) : 0) : v ** ys[i]) : null;
          return toStored(outDt, special ?? jsOp(op)(v, ys[i], 0));
        });
        t.equal(mismatch(h.read(out), expected), null, `${op} ${dt}`);
      }
    }
  });

  await t.test('ternary ops: where (bool condition), lerp, addcmul', async (t) => {
    const sweep: DType[] = opts.full ? ['float32', 'float64', 'float16', 'bfloat16', 'int32'] : ['float32', 'int32'];
    for (const dt of sweep) {
      const c = h.tensor('bool', [3, 1], [1, 0, 1]);
      const x = h.tensor(dt, [3, 4], randVals(12, [-3, 3], dt));
      const y = h.tensor(dt, [4], randVals(4, [-3, 3], dt));
      for (const op of ['where', 'lerp', 'addcmul'] as const) {
        const a = op === 'where' ? expand(c, [3, 4]) : x;
        const b = op === 'where' ? x : expand(y, [3, 4]);
        const z = op === 'where' ? expand(y, [3, 4]) : permute(h.tensor(dt, [4, 3], randVals(12, [0, 1], dt)), [1, 0]);
        const out = h.empty(dt, [3, 4]);
        be.ternary(op, a, b, z, out);
        const [al, bl, zl] = [logical(a), logical(b), logical(z)];
        const expected = al.map((v, i) => fromStored(dt, toStored(dt, (dt === 'int32' ? intRef(op, v, bl[i], zl[i]) : null) ?? jsOp(op)(v, bl[i], zl[i]))));
        const [rtol, atol] = TOL[dt];
        t.equal(mismatch(h.read(out), expected, rtol, atol), null, `${op} ${dt}`);
      }
    }
  });

  await t.test('elementwise over more than 8 dims (split on the host)', async (t) => {
    const shape = [2, 2, 2, 2, 2, 2, 2, 2, 2, 3];
    const n = numel(shape);
    const x = h.tensor('float32', shape, Array.from({ length: n }, (_, i) => i));
    const perm = [9, 0, 8, 1, 7, 2, 6, 3, 5, 4]; // nothing coalesces
    const xv = permute(x, perm);
    const out = h.empty('float32', xv.shape);
    be.unary('neg', xv, out);
    t.same(h.read(out), logical(xv).map((v) => -v));
  });

  await t.test('reductions over arbitrary dims vs the JS reference', async (t) => {
    const shape = [3, 4, 5];
    const dimsList = [[0], [1], [2], [0, 2], [0, 1, 2], [1, 2]];
    const ops: ReduceOp[] = ['sum', 'prod', 'max', 'min', 'argmax', 'argmin'];
    const sweep: DType[] = opts.full ? ['float32', 'float64', 'float16', 'bfloat16', 'int32'] : ['float32', 'int32'];
    for (const dt of sweep) {
      const vals = randVals(60, [-2, 2], dt).map((v, i) => (i % 7 === 3 ? 0.75 : v)); // repeats for first-occurrence ties
      const x = h.tensor(dt, shape, vals);
      const xv = permute(x, [2, 0, 1]); // strided input
      const lv = logical(xv);
      for (const op of ops) {
        for (const dims of dimsList) {
          if ((op === 'argmax' || op === 'argmin') && dims.length !== 1) continue;
          const outShape = xv.shape.filter((_, i) => !dims.includes(i));
          const outDt: DType = op === 'argmax' || op === 'argmin' || ((op === 'sum' || op === 'prod') && dt === 'int32') ? 'int64' : dt;
          const out = h.empty(outDt, outShape);
          const useVals = op === 'prod' ? lv.map((v) => (dt === 'int32' ? (v % 3) : 0.9 + v / 20)) : lv;
          const src = op === 'prod' ? h.tensor(dt, xv.shape, useVals) : xv;
          be.reduce(op, src, dims, out);
          const ref = reduceRef(op, op === 'prod' ? logical(src as TV) : lv, xv.shape, dims).map((v) => fromStored(outDt, toStored(outDt, v)));
          const [rtol, atol] = TOL[outDt];
          const bad = mismatch(h.read(out), ref, rtol * 10, atol * 10);
          if (bad) t.fail(`${op} ${dt} dims ${dims}: ${bad}`);
        }
      }
      t.pass(`${dt}: all reductions`);
    }
    // NaN propagation and first-occurrence ties
    const x = h.tensor('float32', [2, 5], [1, NaN, 3, NaN, 3, 2, 7, 7, 1, 1]);
    const o = h.empty('float32', [2]), oi = h.empty('int64', [2]);
    be.reduce('max', x, [1], o);
    t.equal(mismatch(h.read(o), [NaN, 7]), null, 'max propagates NaN');
    be.reduce('min', x, [1], o);
    t.equal(mismatch(h.read(o), [NaN, 1]), null, 'min propagates NaN');
    be.reduce('argmax', x, [1], oi);
    t.same(h.read(oi), [1, 1], 'argmax: first NaN, first tie');
    be.reduce('argmin', x, [1], oi);
    t.same(h.read(oi), [1, 3], 'argmin: first NaN, first tie');
    // long rows with few outputs: the two-stage (split) path
    const R = 20000;
    const lv = Array.from({ length: 2 * R }, (_, i) => Math.sin(i) * 2);
    lv[R + 12345] = 9; lv[R + 17000] = 9; lv[777] = -5;
    const big = h.tensor('float32', [2, R], lv);
    const s = h.empty('float32', [2]);
    be.reduce('sum', big, [1], s);
    t.equal(mismatch(h.read(s), reduceRef('sum', big.host, [2, R], [1]), 1e-4, 1e-3), null, 'split sum');
    const am = h.empty('int64', [2]);
    be.reduce('argmax', big, [1], am);
    t.same(h.read(am), reduceRef('argmax', big.host, [2, R], [1]), 'split argmax keeps the first occurrence');
    be.reduce('argmin', big, [1], am);
    t.same(h.read(am), reduceRef('argmin', big.host, [2, R], [1]), 'split argmin');
    const all = h.empty('float32', []);
    be.reduce('max', big, [0, 1], all);
    t.same(h.read(all), [9], 'full max over split path');
    // empty reductions and 0-d input
    const e = h.tensor('float32', [3, 0], []);
    const e3 = h.empty('float32', [3]);
    be.reduce('sum', e, [1], e3);
    t.same(h.read(e3), [0, 0, 0], 'empty sum is 0');
    be.reduce('prod', e, [1], e3);
    t.same(h.read(e3), [1, 1, 1], 'empty prod is 1');
    const scalar = h.tensor('float64', [], [4.5]);
    const so = h.empty('float64', []);
    be.reduce('sum', scalar, [], so);
    t.same(h.read(so), [4.5], '0-d sum');
    // integer sums accumulate in int64 exactly
    const ints = h.tensor('int32', [4], [2147483647, 2147483647, 2147483647, 5]);
    const isum = h.empty('int64', []);
    be.reduce('sum', ints, [0], isum);
    t.same(h.read(isum), [3 * 2147483647 + 5], 'int32 sum into int64');
    const bools = h.tensor('bool', [5], [1, 0, 1, 1, 0]);
    be.reduce('sum', bools, [0], isum);
    t.same(h.read(isum), [3], 'bool sum');
  });

  await t.test('cumsum along each dim, strided, long rows', async (t) => {
    const sweep: DType[] = opts.full ? ['float32', 'float64', 'float16', 'int32'] : ['float32', 'int32'];
    for (const dt of sweep) {
      const x = h.tensor(dt, [3, 4, 5], randVals(60, [-2, 2], dt));
      const xv = permute(x, [1, 2, 0]);
      const outDt: DType = dt === 'int32' ? 'int64' : dt;
      for (let dim = 0; dim < 3; dim++) {
        const out = h.empty(outDt, xv.shape);
        be.cumsum(xv, dim, out);
        const lv = logical(xv);
        const st = contiguous(xv.shape);
        const expected = lv.map((_, i) => {
          const idx = xv.shape.map((_, d) => Math.floor(i / st[d]) % xv.shape[d]);
          let s = 0;
          for (let k = 0; k <= idx[dim]; k++) s += lv[i + (k - idx[dim]) * st[dim]];
          return fromStored(outDt, toStored(outDt, s));
        });
        const [rtol, atol] = TOL[outDt];
        t.equal(mismatch(h.read(out), expected, rtol * 10, atol * 10), null, `${dt} dim ${dim}`);
      }
    }
    const n = 1000;
    const row = Array.from({ length: 2 * n }, (_, i) => (i % 13) - 6);
    const x = h.tensor('float64', [2, n], row);
    const out = h.empty('float64', [2, n]);
    be.cumsum(x, 1, out);
    const exp: number[] = [];
    for (let r = 0; r < 2; r++) for (let k = 0, s = 0; k < n; k++) exp.push((s += row[r * n + k]));
    t.same(h.read(out), exp, 'rows longer than a block');
    be.cumsum(x, 1, x);
    t.same(h.read(x), exp, 'in place');
  });

  await t.test('gather / scatter / scatter_add (int64 and int32 indices)', async (t) => {
    for (const idt of ['int64', 'int32'] as DType[]) {
      const x = h.tensor('float32', [3, 4], Array.from({ length: 12 }, (_, i) => i * 10));
      const idx = h.tensor(idt, [2, 4], [2, 0, 1, 2, 0, 0, 2, 1]);
      const out = h.empty('float32', [2, 4]);
      be.gather(x, 0, idx, out);
      t.same(h.read(out), [80, 10, 60, 110, 0, 10, 100, 70], `gather dim 0 (${idt})`);
      const idx1 = h.tensor(idt, [3, 2], [3, 0, 1, 1, 2, 3]);
      const out1 = h.empty('float32', [3, 2]);
      be.gather(permute(x, [0, 1]), 1, idx1, out1);
      t.same(h.read(out1), [30, 0, 50, 50, 100, 110], `gather dim 1 (${idt})`);

      const dst = h.tensor('float32', [3, 4], new Array(12).fill(1));
      const src = h.tensor('float32', [2, 4], [1, 2, 3, 4, 5, 6, 7, 8]);
      const si = h.tensor(idt, [2, 4], [0, 1, 2, 0, 2, 2, 2, 1]);
      be.scatter(dst, 0, si, src, true);
      t.same(h.read(dst), [2, 1, 1, 5, 1, 3, 1, 9, 6, 7, 11, 1], `scatter_add with duplicates (${idt})`);
      const dst2 = h.tensor('float32', [3, 4], new Array(12).fill(0));
      const si2 = h.tensor(idt, [1, 4], [2, 0, 1, 2]);
      be.scatter(dst2, 0, si2, src, false);
      t.same(h.read(dst2), [0, 2, 0, 0, 0, 0, 3, 0, 1, 0, 0, 4], `scatter (${idt})`);
    }
    const accDtypes: DType[] = opts.full ? ['float64', 'float16', 'bfloat16', 'int32', 'int64', 'uint8', 'bool'] : ['float16', 'int64', 'uint8', 'bool'];
    for (const dt of accDtypes) {
      const dst = h.tensor(dt, [5], [1, 1, 1, 0, 0]);
      const src = h.tensor(dt, [6], [1, 1, 1, 1, 0, 1]);
      const idx = h.tensor('int64', [6], [0, 0, 4, 2, 3, 4]);
      be.scatter(dst, 0, idx, src, true);
      const expect = dt === 'bool' ? [1, 1, 1, 0, 1] : [3, 1, 2, 0, 2];
      t.same(h.read(dst), expect, `scatter_add ${dt} (sub-word atomics for 8/16-bit types)`);
    }
    // out-of-range indices: never touch memory, reported as IndexError at the next sync point
    const x = h.tensor('float32', [4], [1, 2, 3, 4]);
    const bad = h.tensor('int64', [3], [0, 4, -1]);
    const out = h.empty('float32', [3]);
    be.gather(x, 0, bad, out);
    t.throws(() => h.read(out), { name: 'IndexError', message: /^gather: index (4|-1) is out of bounds for dim 0 with size 4 \(valid indices are 0\.\.3\); detected on cuda:\d when readSync synchronized/ },
      'gather out of range -> IndexError at readSync, naming the index');
    t.same(h.read(out), [1, 0, 0], 'the error is reported once; bad slots hold 0');
    be.scatter(x, 0, bad, out, true);
    await t.rejects(be.synchronize!(), IndexError, 'scatter out of range -> IndexError at synchronize');
    t.same(h.read(x), [2, 2, 3, 4], 'in-range indices were applied');
    t.throws(() => be.gather(x, 0, bad, h.empty('float64', [3])), DTypeError, 'gather checks dtypes synchronously');
  });

  await t.test('stable sort with NaNs, both directions, along each dim', async (t) => {
    const sweep: DType[] = opts.full ? ['float32', 'float64', 'float16', 'int32', 'int64', 'uint8'] : ['float32', 'int32'];
    for (const dt of sweep) {
      const base = [3, 1, NaN, 2, 1, 3, -1, NaN, 0, 2, 1, 5];
      const vals = dt.startsWith('int') || dt === 'uint8' ? base.map((v) => (Number.isNaN(v) ? 4 : Math.abs(v))) : base;
      const x = h.tensor(dt, [3, 4], vals);
      for (const xv of [x, permute(x, [1, 0])]) {
        for (let dim = 0; dim < 2; dim++) {
          for (const desc of [false, true]) {
            const v = h.empty(dt, xv.shape), ix = h.empty('int64', xv.shape);
            be.sort(xv, dim, desc, v, ix);
            const lv = logical(xv);
            const st = contiguous(xv.shape);
            const ev = new Array(lv.length), ei = new Array(lv.length);
            const other = 1 - dim;
            for (let o = 0; o < xv.shape[other]; o++) {
              const line = Array.from({ length: xv.shape[dim] }, (_, k) => lv[o * st[other] + k * st[dim]]);
              sortRef(line, desc).forEach((j, k) => { ev[o * st[other] + k * st[dim]] = line[j]; ei[o * st[other] + k * st[dim]] = j; });
            }
            const label = `${dt} dim ${dim} ${desc ? 'desc' : 'asc'} strides ${xv.strides}`;
            t.equal(mismatch(h.read(v), ev), null, `${label}: values`);
            t.same(h.read(ix), ei, `${label}: indices (stable)`);
          }
        }
      }
    }
    const n = 1500;
    const lv = Array.from({ length: n }, (_, i) => (i * 7919) % 101 - 50 + (i % 5 === 0 ? NaN : 0));
    const x = h.tensor('float64', [n], lv);
    const v = h.empty('float64', [n]), ix = h.empty('int64', [n]);
    be.sort(x, 0, false, v, ix);
    const order = sortRef(lv, false);
    t.same(h.read(ix), order, `a ${n}-long row (many merge passes)`);
    t.equal(mismatch(h.read(v), order.map((j) => lv[j])), null);
  });

  await t.test('matmul: layouts, broadcast batches, dtypes, K = 0', async (t) => {
    const mm = (a: number[], b: number[], B: number, M: number, K: number, N: number, sa: number[], sb: number[], ao = 0, bo = 0) => {
      const out: number[] = [];
      for (let bt = 0; bt < B; bt++) for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += a[ao + bt * sa[0] + i * sa[1] + k * sa[2]] * b[bo + bt * sb[0] + k * sb[1] + j * sb[2]];
        out.push(s);
      }
      return out;
    };
    const sweep: DType[] = opts.full ? ['float32', 'float64', 'float16', 'bfloat16'] : ['float32', 'float64', 'float16'];
    for (const dt of sweep) {
      const [B, M, K, N] = [3, 5, 7, 6];
      const a = h.tensor(dt, [B, M, K], randVals(B * M * K, [-1, 1], dt));
      const b = h.tensor(dt, [B, K, N], randVals(B * K * N, [-1, 1], dt));
      const at = h.tensor(dt, [B, K, M], randVals(B * M * K, [-1, 1], dt)); // used transposed
      const bt = h.tensor(dt, [B, N, K], randVals(B * K * N, [-1, 1], dt));
      const [rtol, atol] = TOL[dt];
      const cases: [string, TV, TV][] = [
        ['contiguous', a, b],
        ['a transposed', permute(at, [0, 2, 1]), b],
        ['b transposed', a, permute(bt, [0, 2, 1])],
        ['both transposed', permute(at, [0, 2, 1]), permute(bt, [0, 2, 1])],
        ['broadcast batch of b', a, { ...b, shape: [B, K, N], strides: [0, N, 1] }],
        ['a with unit stride nowhere', { ...a, shape: [B, M, 3], strides: [M * K, K, 2] }, { ...b, shape: [B, 3, N] }],
      ];
      for (const [name, av, bv] of cases) {
        const out = h.empty(dt, [B, av.shape[1], bv.shape[2]]);
        be.matmul(av, bv, out);
        const ref = mm(av.host, bv.host, B, av.shape[1], av.shape[2], bv.shape[2], av.strides, bv.strides, av.offset, bv.offset)
          .map((v) => fromStored(dt, toStored(dt, v)));
        const bad = mismatch(h.read(out), ref, rtol * 4, atol * 8);
        t.equal(bad, null, `${dt} ${name}`);
      }
    }
    const a = h.tensor('float32', [1, 2, 0], []), b = h.tensor('float32', [1, 0, 3], []);
    const out = h.tensor('float32', [1, 2, 3], [1, 1, 1, 1, 1, 1]);
    be.matmul(a, b, out);
    t.same(h.read(out), [0, 0, 0, 0, 0, 0], 'K = 0 gives zeros');
    const v1 = h.tensor('float32', [1, 1, 4], [1, 2, 3, 4]), v2 = h.tensor('float32', [1, 4, 1], [1, 1, 1, 1]);
    const dot = h.empty('float32', [1, 1, 1]);
    be.matmul(v1, v2, dot);
    t.same(h.read(dot), [10], '1x4 @ 4x1');
  });

  await t.test('conv2d (cuDNN when present; direct kernel otherwise)', async (t) => {
    if (!be.conv2d) return t.pass('no conv2d fast path on this device (cuDNN not found); the composite form is used');
    const conv = (x: TV, w: TV, p: Conv2dParams, OH: number, OW: number, b: TV | null = null) => {
      const [N, C, H, W] = x.shape, [OC, CG, KH, KW] = w.shape;
      const out: number[] = [];
      const xs = logical(x), ws = logical(w), bs = b ? logical(b) : null;
      for (let n = 0; n < N; n++) for (let oc = 0; oc < OC; oc++) for (let oh = 0; oh < OH; oh++) for (let ow = 0; ow < OW; ow++) {
        const g = Math.floor(oc / (OC / p.groups));
        let s = bs ? bs[oc] : 0;
        for (let c = 0; c < CG; c++) for (let kh = 0; kh < KH; kh++) for (let kw = 0; kw < KW; kw++) {
          const ih = oh * p.stride[0] - p.padding.top + kh * p.dilation[0], iw = ow * p.stride[1] - p.padding.left + kw * p.dilation[1];
          if (ih < 0 || iw < 0 || ih >= H || iw >= W) continue;
          s += xs[((n * C + g * CG + c) * H + ih) * W + iw] * ws[((oc * CG + c) * KH + kh) * KW + kw];
        }
        out.push(s);
      }
      return out;
    };
    const pads = (h: number, w: number) => ({ top: h, bottom: h, left: w, right: w });
    const cases: [string, number[], number[], Conv2dParams][] = [
      ['3x3 pad 1', [2, 3, 6, 5], [4, 3, 3, 3], { stride: [1, 1], padding: pads(1, 1), dilation: [1, 1], groups: 1 }],
      ['stride 2, dilation 2', [1, 2, 9, 8], [3, 2, 3, 2], { stride: [2, 2], padding: pads(0, 1), dilation: [2, 1], groups: 1 }],
      ['groups 2', [2, 4, 5, 5], [6, 2, 3, 3], { stride: [1, 2], padding: pads(1, 0), dilation: [1, 1], groups: 2 }],
    ];
    const sweep: DType[] = ['float32', 'float64', 'int32'];
    for (const dt of sweep) {
      for (const [name, xs, wsh, p] of cases) {
        const [, , H, W] = xs, [OC, , KH, KW] = wsh;
        const OH = Math.floor((H + 2 * p.padding.top - p.dilation[0] * (KH - 1) - 1) / p.stride[0]) + 1;
        const OW = Math.floor((W + 2 * p.padding.left - p.dilation[1] * (KW - 1) - 1) / p.stride[1]) + 1;
        const x = h.tensor(dt, xs, randVals(numel(xs), [-1, 1], dt));
        const w = h.tensor(dt, wsh, randVals(numel(wsh), [-1, 1], dt));
        const b = h.tensor(dt, [OC], randVals(OC, [-1, 1], dt));
        const [rtol, atol] = TOL[dt];
        for (const bias of [null, b]) {
          const out = h.empty(dt, [xs[0], OC, OH, OW]);
          t.equal(be.conv2d(x, w, bias, out, p), true, `${dt} ${name}${bias ? ' + bias' : ''}: taken`);
          const ref = conv(x, w, p, OH, OW, bias).map((v) => fromStored(dt, toStored(dt, v)));
          t.equal(mismatch(h.read(out), ref, rtol * 4, atol * 8), null, `${dt} ${name}${bias ? ' + bias' : ''}${dt === 'int32' ? ' (direct kernel)' : ''}`);
        }
      }
    }
    // a channels-last (strided) input
    const x = h.tensor('float32', [2, 5, 5, 3], randVals(150, [-1, 1], 'float32'));
    const xv = permute(x, [0, 3, 1, 2]);
    const w = h.tensor('float32', [2, 3, 3, 3], randVals(54, [-1, 1], 'float32'));
    const out = h.empty('float32', [2, 2, 5, 5]);
    const p: Conv2dParams = { stride: [1, 1], padding: pads(1, 1), dilation: [1, 1], groups: 1 };
    be.conv2d(xv, w, null, out, p);
    t.equal(mismatch(h.read(out), conv(xv, w, p, 5, 5), 1e-4, 1e-5), null, 'strided (NHWC) input');
    // asymmetric ('same' with an even kernel): cuDNN takes one padding per dim, so the frontend's composite runs
    const asym: Conv2dParams = { stride: [1, 1], padding: { top: 0, bottom: 1, left: 1, right: 1 }, dilation: [1, 1], groups: 1 };
    t.equal(be.conv2d(xv, h.tensor('float32', [2, 3, 2, 3], randVals(36, [-1, 1], 'float32')), null, h.empty('float32', [2, 2, 5, 5]), asym), false,
      'asymmetric padding declined');
  });

  await t.test('allocator: free lists reuse buffers; stats and emptyCache', async (t) => {
    const cb = be as CudaBackend;
    if (typeof cb.memoryStats !== 'function') return t.pass('not a CudaBackend');
    await be.synchronize!();
    const a = be.alloc(1000, 'float32');
    const ptr = (a as { ptr: bigint }).ptr;
    be.free(a, 1000, 'float32');
    const b = be.alloc(900, 'float32') as { ptr: bigint };
    t.equal(b.ptr, ptr, 'a freed block of the same bucket is reused');
    t.same(h.read({ handle: b, dtype: 'float32', shape: [900], strides: [1], offset: 0 }).filter((v) => v !== 0), [], 'and zero-filled again');
    const s = cb.memoryStats();
    t.ok(s.allocated > 0 && s.peak >= s.allocated);
    be.free(b, 900, 'float32');
    cb.emptyCache();
    t.equal(cb.memoryStats().cached, 0, 'emptyCache returns cached blocks');
  });
}

/**
 * The frontend's F.conv2d on a cuda device (the registry's `device`, whose backend is `be`): the
 * forward is one conv2d op through Backend.conv2d (cuDNN), the gradients come from the composite
 * ops (cuda has no backward hooks), and both agree with the cpu; asymmetric padding is declined
 * and runs as the composite.
 */
async function frontendConvSuite(t: Test, device: string, be: Backend): Promise<void> {
  if (!be.conv2d) return void t.pass('no conv2d hook on this device (cuDNN not found); F.conv2d runs the composite form');
  const hook = be.conv2d;
  const calls: boolean[] = [];
  const own = be as { conv2d?: Backend['conv2d'] };
  own.conv2d = (...a) => { const r = hook.apply(be, a); calls.push(r); return r; };
  try {
    const cases: [string, number[], number[], Record<string, unknown>, boolean][] = [
      // name, x, w, options, whether the hook takes it
      ['3x3 pad 1 + bias', [2, 3, 6, 5], [4, 3, 3, 3], { padding: 1 }, true],
      ['stride, dilation, groups + bias', [3, 4, 7, 6], [6, 2, 3, 2], { stride: [2, 1], padding: [1, 2], dilation: [1, 2], groups: 2 }, true],
      ["asymmetric 'same' (declined)", [2, 3, 5, 6], [4, 3, 2, 2], { padding: 'same' }, false],
    ];
    for (const [name, xs, ws, o, taken] of cases) {
      torch.manualSeed(9);
      const x0 = torch.randn(xs), w0 = torch.randn(ws), b0 = torch.randn([ws[0]]), gy0 = torch.randn([1]);
      const run = (dev: string) => {
        const x = x0.to(dev).requiresGrad_(true), w = w0.to(dev).requiresGrad_(true), b = b0.to(dev).requiresGrad_(true);
        const y = F.conv2d(x, w, b, o as never);
        y.backward(torch.ones(y.shape).mul(gy0).add(torch.arange(y.numel()).reshape(y.shape).mul(0.01).sin()).to(dev));
        return { fn: y.gradFn?.name, vals: [y.detach(), x.grad!, w.grad!, b.grad!].map((v) => v.to('cpu')) };
      };
      calls.length = 0;
      const dev = run(device), ref = run('cpu');
      t.same(calls, [taken], `${name}: the hook was asked once and ${taken ? 'took' : 'declined'} it`);
      t.equal(dev.fn === 'conv2d', taken, `${name}: ${taken ? 'one conv2d op' : 'the composite ops'} recorded`);
      ['output', 'input grad', 'weight grad', 'bias grad'].forEach((what, i) => {
        const diff = dev.vals[i].sub(ref.vals[i]).abs().max().item(), scale = ref.vals[i].abs().max().item();
        t.ok(diff <= 1e-4 * Math.max(scale, 1), `${name}: ${what} as on the cpu (max diff ${diff.toExponential(2)})`);
      });
    }
    // float64 gradcheck through the hook (first derivatives: hook forward, composite backward)
    torch.manualSeed(10);
    const x = torch.randn([2, 2, 4, 3], { dtype: 'float64' }).to(device).requiresGrad_(true);
    const w = torch.randn([4, 1, 2, 2], { dtype: 'float64' }).to(device).requiresGrad_(true);
    const b = torch.randn([4], { dtype: 'float64' }).to(device).requiresGrad_(true);
    calls.length = 0;
    t.ok(torch.autograd.gradcheck((xx, ww, bb) => F.conv2d(xx, ww, bb, { padding: 1, groups: 2 }), [x, w, b]), 'gradcheck (float64, groups 2)');
    t.ok(calls.length > 0 && calls.every((c) => c), 'every gradcheck forward went through the hook');
  } finally {
    own.conv2d = hook;
  }
}

// ---- on a real GPU
const gpuReason = unavailableReason('cuda');
if (gpuReason) t.comment(`cuda backend suite on a GPU skipped: ${gpuReason}`);
t.test('cuda backend on a GPU', { skip: gpuReason ?? false, timeout: 600000 }, async (t) => {
  const be = getBackend('cuda');
  t.comment(JSON.stringify((be as CudaBackend).info()));
  await backendSuite(t, be, { full: true });
  await t.test('F.conv2d reaches the conv2d hook', (t) => frontendConvSuite(t, 'cuda', be));
});

// ---- on the host emulator
const built = buildEmulator();
if (!built.emu) t.comment(`cuda backend suite on the host emulator skipped: ${built.reason}`);
t.test('cuda backend on the host emulator', { skip: built.reason ?? false, timeout: 600000 }, async (t) => {
  const emu = built.emu!;
  const f = createCudaFactory({ env: { ...emu.env }, envOnly: true });
  t.equal(f.unavailableReason(), null, 'the emulated driver and NVRTC are found through LD_LIBRARY_PATH');
  t.equal(f.deviceCount(), 1);
  const be = f.create(0) as CudaBackend;
  t.equal(f.create(0), be, 'one backend per device');
  t.throws(() => f.create(1), DeviceError, 'cuda:1 does not exist');
  t.match(be.info(), { cudnn: 'loaded', kernelsCompiled: 0 });
  await backendSuite(t, be, { full: !!process.env.TORCHLET_CUDA_EMU_FULL });

  await t.test('without cuBLAS/cuDNN: torchlet kernels take over', async (t) => {
    const f2 = createCudaFactory({ env: { ...emu.env, TORCHLET_CUDA_DISABLE_CUBLAS: '1', TORCHLET_CUDA_DISABLE_CUDNN: '1' }, envOnly: true });
    const b2 = f2.create(0) as CudaBackend;
    t.equal(b2.conv2d, undefined, 'no conv2d fast path without cuDNN');
    const hh = new Harness(b2);
    for (const dt of ['float32', 'float64', 'int32'] as DType[]) {
      const [B, M, K, N] = [2, 19, 21, 17]; // not multiples of the 16x16 tile
      const a = hh.tensor(dt, [B, M, K], randVals(B * M * K, [-1, 1], dt));
      const b = hh.tensor(dt, [B, N, K], randVals(B * K * N, [-1, 1], dt));
      const bv = permute(b, [0, 2, 1]);
      const out = hh.empty(dt, [B, M, N]);
      b2.matmul(a, bv, out);
      const ref: number[] = [];
      for (let bt = 0; bt < B; bt++) for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += a.host[(bt * M + i) * K + k] * b.host[(bt * N + j) * K + k];
        ref.push(fromStored(dt, toStored(dt, s)));
      }
      const [rtol, atol] = TOL[dt];
      t.equal(mismatch(hh.read(out), ref, rtol * 4, atol * 8), null, `tiled matmul kernel ${dt}`);
    }
    t.match(b2.info(), { cublas: 'disabled by TORCHLET_CUDA_DISABLE_CUBLAS' });
  });

  await t.test('TORCHLET_CUDA_LAUNCH_BLOCKING=1 raises index errors at the call', async (t) => {
    const f3 = createCudaFactory({ env: { ...emu.env, TORCHLET_CUDA_LAUNCH_BLOCKING: '1' }, envOnly: true });
    const b3 = f3.create(0);
    const hh = new Harness(b3);
    const x = hh.tensor('float32', [4], [1, 2, 3, 4]);
    const bad = hh.tensor('int32', [2], [1, 9]);
    t.throws(() => b3.gather(x, 0, bad, hh.empty('float32', [2])), IndexError);
    t.same(hh.read(x), [1, 2, 3, 4], 'the device keeps working');
  });

  await t.test('F.conv2d reaches the conv2d hook', async (t) => {
    if (!gpuReason) return t.pass("a GPU is the registry's cuda device: its suite ran this");
    // tensors find their backend through the registry, whose cuda factory (the driver search)
    // found nothing: the emulated device stands in for it. The registry keeps 'cuda:0' bound to
    // this backend afterwards, so this stays the file's last use of the cuda device.
    registerBackend(f);
    try {
      t.equal(getBackend('cuda:0'), be, "the registry's cuda:0 is the emulated device");
      await frontendConvSuite(t, 'cuda:0', be);
    } finally {
      registerBackend(cudaFactory);
    }
  });

  await t.test('kernel modules are cached on disk', async (t) => {
    const files = fs.readdirSync(emu.env.TORCHLET_CUDA_CACHE_DIR);
    t.ok(files.some((n) => /^tl_ew_add_f32_f32_f32-[0-9a-f]+\.cubin$/.test(n)), 'compiled images are stored per module');
  });
});
