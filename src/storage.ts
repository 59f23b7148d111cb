/** Device storage shared by a tensor and its views, with per-device live counts. */
import type { Backend, Handle } from './device/backend.js';
import { ITEMSIZE, type DType } from './dtype.js';

interface Held { backend: Backend; handle: Handle; numel: number; dtype: DType; device: string; bytes: number }

const live = new Map<string, { tensors: number; bytes: number }>();
function account(device: string, tensors: number, bytes: number): void {
  let m = live.get(device);
  if (!m) live.set(device, (m = { tensors: 0, bytes: 0 }));
  m.tensors += tensors;
  m.bytes += bytes;
}
function release(h: Held): void {
  account(h.device, -1, -h.bytes);
  h.backend.free(h.handle, h.numel, h.dtype);
}
// Storage a program can no longer reach goes back to its device's pool: training loops
// written as in PyTorch (no dispose calls) keep device memory flat.
const reclaim = new FinalizationRegistry<Held>(release);

export class Storage {
  readonly backend: Backend;
  readonly dtype: DType;
  readonly numel: number;
  /** Version counter shared by all views: bumped by every in-place write (autograd checks it). */
  version = 0;
  private held: Held | null;

  constructor(backend: Backend, dtype: DType, numel: number, handle?: Handle) {
    this.backend = backend;
    this.dtype = dtype;
    this.numel = numel;
    const h = handle ?? backend.alloc(numel, dtype);
    this.held = { backend, handle: h, numel, dtype, device: backend.name, bytes: numel * ITEMSIZE[dtype] };
    account(backend.name, 1, this.held.bytes);
    reclaim.register(this, this.held, this);
  }
  get handle(): Handle {
    if (!this.held) throw new Error('this tensor was disposed; its memory has been released');
    return this.held.handle;
  }
  get disposed(): boolean { return this.held === null; }
  /** Frees the device memory now (idempotent). */
  dispose(): void {
    if (!this.held) return;
    reclaim.unregister(this);
    release(this.held);
    this.held = null;
  }
}

/** Live tensors (storages) and bytes on a device, or summed over all devices. */
export function memoryStats(device?: string): { tensors: number; bytes: number } {
  if (device !== undefined) {
    const m = live.get(device) ?? live.get(device === 'cuda' ? 'cuda:0' : device);
    return { tensors: m?.tensors ?? 0, bytes: m?.bytes ?? 0 };
  }
  let tensors = 0, bytes = 0;
  for (const m of live.values()) { tensors += m.tensors; bytes += m.bytes; }
  return { tensors, bytes };
}
