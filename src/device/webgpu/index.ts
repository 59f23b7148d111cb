/**
 * The webgpu device: Dawn (the `webgpu` npm package) driven from a worker thread.
 *
 * Dawn's node binding settles its promises (requestAdapter, requestDevice, mapAsync) only
 * from the event loop of the thread that owns the device; nothing in its JS API processes
 * events synchronously (busy-polling mapState never advances). torchlet's registry and
 * `readSync` are synchronous, so the device lives in a worker (worker.ts) and this thread
 * talks to it with messages:
 * - commands (alloc, free, writes, kernels) are batched per microtask and posted without
 *   waiting; the worker encodes each batch into one command buffer and submits it; posting
 *   blocks only when about 4000 commands are still unfinished (backpressure fences);
 * - requests (read, synchronize) either await a reply, or block on a shared counter with
 *   Atomics.wait and pull the reply with receiveMessageOnPort (readSync, and the first
 *   `unavailableReason()`, which waits for the adapter and device).
 * So the device is usable synchronously, `canReadSync` is true, and the package entry needs
 * no top-level await. `initWebGPU()` starts the worker without blocking, for those who prefer.
 * The worker runs this very module (so bundles need no extra entry point), and process exit
 * waits for it to drain: Node terminating it inside a Dawn call aborts the process.
 *
 * Storage formats are in format.ts (float32, int32, int64 held as int32, uint8/bool one per
 * 32-bit word, float16 with 'shader-f16'; no float64/bfloat16). Kernels are in shaders.ts;
 * software adapters (lavapipe, SwiftShader) get kernels shaped for CPUs (see worker.ts).
 *
 * Waiting for the device (a "drain") is what a training step must avoid, so this thread keeps
 * what it knows of each buffer (GpuHandle): the range of integer values, which lets index
 * checks skip the device, and for small buffers written from the host their exact contents,
 * which answer reads (a loss's target check) without a round trip. A step of the MLP then
 * waits once, for loss.item().
 *
 * Errors: argument problems throw synchronously here, and so do out-of-range gather/scatter
 * indices (known from the host, or checked on the device before the kernel runs, which costs
 * one drain). Failures inside the worker (device errors) are reported by the next read or
 * synchronize.
 */
import { MessageChannel, Worker, isMainThread, receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { pathToFileURL } from 'node:url';
import type { AdamStepArgs, AdamViews, Backend, Handle, View, ReduceOp } from '../backend.js';
import { BINARY, TERNARY, UNARY, type BinaryOp, type TernaryOp, type UnaryOp } from '../kernels.js';
import { registerBackend } from '../registry.js';
import type { DType, HostArray } from '../../dtype.js';
import { DTypeError, DeviceError, IndexError, ShapeError, TorchError } from '../../errors.js';
import { coalesce, isContiguousLayout, numelOf } from '../../layout.js';
import { allocHost } from '../../dtype.js';
import { GPU_DTYPES, bufferBytes, fillBits, gpuToHost, hostToGpu } from './format.js';
import { ADAM_COUPLED, ADAM_DECOUPLED, ADAM_FLOATS, ADAM_MAXIMIZE, ADAM_SMALL_W1 } from './shaders.js';
import { MAX_DIMS, type Cmd, type ErrorInfo, type InitInfo, type MemoryStats, type Reply, type WView, type WorkerData } from './protocol.js';
import { runWorker } from './worker.js';

export type { MemoryStats } from './protocol.js';

// When this module is loaded as the device worker, run the worker side and nothing else.
const asWorker = !isMainThread && (workerData as Partial<WorkerData> | null)?.torchletWebGPU === true;
if (asWorker) void runWorker(workerData as WorkerData);

/** How long the first synchronous use waits for the adapter and device. */
const INIT_TIMEOUT_MS = 60_000;
/** How long process exit waits for queued webgpu work. */
const EXIT_TIMEOUT_MS = 30_000;
/** Commands queued on this thread before they are posted without waiting for the microtask. */
const MAX_QUEUED = 256;
/**
 * Backpressure: a fence follows every FENCE_EVERY commands, and posting blocks while more than
 * MAX_FENCES fences are outstanding, so a loop that never reads cannot queue unbounded work.
 */
const FENCE_EVERY = 1024;
const MAX_FENCES = 4;

/** Worker bootstrap: registers tsx when running from TypeScript sources, then loads this module. */
const BOOTSTRAP = `
const { workerData } = require('node:worker_threads');
const signal = new Int32Array(workerData.signal);
const fatal = (e) => {
  Atomics.store(signal, 1, 1);
  try { workerData.reply.postMessage({ fatal: String((e && e.stack) || e) }); } catch {}
  Atomics.add(signal, 0, 1);
  Atomics.notify(signal, 0);
};
process.on('uncaughtException', fatal);
process.on('unhandledRejection', fatal);
(async () => {
  if (workerData.tsx) (await import(workerData.tsx)).register();
  await import(workerData.self);
})().catch(fatal);
`;

/** When running from TypeScript sources (tsx), the worker must register tsx itself. */
function tsxLoader(): string | null {
  if (!/\.[cm]?ts$/.test(new URL(import.meta.url).pathname)) return null;
  try {
    return import.meta.resolve('tsx/esm/api');
  } catch {
    // import.meta.resolve is missing where tsx compiled this module as CommonJS: find the
    // package and take the ESM entry of its './esm/api' export
    try {
      const req = createRequire(import.meta.url);
      const pkgPath = req.resolve('tsx/package.json');
      const entry = (req(pkgPath) as { exports: Record<string, { import: { default: string } }> }).exports['./esm/api'].import.default;
      return new URL(entry, pathToFileURL(pkgPath)).href;
    } catch {
      return null;
    }
  }
}

function toTorchError(e: ErrorInfo): Error {
  switch (e.name) {
    case 'IndexError': return new IndexError(e.op, e.message);
    case 'ShapeError': return new ShapeError(e.op, e.message);
    case 'DTypeError': return new DTypeError(e.op, e.message);
    default: return new DeviceError(e.op, e.message);
  }
}

/** The main thread's end of the worker: command batching, requests, sync waits. */
class Link {
  private readonly worker: Worker;
  private readonly port: MessagePort;
  private readonly signal: Int32Array;
  private queue: Cmd[] = [];
  private transfer: ArrayBuffer[] = [];
  private scheduled = false;
  private nextReq = 1;
  private readonly pending = new Map<number, { resolve(r: Reply): void }>();
  private readonly replies = new Map<number, Reply>();
  private refs = 0;
  init: InitInfo | null = null;
  private initWaiters: ((i: InitInfo) => void)[] = [];
  dead: string | null = null;
  /** Whether commands were posted since the last synchronize. */
  private dirty = false;
  private sinceFence = 0;
  /** Outstanding fence request ids, oldest first; finished ones are in fencesDone. */
  private readonly fences: number[] = [];
  private readonly fencesDone = new Set<number>();

  constructor() {
    process.env.XDG_RUNTIME_DIR ??= tmpdir();
    const sab = new SharedArrayBuffer(8);
    this.signal = new Int32Array(sab);
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    const data: WorkerData & { self: string; tsx: string | null } = {
      torchletWebGPU: true, signal: sab, reply: port2, self: import.meta.url, tsx: tsxLoader(),
    };
    this.worker = new Worker(BOOTSTRAP, { eval: true, workerData: data, transferList: [port2] });
    this.worker.unref();
    this.worker.on('error', (e) => this.die(`the webgpu worker failed: ${e.message}`));
    this.worker.on('exit', (code) => this.die(`the webgpu worker exited (code ${code})`));
    this.port.on('message', (m) => this.onMessage(m));
    this.port.unref();
    process.on('exit', () => this.quiesce());
  }

  /**
   * At process exit Node terminates the worker; if that interrupts a Dawn call, dawn.node
   * aborts the process. So exit waits (bounded) until the worker has drained its queue.
   */
  private quiesce(): void {
    if (this.dead || !this.init?.ok || !this.dirty) return;
    try {
      const req = this.nextReq++;
      this.post({ k: 'sync', req });
      this.flush();
      this.block(() => this.replies.has(req), EXIT_TIMEOUT_MS, 'webgpu work to finish at exit');
    } catch {
      // best effort: a dead or stuck worker cannot be helped here
    }
  }

  private ref(): void { if (this.refs++ === 0) this.port.ref(); }
  private unref(): void { if (--this.refs === 0) this.port.unref(); }

  private die(reason: string): void {
    if (this.dead) return;
    this.dead = reason;
    if (!this.init) this.onMessage({ init: { ok: false, reason, features: [], adapter: '', maxBindingBytes: 0, adapterMs: 0, deviceMs: 0 } });
    for (const [req, p] of this.pending) p.resolve({ req, ok: false, error: { name: 'DeviceError', op: 'webgpu', message: reason } });
    this.pending.clear();
  }

  private onMessage(m: Reply | { init: InitInfo } | { fatal: string }): void {
    if ('fatal' in m) {
      this.die(`the webgpu worker crashed: ${m.fatal.split('\n')[0]}`);
      return;
    }
    if ('init' in m) {
      this.init = m.init;
      const ws = this.initWaiters;
      this.initWaiters = [];
      ws.forEach((w) => w(m.init));
      return;
    }
    if (this.fences.includes(m.req)) {
      this.fencesDone.add(m.req);
      while (this.fences.length && this.fencesDone.delete(this.fences[0])) this.fences.shift();
      return;
    }
    const p = this.pending.get(m.req);
    if (p) {
      this.pending.delete(m.req);
      p.resolve(m);
    } else this.replies.set(m.req, m);
  }

  /** Blocks this thread until `done()` (messages are pulled synchronously meanwhile). */
  private block(done: () => boolean, timeoutMs: number, what: string): void {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      const seen = Atomics.load(this.signal, 0);
      let got = false;
      for (let m = receiveMessageOnPort(this.port); m; m = receiveMessageOnPort(this.port)) {
        this.onMessage(m.message);
        got = true;
      }
      if (got) continue;
      if (Atomics.load(this.signal, 1) !== 0 && !this.dead) this.die('the webgpu worker crashed');
      if (this.dead) throw new DeviceError('webgpu', this.dead);
      const left = deadline - Date.now();
      if (left <= 0) throw new DeviceError('webgpu', `timed out after ${timeoutMs} ms waiting for ${what}`);
      Atomics.wait(this.signal, 0, seen, Math.min(left, 1000));
    }
  }

  waitInitSync(): InitInfo {
    if (!this.init) this.block(() => this.init !== null, INIT_TIMEOUT_MS, 'the webgpu adapter and device');
    return this.init!;
  }

  waitInit(): Promise<InitInfo> {
    if (this.init) return Promise.resolve(this.init);
    this.ref();
    return new Promise((resolve) => this.initWaiters.push((i) => { this.unref(); resolve(i); }));
  }

  post(c: Cmd, transfer?: ArrayBuffer): void {
    if (this.dead) throw new DeviceError('webgpu', this.dead);
    this.dirty = c.k !== 'sync';
    this.queue.push(c);
    if (transfer) this.transfer.push(transfer);
    if (++this.sinceFence >= FENCE_EVERY) this.fence();
    if (this.queue.length >= MAX_QUEUED) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(() => this.flush());
    }
  }

  private fence(): void {
    this.sinceFence = 0;
    const req = this.nextReq++;
    this.fences.push(req);
    this.queue.push({ k: 'fence', req });
    if (this.fences.length > MAX_FENCES) {
      this.flush();
      const oldest = this.fences[0];
      this.block(() => this.fences[0] !== oldest, Number.POSITIVE_INFINITY, 'queued webgpu work (backpressure)');
    }
  }

  flush(): void {
    this.scheduled = false;
    if (this.queue.length === 0 || this.dead) return;
    const cmds = this.queue, transfer = this.transfer;
    this.queue = [];
    this.transfer = [];
    this.worker.postMessage({ cmds }, transfer);
  }

  request(make: (req: number) => Cmd): Promise<Reply> {
    const req = this.nextReq++;
    const c = make(req);
    this.post(c);
    this.flush();
    this.ref();
    return new Promise<Reply>((resolve) => {
      this.pending.set(req, { resolve: (r) => { this.unref(); resolve(r); } });
    });
  }

  requestSync(make: (req: number) => Cmd, what: string): Reply {
    const req = this.nextReq++;
    this.post(make(req));
    this.flush();
    this.block(() => this.replies.has(req), Number.POSITIVE_INFINITY, what);
    const r = this.replies.get(req)!;
    this.replies.delete(req);
    return r;
  }
}

/** Buffers of at most this many elements keep a host copy of contents the host wrote (see GpuHandle.host). */
const SHADOW_MAX = 16384;
let hostCopies = true;
/**
 * Turns the host copies of small buffers off or on (on by default): off, every read goes to the
 * device. For tests of the device paths, and for comparisons.
 */
export function setWebGPUHostCopies(on: boolean): void { hostCopies = on; }

/** Integer dtypes, whose handles track a range of their values. */
const INTEGER: ReadonlySet<DType> = new Set<DType>(['int32', 'int64', 'uint8', 'bool']);

/** An inclusive bound on the values a buffer holds. */
interface Range { lo: number; hi: number }

/**
 * A webgpu buffer handle: an id the worker maps to its GPUBuffer, plus what this thread knows
 * of its contents. Every command that writes a buffer passes through WebGPUBackend in program
 * order, so this knowledge is exact at the point of each call:
 * - `range` (integer dtypes): every stored value lies in [lo, hi]; null when unknown. Index
 *   checks of gather/scatter use it to skip the device check (and its queue drain) when the
 *   indices are known to be in range, as those of a target read from the host are.
 * - `host` (small buffers): the exact contents, when they came from the host (alloc's zeros,
 *   write, fill) and no kernel has written the buffer since; reads are then answered here
 *   without waiting for the device. 'zero' is an all-zero buffer not yet materialised.
 */
export class GpuHandle {
  freed = false;
  range: Range | null;
  host: HostArray | 'zero' | null;
  constructor(readonly id: number, readonly bytes: number, readonly backend: WebGPUBackend, readonly numel: number, readonly dtype: DType) {
    this.range = INTEGER.has(dtype) ? { lo: 0, hi: 0 } : null;
    this.host = hostCopies && numel <= SHADOW_MAX ? 'zero' : null;
  }
  shadow(): HostArray | null {
    if (this.host === 'zero') this.host = allocHost(this.dtype, this.numel);
    return this.host;
  }
}

/** The values a dtype can hold at all, where that bounds an index (bool, uint8). */
const naturalRange = (d: DType): Range | null => (d === 'bool' ? { lo: 0, hi: 1 } : d === 'uint8' ? { lo: 0, hi: 255 } : null);

const union = (a: Range | null, b: Range | null): Range | null => (a && b ? { lo: Math.min(a.lo, b.lo), hi: Math.max(a.hi, b.hi) } : null);

function rangeOf(values: ArrayLike<number>): Range {
  let lo = Infinity, hi = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return { lo, hi };
}

/** Whether a view reaches every element of its buffer (so a write through it replaces all contents). */
function covers(v: View, h: GpuHandle): boolean {
  return numelOf(v.shape) === h.numel && v.shape.every((n, d) => n === 1 || v.strides[d] !== 0);
}

/** The elements of a view over a host array, contiguous, in the same representation. */
function readHost(src: HostArray, v: View): HostArray {
  const n = numelOf(v.shape);
  const out = allocHost(v.dtype, n);
  if (n === 0) return out;
  if (isContiguousLayout(v.shape, v.strides)) {
    out.set(src.subarray(v.offset, v.offset + n) as never);
    return out;
  }
  const nd = v.shape.length, idx = new Array<number>(nd).fill(0);
  let off = v.offset;
  for (let i = 0; i < n; i++) {
    out[i] = src[off];
    for (let d = nd - 1; d >= 0; d--) {
      off += v.strides[d];
      if (++idx[d] < v.shape[d]) break;
      off -= v.strides[d] * v.shape[d];
      idx[d] = 0;
    }
  }
  return out;
}

/** Writes `value` to every element of a view over a host array. */
function fillHost(dst: HostArray, v: View, value: number): void {
  const n = numelOf(v.shape);
  const nd = v.shape.length, idx = new Array<number>(nd).fill(0);
  let off = v.offset;
  for (let i = 0; i < n; i++) {
    dst[off] = value;
    for (let d = nd - 1; d >= 0; d--) {
      off += v.strides[d];
      if (++idx[d] < v.shape[d]) break;
      off -= v.strides[d] * v.shape[d];
      idx[d] = 0;
    }
  }
}

function checkDims(op: string, shape: readonly number[], strides: (readonly number[])[]): void {
  if (shape.length > MAX_DIMS && coalesce(shape, strides).shape.length > MAX_DIMS)
    throw new ShapeError(op, `views with more than ${MAX_DIMS} dims that cannot be merged are not supported on webgpu; call .contiguous() first`);
}

export class WebGPUBackend implements Backend {
  readonly type = 'webgpu' as const;
  readonly name = 'webgpu';
  readonly canReadSync = true;
  /**
   * Live bytes above which allocation first reclaims unreachable tensors (Storage): most garbage
   * of a training step is returned by the cheap finalizer pass at the budget, so a small budget
   * keeps the device footprint near the live size without frequent full collections.
   */
  readonly reclaimBudgetBytes = Number(process.env.TORCHLET_WEBGPU_GC_BUDGET_MB ?? 64) * 2 ** 20;
  /** Bytes in buffers owned by live handles (as allocated on the device, before pool rounding). */
  bytesInUse = 0;
  private nextId = 1;
  private readonly f16: boolean;

  constructor(private readonly link: Link, readonly info: InitInfo, private readonly maxBytes: number) {
    this.f16 = info.features.includes('shader-f16');
  }

  supportsDtype(d: DType): boolean {
    return d === 'float16' ? this.f16 : GPU_DTYPES.includes(d);
  }
  supportsCompute(d: DType): boolean {
    return this.supportsDtype(d);
  }

  private checkDtype(op: string, d: DType): void {
    if (!this.supportsDtype(d))
      throw new DTypeError(op, `dtype ${d} is not supported on the webgpu device${d === 'float16' ? " (the adapter lacks 'shader-f16')" : ''}; convert to float32 first`);
  }

  private wv(op: string, v: View): WView {
    const h = v.handle;
    if (!(h instanceof GpuHandle) || h.backend !== this) throw new DeviceError(op, 'the tensor storage is not a buffer of this webgpu device');
    if (h.freed) throw new DeviceError(op, 'the tensor storage was already freed');
    this.checkDtype(op, v.dtype);
    return { id: h.id, dtype: v.dtype, shape: [...v.shape], strides: [...v.strides], offset: v.offset };
  }

  alloc(numel: number, dtype: DType): Handle {
    return this.allocate(numel, dtype, false);
  }

  /** A buffer whose contents may be arbitrary: a pooled one is not cleared (and its range is unknown). */
  allocUninit(numel: number, dtype: DType): Handle {
    return this.allocate(numel, dtype, true);
  }

  private allocate(numel: number, dtype: DType, uninit: boolean): GpuHandle {
    this.checkDtype('alloc', dtype);
    const bytes = bufferBytes(numel, dtype);
    if (bytes > this.maxBytes)
      throw new TorchError('alloc', `a ${dtype} tensor of ${numel} elements needs ${bytes} bytes, more than the webgpu device's largest buffer binding (${this.maxBytes} bytes)`);
    const h = new GpuHandle(this.nextId++, bytes, this, numel, dtype);
    if (uninit) {
      h.host = null;
      if (h.range) h.range = naturalRange(dtype);
    }
    this.link.post(uninit ? { k: 'alloc', id: h.id, bytes, uninit } : { k: 'alloc', id: h.id, bytes });
    this.bytesInUse += bytes;
    return h;
  }

  free(handle: Handle): void {
    const h = handle as GpuHandle;
    if (!(h instanceof GpuHandle) || h.freed || h.backend !== this) return;
    h.freed = true;
    h.host = null;
    this.bytesInUse -= h.bytes;
    if (!this.link.dead) this.link.post({ k: 'free', id: h.id });
  }

  write(handle: Handle, dtype: DType, src: HostArray, dstOffset: number): void {
    const h = handle as GpuHandle;
    const id = this.wv('write', { handle: h, dtype, shape: [0], strides: [1], offset: 0 }).id;
    if (src.length === 0) return;
    const data = hostToGpu('write', dtype, src);
    this.link.post({ k: 'write', id, dtype, elemOffset: dstOffset, data }, data);
    const whole = dstOffset === 0 && src.length === h.numel;
    if (INTEGER.has(h.dtype)) h.range = (whole ? rangeOf(src) : union(h.range, rangeOf(src))) ?? naturalRange(h.dtype);
    if (h.host !== null && dtype === h.dtype) h.shadow()!.set(src as never, dstOffset);
    else h.host = null;
  }

  /**
   * Records a kernel's write through `v`: host copies are stale, and the buffer's values now lie
   * in `r` (null: unknown). `partial`: the kernel writes only some elements of the view.
   */
  private wrote(v: View, r: Range | null, partial = false): void {
    const h = v.handle as GpuHandle;
    h.host = null;
    if (!INTEGER.has(h.dtype)) return;
    const natural = naturalRange(h.dtype);
    if (r && natural && (r.lo < natural.lo || r.hi > natural.hi)) r = null;
    const next = !partial && covers(v, h) ? r : union(h.range, r);
    h.range = next ?? natural;
  }

  private rangeIn(v: View): Range | null {
    return (v.handle as GpuHandle).range;
  }

  /** Kernels and device reads since the backend started that made this thread wait for the device. */
  drains = 0;

  private result(r: Reply, v: View): HostArray {
    if (!r.ok) throw toTorchError(r.error);
    return gpuToHost(v.dtype, r.data!, 0, numelOf(v.shape));
  }

  /** The view's elements from the handle's host copy, when it has one (no device round trip). */
  private fromShadow(v: View): HostArray | null {
    const h = v.handle as GpuHandle;
    return hostCopies && h.host !== null && v.dtype === h.dtype ? readHost(h.shadow()!, v) : null;
  }

  async read(v: View): Promise<HostArray> {
    const w = this.wv('read', v);
    const known = this.fromShadow(v);
    if (known) return known;
    const r = await this.link.request((req) => ({ k: 'read', req, v: w }));
    return this.result(r, v);
  }

  readSync(v: View): HostArray {
    const w = this.wv('read', v);
    const known = this.fromShadow(v);
    if (known) return known;
    this.drains++;
    return this.result(this.link.requestSync((req) => ({ k: 'read', req, v: w }), 'a webgpu readback'), v);
  }

  async synchronize(): Promise<void> {
    const r = await this.link.request((req) => ({ k: 'sync', req }));
    if (!r.ok) throw toTorchError(r.error);
  }

  /** Blocks until queued work is done; throws pending device errors. */
  synchronizeSync(): void {
    this.drains++;
    const r = this.link.requestSync((req) => ({ k: 'sync', req }), 'webgpu work to finish');
    if (!r.ok) throw toTorchError(r.error);
  }

  memoryStats(): MemoryStats {
    const r = this.link.requestSync((req) => ({ k: 'stats', req }), 'webgpu memory statistics');
    if (!r.ok) throw toTorchError(r.error);
    return { ...r.stats!, drains: this.drains };
  }

  /** Destroys the pooled (freed) buffers. */
  emptyCache(): void {
    this.link.post({ k: 'emptyCache' });
  }

  copy(src: View, dst: View): void {
    checkDims('copy', dst.shape, [src.strides, dst.strides]);
    this.link.post({ k: 'copy', src: this.wv('copy', src), dst: this.wv('copy', dst) });
    this.wrote(dst, INTEGER.has(src.dtype) ? this.rangeIn(src) : null);
  }

  fill(dst: View, value: number): void {
    checkDims('fill', dst.shape, [dst.strides]);
    const bits = fillBits('fill', dst.dtype, value);
    this.link.post({ k: 'fill', dst: this.wv('fill', dst), bits });
    const h = dst.handle as GpuHandle;
    const host = h.host !== null && dst.dtype === h.dtype ? h.shadow() : null;
    this.wrote(dst, { lo: value, hi: value });
    if (host) {
      fillHost(host, dst, value);
      h.host = host;
    }
  }

  private ew(op: string, ins: View[], out: View): void {
    const table = ins.length === 1 ? UNARY : ins.length === 2 ? BINARY : TERNARY;
    if (!Object.hasOwn(table, op)) throw new TorchError(op, `no ${['unary', 'binary', 'ternary'][ins.length - 1]} elementwise op named '${op}'`);
    checkDims(op, out.shape, [out.strides, ...ins.map((v) => v.strides)]);
    this.link.post({ k: 'ew', op, ins: ins.map((v) => this.wv(op, v)), out: this.wv(op, out) });
    this.wrote(out, op === 'where' ? union(this.rangeIn(ins[1]), this.rangeIn(ins[2])) : null);
  }
  unary(op: UnaryOp, x: View, out: View): void { this.ew(op, [x], out); }
  binary(op: BinaryOp, x: View, y: View, out: View): void { this.ew(op, [x, y], out); }
  ternary(op: TernaryOp, x: View, y: View, z: View, out: View): void { this.ew(op, [x, y, z], out); }

  reduce(op: ReduceOp, x: View, dims: readonly number[], out: View): void {
    const red = new Set(dims);
    const kept = x.shape.map((_, d) => d).filter((d) => !red.has(d));
    checkDims(op, kept.map((d) => x.shape[d]), [kept.map((d) => x.strides[d]), out.strides]);
    checkDims(op, dims.map((d) => x.shape[d]), [dims.map((d) => x.strides[d])]);
    this.link.post({ k: 'reduce', op, x: this.wv(op, x), dims: [...dims], out: this.wv(op, out) });
    const arg = op === 'argmax' || op === 'argmin';
    this.wrote(out, arg ? { lo: 0, hi: Math.max(0, x.shape[dims[0]] - 1) } : op === 'max' || op === 'min' ? this.rangeIn(x) : null);
  }

  private checkOther(op: string, dim: number, views: View[]): void {
    const other = (s: readonly number[]) => s.filter((_, d) => d !== dim);
    checkDims(op, other(views[0].shape), views.map((v) => other(v.strides)));
  }

  cumsum(x: View, dim: number, out: View): void {
    this.checkOther('cumsum', dim, [x, out]);
    this.link.post({ k: 'cumsum', x: this.wv('cumsum', x), dim, out: this.wv('cumsum', out) });
    this.wrote(out, null);
  }

  matmul(a: View, b: View, out: View): void {
    if (a.shape.length !== 3 || b.shape.length !== 3 || out.shape.length !== 3)
      throw new ShapeError('matmul', 'the webgpu matmul kernel takes [B, M, K] @ [B, K, N] views');
    this.link.post({ k: 'matmul', a: this.wv('matmul', a), b: this.wv('matmul', b), out: this.wv('matmul', out) });
    this.wrote(out, null);
  }

  /**
   * Out-of-range indices throw IndexError here, before the kernel runs (as PyTorch refuses them).
   * Indices known to be in range (see GpuHandle.range: those from the host, argmax, sort, where
   * of such) need no check; otherwise the check runs on the device and waits for its verdict,
   * which costs one queue drain.
   */
  private checkIndices(op: string, index: View, dim: number, size: number): void {
    if (numelOf(index.shape) === 0) return;
    const w = this.wv(op, index);
    const known = this.rangeIn(index);
    if (known && known.lo >= 0 && known.hi < size) return;
    this.drains++;
    const r = this.link.requestSync((req) => ({ k: 'checkIndex', req, op, index: w, dim, size }), `the ${op} index check`);
    if (!r.ok) throw toTorchError(r.error);
  }

  gather(x: View, dim: number, index: View, out: View): void {
    checkDims('gather', index.shape, [index.strides, out.strides, x.strides]);
    this.checkIndices('gather', index, dim, x.shape[dim]);
    this.link.post({ k: 'gather', x: this.wv('gather', x), dim, index: this.wv('gather', index), out: this.wv('gather', out) });
    this.wrote(out, this.rangeIn(x));
  }

  scatter(out: View, dim: number, index: View, src: View, accumulate: boolean): void {
    checkDims('scatter', index.shape, [index.strides, src.strides, out.strides]);
    this.checkIndices('scatter', index, dim, out.shape[dim]);
    this.link.post({ k: 'scatter', out: this.wv('scatter', out), dim, index: this.wv('scatter', index), src: this.wv('scatter', src), acc: accumulate });
    this.wrote(out, accumulate ? null : this.rangeIn(src), true);
  }

  /** Fused Adam/AdamW (see Backend.adamStep): one kernel instead of about twenty per parameter. */
  adamStep(v: AdamViews, a: AdamStepArgs): boolean {
    const written = [v.param, v.expAvg, v.expAvgSq, ...(v.maxExpAvgSq ? [v.maxExpAvgSq] : [])];
    const all = [...written, v.grad];
    const d = v.param.dtype, n = numelOf(v.param.shape);
    const ok = (d === 'float32' || (d === 'float16' && this.f16)) && all.every((q) => {
      const h = q.handle;
      return h instanceof GpuHandle && h.backend === this && !h.freed && q.dtype === d && numelOf(q.shape) === n && isContiguousLayout(q.shape, q.strides);
    }) && new Set(written.map((q) => (q.handle as GpuHandle).id)).size === written.length
      && written.every((q) => q.handle !== v.grad.handle);
    if (!ok) return false;
    const w1 = 1 - a.beta1;
    const floats: Record<typeof ADAM_FLOATS[number], number> = {
      decay: 1 - a.lr * a.weightDecay, wd: a.weightDecay, w1, omw1: 1 - w1, beta2: a.beta2, c2: 1 - a.beta2,
      nstep: -a.stepSize, bc2Sqrt: a.bc2Sqrt, eps: a.eps,
    };
    const wd = a.weightDecay !== 0;
    const flags = (a.decoupled && wd ? ADAM_DECOUPLED : 0) | (!a.decoupled && wd ? ADAM_COUPLED : 0)
      | (a.maximize ? ADAM_MAXIMIZE : 0) | (Math.abs(w1) < 0.5 ? ADAM_SMALL_W1 : 0);
    const bits = new Uint32Array(Float32Array.from(ADAM_FLOATS.map((k) => floats[k])).buffer);
    this.link.post({
      k: 'adam', p: this.wv('adam', v.param), g: this.wv('adam', v.grad), m: this.wv('adam', v.expAvg), v: this.wv('adam', v.expAvgSq),
      x: v.maxExpAvgSq ? this.wv('adam', v.maxExpAvgSq) : null, bits: [flags, ...bits],
    });
    written.forEach((q) => this.wrote(q, null));
    return true;
  }

  sort(x: View, dim: number, descending: boolean, values: View, indices: View): void {
    this.checkOther('sort', dim, [x, values, indices]);
    this.link.post({ k: 'sort', x: this.wv('sort', x), dim, desc: descending, values: this.wv('sort', values), indices: this.wv('sort', indices) });
    const xr = this.rangeIn(x);
    this.wrote(values, xr);
    this.wrote(indices, { lo: 0, hi: Math.max(0, x.shape[dim] - 1) });
  }
}

// ---------------- discovery ----------------

let link: Link | null = null;
let backend: WebGPUBackend | null = null;
let staticReason: string | null | undefined;

/** Reasons known without starting the worker (disabled, package missing). */
function preflight(): string | null {
  if (staticReason !== undefined) return staticReason;
  staticReason = null;
  if (asWorker) staticReason = 'webgpu is not available inside the webgpu worker itself';
  else if (process.env.TORCHLET_WEBGPU === '0') staticReason = 'disabled by TORCHLET_WEBGPU=0';
  else {
    try {
      createRequire(import.meta.url).resolve('webgpu');
    } catch {
      staticReason = "the optional 'webgpu' npm package (Dawn for Node) is not installed; run 'npm install webgpu'";
    }
  }
  return staticReason;
}

function getLink(): Link {
  return (link ??= new Link());
}

function reasonOf(info: InitInfo, l: Link): string | null {
  if (!info.ok) return info.reason ?? 'webgpu initialisation failed';
  return l.dead;
}

/** Never throws: null when the device is usable, else why not (blocks on first use while Dawn starts). */
function unavailableReason(): string | null {
  try {
    const pre = preflight();
    if (pre !== null) return pre;
    const l = getLink();
    return reasonOf(l.waitInitSync(), l);
  } catch (e) {
    return `webgpu initialisation failed: ${(e as Error)?.message ?? String(e)}`;
  }
}

function getWebGPUBackend(): WebGPUBackend {
  if (backend) return backend;
  const reason = unavailableReason();
  if (reason !== null) throw new DeviceError('webgpu', `device 'webgpu' is not available: ${reason}`);
  backend = new WebGPUBackend(getLink(), link!.init!, link!.init!.maxBindingBytes);
  return backend;
}

/**
 * Starts the webgpu device without blocking this thread; resolves true when it is usable.
 * Optional: the first synchronous use (e.g. torch.availableDevices()) starts it too, blocking
 * while Dawn creates the adapter and device (about 0.1-0.7 s on lavapipe).
 */
export async function initWebGPU(): Promise<boolean> {
  if (preflight() !== null) return false;
  try {
    const l = getLink();
    return reasonOf(await l.waitInit(), l) === null;
  } catch {
    return false;
  }
}

/** Adapter name, features and init timings, once the device has started (else null). */
export function webgpuInfo(): InitInfo | null {
  return link?.init ?? null;
}

/** Device memory statistics (blocks briefly for the worker's reply). */
export function webgpuMemoryStats(): MemoryStats {
  return getWebGPUBackend().memoryStats();
}

/** Destroys the freed buffers the pool keeps for reuse. */
export function webgpuEmptyCache(): void {
  backend?.emptyCache();
}

/**
 * Returns a buffer to its device's pool: the hook for the frontend's FinalizationRegistry
 * (the same as backend.free; safe to call twice).
 */
export function releaseBuffer(handle: Handle): void {
  if (handle instanceof GpuHandle) handle.backend.free(handle);
}

if (!asWorker) {
  registerBackend({
    type: 'webgpu',
    unavailableReason,
    deviceCount: () => (unavailableReason() === null ? 1 : 0),
    create(index: number): Backend {
      if (index !== 0) throw new DeviceError('webgpu', `device 'webgpu:${index}' does not exist: there is one webgpu device`);
      return getWebGPUBackend();
    },
  });
}
