/**
 * glibc malloc settings for tensor-sized buffers. By default glibc serves blocks from 128 KiB
 * up with mmap and returns the top of the heap to the kernel past 128 KiB of free space, so a
 * loop that frees and re-allocates the same large tensors every step (which the GC does in
 * batches) pays fresh page faults, kernel zeroing and munmap TLB shootdowns for every buffer:
 * ~1,800 faults and ~4.5 ms of system time per step of the benchmark CNN. Serving blocks up to
 * 32 MiB from the heap and keeping up to 256 MiB of free heap gives the steady state a
 * long-running native program reaches anyway (glibc's own threshold adapts upward after the
 * first frees of large blocks, but only for blocks that were mmap'd, and never for the trim).
 * TORCHLET_NO_MALLOPT=1 leaves malloc as it is.
 */
import { getKoffi } from '../koffi.js';
import { hostArrayCtor, type DType, type HostArray } from '../../dtype.js';

let done = false;
export function tuneHostMalloc(): void {
  if (done) return;
  done = true;
  if (process.env.TORCHLET_NO_MALLOPT === '1' || process.platform !== 'linux') return;
  try {
    const libc = getKoffi()!.load('libc.so.6');
    const mallopt = libc.func('int mallopt(int param, int value)') as (p: number, v: number) => number;
    const M_TRIM_THRESHOLD = -1, M_MMAP_THRESHOLD = -3;
    mallopt(M_MMAP_THRESHOLD, 32 * 2 ** 20);
    mallopt(M_TRIM_THRESHOLD, 256 * 2 ** 20);
  } catch {
    // not glibc (musl, macOS) or no koffi: the allocator's defaults stay
  }
}

/*
 * Small buffers from shared slabs. Each ArrayBuffer costs V8 about 2 us beyond its malloc
 * (the backing-store record, external-memory accounting, and sweeping it after the GC), a
 * third of a 64x64 matmul. A typed array over part of an existing buffer costs ~0.1 us, so
 * buffers from 65 bytes (up to 64 V8 keeps on its own heap) to SLAB_MAX_BYTES are carved from
 * slabs of SLAB_SLOTS equal slots of one size class. A slab's memory returns to malloc once its
 * last view is unreachable, so live data can pin at most SLAB_SLOTS times its size (a long-lived
 * buffer keeps the rest of its slab); classes are spaced at most 1/8 apart above 1 KiB.
 */
export const SLAB_MAX_BYTES = 32 * 1024;
const SLAB_SLOTS = 8;
/** The slab each size class currently carves from, and the next free slot's byte offset. */
const slabs = new Map<number, { buf: ArrayBuffer; next: number; end: number }>();

/** bytes (65 .. SLAB_MAX_BYTES) rounded up to its size class: 64-byte steps to 1 KiB, then 8 per power of two. */
function sizeClass(bytes: number): number {
  if (bytes <= 1024) return (bytes + 63) & ~63;
  const step = 2 ** (Math.floor(Math.log2(bytes - 1)) - 3);
  return Math.ceil(bytes / step) * step;
}

type ArrayCtor = new (buf: ArrayBuffer, byteOffset: number, length: number) => HostArray;

/** An uninitialised host array of numel elements (bytes = numel * itemsize, 65 .. SLAB_MAX_BYTES) in a slab slot. */
export function slabArray(dtype: DType, numel: number, bytes: number): HostArray {
  const cls = sizeClass(bytes);
  let s = slabs.get(cls);
  if (s === undefined || s.next === s.end) {
    const [buf, start] = alignedBlock(cls * SLAB_SLOTS);
    s = { buf, next: start, end: start + cls * SLAB_SLOTS };
    slabs.set(cls, s);
  }
  const off = s.next;
  s.next += cls;
  return new (hostArrayCtor(dtype) as unknown as ArrayCtor)(s.buf, off, numel);
}

/*
 * Buffers start on a 64-byte boundary (a cache line; PyTorch aligns its buffers the same way).
 * malloc gives 16: then half of the 32-byte vector loads of a streaming kernel straddle two
 * cache lines, and a 4M-element sum takes ~12% longer. Slab slots are multiples of 64 bytes,
 * so aligning the slab aligns every slot.
 */
/** An uninitialised ArrayBuffer holding `bytes` from a 64-byte aligned byte offset (0 without koffi). */
function alignedBlock(bytes: number): [ArrayBuffer, number] {
  const koffi = getKoffi();
  const b = Buffer.allocUnsafeSlow(bytes + (koffi ? 64 : 0));
  const off = koffi ? (64 - Number((koffi.address(b) as bigint) % 64n)) % 64 : 0;
  return [b.buffer as ArrayBuffer, b.byteOffset + off];
}

/** An uninitialised host array of numel elements (bytes = numel * itemsize) starting on a 64-byte boundary. */
export function alignedArray(dtype: DType, numel: number, bytes: number): HostArray {
  const [buf, off] = alignedBlock(bytes);
  return new (hostArrayCtor(dtype) as unknown as ArrayCtor)(buf, off, numel);
}
