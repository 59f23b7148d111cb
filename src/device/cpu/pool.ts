/**
 * The cpu device's caching allocator for large buffers.
 *
 * A fresh large ArrayBuffer costs a zero-filled calloc, and for multi-megabyte sizes an mmap whose
 * pages fault in one by one as a kernel first writes them; training loops allocate the same sizes
 * every step. Buffers of released storages (storage.ts calls free() when a storage is disposed
 * or found unreachable) are kept here by size and handed out again. Small allocations bypass
 * the pool: V8 allocates them quickly and collects them without our help.
 */
import { hostArrayCtor, type DType, type HostArray } from '../../dtype.js';

/** Allocations below this many bytes are plain TypedArrays (see CpuBackend.untrackedBelowBytes). */
export const POOL_MIN_BYTES = 64 * 1024;

/** Size class: bytes rounded up to 4 KiB below 1 MiB, to 1/16 of the power of two above. */
function sizeClass(bytes: number): number {
  if (bytes <= 1 << 20) return Math.ceil(bytes / 4096) * 4096;
  const step = 2 ** (Math.floor(Math.log2(bytes)) - 4);
  return Math.ceil(bytes / step) * step;
}

export class HostPool {
  private readonly free = new Map<number, ArrayBuffer[]>();
  /** Buffers this pool allocated (only those may be pooled: a user's array wrapped by fromBuffer must not be). */
  private readonly owned = new WeakSet<ArrayBuffer>();
  private cachedBytes = 0;

  /** `maxCachedBytes` bounds the memory kept for reuse (beyond it, released buffers go to the GC). */
  constructor(private readonly maxCachedBytes: number) {}

  /** A buffer for numel elements of dtype, zero-filled when `zero`. */
  alloc(dtype: DType, numel: number, zero: boolean): HostArray {
    const Ctor = hostArrayCtor(dtype) as unknown as new (b: ArrayBuffer, off: number, n: number) => HostArray;
    const bytes = numel * (Ctor as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT;
    const cls = sizeClass(bytes);
    const list = this.free.get(cls);
    if (list !== undefined && list.length > 0) {
      const buf = list.pop()!;
      this.cachedBytes -= cls;
      const a = new Ctor(buf, 0, numel);
      if (zero) a.fill(0);
      return a;
    }
    // fresh memory: calloc'd (zero) or malloc'd (uninitialised, skips clearing it)
    const buf = zero ? new ArrayBuffer(cls) : (Buffer.allocUnsafeSlow(cls).buffer as ArrayBuffer);
    this.owned.add(buf);
    return new Ctor(buf, 0, numel);
  }

  /** Takes back the buffer of a released storage (ignored unless this pool allocated it). */
  release(handle: HostArray): void {
    const buf = handle.buffer as ArrayBuffer;
    if (!this.owned.has(buf)) return;
    const cls = buf.byteLength;
    if (this.cachedBytes + cls > this.maxCachedBytes) return;
    let list = this.free.get(cls);
    if (!list) this.free.set(cls, (list = []));
    list.push(buf);
    this.cachedBytes += cls;
  }

  /** Drops every cached buffer (the GC frees them). */
  emptyCache(): void {
    this.free.clear();
    this.cachedBytes = 0;
  }

  stats(): { cachedBytes: number } {
    return { cachedBytes: this.cachedBytes };
  }
}
