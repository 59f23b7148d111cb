/**
 * Messages between the main thread (the Backend torchlet calls) and the worker thread that
 * owns the Dawn device. The main thread sends batches of commands; the worker answers
 * requests (reads, syncs, stats) on a reply port and, for requests the main thread is
 * blocked on, also bumps a shared counter and notifies it (Atomics.wait on the main side).
 */
import type { DType } from '../../dtype.js';
import type { ReduceOp } from '../backend.js';
import type { MessagePort } from 'node:worker_threads';

/** A View with its handle replaced by the buffer id. */
export interface WView {
  id: number;
  dtype: DType;
  shape: number[];
  strides: number[];
  offset: number;
}

export type Cmd =
  /** `uninit`: the contents may be arbitrary (the buffer is fully written before it is read). */
  | { k: 'alloc'; id: number; bytes: number; uninit?: boolean }
  | { k: 'free'; id: number }
  | { k: 'write'; id: number; dtype: DType; elemOffset: number; data: ArrayBuffer }
  | { k: 'copy'; src: WView; dst: WView }
  | { k: 'fill'; dst: WView; bits: number }
  | { k: 'ew'; op: string; ins: WView[]; out: WView }
  | { k: 'reduce'; op: ReduceOp; x: WView; dims: number[]; out: WView }
  | { k: 'cumsum'; x: WView; dim: number; out: WView }
  | { k: 'matmul'; a: WView; b: WView; out: WView }
  | { k: 'gather'; x: WView; dim: number; index: WView; out: WView }
  | { k: 'scatter'; out: WView; dim: number; index: WView; src: WView; acc: boolean }
  | { k: 'sort'; x: WView; dim: number; desc: boolean; values: WView; indices: WView }
  /** A fused Adam step over contiguous views; `bits`: the flags word and the f32 arguments' bits (shaders.ts ADAM). */
  | { k: 'adam'; p: WView; g: WView; m: WView; v: WView; x: WView | null; bits: number[] }
  | { k: 'read'; req: number; v: WView }
  | { k: 'sync'; req: number }
  /** Checks 0 <= index < size on the device; replies with an IndexError naming a bad index. */
  | { k: 'checkIndex'; req: number; op: string; index: WView; dim: number; size: number }
  /** Replies once the work submitted so far is done (no error check): backpressure marks. */
  | { k: 'fence'; req: number }
  | { k: 'stats'; req: number }
  | { k: 'emptyCache' };

export interface ErrorInfo {
  /** The torchlet error class to rethrow as ('IndexError', 'DTypeError', ...) or 'Error'. */
  name: string;
  op: string;
  message: string;
}

export interface MemoryStats {
  /** Bytes in buffers owned by live tensors. */
  allocatedBytes: number;
  /** Bytes in freed buffers kept for reuse. */
  pooledBytes: number;
  /** Buffers currently created on the device (live + pooled). */
  buffers: number;
  /** Compute pipelines compiled so far. */
  pipelines: number;
  /** Command buffers submitted so far. */
  submits: number;
  /** Kernel dispatches so far. */
  dispatches: number;
  /** Times the main thread waited for the device (synchronous reads, syncs, index checks); set by the main thread. */
  drains?: number;
}

export type Reply =
  | { req: number; ok: true; data?: ArrayBuffer; stats?: MemoryStats }
  | { req: number; ok: false; error: ErrorInfo };

export interface InitInfo {
  ok: boolean;
  reason: string | null;
  features: string[];
  adapter: string;
  /** A CPU implementation (lavapipe, SwiftShader): kernels shaped for it are used (or as TORCHLET_WEBGPU_KERNELS says). */
  software?: boolean;
  /** The device's maxStorageBufferBindingSize: the largest tensor buffer. */
  maxBindingBytes: number;
  /** Milliseconds for requestAdapter and requestDevice inside the worker. */
  adapterMs: number;
  deviceMs: number;
}

/** workerData the worker is started with. */
export interface WorkerData {
  torchletWebGPU: true;
  /** Int32Array over a SharedArrayBuffer: [0] counts replies the main thread may be waiting on. */
  signal: SharedArrayBuffer;
  reply: MessagePort;
}

/** Maximum dims a kernel handles after merging contiguous dims. */
export const MAX_DIMS = 8;
