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
import { createRequire } from 'node:module';

let done = false;
export function tuneHostMalloc(): void {
  if (done) return;
  done = true;
  if (process.env.TORCHLET_NO_MALLOPT === '1' || process.platform !== 'linux') return;
  try {
    const koffi = createRequire(import.meta.url)('koffi');
    const libc = koffi.load('libc.so.6');
    const mallopt = libc.func('int mallopt(int param, int value)') as (p: number, v: number) => number;
    const M_TRIM_THRESHOLD = -1, M_MMAP_THRESHOLD = -3;
    mallopt(M_MMAP_THRESHOLD, 32 * 2 ** 20);
    mallopt(M_TRIM_THRESHOLD, 256 * 2 ** 20);
  } catch {
    // not glibc (musl, macOS) or no koffi: the allocator's defaults stay
  }
}
