/** Device storage shared by a tensor and its views, with per-device live counts. */
import type { Backend, Handle } from './device/backend.js';
import { ITEMSIZE, type DType } from './dtype.js';
import { TorchError } from './errors.js';
import v8 from 'node:v8';
import vm from 'node:vm';

interface Held { backend: Backend; handle: Handle; numel: number; dtype: DType; device: string; bytes: number; owned: boolean }

const live = new Map<string, { tensors: number; bytes: number }>();
function account(device: string, tensors: number, bytes: number): void {
  let m = live.get(device);
  if (!m) live.set(device, (m = { tensors: 0, bytes: 0 }));
  m.tensors += tensors;
  m.bytes += bytes;
}
function release(h: Held): void {
  account(h.device, -1, -h.bytes);
  if (h.owned) h.backend.free(h.handle, h.numel, h.dtype);
}
// Storage a program can no longer reach goes back to its device's pool: training loops
// written as in PyTorch (no dispose calls) keep device memory flat. Finalization callbacks
// normally run only between event-loop tasks, which a synchronous training loop never
// reaches; V8's cleanupSome (from a context created with the flag on) plus a forced gc()
// reclaim synchronously when a device's live bytes pass a budget.
interface Registry<T> { register(o: object, v: T, token?: object): void; unregister(token: object): void; cleanupSome?(): void }
let forceGc: ((opts?: { type: 'major' | 'minor' }) => void) | null = null;
function makeRegistry(): Registry<Held> {
  try {
    v8.setFlagsFromString('--expose-gc');
    v8.setFlagsFromString('--harmony-weak-refs-with-cleanup-some');
    const ctx = vm.createContext({});
    forceGc = vm.runInContext('gc', ctx) as (opts?: { type: 'major' | 'minor' }) => void;
    const FR = vm.runInContext('FinalizationRegistry', ctx) as typeof FinalizationRegistry;
    const r = new FR<Held>(release) as unknown as Registry<Held>;
    if (typeof r.cleanupSome === 'function') return r;
  } catch {
    // fall back to the ordinary registry: reclamation then waits for the event loop
  }
  return new FinalizationRegistry<Held>(release) as unknown as Registry<Held>;
}
const reclaim = makeRegistry();

/** Bytes on a (non-cpu) device above which allocation first reclaims unreachable storage. */
const DEFAULT_BUDGET = Number(process.env.TORCHLET_GC_BUDGET_MB ?? 256) * 2 ** 20;
const budgets = new Map<string, number>();
function maybeReclaim(backend: Backend, incoming: number): void {
  const m = live.get(backend.name);
  if (!m) return;
  const base = backend.reclaimBudgetBytes ?? DEFAULT_BUDGET;
  const budget = budgets.get(backend.name) ?? base;
  // finalizers of storage the GC already found dead return their memory (to the device's pool) first
  reclaim.cleanupSome?.();
  if (m.bytes + incoming <= budget) return;
  reclaimUnreachable();
  // grow the budget with what is really live, so gc() runs rarely in steady state
  budgets.set(backend.name, Math.max(base, 2 * (m.bytes + incoming)));
}
/** A minor GC (scavenge): frees recently allocated objects that are already unreachable, with their ArrayBuffers. */
export function collectYoung(): void {
  if (forceGc) forceGc({ type: 'minor' });
}
/** Frees the device memory of every tensor the program can no longer reach (a full GC). */
export function reclaimUnreachable(): void {
  if (forceGc) forceGc();
  reclaim.cleanupSome?.();
}

/**
 * Whether every storage is tracked. Registering an object with a FinalizationRegistry costs
 * about 1 us (it also keeps the object alive through minor GCs), more than a whole small op,
 * so small allocations on a backend whose memory the GC manages anyway (cpu: plain
 * TypedArrays, see Backend.untrackedBelowBytes) are left untracked until someone asks for
 * memory statistics; from then on every new storage is counted.
 */
let trackAll = process.env.TORCHLET_TRACK_MEMORY === '1';

export class Storage {
  readonly backend: Backend;
  readonly dtype: DType;
  readonly numel: number;
  /** Version counter shared by all views: bumped by every in-place write (autograd checks it). */
  version = 0;
  /** null once disposed */
  private _handle: Handle | null;
  /** Accounting record of a tracked storage (null when untracked or disposed). */
  private held: Held | null;

  /**
   * `uninit`: the caller overwrites every element before reading any, so the backend may hand
   * out memory that is not zero-filled (Backend.allocUninit).
   */
  constructor(backend: Backend, dtype: DType, numel: number, handle?: Handle, uninit = false) {
    this.backend = backend;
    this.dtype = dtype;
    this.numel = numel;
    const bytes = numel * ITEMSIZE[dtype];
    if (!trackAll && bytes < (backend.untrackedBelowBytes ?? 0)) {
      this._handle = handle ?? (uninit && backend.allocUninit ? backend.allocUninit(numel, dtype) : backend.alloc(numel, dtype));
      this.held = null;
      return;
    }
    maybeReclaim(backend, bytes);
    const h = handle ?? (uninit && backend.allocUninit ? backend.allocUninit(numel, dtype) : backend.alloc(numel, dtype));
    this._handle = h;
    // a handle the caller supplied (e.g. a user's TypedArray wrapped by fromBuffer) is not the backend's to pool
    this.held = { backend, handle: h, numel, dtype, device: backend.name, bytes, owned: handle === undefined };
    account(backend.name, 1, bytes);
    reclaim.register(this, this.held, this);
  }
  get handle(): Handle {
    const h = this._handle;
    if (h === null) throw new TorchError('tensor', 'this tensor was disposed; its memory has been released');
    return h;
  }
  get disposed(): boolean { return this._handle === null; }
  /** Frees the device memory now (idempotent). */
  dispose(): void {
    if (this._handle === null) return;
    this._handle = null;
    if (!this.held) return;
    reclaim.unregister(this);
    release(this.held);
    this.held = null;
  }
}

/**
 * Tensors (storages) the program can still reach, and their bytes, on a device or summed over
 * all devices. Unreachable storage is reclaimed first (a full GC), so the numbers are exact.
 * The first call turns on tracking of small cpu storages (see trackAll): those created before
 * it are not counted.
 */
export function memoryStats(device?: string): { tensors: number; bytes: number } {
  trackAll = true;
  reclaimUnreachable();
  if (device !== undefined) {
    const m = live.get(device) ?? live.get(device === 'cuda' ? 'cuda:0' : device);
    return { tensors: m?.tensors ?? 0, bytes: m?.bytes ?? 0 };
  }
  let tensors = 0, bytes = 0;
  for (const m of live.values()) { tensors += m.tensors; bytes += m.bytes; }
  return { tensors, bytes };
}
