/// <reference types="@webgpu/types" />
/**
 * The worker thread that owns the Dawn device. It receives command batches from the main
 * thread, encodes them into one command encoder (a single compute pass between copies), and
 * submits at the end of each batch, before every read, and every MAX_DISPATCHES dispatches.
 *
 * Why a worker: Dawn's node binding resolves requestAdapter/requestDevice/mapAsync only from
 * the event loop of the thread that owns the device, so a thread that blocks cannot wait for
 * them. With the device here, the main thread can block (Atomics.wait) while this thread
 * finishes a readback, which gives torchlet a synchronous `readSync` and synchronous setup.
 *
 * Software adapters (lavapipe in CI, SwiftShader) run each workgroup on one CPU thread, where
 * workgroup memory is plain memory and barriers are coroutine switches: they get a matmul
 * without workgroup memory (3-4x faster there) and 1-D kernels that do 16 items per thread.
 */
import { parentPort } from 'node:worker_threads';
import type { DType } from '../../dtype.js';
import { coalesce, contiguousStrides, isContiguousLayout, numelOf } from '../../layout.js';
import type { ReduceOp } from '../backend.js';
import { bufferBytes, elemBytes, elemType } from './format.js';
import {
  MAX_DIMS, type Cmd, type ErrorInfo, type InitInfo, type MemoryStats, type Reply, type WView, type WorkerData,
} from './protocol.js';
import {
  FILL_BITS, INDEX_CHECK_SIZE, REDUCE_SERIAL_MAX, STATUS_CHECK, STATUS_GATHER, WG, indexCheckKernel,
  copyKernel, cumsumKernel, elementwiseKernel, fillKernel, gatherKernel, indexBlock, matmulKernel, matmulKernelDirect, MM_DIRECT, reduceKernel,
  scatterKernel, sortFinalKernel, sortInitKernel, sortStepKernel, adamKernel, type KernelSpec,
} from './shaders.js';

const USAGE_MAP_READ = 0x1, USAGE_COPY_SRC = 0x4, USAGE_COPY_DST = 0x8, USAGE_STORAGE = 0x80;
const STAGE_COMPUTE = 0x4, MAP_READ = 0x1;
const STORAGE_USAGE = USAGE_STORAGE | USAGE_COPY_SRC | USAGE_COPY_DST;

/** Parameter blocks of one submission live in one buffer, each at a 256-byte aligned offset. */
const ARENA_BYTES = 1 << 20;
/** Submit after this many dispatches even mid-batch, so the GPU starts early on long batches. */
const MAX_DISPATCHES = 512;
/** Freed buffers kept for reuse, at most this many bytes (the rest are destroyed). */
const POOL_CAP_BYTES = 512 * 1024 * 1024;
const MAX_GROUPS = 65535;
/** How long the worker sleeps per event-loop turn while it waits for the device (see runWorker). */
const NAP_MS = Number(process.env.TORCHLET_WEBGPU_NAP_MS ?? 0.1);

class WorkerError extends Error {
  constructor(readonly kind: string, readonly op: string, message: string) { super(message); }
}

interface Pipeline { pipeline: GPUComputePipeline; layout: GPUBindGroupLayout }

/** Rounds a byte size up to a pool bucket: 4 steps per power of two (<= 25% slack). */
function bucketOf(bytes: number, max: number): number {
  if (bytes <= 256) return 256;
  const p = 2 ** Math.floor(Math.log2(bytes));
  const step = p / 4;
  return Math.min(Math.ceil(bytes / step) * step, Math.max(bytes, max));
}

const nextPow2 = (n: number): number => (n <= 1 ? 1 : 2 ** Math.ceil(Math.log2(n)));

class Executor {
  private readonly buffers = new Map<number, GPUBuffer>();
  private readonly pool = new Map<number, GPUBuffer[]>();
  /** Pooled buffers in free order (oldest first), for trimming. */
  private readonly poolOrder = new Set<GPUBuffer>();
  private pooledBytes = 0;
  private allocatedBytes = 0;
  private bufferCount = 0;
  private readonly pipelines = new Map<string, Pipeline>();
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private readonly arena: GPUBuffer;
  private readonly arenaMirror = new Uint32Array(ARENA_BYTES / 4);
  private arenaUsed = 0; // in u32s
  private dispatchesInBatch = 0;
  private readonly status: GPUBuffer;
  private readonly errors: ErrorInfo[] = [];
  private submits = 0;
  private dispatches = 0;
  private readonly maxBinding: number;

  /** Items per thread of the 1-D kernels (grid-stride loops): more on software adapters. */
  private readonly perThread: number;

  /** `software`: a CPU implementation (lavapipe, SwiftShader), which favours other kernel shapes. */
  constructor(private readonly device: GPUDevice, private readonly software: boolean) {
    this.perThread = software ? 16 : 1;
    this.maxBinding = device.limits.maxStorageBufferBindingSize;
    this.arena = device.createBuffer({ size: ARENA_BYTES, usage: USAGE_STORAGE | USAGE_COPY_DST });
    this.status = device.createBuffer({ size: 16, usage: STORAGE_USAGE });
    device.addEventListener('uncapturederror', (ev) => {
      const e = (ev as GPUUncapturedErrorEvent).error;
      this.recordError({ name: 'Error', op: 'webgpu', message: `device error: ${e.message.split('\n')[0]}` });
    });
  }

  recordError(e: ErrorInfo): void {
    if (this.errors.length < 8) this.errors.push(e);
  }

  // ---------------- buffers ----------------

  /** A buffer of at least `bytes`: zeroed unless `uninit` (then its first user overwrites it). */
  private takeBuffer(bytes: number, uninit = false): GPUBuffer {
    const size = bucketOf(bytes, this.maxBinding);
    const free = this.pool.get(size);
    const reused = free?.pop();
    if (reused) {
      this.pooledBytes -= size;
      this.poolOrder.delete(reused);
      // (a clear also ends the compute pass being encoded, so skipping it saves more than the memset)
      if (!uninit) this.cmd().clearBuffer(reused, 0, Math.ceil(bytes / 4) * 4);
      return reused;
    }
    this.bufferCount++;
    return this.device.createBuffer({ size, usage: STORAGE_USAGE }); // new buffers are zeroed
  }

  private giveBuffer(b: GPUBuffer): void {
    let list = this.pool.get(b.size);
    if (!list) this.pool.set(b.size, (list = []));
    list.push(b);
    this.poolOrder.add(b);
    this.pooledBytes += b.size;
  }

  /** Destroys the oldest pooled buffers beyond the cap (only between submissions). */
  private trimPool(cap: number): void {
    for (const b of this.poolOrder) {
      if (this.pooledBytes <= cap) break;
      this.poolOrder.delete(b);
      const list = this.pool.get(b.size)!;
      list.splice(list.indexOf(b), 1);
      this.pooledBytes -= b.size;
      this.bufferCount--;
      b.destroy();
    }
  }

  private buf(id: number): GPUBuffer {
    const b = this.buffers.get(id);
    if (!b) throw new WorkerError('Error', 'webgpu', `buffer ${id} does not exist (freed, or its allocation failed)`);
    return b;
  }

  alloc(id: number, bytes: number, uninit = false): void {
    const b = this.takeBuffer(bytes, uninit);
    this.buffers.set(id, b);
    this.allocatedBytes += b.size;
  }

  free(id: number): void {
    const b = this.buffers.get(id);
    if (!b) return;
    this.buffers.delete(id);
    this.allocatedBytes -= b.size;
    this.giveBuffer(b);
  }

  write(id: number, dtype: DType, elemOffset: number, data: ArrayBuffer): void {
    if (data.byteLength === 0) return;
    const dst = this.buf(id);
    const byteOffset = elemOffset * elemBytes(dtype);
    if (byteOffset % 4 === 0 && data.byteLength % 4 === 0) {
      this.flush(); // earlier commands must see the old contents
      this.device.queue.writeBuffer(dst, byteOffset, data);
      return;
    }
    // 16-bit data at an odd element offset or count: upload whole words, then copy with a kernel.
    const n = data.byteLength / elemBytes(dtype);
    const padded = new Uint8Array(Math.ceil(data.byteLength / 4) * 4);
    padded.set(new Uint8Array(data));
    const tmp = this.tempView(dtype, [n]);
    this.flush();
    this.device.queue.writeBuffer(this.buf(tmp.id), 0, padded);
    this.copy(tmp, { id, dtype, shape: [n], strides: [1], offset: elemOffset });
    this.releaseTemp(tmp.id);
  }

  private nextTemp = -1;
  /**
   * A contiguous scratch buffer under a (negative) id, so view-based helpers can use it.
   * Release it once the commands using it are encoded: later users are ordered after them.
   */
  private tempView(dtype: DType, shape: number[]): WView {
    const id = this.nextTemp--;
    this.buffers.set(id, this.takeBuffer(bufferBytes(numelOf(shape), dtype)));
    return { id, dtype, shape, strides: contiguousStrides(shape), offset: 0 };
  }
  private releaseTemp(id: number): void {
    const b = this.buffers.get(id)!;
    this.buffers.delete(id);
    this.giveBuffer(b);
  }

  // ---------------- encoding ----------------

  private cmd(): GPUCommandEncoder {
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
    return (this.encoder ??= this.device.createCommandEncoder());
  }

  private computePass(): GPUComputePassEncoder {
    if (!this.pass) {
      this.encoder ??= this.device.createCommandEncoder();
      this.pass = this.encoder.beginComputePass();
    }
    return this.pass;
  }

  private pipeline(key: string, make: () => KernelSpec): Pipeline {
    const hit = this.pipelines.get(key);
    if (hit) return hit;
    const spec = make();
    const layout = this.device.createBindGroupLayout({
      entries: [
        { binding: 0, visibility: STAGE_COMPUTE, buffer: { type: 'read-only-storage' } },
        ...spec.bindings.map((b, i) => ({
          binding: i + 1,
          visibility: STAGE_COMPUTE,
          buffer: { type: b.access === 'read' ? 'read-only-storage' as const : 'storage' as const },
        })),
      ],
    });
    const module = this.device.createShaderModule({ code: spec.code, label: key });
    const pipeline = this.device.createComputePipeline({
      label: key,
      layout: this.device.createPipelineLayout({ bindGroupLayouts: [layout] }),
      compute: { module, entryPoint: 'main' },
    });
    const p = { pipeline, layout };
    this.pipelines.set(key, p);
    return p;
  }

  /** Encodes one dispatch: parameters go to the arena, buffers bind in order after it. */
  private dispatch(key: string, make: () => KernelSpec, buffers: GPUBuffer[], params: number[], groups: [number, number, number]): void {
    if (groups[0] === 0 || groups[1] === 0 || groups[2] === 0) return;
    for (const v of params)
      if (!(v >= 0 && v <= 0xffffffff && Number.isInteger(v)))
        throw new WorkerError('ShapeError', key.split(':')[0], `a size, stride or offset (${v}) does not fit the device's 32-bit indexing`);
    const p = this.pipeline(key, make);
    const words = Math.max(params.length, 1);
    const slot = Math.ceil(words / 64) * 64; // 256-byte alignment
    if (this.arenaUsed + slot > this.arenaMirror.length) this.flush();
    const off = this.arenaUsed;
    this.arenaMirror.set(params, off);
    this.arenaUsed += slot;
    const bind = this.device.createBindGroup({
      layout: p.layout,
      entries: [
        { binding: 0, resource: { buffer: this.arena, offset: off * 4, size: words * 4 } },
        ...buffers.map((b, i) => ({ binding: i + 1, resource: { buffer: b } })),
      ],
    });
    const pass = this.computePass();
    pass.setPipeline(p.pipeline);
    pass.setBindGroup(0, bind);
    pass.dispatchWorkgroups(groups[0], groups[1], groups[2]);
    this.dispatches++;
    if (++this.dispatchesInBatch >= MAX_DISPATCHES) this.flush();
  }

  /** Submits everything encoded so far. */
  flush(): void {
    if (!this.encoder) return;
    const enc = this.cmd();
    if (this.arenaUsed > 0) this.device.queue.writeBuffer(this.arena, 0, this.arenaMirror, 0, this.arenaUsed);
    this.device.queue.submit([enc.finish()]);
    this.encoder = null;
    this.arenaUsed = 0;
    this.dispatchesInBatch = 0;
    this.submits++;
    this.trimPool(POOL_CAP_BYTES);
  }

  /** Workgroup grid for n threads (1-D kernels) or n workgroups. */
  private grid1d(items: number): [number, number, number] {
    return this.gridGroups(Math.ceil(items / (WG * this.perThread)));
  }
  private gridGroups(n: number): [number, number, number] {
    if (n === 0) return [0, 1, 1];
    const x = Math.min(n, MAX_GROUPS);
    const y = Math.ceil(n / x);
    if (y > MAX_GROUPS) throw new WorkerError('ShapeError', 'webgpu', `${n} workgroups exceed the device's dispatch limit`);
    return [x, y, 1];
  }

  // ---------------- ops ----------------

  copy(src: WView, dst: WView): void {
    const n = numelOf(dst.shape);
    if (n === 0) return;
    const c = coalesceChecked('copy', dst.shape, [dst.strides, src.strides]);
    const sb = this.buf(src.id), db = this.buf(dst.id);
    const eb = elemBytes(src.dtype);
    // whole-range copy of equal stored forms: a plain buffer copy
    if (src.id !== dst.id && src.dtype === dst.dtype && c.shape.length <= 1 && (c.shape.length === 0 || (c.strides[0][0] === 1 && c.strides[1][0] === 1))
      && (src.offset * eb) % 4 === 0 && (dst.offset * eb) % 4 === 0 && (n * eb) % 4 === 0) {
      this.cmd().copyBufferToBuffer(sb, src.offset * eb, db, dst.offset * eb, n * eb);
      return;
    }
    const aliased = src.id === dst.id;
    const params = indexBlock(n, c.shape, [{ offset: dst.offset, strides: c.strides[0] }, { offset: src.offset, strides: c.strides[1] }]);
    const flat = c.shape.length <= 1;
    this.dispatch(`copy:${src.dtype}:${dst.dtype}:${aliased}:${flat}`, () => copyKernel(src.dtype, dst.dtype, aliased, flat),
      aliased ? [db] : [db, sb], params, this.grid1d(n));
  }

  fill(dst: WView, bits: number): void {
    const n = numelOf(dst.shape);
    if (n === 0) return;
    const c = coalesceChecked('fill', dst.shape, [dst.strides]);
    const params = indexBlock(n, c.shape, [{ offset: dst.offset, strides: c.strides[0] }]);
    params[FILL_BITS] = bits >>> 0;
    const t = elemType(dst.dtype);
    const flat = c.shape.length <= 1;
    this.dispatch(`fill:${t}:${flat}`, () => fillKernel(dst.dtype, flat), [this.buf(dst.id)], params, this.grid1d(n));
  }

  elementwise(op: string, ins: WView[], out: WView): void {
    const n = numelOf(out.shape);
    if (n === 0) return;
    const c = coalesceChecked(op, out.shape, [out.strides, ...ins.map((v) => v.strides)]);
    const aliased = ins.map((v) => v.id === out.id);
    const buffers = [this.buf(out.id)];
    ins.forEach((v, k) => { if (!aliased[k]) buffers.push(this.buf(v.id)); });
    const params = indexBlock(n, c.shape, [out, ...ins].map((v, k) => ({ offset: v.offset, strides: c.strides[k] })));
    const flat = c.shape.length <= 1;
    const key = `ew:${op}:${ins.map((v) => v.dtype).join(',')}:${out.dtype}:${aliased.map(Number).join('')}:${flat}`;
    this.dispatch(key, () => elementwiseKernel(op, ins.map((v) => v.dtype), out.dtype, aliased, flat), buffers, params, this.grid1d(n));
  }

  reduce(op: ReduceOp, x: WView, dims: number[], out: WView): void {
    const numOut = numelOf(out.shape);
    if (numOut === 0) return;
    const red = new Set(dims);
    const keptShape: number[] = [], keptX: number[] = [], redShape: number[] = [], redX: number[] = [];
    x.shape.forEach((s, d) => {
      if (red.has(d)) { redShape.push(s); redX.push(x.strides[d]); }
      else { keptShape.push(s); keptX.push(x.strides[d]); }
    });
    const kc = coalesceChecked(op, keptShape, [out.strides, keptX]);
    const rc = coalesceChecked(op, redShape, [redX]);
    const R = numelOf(redShape);
    const params = [
      ...indexBlock(numOut, kc.shape, [{ offset: out.offset, strides: kc.strides[0] }, { offset: x.offset, strides: kc.strides[1] }]),
      ...indexBlock(R, rc.shape, [{ offset: 0, strides: rc.strides[0] }]),
    ];
    const aliased = x.id === out.id;
    const perGroup = R > REDUCE_SERIAL_MAX;
    const keptFlat = kc.shape.length <= 1, redFlat = rc.shape.length <= 1;
    const key = `reduce:${op}:${x.dtype}:${out.dtype}:${perGroup}:${aliased}:${keptFlat}:${redFlat}`;
    this.dispatch(key, () => reduceKernel(op, x.dtype, out.dtype, perGroup, aliased, keptFlat, redFlat),
      aliased ? [this.buf(out.id)] : [this.buf(out.id), this.buf(x.id)], params,
      perGroup ? this.gridGroups(numOut) : this.grid1d(numOut));
  }

  cumsum(x: WView, dim: number, out: WView): void {
    const n = numelOf(x.shape);
    if (n === 0) return;
    const L = x.shape[dim];
    const other = (s: readonly number[]) => s.filter((_, d) => d !== dim);
    const c = coalesceChecked('cumsum', other(x.shape), [other(out.strides), other(x.strides)]);
    const rows = n / L;
    const params = [
      ...indexBlock(rows, c.shape, [{ offset: out.offset, strides: c.strides[0] }, { offset: x.offset, strides: c.strides[1] }]),
      L, out.strides[dim], x.strides[dim],
    ];
    const aliased = x.id === out.id;
    this.dispatch(`cumsum:${x.dtype}:${out.dtype}:${aliased}`, () => cumsumKernel(x.dtype, out.dtype, aliased),
      aliased ? [this.buf(out.id)] : [this.buf(out.id), this.buf(x.id)], params, this.gridGroups(rows));
  }

  matmul(a: WView, b: WView, out: WView): void {
    const [B, M, K] = a.shape;
    const N = b.shape[2];
    if (B * M * N === 0) return;
    let A = a, Bv = b;
    const tmps: number[] = [];
    // the output is written read_write, so inputs sharing its buffer are copied first
    if (a.id === out.id) { A = this.tempView(a.dtype, [...a.shape]); tmps.push(A.id); this.copy(a, A); }
    if (b.id === out.id) { Bv = this.tempView(b.dtype, [...b.shape]); tmps.push(Bv.id); this.copy(b, Bv); }
    const direct = this.software;
    const key = `matmul:${a.dtype}:${b.dtype}:${out.dtype}:${direct}`;
    const make = () => (direct ? matmulKernelDirect : matmulKernel)(a.dtype, b.dtype, out.dtype);
    const tileN = direct ? MM_DIRECT.cols * MM_DIRECT.wx : 64, tileM = direct ? MM_DIRECT.rows * MM_DIRECT.wy : 64;
    for (let base = 0; base < B; base += MAX_GROUPS) {
      const nb = Math.min(MAX_GROUPS, B - base);
      const params = [M, N, K, base, A.offset, ...A.strides, Bv.offset, ...Bv.strides, out.offset, ...out.strides];
      this.dispatch(key, make, [this.buf(out.id), this.buf(A.id), this.buf(Bv.id)], params, [Math.ceil(N / tileN), Math.ceil(M / tileM), nb]);
    }
    tmps.forEach((id) => this.releaseTemp(id));
  }

  gather(x: WView, dim: number, index: WView, out: WView): void {
    const n = numelOf(index.shape);
    if (n === 0) return;
    let I = index;
    const tmps: number[] = [];
    if (index.id === out.id) { I = this.tempView(index.dtype, [...index.shape]); tmps.push(I.id); this.copy(index, I); }
    const xs = x.strides.map((s, d) => (d === dim ? 0 : s));
    const c = coalesceChecked('gather', index.shape, [out.strides, I.strides, xs]);
    const params = [
      ...indexBlock(n, c.shape, [{ offset: out.offset, strides: c.strides[0] }, { offset: I.offset, strides: c.strides[1] }, { offset: x.offset, strides: c.strides[2] }]),
      x.strides[dim], x.shape[dim],
    ];
    const aliased = x.id === out.id;
    const buffers = [this.buf(out.id), this.buf(I.id), this.status];
    if (!aliased) buffers.push(this.buf(x.id));
    const flat = c.shape.length <= 1;
    this.dispatch(`gather:${x.dtype}:${index.dtype}:${out.dtype}:${aliased}:${flat}`, () => gatherKernel(x.dtype, I.dtype, out.dtype, aliased, flat),
      buffers, params, this.grid1d(n));
    tmps.forEach((id) => this.releaseTemp(id));
  }

  scatter(out: WView, dim: number, index: WView, src: WView, acc: boolean): void {
    const n = numelOf(index.shape);
    if (n === 0) return;
    let I = index, S = src;
    const tmps: number[] = [];
    if (index.id === out.id) { I = this.tempView(index.dtype, [...index.shape]); tmps.push(I.id); this.copy(index, I); }
    if (src.id === out.id) {
      // only the part of src that index covers is read
      const part = { ...src, shape: [...index.shape] };
      S = this.tempView(src.dtype, [...index.shape]); tmps.push(S.id); this.copy(part, S);
    }
    const os = out.strides.map((s, d) => (d === dim ? 0 : s));
    const c = coalesceChecked('scatter', index.shape, [I.strides, S.strides, os]);
    const params = [
      ...indexBlock(n, c.shape, [{ offset: I.offset, strides: c.strides[0] }, { offset: S.offset, strides: c.strides[1] }, { offset: out.offset, strides: c.strides[2] }]),
      out.strides[dim], out.shape[dim],
    ];
    const flat = c.shape.length <= 1;
    this.dispatch(`scatter:${out.dtype}:${I.dtype}:${S.dtype}:${acc}:${flat}`, () => scatterKernel(out.dtype, I.dtype, S.dtype, acc, flat),
      [this.buf(out.id), this.buf(I.id), this.buf(S.id), this.status], params, this.grid1d(n));
    tmps.forEach((id) => this.releaseTemp(id));
  }

  sort(x: WView, dim: number, desc: boolean, values: WView, indices: WView): void {
    const n = numelOf(x.shape);
    if (n === 0) return;
    let X = x;
    const tmps: number[] = [];
    if (x.id === values.id || x.id === indices.id) { X = this.tempView(x.dtype, [...x.shape]); tmps.push(X.id); this.copy(x, X); }
    const L = x.shape[dim];
    const rows = n / L;
    const Pp = nextPow2(L);
    const other = (s: readonly number[]) => s.filter((_, d) => d !== dim);
    const c = coalesceChecked('sort', other(x.shape), [other(X.strides), other(values.strides), other(indices.strides)]);
    const block = indexBlock(rows, c.shape, [
      { offset: X.offset, strides: c.strides[0] }, { offset: values.offset, strides: c.strides[1] }, { offset: indices.offset, strides: c.strides[2] },
    ]);
    const extra = (k: number, j: number) => [...block, L, Pp, X.strides[dim], values.strides[dim], indices.strides[dim], k, j];
    const keyDtype = elemType(x.dtype) === 'f32' || elemType(x.dtype) === 'f16' ? 'float32' : 'int32';
    const keys = this.tempView(keyDtype, [rows * Pp]);
    const ix = this.tempView('int32', [rows * Pp]);
    tmps.push(keys.id, ix.id);
    const kb = this.buf(keys.id), ib = this.buf(ix.id);
    this.dispatch(`sortinit:${x.dtype}`, () => sortInitKernel(x.dtype), [kb, ib, this.buf(X.id)], extra(0, 0), this.grid1d(rows * Pp));
    for (let k = 2; k <= Pp; k *= 2)
      for (let j = k / 2; j >= 1; j /= 2)
        this.dispatch(`sortstep:${x.dtype}:${desc}`, () => sortStepKernel(x.dtype, desc), [kb, ib], extra(k, j), this.grid1d(rows * Pp));
    this.dispatch(`sortfinal:${x.dtype}:${values.dtype}:${indices.dtype}`, () => sortFinalKernel(x.dtype, values.dtype, indices.dtype),
      [this.buf(values.id), this.buf(indices.id), ib, this.buf(X.id)], extra(0, 0), this.grid1d(n));
    tmps.forEach((id) => this.releaseTemp(id));
  }

  /** A fused Adam step (views contiguous, checked by the main thread). */
  adam(p: WView, g: WView, m: WView, v: WView, x: WView | null, bits: number[]): void {
    const n = numelOf(p.shape);
    if (n === 0) return;
    const params = [n, p.offset, g.offset, m.offset, v.offset, x?.offset ?? 0, 0, ...bits];
    const buffers = [this.buf(p.id), this.buf(g.id), this.buf(m.id), this.buf(v.id)];
    if (x) buffers.push(this.buf(x.id));
    this.dispatch(`adam:${p.dtype}:${x !== null}`, () => adamKernel(p.dtype, x !== null), buffers, params, this.grid1d(n));
  }

  // ---------------- readback ----------------

  /**
   * Copies [lo, hi) of `src` (or nothing) plus the status word into a mappable buffer, submits,
   * waits, and returns the bytes and the status (resetting it on the device).
   */
  private async readRange(src: GPUBuffer | null, lo: number, hi: number): Promise<{ bytes: ArrayBuffer; status: number; bad: number }> {
    const len = hi - lo;
    const staging = this.device.createBuffer({ size: len + 16, usage: USAGE_MAP_READ | USAGE_COPY_DST });
    const enc = this.cmd();
    if (src && len > 0) enc.copyBufferToBuffer(src, lo, staging, 0, len);
    enc.copyBufferToBuffer(this.status, 0, staging, len, 16);
    enc.clearBuffer(this.status);
    this.flush();
    try {
      await staging.mapAsync(MAP_READ);
      const mapped = staging.getMappedRange();
      const bytes = mapped.slice(0, len);
      const [status, bad] = new Uint32Array(mapped, len, 2);
      staging.unmap();
      return { bytes, status, bad: bad | 0 };
    } finally {
      staging.destroy();
    }
  }

  /** The first pending error (device status or a failed command), cleared once reported. */
  private takeError(status: number): ErrorInfo | null {
    if (status !== 0 && status !== STATUS_CHECK) {
      const op = status === STATUS_GATHER ? 'gather' : 'scatter';
      this.errors.length = 0;
      return {
        name: 'IndexError', op,
        message: `an index was out of range for the dimension it indexes (detected on the webgpu device after the call returned; results computed from it are invalid)`,
      };
    }
    const e = this.errors.shift() ?? null;
    this.errors.length = 0;
    return e;
  }

  async read(v: WView): Promise<{ data: ArrayBuffer } | { error: ErrorInfo }> {
    const n = numelOf(v.shape);
    const eb = elemBytes(v.dtype);
    let src: GPUBuffer | null = null, start = 0, tmp: number | null = null;
    if (n > 0) {
      if (isContiguousLayout(v.shape, v.strides)) {
        src = this.buf(v.id);
        start = v.offset * eb;
      } else {
        const t = this.tempView(v.dtype, [...v.shape]);
        this.copy(v, t);
        tmp = t.id;
        src = this.buf(t.id);
      }
    }
    const lo = Math.floor(start / 4) * 4, hi = Math.ceil((start + n * eb) / 4) * 4;
    const pending = this.readRange(src, lo, n > 0 ? hi : lo); // submits before its first await
    if (tmp !== null) this.releaseTemp(tmp);
    const r = await pending;
    const err = this.takeError(r.status);
    if (err) return { error: err };
    return { data: start === lo && n * eb === r.bytes.byteLength ? r.bytes : r.bytes.slice(start - lo, start - lo + n * eb) };
  }

  /** Validates an index view on the device and waits for the verdict (one queue drain). */
  async checkIndex(op: string, index: WView, dim: number, size: number): Promise<ErrorInfo | null> {
    const n = numelOf(index.shape);
    if (n === 0) return null;
    const c = coalesceChecked(op, index.shape, [index.strides]);
    const params = indexBlock(n, c.shape, [{ offset: index.offset, strides: c.strides[0] }]);
    params[INDEX_CHECK_SIZE] = size;
    const flat = c.shape.length <= 1;
    this.dispatch(`checkindex:${index.dtype}:${flat}`, () => indexCheckKernel(index.dtype, flat), [this.buf(index.id), this.status], params, this.grid1d(n));
    const r = await this.readRange(null, 0, 0);
    if (r.status === 0) return null;
    if (r.status !== STATUS_CHECK) return this.takeError(r.status);
    return { name: 'IndexError', op, message: `index ${r.bad} is out of bounds for dimension ${dim} with size ${size}` };
  }

  async sync(): Promise<ErrorInfo | null> {
    const r = await this.readRange(null, 0, 0);
    return this.takeError(r.status);
  }

  stats(): MemoryStats {
    return {
      allocatedBytes: this.allocatedBytes, pooledBytes: this.pooledBytes, buffers: this.bufferCount,
      pipelines: this.pipelines.size, submits: this.submits, dispatches: this.dispatches,
    };
  }

  emptyCache(): void {
    this.flush();
    this.trimPool(0);
  }

  /** Runs one command; requests (read/sync/stats) return a promise of their reply. */
  exec(c: Cmd): Promise<Reply> | null {
    switch (c.k) {
      case 'alloc': this.alloc(c.id, c.bytes, c.uninit); return null;
      case 'free': this.free(c.id); return null;
      case 'write': this.write(c.id, c.dtype, c.elemOffset, c.data); return null;
      case 'copy': this.copy(c.src, c.dst); return null;
      case 'fill': this.fill(c.dst, c.bits); return null;
      case 'ew': this.elementwise(c.op, c.ins, c.out); return null;
      case 'reduce': this.reduce(c.op, c.x, c.dims, c.out); return null;
      case 'cumsum': this.cumsum(c.x, c.dim, c.out); return null;
      case 'matmul': this.matmul(c.a, c.b, c.out); return null;
      case 'gather': this.gather(c.x, c.dim, c.index, c.out); return null;
      case 'scatter': this.scatter(c.out, c.dim, c.index, c.src, c.acc); return null;
      case 'sort': this.sort(c.x, c.dim, c.desc, c.values, c.indices); return null;
      case 'adam': this.adam(c.p, c.g, c.m, c.v, c.x, c.bits); return null;
      case 'emptyCache': this.emptyCache(); return null;
      case 'read': {
        const req = c.req;
        return this.read(c.v).then((r): Reply => ('error' in r ? { req, ok: false, error: r.error } : { req, ok: true, data: r.data }));
      }
      case 'sync': {
        const req = c.req;
        return this.sync().then((e): Reply => (e ? { req, ok: false, error: e } : { req, ok: true }));
      }
      case 'checkIndex': {
        const req = c.req;
        return this.checkIndex(c.op, c.index, c.dim, c.size).then((e): Reply => (e ? { req, ok: false, error: e } : { req, ok: true }));
      }
      case 'fence': {
        const req = c.req;
        this.flush();
        return this.device.queue.onSubmittedWorkDone().then((): Reply => ({ req, ok: true }));
      }
      case 'stats': return Promise.resolve({ req: c.req, ok: true, stats: this.stats() });
    }
  }
}

function coalesceChecked(op: string, shape: readonly number[], strides: (readonly number[])[]): { shape: number[]; strides: number[][] } {
  const c = coalesce(shape, strides);
  if (c.shape.length > MAX_DIMS)
    throw new WorkerError('ShapeError', op, `views with more than ${MAX_DIMS} non-mergeable dims are not supported on webgpu`);
  return c;
}

function toErrorInfo(e: unknown, fallbackOp: string): ErrorInfo {
  if (e instanceof WorkerError) return { name: e.kind, op: e.op, message: e.message };
  const err = e as Error;
  return { name: 'Error', op: fallbackOp, message: err?.message ?? String(e) };
}

/** Entry point of the worker thread (see index.ts). */
export async function runWorker(data: WorkerData): Promise<void> {
  const signal = new Int32Array(data.signal);
  const reply = data.reply;
  const notify = () => { Atomics.add(signal, 0, 1); Atomics.notify(signal, 0); };
  const send = (r: Reply | { init: InitInfo }, transfer: ArrayBuffer[] = []) => {
    reply.postMessage(r, transfer);
    notify();
  };
  // Everything that must stay alive for the device's lifetime (Dawn tears the instance down
  // when the object `create` returned is collected).
  const keep: { gpu?: GPU; adapter?: GPUAdapter; device?: GPUDevice } = {};
  (globalThis as { __torchletWebGPU?: unknown }).__torchletWebGPU = keep;
  let exec: Executor;
  try {
    const { create } = (await import('webgpu')) as { create(opts: string[]): GPU };
    keep.gpu = create([]);
    let t0 = performance.now();
    const adapter = await keep.gpu.requestAdapter({ powerPreference: 'high-performance' });
    const adapterMs = performance.now() - t0;
    if (!adapter) {
      send({ init: { ok: false, reason: 'no WebGPU adapter was found (Dawn found no usable Vulkan/Metal/D3D12 GPU or driver)', features: [], adapter: '', maxBindingBytes: 0, adapterMs, deviceMs: 0 } });
      return;
    }
    keep.adapter = adapter;
    const features: GPUFeatureName[] = adapter.features.has('shader-f16') ? ['shader-f16'] : [];
    const lim = adapter.limits;
    t0 = performance.now();
    const device = await adapter.requestDevice({
      requiredFeatures: features,
      requiredLimits: {
        maxStorageBufferBindingSize: lim.maxStorageBufferBindingSize,
        maxBufferSize: lim.maxBufferSize,
        maxStorageBuffersPerShaderStage: Math.min(lim.maxStorageBuffersPerShaderStage, 8),
        maxComputeWorkgroupStorageSize: Math.min(lim.maxComputeWorkgroupStorageSize, 16384),
      },
    });
    const deviceMs = performance.now() - t0;
    keep.device = device;
    const info = adapter.info;
    // TORCHLET_WEBGPU_KERNELS=gpu|software overrides the detection (tests run both kernel sets)
    const forced = process.env.TORCHLET_WEBGPU_KERNELS;
    const software = forced === 'software' || (forced !== 'gpu' && ((info as { isFallbackAdapter?: boolean }).isFallbackAdapter === true
      || info.architecture === 'software' || /llvmpipe|lavapipe|swiftshader/i.test(`${info.device} ${info.description}`)));
    exec = new Executor(device, software);
    const name = [info.vendor, info.architecture, info.description].filter(Boolean).join(' ').trim() || 'unknown adapter';
    device.lost.then((l) => {
      if (l.reason !== 'destroyed') exec.recordError({ name: 'Error', op: 'webgpu', message: `the webgpu device was lost: ${l.message}` });
    });
    send({ init: { ok: true, reason: null, features: [...features], adapter: name, software, maxBindingBytes: device.limits.maxStorageBufferBindingSize, adapterMs, deviceMs } });
  } catch (e) {
    const msg = (e as Error)?.message ?? String(e);
    const missing = /Cannot find (package|module)/.test(msg);
    send({ init: { ok: false, reason: missing ? `the 'webgpu' npm package could not be loaded (${msg.split('\n')[0]})` : `webgpu initialisation failed: ${msg.split('\n')[0]}`, features: [], adapter: '', maxBindingBytes: 0, adapterMs: 0, deviceMs: 0 } });
    return;
  }

  // While a request waits for the device, dawn.node ticks the device from setImmediate in a busy
  // loop, which keeps this thread at 100% CPU, competing with the driver's threads (on a
  // software adapter those are the GPU). A short sleep per turn of the loop bounds the spin.
  const nap = new Int32Array(new SharedArrayBuffer(4));
  let waiting = 0, throttling = false;
  const throttle = (): void => {
    if (throttling || NAP_MS <= 0) return;
    throttling = true;
    const turn = (): void => {
      if (waiting === 0) { throttling = false; return; }
      Atomics.wait(nap, 0, 0, NAP_MS);
      setImmediate(turn);
    };
    setImmediate(turn);
  };

  parentPort!.on('message', (msg: { cmds: Cmd[] }) => {
    for (const c of msg.cmds) {
      let pending: Promise<Reply> | null = null;
      try {
        pending = exec.exec(c);
      } catch (e) {
        const info = toErrorInfo(e, c.k);
        if ('req' in c) send({ req: c.req, ok: false, error: info });
        else exec.recordError(info);
        continue;
      }
      if (pending) {
        waiting++;
        throttle();
        pending.then(
          (r) => send(r, r.ok && r.data ? [r.data] : []),
          (e) => send({ req: (c as { req: number }).req, ok: false, error: toErrorInfo(e, c.k) }),
        ).finally(() => { waiting--; });
      }
    }
    try {
      exec.flush();
    } catch (e) {
      exec.recordError(toErrorInfo(e, 'submit'));
    }
  });
}
